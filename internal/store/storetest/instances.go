package storetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/accord-antispam/accord/internal/campaign"
	"github.com/accord-antispam/accord/internal/intake"
)

// TwoInstances is two stores on one database (two serve processes on one
// PostgreSQL, or on one SQLite file) committing at the same time, as the
// desk commits: the first reports of each spam run reach both at once, so
// each may assign them before it sees the other's campaign. The runs
// must end in one campaign each, whichever instance founded it, and the
// custody log must stay one chain with no fork, with single appends
// (views) interleaved.
func TwoInstances(t *testing.T, a, b Store) {
	ctx := context.Background()
	const runs, perInstance = 12, 3
	var next atomic.Int64
	assign := func(inst string) intake.Assigner {
		return func(ctx context.Context, idx campaign.Index, r *intake.Report) error {
			id, why, err := campaign.Assign(ctx, idx, r.Signature)
			if err != nil {
				return err
			}
			if id == "" {
				r.CampaignID, r.CampaignNew, r.CampaignWhy = fmt.Sprintf("c-%s-%d", inst, next.Add(1)), true, "founded the campaign"
				return nil
			}
			r.CampaignID, r.CampaignNew, r.CampaignWhy = id, false, why
			return nil
		}
	}
	var start [runs]sync.WaitGroup
	for i := range start {
		start[i].Add(2)
	}
	var wg sync.WaitGroup
	for n, s := range []Store{a, b} {
		inst := string(rune('a' + n))
		wg.Add(1)
		go func() {
			defer wg.Done()
			for run := range runs {
				// Both instances take the run's first report together.
				start[run].Done()
				start[run].Wait()
				for v := range perInstance {
					variant := n*perInstance + v
					if err := s.Commit(ctx, []*intake.Batch{runReport(run, variant)}, assign(inst)); err != nil {
						t.Errorf("instance %s, run %d, variant %d: %v", inst, run, variant, err)
						return
					}
					if _, err := s.AppendCustody(ctx, intake.CustodyEntry{ReportID: runReportID(run, variant), At: clock, Actor: "user:" + inst, Action: "viewed"}); err != nil {
						t.Errorf("instance %s: view: %v", inst, err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	for run := range runs {
		first, err := a.Report(ctx, runReportID(run, 0))
		if err != nil {
			t.Fatal(err)
		}
		for v := 1; v < 2*perInstance; v++ {
			r, err := b.Report(ctx, runReportID(run, v))
			if err != nil {
				t.Fatal(err)
			}
			if r.CampaignID != first.CampaignID {
				t.Errorf("run %d: variant %d in campaign %s, variant 0 in %s", run, v, r.CampaignID, first.CampaignID)
			}
		}
	}
	st, err := a.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Reports != runs*2*perInstance || st.Campaigns != runs {
		t.Errorf("%d reports in %d campaigns, want %d in %d (one per run)", st.Reports, st.Campaigns, runs*2*perInstance, runs)
	}
	entries, problems, err := b.VerifyCustodyLog(ctx)
	if err != nil || len(problems) > 0 || entries != 2*runs*2*perInstance {
		t.Fatalf("custody log: %d entries (want %d), %v, %v", entries, 2*runs*2*perInstance, problems, err)
	}
}

func runReportID(run, variant int) string { return fmt.Sprintf("run%02d-v%d", run, variant) }

// runReport is a variant of spam run run: the run's own sixty words (the
// variants differ in the addressee's name and a number), its own link
// domain and sender.
func runReport(run, variant int) *intake.Batch {
	rng := rand.New(rand.NewPCG(uint64(run), 7))
	word := func() string {
		b := make([]byte, 5+rng.IntN(5))
		for i := range b {
			b[i] = byte('a' + rng.IntN(26))
		}
		return string(b)
	}
	words := make([]string, 60)
	for i := range words {
		words[i] = word()
	}
	words[3] = []string{"alice", "bruno", "chloe", "dmitri", "elena", "farid"}[variant]
	text := fmt.Sprintf("Dear %s, %s (ref %d)", words[3], strings.Join(words, " "), 1000+variant)
	domain := word() + ".test"
	id := runReportID(run, variant)
	at := clock.Add(time.Duration(run*10+variant) * time.Second)
	c := &intake.Complaint{ID: "c-" + id, ReceivedAt: at, Channel: intake.ChannelAPI, Raw: []byte(text), SHA256: "h" + id}
	r := &intake.Report{ID: id, ComplaintID: c.ID, ReceivedAt: at, Channel: intake.ChannelAPI, Form: intake.FormRaw, Raw: []byte(text), SHA256: "h" + id,
		Signature: campaign.Sign(text, []string{domain}, "mail."+domain, "AS64500")}
	return &intake.Batch{Complaint: c, Reports: []*intake.Report{r},
		Custody: []intake.CustodyEntry{{ReportID: id, At: at, Actor: "api", Action: "received", Detail: "über " + domain}}}
}
