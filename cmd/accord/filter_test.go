package main

import (
	"encoding/json"
	"net/netip"
	"testing"
	"time"

	"github.com/accord-antispam/accord/internal/federation"
	"github.com/accord-antispam/accord/internal/intel"
)

// TestPartnerIndicators: what partners sent becomes the filter's
// indicators with partner, agreement, TLP and expiry; expired items and
// e-mail addresses are left out.
func TestPartnerIndicators(t *testing.T) {
	now := time.Unix(1800000000, 0)
	item := func(typ, value string, tlp federation.TLP, exp time.Time) federation.ReceivedItem {
		b, _ := json.Marshal(map[string]any{"type": typ, "value": value, "reports": 3})
		return federation.ReceivedItem{Peer: "us", Item: federation.Item{Key: "ind:" + value, Kind: federation.KindIndicators, TLP: tlp, Body: b},
			Terms: federation.Terms{Agreement: "FR-US-2026"}, ExpiresAt: exp}
	}
	inds := indicatorsFrom([]federation.ReceivedItem{
		item("ipv4-addr", "203.0.113.9", federation.TLPGreen, time.Time{}),
		item("domain-name", "pills.example", federation.TLPAmber, now.Add(time.Hour)),
		item("url", "http://pills.example/buy", federation.TLPAmber, now.Add(time.Hour)),
		item("email-addr", "someone@gmail.example", federation.TLPGreen, time.Time{}),
		item("ipv4-addr", "203.0.113.10", federation.TLPGreen, now.Add(-time.Second)), // expired
	}, now)
	if len(inds) != 4 { // IP, domain as sender and as link, URL
		t.Fatalf("%d indicators: %+v", len(inds), inds)
	}
	set, bad := intel.NewSet(inds, now)
	if bad != 0 {
		t.Fatalf("%d malformed", bad)
	}
	ms := set.Match(intel.Observed{OriginIP: netip.MustParseAddr("203.0.113.9"), LinkDomains: []string{"pills.example"}, URLs: []string{"http://pills.example/buy?x=1"}})
	if len(ms) != 3 {
		t.Fatalf("matches %+v", ms)
	}
	for _, m := range ms {
		src := m.Indicator.Source
		if src.Partner != "us" || src.Agreement != "FR-US-2026" || (m.Symbol == "INTEL_ORIGIN_IP") != m.Disclosable() {
			t.Errorf("%s: source %+v disclosable %v", m.Symbol, src, m.Disclosable())
		}
	}
}
