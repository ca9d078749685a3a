package intel

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/accord-antispam/accord/internal/resolve"
)

// List is one DNS blocklist (RFC 5782): an IP list is asked for the
// reversed address under its zone (2.0.0.127.zone), a domain list for the
// domain under its zone (example.com.zone). An answer may hold several
// A records (a list that lists a name for several reasons returns a code
// for each, in any order): the name is listed when any of them counts.
// A record counts when Codes names it, or, without Codes, when it is in
// 127.0.0.0/8. The lists' refusal codes never count, Codes or not:
// 127.0.0.1 (URIBL and SURBL answer it to a query they refuse — a
// blocked or public resolver) and 127.255.255.0/24 (Spamhaus: query
// refused, over quota, typo in the zone). Counted, 127.0.0.1 listed
// every link of every message of a provider whose resolver a list had
// blocked.
type List struct {
	Name   string   // Symbol: "RBL_" or "URIBL_" + Name when not given in full.
	Zone   string   // "zen.spamhaus.org."
	Domain bool     // A domain list (URIBL/DBL) rather than an IP list.
	Weight float64  // Points of a hit; 0 means 3.
	Codes  []string // Answers that count (e.g. "127.0.0.2"); empty: any 127.0.0.0/8 but the refusal codes.
}

// Symbol is the list's symbol name.
func (l List) Symbol() string {
	n := strings.ToUpper(strings.NewReplacer(".", "_", "-", "_").Replace(l.Name))
	if strings.HasPrefix(n, "RBL_") || strings.HasPrefix(n, "URIBL_") {
		return n
	}
	if l.Domain {
		return "URIBL_" + n
	}
	return "RBL_" + n
}

// Hit is one listing found.
type Hit struct {
	List   List
	Query  string // The IP or domain that is listed.
	Answer string // The A records of the answer that count, comma-separated.
}

// DNSBL queries blocklists through a Resolver, with a cache of answers and
// a time budget per message: what has not answered when the budget runs
// out is left out of the decision (and said so), never waited for.
type DNSBL struct {
	Resolver resolve.Resolver
	Lists    []List
	Budget   time.Duration // Per message, for all lists together (default 500 ms).
	TTL      time.Duration // How long answers are cached (default 10 min).
	MaxCache int           // Cached answers (default 100,000).
	Now      func() time.Time

	mu    sync.Mutex
	cache map[string]cached
}

type cached struct {
	answer  string // every IPv4 A record, comma-separated; "" = not listed
	expires time.Time
}

// Result is what the lists said about one message.
type Result struct {
	Hits     []Hit
	Timeouts []string // "list:query" not answered within the budget.
	Errors   []string // "list:query: error" (server failures, and answers that are only refusal codes).
	Queries  int      // Queries sent (not answered from the cache).
}

func (d *DNSBL) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}

// Check asks every list about the IP (IP lists) and the domains (domain
// lists), in parallel, within the budget.
func (d *DNSBL) Check(ctx context.Context, ip netip.Addr, domains []string) Result {
	var res Result
	if d == nil || len(d.Lists) == 0 || d.Resolver == nil || resolve.IsOffline(d.Resolver) {
		return res
	}
	budget := d.Budget
	if budget <= 0 {
		budget = 500 * time.Millisecond
	}
	ctx, cancel := context.WithTimeout(ctx, budget)
	defer cancel()
	type q struct {
		list  List
		query string
		name  string
	}
	var qs []q
	for _, l := range d.Lists {
		zone := strings.TrimSuffix(strings.TrimSpace(l.Zone), ".")
		if zone == "" {
			continue
		}
		if !l.Domain {
			if ip.IsValid() && isPublic(ip) {
				qs = append(qs, q{l, ip.Unmap().String(), reverse(ip) + "." + zone})
			}
			continue
		}
		seen := map[string]bool{}
		for _, dom := range domains {
			dom = normDomain(dom)
			if dom == "" || seen[dom] || len(qs) > 64 {
				continue
			}
			seen[dom] = true
			qs = append(qs, q{l, dom, dom + "." + zone})
		}
	}
	type ans struct {
		q      q
		answer string
		err    error
		cached bool
	}
	out := make(chan ans, len(qs))
	for _, x := range qs {
		if a, ok := d.lookupCache(x.name); ok {
			out <- ans{q: x, answer: a, cached: true}
			continue
		}
		go func(x q) {
			a, err := d.query(ctx, x.name)
			out <- ans{q: x, answer: a, err: err}
		}(x)
	}
	for range qs {
		var a ans
		select {
		case a = <-out:
		case <-ctx.Done():
			// The budget ran out: whatever has not answered is a timeout.
			res.Timeouts = append(res.Timeouts, "budget exhausted")
			return res
		}
		if !a.cached {
			res.Queries++
		}
		switch {
		case a.err != nil && errors.Is(a.err, context.DeadlineExceeded):
			res.Timeouts = append(res.Timeouts, a.q.list.Name+":"+a.q.query)
		case a.err != nil:
			res.Errors = append(res.Errors, fmt.Sprintf("%s:%s: %v", a.q.list.Name, a.q.query, a.err))
		default:
			if !a.cached {
				d.store(a.q.name, a.answer)
			}
			if a.answer == "" {
				break
			}
			if hit := listed(a.q.list, a.answer); hit != "" {
				res.Hits = append(res.Hits, Hit{List: a.q.list, Query: a.q.query, Answer: hit})
			} else if refusedOnly(a.answer) {
				// Said, not counted: the list refuses this node's queries.
				res.Errors = append(res.Errors, fmt.Sprintf("%s:%s: query refused by the list (%s)", a.q.list.Name, a.q.query, a.answer))
			}
		}
	}
	return res
}

// query asks for A records and returns every IPv4 one, comma-separated
// (RFC 5782 section 2.1: a list may return several); NXDOMAIN means "not
// listed" (answer "").
func (d *DNSBL) query(ctx context.Context, name string) (string, error) {
	ips, err := d.Resolver.LookupIPAddr(ctx, name)
	if err != nil {
		var de *net.DNSError
		if errors.As(err, &de) && de.IsNotFound {
			return "", nil
		}
		if ctx.Err() != nil {
			return "", context.DeadlineExceeded
		}
		return "", err
	}
	var out []string
	for _, a := range ips {
		if v4 := a.IP.To4(); v4 != nil {
			out = append(out, v4.String())
		}
	}
	return strings.Join(out, ","), nil
}

var (
	loopback4    = netip.MustParsePrefix("127.0.0.0/8")
	refusedCodes = netip.MustParsePrefix("127.255.255.0/24")
	refusedURI   = netip.MustParseAddr("127.0.0.1")
)

// refused reports whether an A record is a list's refusal code, never a
// listing (see List).
func refused(a netip.Addr) bool { return a == refusedURI || refusedCodes.Contains(a) }

// listed returns the records of answer (comma-separated A records) that
// count for l, comma-separated; "" when none does.
func listed(l List, answer string) string {
	var hits []string
	for rec := range strings.SplitSeq(answer, ",") {
		a, err := netip.ParseAddr(rec)
		if err != nil || refused(a) {
			continue
		}
		ok := false
		if len(l.Codes) > 0 {
			for _, c := range l.Codes {
				if c, err := netip.ParseAddr(strings.TrimSpace(c)); err == nil && c == a {
					ok = true
				}
			}
		} else {
			ok = loopback4.Contains(a)
		}
		if ok {
			hits = append(hits, rec)
		}
	}
	return strings.Join(hits, ",")
}

// refusedOnly reports whether every record of answer is a refusal code.
func refusedOnly(answer string) bool {
	for rec := range strings.SplitSeq(answer, ",") {
		if a, err := netip.ParseAddr(rec); err != nil || !refused(a) {
			return false
		}
	}
	return true
}

func (d *DNSBL) lookupCache(name string) (string, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	c, ok := d.cache[name]
	if !ok || !d.now().Before(c.expires) {
		return "", false
	}
	return c.answer, true
}

func (d *DNSBL) store(name, answer string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	max := d.MaxCache
	if max <= 0 {
		max = 100000
	}
	if d.cache == nil || len(d.cache) >= max {
		d.cache = map[string]cached{} // full: start again, bounded
	}
	ttl := d.TTL
	if ttl <= 0 {
		ttl = 10 * time.Minute
	}
	d.cache[name] = cached{answer: answer, expires: d.now().Add(ttl)}
}

// reverse writes the address in DNSBL order: 4.3.2.1 for IPv4, nibbles
// for IPv6.
func reverse(ip netip.Addr) string {
	ip = ip.Unmap()
	b := ip.AsSlice()
	var parts []string
	if ip.Is4() {
		for i := len(b) - 1; i >= 0; i-- {
			parts = append(parts, fmt.Sprint(b[i]))
		}
		return strings.Join(parts, ".")
	}
	const hex = "0123456789abcdef"
	for i := len(b) - 1; i >= 0; i-- {
		parts = append(parts, string(hex[b[i]&0xf]), string(hex[b[i]>>4]))
	}
	return strings.Join(parts, ".")
}

// isPublic leaves out addresses no list can know: loopback, private,
// link-local and unspecified.
func isPublic(ip netip.Addr) bool {
	ip = ip.Unmap()
	return !(ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsUnspecified() || ip.IsMulticast())
}
