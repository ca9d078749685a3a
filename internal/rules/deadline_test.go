package rules

import (
	"strings"
	"testing"
	"time"
)

func TestOptOutDeadlines(t *testing.T) {
	lib, err := Embedded()
	if err != nil {
		t.Fatal(err)
	}
	// Friday 2026-12-04 15:00 UTC.
	req := time.Date(2026, 12, 4, 15, 0, 0, 0, time.UTC)
	want := map[string]time.Time{
		"EU": req.Add(48 * time.Hour),                        // Sunday: no statutory number, the 48-hour line
		"GB": req.Add(48 * time.Hour),                        //
		"US": time.Date(2026, 12, 18, 15, 0, 0, 0, time.UTC), // 10 business days: two weeks later
		"CA": time.Date(2026, 12, 18, 15, 0, 0, 0, time.UTC), //
		"AU": time.Date(2026, 12, 11, 15, 0, 0, 0, time.UTC), // 5 business days: next Friday
	}
	for j, due := range want {
		b, _ := lib.Get(j)
		if b.OptOutDeadline == nil {
			t.Fatalf("%s has no opt-out deadline", j)
		}
		if got := b.OptOutDeadline.Due(req); !got.Equal(due) {
			t.Errorf("%s: due %s, want %s", j, got, due)
		}
		if b.OptOutDeadline.Citation == "" || b.OptOutDeadline.Statutory != (j != "EU" && j != "GB") {
			t.Errorf("%s: %+v", j, b.OptOutDeadline)
		}
	}
	// A request on a Saturday: the first business day is Monday.
	sat := time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)
	if got := (Deadline{BusinessDays: 1}).Due(sat); got.Weekday() != time.Monday || got.Day() != 7 {
		t.Errorf("one business day after Saturday: %s", got)
	}
	for _, bad := range []string{
		`{"jurisdiction":"XX","opt_out_deadline":{"citation":"s. 1"},"rules":[{"id":"a","title":"t","citation":"c","breach":"commercial"}]}`,
		`{"jurisdiction":"XX","opt_out_deadline":{"business_days":5,"hours":2,"citation":"s. 1"},"rules":[{"id":"a","title":"t","citation":"c","breach":"commercial"}]}`,
		`{"jurisdiction":"XX","opt_out_deadline":{"business_days":5},"rules":[{"id":"a","title":"t","citation":"c","breach":"commercial"}]}`,
	} {
		if _, err := ParseRulebook(strings.NewReader(bad)); err == nil {
			t.Errorf("ParseRulebook accepted %s", bad)
		}
	}
}
