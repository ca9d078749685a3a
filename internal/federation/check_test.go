package federation

import (
	"strings"
	"testing"
	"time"
)

func TestCheckItemRefusesWhatCannotBeHeld(t *testing.T) {
	at := time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC)
	good := []Item{
		mkItem("ind:url:http://pharma-us.example/buy?x=1", KindIndicators, TLPGreen, []string{"US"}, false, "", at, indicator{Type: "url", Value: "http://pharma-us.example/buy?x=1"}),
		mkItem("ind:ipv6-addr:2001:db8::1", KindIndicators, TLPGreen, nil, false, "", at, indicator{Type: "ipv6-addr", Value: "2001:db8::1"}),
		mkItem("camp:c-1", KindCampaigns, TLPAmber, []string{"CN", "unknown"}, false, "c-1", at, campaignBody{ID: "c-1", Subject: "Ünïcode ok"}),
		mkItem("rep:r-1", KindReports, TLPAmber, []string{"FR"}, false, "c-1", at, reportBody{ID: "r-1"}),
		mkItem("ev:r-1", KindEvidence, TLPAmberStrict, nil, true, "c-1", at, evidenceBody{Report: "r-1"}),
		mkItem("stats:origins:k1", KindStatistics, TLPClear, nil, false, "", at, StatsBody{}),
		{Key: "rep:r-2", Kind: KindReports, TLP: TLPAmber}, // A purged tombstone: no body.
	}
	for _, it := range good {
		if err := CheckItem(it); err != nil {
			t.Errorf("a well-formed %s item refused: %v", it.Kind, err)
		}
	}
	base := good[0]
	for name, change := range map[string]func(*Item){
		"unknown kind":          func(it *Item) { it.Kind = "secrets" },
		"key of another kind":   func(it *Item) { it.Key = "camp:c-1" },
		"bare prefix":           func(it *Item) { it.Key = "ind:" },
		"escape in the key":     func(it *Item) { it.Key = "ind:domain-name:a\x1b[2Jb.example" },
		"override in the key":   func(it *Item) { it.Key = "ind:domain-name:abc\u202eexe.example" },
		"invalid UTF-8 key":     func(it *Item) { it.Key = "ind:domain-name:\xff.example" },
		"huge key":              func(it *Item) { it.Key = "ind:url:http://x.example/" + strings.Repeat("a", maxKey) },
		"unknown marking":       func(it *Item) { it.TLP = "purple" },
		"origin not a code":     func(it *Item) { it.Origins = []string{"United States"} },
		"lower-case origin":     func(it *Item) { it.Origins = []string{"us"} },
		"newline in campaign":   func(it *Item) { it.Campaign = "c-1\nFAKE LINE" },
		"body that is not JSON": func(it *Item) { it.Body = []byte("{not json"); it.Hash = HashBody(it.Body) },
	} {
		it := base
		change(&it)
		if err := CheckItem(it); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
