package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/accord-antispam/accord/internal/analysis"
	"github.com/accord-antispam/accord/internal/campaign"
	"github.com/accord-antispam/accord/internal/intake"
	"github.com/accord-antispam/accord/internal/store/sqlite"
)

// TestCampaignMerge: "accord campaign merge" merges one campaign into
// another, refuses without a reason, and records who ran it in the
// custody log.
func TestCampaignMerge(t *testing.T) {
	ctx := context.Background()
	data := filepath.Join(t.TempDir(), "data")
	if code, _, errs := runCmd(t, "", "init", "--data", data); code != 0 {
		t.Fatalf("init: %d %s", code, errs)
	}
	st, err := sqlite.Open(ctx, filepath.Join(data, "accord.db"))
	if err != nil {
		t.Fatal(err)
	}
	found := func(_ context.Context, _ campaign.Index, r *intake.Report) error {
		r.CampaignID, r.CampaignNew = "c-"+r.ID, true
		return nil
	}
	for i, id := range []string{"a", "b"} {
		sig := campaign.Signature{Words: 2, Domains: []string{id + ".example"}}
		for k := range sig.MinHash {
			sig.MinHash[k] = uint32(i*100 + k)
		}
		at := time.Now().Add(time.Duration(i) * time.Second)
		c := &intake.Complaint{ID: "c" + id, ReceivedAt: at, Channel: intake.ChannelAPI, Raw: []byte(id), SHA256: "h"}
		r := &intake.Report{ID: id, ComplaintID: c.ID, ReceivedAt: at, Channel: intake.ChannelAPI, Form: intake.FormRaw, Raw: []byte(id), SHA256: "h",
			Verdict: &analysis.Verdict{}, Signature: sig}
		if err := st.Commit(ctx, []*intake.Batch{{Complaint: c, Reports: []*intake.Report{r},
			Custody: []intake.CustodyEntry{{ReportID: id, At: at, Actor: "api", Action: "received"}}}}, found); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	if code, _, _ := runCmd(t, "", "campaign", "merge", "--data", data, "c-b", "c-a"); code != 2 {
		t.Errorf("merge without a reason: exit %d", code)
	}
	code, out, errs := runCmd(t, "", "campaign", "merge", "--data", data, "--reason", "one sender", "c-b", "c-a")
	if code != 0 || !strings.Contains(out, "c-b merged into c-a") {
		t.Fatalf("merge: %d %s %s", code, out, errs)
	}
	if code, _, errs := runCmd(t, "", "campaign", "merge", "--data", data, "--reason", "again", "c-b", "c-a"); code != 1 || !strings.Contains(errs, "merged into c-a") {
		t.Errorf("merging again: %d %s", code, errs)
	}
	st, err = sqlite.Open(ctx, filepath.Join(data, "accord.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if r, err := st.Report(ctx, "b"); err != nil || r.CampaignID != "c-a" {
		t.Errorf("report b after the merge: %+v %v", r, err)
	}
	log, err := st.Custody(ctx, "b")
	if err != nil || len(log) != 2 || log[1].Action != "campaign-merged" || !strings.HasPrefix(log[1].Actor, "cli") || !strings.Contains(log[1].Detail, "one sender") {
		t.Errorf("custody of b: %+v %v", log, err)
	}
}
