package consent

import (
	"strings"
	"testing"
	"time"
)

// TestSummaryNamesTheLists: a proof asked for no list says which lists
// consent stands for; a record for "news" is never "consent for any list".
func TestSummaryNamesTheLists(t *testing.T) {
	now := time.Unix(1800000000, 0).UTC()
	news := ProofRecord{ID: "r1", List: "news", Basis: "consent", Status: RecordActive, Confirmed: true}
	offers := ProofRecord{ID: "r2", List: "offers", Basis: "soft-opt-in", Status: RecordActive}
	old := ProofRecord{ID: "r3", List: "old", Basis: "consent", Status: RecordWithdrawn}
	for _, tc := range []struct {
		name    string
		p       ProofPayload
		want    []string
		notWant []string
	}{
		{"one list", ProofPayload{Records: []ProofRecord{news}},
			[]string{"Consent on record for list news (confirmed by the recipient from the mailed link) only."}, []string{"any list"}},
		{"two lists", ProofPayload{Records: []ProofRecord{news, offers, old}},
			[]string{"list news (confirmed", "and list offers (soft-opt-in, not confirmed by the recipient) only."}, []string{"any list", "list old"}},
		{"opted out of one", ProofPayload{Records: []ProofRecord{news, offers}, Suppressions: []ProofSuppress{{List: "news", RequestedAt: now}}},
			[]string{"Consent on record for list offers", "Records for list news are overridden by an opt-out.", "opted out of list news."}, nil},
		{"opted out of all", ProofPayload{Records: []ProofRecord{news}, Suppressions: []ProofSuppress{{RequestedAt: now}}},
			[]string{"No consent stands for any of the sender's lists.", "opted out of all the sender's mail"}, []string{"Consent on record"}},
		{"nothing", ProofPayload{}, []string{"no consent record for this recipient on any of the sender's lists"}, nil},
		{"asked for news", ProofPayload{List: "news", Records: []ProofRecord{news}, Summary: ProofSummary{ConsentOnRecord: true, Basis: "consent", Confirmed: true}},
			[]string{"Consent on record for list news, confirmed"}, nil},
	} {
		got := summaryText(tc.p)
		for _, w := range tc.want {
			if !strings.Contains(got, w) {
				t.Errorf("%s: %q lacks %q", tc.name, got, w)
			}
		}
		for _, w := range tc.notWant {
			if strings.Contains(got, w) {
				t.Errorf("%s: %q says %q", tc.name, got, w)
			}
		}
	}
}
