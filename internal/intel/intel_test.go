package intel

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/accord-antispam/accord/internal/resolve"
)

func TestSetMatches(t *testing.T) {
	now := time.Unix(1700000000, 0)
	src := Source{Kind: "partner", Partner: "us", Agreement: "FR-US-2026", TLP: "amber"}
	s, bad := NewSet([]Indicator{
		{Type: IP, Value: "203.0.113.7", Source: src},
		{Type: Network, Value: "198.51.100.0/24", Source: src},
		{Type: Network, Value: "198.51.0.0/16", Source: src},
		{Type: SenderDom, Value: "Pharma.Example.", Source: Source{Kind: "campaign", ID: "c-1", TLP: "green"}},
		{Type: LinkDomain, Value: "pills.example", Source: src},
		{Type: URL, Value: "HTTP://Pills.example/buy?id=1", Source: src},
		{Type: IP, Value: "192.0.2.1", Source: src, Expires: now.Add(-time.Second)}, // expired
		{Type: IP, Value: "not an ip", Source: src},
		{Type: "bogus", Value: "x", Source: src},
	}, now)
	if bad != 2 || s.Len() != 6 {
		t.Fatalf("bad %d len %d, want 2 and 6", bad, s.Len())
	}
	ms := s.Match(Observed{OriginIP: netip.MustParseAddr("198.51.100.9"), Senders: []string{"pharma.example", "PHARMA.example"},
		LinkDomains: []string{"pills.example"}, URLs: []string{"http://pills.example/buy?id=2#x"}})
	got := map[string]int{}
	for _, m := range ms {
		got[m.Symbol]++
	}
	want := map[string]int{"INTEL_ORIGIN_NET": 1, "INTEL_SENDER_DOMAIN": 1, "INTEL_LINK_DOMAIN": 1, "INTEL_URL": 1}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %d matches, want %d (all: %v)", k, got[k], v, got)
		}
	}
	for _, m := range ms {
		if m.Symbol == "INTEL_ORIGIN_NET" && m.Indicator.Value != "198.51.100.0/24" {
			t.Errorf("network match %s, want the most specific", m.Indicator.Value)
		}
		if m.Disclosable() != (m.Indicator.Source.TLP == "green") {
			t.Errorf("%s TLP %s: disclosable %v", m.Symbol, m.Indicator.Source.TLP, m.Disclosable())
		}
	}
	if ms := s.Match(Observed{OriginIP: netip.MustParseAddr("192.0.2.1")}); len(ms) != 0 {
		t.Errorf("an expired indicator matched: %v", ms)
	}
}

// slow delays every lookup, for the time budget.
type slow struct {
	resolve.Resolver
	d time.Duration
	n atomic.Int32
}

func (s *slow) LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error) {
	s.n.Add(1)
	select {
	case <-time.After(s.d):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return s.Resolver.LookupIPAddr(ctx, host)
}

func TestDNSBL(t *testing.T) {
	z := &resolve.Zone{}
	z.AddIP("7.113.0.203.rbl.test", netip.MustParseAddr("127.0.0.2"))
	z.AddIP("8.113.0.203.rbl.test", netip.MustParseAddr("127.255.255.254")) // quota answer: not a listing
	z.AddIP("pills.example.dbl.test", netip.MustParseAddr("127.0.1.2"))
	z.AddFail("9.113.0.203.rbl.test")
	r := &slow{Resolver: z}
	d := &DNSBL{Resolver: r, Lists: []List{{Name: "test", Zone: "rbl.test."}, {Name: "dbl", Zone: "dbl.test", Domain: true, Weight: 5}}}
	res := d.Check(context.Background(), netip.MustParseAddr("203.0.113.7"), []string{"pills.example", "fine.example"})
	if len(res.Hits) != 2 || res.Queries != 3 {
		t.Fatalf("hits %+v queries %d, want 2 hits of 3 queries", res.Hits, res.Queries)
	}
	for _, h := range res.Hits {
		if h.List.Symbol() != "RBL_TEST" && h.List.Symbol() != "URIBL_DBL" {
			t.Errorf("symbol %s", h.List.Symbol())
		}
	}
	// Cached: no new queries.
	res = d.Check(context.Background(), netip.MustParseAddr("203.0.113.7"), []string{"pills.example", "fine.example"})
	if len(res.Hits) != 2 || res.Queries != 0 {
		t.Fatalf("second check: hits %d queries %d, want 2 from the cache", len(res.Hits), res.Queries)
	}
	if res := d.Check(context.Background(), netip.MustParseAddr("203.0.113.8"), nil); len(res.Hits) != 0 {
		t.Errorf("127.255.255.254 counted as a listing")
	}
	if res := d.Check(context.Background(), netip.MustParseAddr("203.0.113.9"), nil); len(res.Errors) != 1 || len(res.Hits) != 0 {
		t.Errorf("SERVFAIL: %+v", res)
	}
	// Private and loopback addresses are never asked about.
	if res := d.Check(context.Background(), netip.MustParseAddr("10.1.2.3"), nil); res.Queries != 0 {
		t.Errorf("asked about a private address")
	}
	// Budget: a resolver slower than the budget gives timeouts, promptly.
	r.d = 2 * time.Second
	d2 := &DNSBL{Resolver: r, Lists: d.Lists, Budget: 50 * time.Millisecond}
	start := time.Now()
	res = d2.Check(context.Background(), netip.MustParseAddr("203.0.113.7"), []string{"pills.example"})
	if len(res.Hits) != 0 || len(res.Timeouts) == 0 {
		t.Errorf("slow lists: %+v", res)
	}
	if el := time.Since(start); el > time.Second {
		t.Errorf("the check took %v, beyond its budget", el)
	}
	// Offline resolver: nothing asked.
	d3 := &DNSBL{Resolver: resolve.Offline{}, Lists: d.Lists}
	if res := d3.Check(context.Background(), netip.MustParseAddr("203.0.113.7"), nil); res.Queries != 0 || len(res.Hits) != 0 {
		t.Errorf("offline: %+v", res)
	}
}

// TestDNSBLAnswers: an answer of several A records is listed when any of
// them counts, whatever their order (before, only the first was read:
// [127.0.0.4, 127.0.0.2] with codes ["127.0.0.2"] was not listed, the
// same set in the other order was); and the lists' refusal codes —
// 127.0.0.1 (URIBL/SURBL: query refused) and 127.255.255.0/24 — never
// count, with codes or without (before, 127.0.0.1 listed every link of
// every message once a list blocked the node's resolver).
func TestDNSBLAnswers(t *testing.T) {
	z := &resolve.Zone{}
	z.AddIP("9.113.0.203.zen.test", netip.MustParseAddr("127.0.0.4"))
	z.AddIP("9.113.0.203.zen.test", netip.MustParseAddr("127.0.0.2"))
	z.AddIP("10.113.0.203.zen.test", netip.MustParseAddr("127.0.0.2"))
	z.AddIP("10.113.0.203.zen.test", netip.MustParseAddr("127.0.0.4"))
	z.AddIP("11.113.0.203.zen.test", netip.MustParseAddr("127.0.0.4"))
	z.AddIP("12.113.0.203.zen.test", netip.MustParseAddr("127.0.0.1"))
	z.AddIP("12.113.0.203.open.test", netip.MustParseAddr("127.0.0.1"))
	z.AddIP("13.113.0.203.open.test", netip.MustParseAddr("127.255.255.254"))
	z.AddIP("13.113.0.203.open.test", netip.MustParseAddr("127.0.0.3"))
	z.AddIP("good.test.multi.uribl.test", netip.MustParseAddr("127.0.0.1"))
	z.AddIP("bad.test.multi.uribl.test", netip.MustParseAddr("127.0.0.2"))
	zen := List{Name: "zen", Zone: "zen.test", Codes: []string{"127.0.0.2", "127.0.0.1"}}
	open := List{Name: "open", Zone: "open.test"}
	uri := List{Name: "uribl", Zone: "multi.uribl.test", Domain: true}
	d := &DNSBL{Resolver: z, Lists: []List{zen, open, uri}}
	hits := func(ip string, doms ...string) map[string]string {
		out := map[string]string{}
		for _, h := range d.Check(context.Background(), netip.MustParseAddr(ip), doms).Hits {
			out[h.List.Symbol()+" "+h.Query] = h.Answer
		}
		return out
	}
	for _, ip := range []string{"203.0.113.9", "203.0.113.10"} {
		if got := hits(ip)["RBL_ZEN "+ip]; got != "127.0.0.2" {
			t.Errorf("%s: [127.0.0.2, 127.0.0.4] in either order with codes 127.0.0.2: RBL_ZEN %q, want 127.0.0.2", ip, got)
		}
	}
	if got := hits("203.0.113.11"); len(got) != 0 {
		t.Errorf("127.0.0.4 not in codes counted: %v", got)
	}
	if got := hits("203.0.113.12"); len(got) != 0 {
		t.Errorf("127.0.0.1, a refusal, counted (codes naming it or not): %v", got)
	}
	if got := hits("203.0.113.13")["RBL_OPEN 203.0.113.13"]; got != "127.0.0.3" {
		t.Errorf("[127.255.255.254, 127.0.0.3] without codes: %q, want the listing 127.0.0.3 alone", got)
	}
	got := hits("10.0.0.1", "good.test", "bad.test")
	if _, ok := got["URIBL_URIBL good.test"]; ok || got["URIBL_URIBL bad.test"] != "127.0.0.2" {
		t.Errorf("URIBL: %v, want bad.test alone (good.test's 127.0.0.1 is a refused query)", got)
	}
	if res := d.Check(context.Background(), netip.MustParseAddr("10.0.0.1"), []string{"good.test"}); len(res.Errors) != 1 || !strings.Contains(res.Errors[0], "refused") {
		t.Errorf("a refusal is not said: %+v", res)
	}
}

func TestReverse(t *testing.T) {
	if got := reverse(netip.MustParseAddr("192.0.2.1")); got != "1.2.0.192" {
		t.Errorf("v4: %s", got)
	}
	if got := reverse(netip.MustParseAddr("2001:db8::1")); got != "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2" {
		t.Errorf("v6: %s", got)
	}
}

// TestURLIndicatorsNameTheLinksUnderThem: a partner shares a link cut back
// to what identifies the spam run ("…/track/"), and it names every link
// under it; a host alone names no link (that is a link domain's
// indicator), and a sibling path is another link.
func TestURLIndicatorsNameTheLinksUnderThem(t *testing.T) {
	src := Source{Kind: "partner", Partner: "us", TLP: "green"}
	s, _ := NewSet([]Indicator{
		{Type: URL, Value: "https://parcel-scam.example/track/", Source: src},
		{Type: URL, Value: "https://bucket.example", Source: src},
	}, time.Unix(1700000000, 0))
	for u, want := range map[string]int{
		"https://parcel-scam.example/track/alice-4471/pay?x=1": 1,
		"https://PARCEL-SCAM.example/track":                    1,
		"https://parcel-scam.example/other/alice":              0,
		"https://parcel-scam.example/trackers/x":               0,
		"https://bucket.example/x/y":                           0,
		"https://bucket.example/":                              1,
	} {
		if got := len(s.Match(Observed{URLs: []string{u}})); got != want {
			t.Errorf("%s: %d matches, want %d", u, got, want)
		}
	}
}
