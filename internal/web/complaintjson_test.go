package web

import (
	"testing"

	"github.com/accord-antispam/accord/internal/consent"
)

// A repeat report of a message already counted is listed, flagged, and
// not counted: the answer says what the complaint rate holds.
func TestComplaintJSONRepeatNotCounted(t *testing.T) {
	cs := []consent.Complaint{
		{ReportID: "r1", How: consent.HowDKIM},
		{ReportID: "r2", How: consent.HowDKIM, Flags: []string{consent.FlagRepeat}},
		{ReportID: "r3", How: consent.HowTokenUnverified},
	}
	want := []bool{true, false, false}
	for i, c := range toComplaintJSON(cs) {
		if c.Counted != want[i] {
			t.Errorf("%s (%s, flags %v): counted %v, want %v", c.ReportID, c.How, c.Flags, c.Counted, want[i])
		}
	}
}
