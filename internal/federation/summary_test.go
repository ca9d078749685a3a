package federation

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestSummarySaysWhatAnItemHolds(t *testing.T) {
	body := func(v any) []byte {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	five := 5
	day := time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		it   Item
		want []string
	}{
		{Item{Kind: KindIndicators, Body: body(indicator{Type: "domain-name", Value: "pharma-us.example", Reports: 7})},
			[]string{"domain-name pharma-us.example", "7 reports"}},
		{Item{Kind: KindCampaigns, Body: body(campaignBody{Subject: "Cheap pills", Reports: 12, FirstSeen: day, LastSeen: day.AddDate(0, 0, 2)})},
			[]string{"12 reports", "2026-11-03 to 2026-11-05", `"Cheap pills"`}},
		{Item{Kind: KindReports, Body: body(reportBody{Subject: "You won", FromDomain: "lotto.example", OriginIP: "203.0.113.5", OriginCountry: "US", Findings: []string{"a", "b"}})},
			[]string{`"You won"`, "from lotto.example", "via 203.0.113.5 (US)", "2 findings"}},
		{Item{Kind: KindEvidence, Body: body(evidenceBody{MessageSHA256: "0123456789abcdef0123", Redacted: "AAAA"})},
			[]string{"redacted message of 3 bytes", "sha256 0123456789ab…"}},
		{Item{Kind: KindStatistics, Body: body(StatsBody{Reports: &five, MinCount: 5, Suppressed: 2})},
			[]string{"5 reports", "below 5 campaigns", "2 cells suppressed"}},
		{Item{Kind: KindReports}, []string{"purged"}},
		{Item{Kind: KindCampaigns, Body: []byte(`[1,2`)}, []string{"cannot read"}},
	} {
		got := c.it.Summary()
		for _, w := range c.want {
			if !strings.Contains(got, w) {
				t.Errorf("%s summary %q lacks %q", c.it.Kind, got, w)
			}
		}
	}
	// A partner's text reaches the analyst's terminal on one line, with
	// no escape sequence or direction override, and cut.
	it := Item{Kind: KindIndicators, Body: body(indicator{Type: "url", Value: "http://a\x1b[2J\nb\u202e/" + strings.Repeat("x", 300), Reports: 1})}
	got := it.Summary()
	if strings.ContainsAny(got, "\x1b\n\u202e") || len([]rune(got)) > summaryMax+1 || !strings.HasSuffix(got, "…") {
		t.Errorf("hostile subject: %q", got)
	}
}
