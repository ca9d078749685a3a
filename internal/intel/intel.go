// Package intel is the intelligence a filter checks a message against:
// indicators that came from the complaint desk's confirmed campaigns and
// from partner authorities (origin IPs and networks, sender domains, link
// domains, URLs), each with its source, weight, marking and expiry; and
// DNS blocklists for IPs and domains, queried through the resolver seam
// with a cache and a per-message time budget.
//
// A match is data: the symbol it raises, its weight and where the
// indicator came from. What a match may show outside the provider is
// decided by its TLP marking (Match.Disclosable).
package intel

import (
	"net/netip"
	"sort"
	"strings"
	"time"
)

// Type is what an indicator names.
type Type string

// Indicator types.
const (
	IP         Type = "ip"          // An origin address.
	Network    Type = "network"     // An origin network (CIDR).
	SenderDom  Type = "sender"      // A sender domain (From, envelope sender).
	LinkDomain Type = "link-domain" // A registrable domain linked in the text.
	URL        Type = "url"         // A URL, without its query string.
)

// Source says where an indicator came from.
type Source struct {
	Kind      string // "campaign" (the node's complaint desk) or "partner".
	ID        string // Campaign id, or the partner's item key.
	Partner   string // The partner node that sent it; "" for the node's own.
	Agreement string // The agreement it came under.
	TLP       string // TLP 2.0 marking: clear, green, amber, amber+strict, red.
}

// Indicator is one thing to look for.
type Indicator struct {
	Type    Type
	Value   string
	Weight  float64 // Points a match adds; 0 means the type's default.
	Source  Source
	Expires time.Time // Zero: no expiry.
}

// Default weights of a match, in the filter's points (a spam threshold of
// a few points): an indicator is evidence, not a verdict on its own.
var DefaultWeight = map[Type]float64{IP: 4, Network: 2, SenderDom: 4, LinkDomain: 4, URL: 5}

// Symbol names the matches of each type.
var Symbol = map[Type]string{IP: "INTEL_ORIGIN_IP", Network: "INTEL_ORIGIN_NET", SenderDom: "INTEL_SENDER_DOMAIN",
	LinkDomain: "INTEL_LINK_DOMAIN", URL: "INTEL_URL"}

// Match is one indicator found in a message.
type Match struct {
	Symbol    string
	Weight    float64
	Indicator Indicator
}

// Disclosable reports whether the match may appear in a header of a
// message that leaves the provider: only TLP:CLEAR and TLP:GREEN; an
// unmarked indicator is treated as AMBER.
func (m Match) Disclosable() bool {
	t := strings.ToLower(m.Indicator.Source.TLP)
	return t == "clear" || t == "green" || t == "white"
}

// Set is an immutable index of indicators, built once and shared by every
// message until the next reload.
type Set struct {
	ips     map[netip.Addr][]Indicator
	nets    []Indicator // sorted by prefix length, longest first
	senders map[string][]Indicator
	links   map[string][]Indicator
	urls    map[string][]Indicator
	n       int
	built   time.Time
}

// NewSet indexes the indicators that have not expired at now; malformed
// ones are skipped and counted.
func NewSet(inds []Indicator, now time.Time) (*Set, int) {
	s := &Set{ips: map[netip.Addr][]Indicator{}, senders: map[string][]Indicator{}, links: map[string][]Indicator{},
		urls: map[string][]Indicator{}, built: now}
	bad := 0
	for _, in := range inds {
		if !in.Expires.IsZero() && !now.Before(in.Expires) {
			continue
		}
		if in.Weight == 0 {
			in.Weight = DefaultWeight[in.Type]
		}
		v := strings.TrimSpace(in.Value)
		switch in.Type {
		case IP:
			a, err := netip.ParseAddr(v)
			if err != nil {
				bad++
				continue
			}
			a = a.Unmap()
			s.ips[a] = append(s.ips[a], in)
		case Network:
			p, err := netip.ParsePrefix(v)
			if err != nil {
				bad++
				continue
			}
			in.Value = p.Masked().String()
			s.nets = append(s.nets, in)
		case SenderDom, LinkDomain:
			d := normDomain(v)
			if d == "" {
				bad++
				continue
			}
			if in.Type == SenderDom {
				s.senders[d] = append(s.senders[d], in)
			} else {
				s.links[d] = append(s.links[d], in)
			}
		case URL:
			u := NormURL(v)
			if u == "" {
				bad++
				continue
			}
			s.urls[u] = append(s.urls[u], in)
		default:
			bad++
			continue
		}
		s.n++
	}
	sort.SliceStable(s.nets, func(i, j int) bool {
		return netip.MustParsePrefix(s.nets[i].Value).Bits() > netip.MustParsePrefix(s.nets[j].Value).Bits()
	})
	return s, bad
}

// Len is the number of indicators in the set.
func (s *Set) Len() int {
	if s == nil {
		return 0
	}
	return s.n
}

func normDomain(d string) string {
	d = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(d), "."))
	if d == "" || strings.ContainsAny(d, " /@:") {
		return ""
	}
	return d
}

// NormURL is the form URLs are compared in: lower-case scheme and host, no
// query string or fragment (partners share URLs without them), no
// trailing slash.
func NormURL(u string) string {
	u = strings.TrimSpace(u)
	if i := strings.IndexAny(u, "?#"); i >= 0 {
		u = u[:i]
	}
	scheme, rest, ok := strings.Cut(u, "://")
	if !ok || rest == "" {
		return ""
	}
	host, path, _ := strings.Cut(rest, "/")
	if host == "" {
		return ""
	}
	out := strings.ToLower(scheme) + "://" + strings.ToLower(host)
	if path = strings.TrimSuffix(path, "/"); path != "" {
		out += "/" + path
	}
	return out
}

// Observed is what a message shows that indicators can name.
type Observed struct {
	OriginIP    netip.Addr
	Senders     []string // Domains: From, envelope sender, Reply-To.
	LinkDomains []string // Registrable domains of the links.
	URLs        []string
}

// Match returns the indicators the message matches, one per indicator,
// in a stable order.
func (s *Set) Match(o Observed) []Match {
	if s == nil || s.n == 0 {
		return nil
	}
	var out []Match
	add := func(ins []Indicator) {
		for _, in := range ins {
			out = append(out, Match{Symbol: Symbol[in.Type], Weight: in.Weight, Indicator: in})
		}
	}
	if o.OriginIP.IsValid() {
		ip := o.OriginIP.Unmap()
		add(s.ips[ip])
		for _, n := range s.nets {
			if netip.MustParsePrefix(n.Value).Contains(ip) {
				add([]Indicator{n})
				break // the most specific network only
			}
		}
	}
	seen := map[string]bool{}
	for _, d := range o.Senders {
		if d = normDomain(d); d != "" && !seen["s"+d] {
			seen["s"+d] = true
			add(s.senders[d])
		}
	}
	for _, d := range o.LinkDomains {
		if d = normDomain(d); d != "" && !seen["l"+d] {
			seen["l"+d] = true
			add(s.links[d])
		}
	}
	for _, u := range o.URLs {
		u = NormURL(u)
		// A partner shares a link cut back to what identifies the spam
		// run, not the recipient ("…/track/" for "…/track/alice-4471"):
		// it names every link under it. The link itself and each of its
		// leading paths are looked up; the host alone is not (that is a
		// link domain's indicator, weighed as one).
		for u != "" {
			if !seen["u"+u] {
				seen["u"+u] = true
				add(s.urls[u])
			}
			i := strings.LastIndexByte(u, '/')
			if i < 0 || i <= strings.Index(u, "://")+2 || !strings.Contains(u[strings.Index(u, "://")+3:i], "/") {
				break // Down to scheme://host: stop.
			}
			u = u[:i]
		}
	}
	return out
}
