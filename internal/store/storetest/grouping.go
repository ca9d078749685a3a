package storetest

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/accord-antispam/accord/internal/analysis"
	"github.com/accord-antispam/accord/internal/campaign"
	"github.com/accord-antispam/accord/internal/cases"
	"github.com/accord-antispam/accord/internal/intake"
)

// groupingReport is report i of a mixed stream: twelve runs, each
// rewording its own sentences from variant to variant (so that early
// variants may share nothing with late ones but through the middle
// ones), some with a link domain of their own, a few short texts.
func groupingReport(i int) (string, campaign.Signature) {
	run := i % 12
	rr := rand.New(rand.NewPCG(uint64(run), 3))
	vocab := make([]string, 40)
	for k := range vocab {
		b := make([]byte, 4+rr.IntN(5))
		for j := range b {
			b[j] = byte('a' + rr.IntN(26))
		}
		vocab[k] = string(b)
	}
	// Variant v uses words v..v+24 of the run's forty: a sliding window.
	v := (i / 12) % 16
	text := strings.Join(vocab[v:v+24], " ")
	var domains []string
	if run%3 == 0 {
		domains = []string{fmt.Sprintf("run%d.test", run)}
	}
	if run == 9 && i%5 == 0 {
		text = "click " + vocab[0] // short, grouped by its link domain
	}
	return fmt.Sprintf("g%03d", i), campaign.Sign(text, domains, "", "")
}

// partition reads the stored reports' campaigns as a canonical string.
func partition(t *testing.T, s Store) string {
	t.Helper()
	list, err := s.Reports(context.Background(), intake.ReportFilter{Limit: intake.MaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	by := map[string][]string{}
	for _, r := range list {
		by[r.CampaignID] = append(by[r.CampaignID], r.ID)
	}
	var parts []string
	for _, m := range by {
		slices.Sort(m)
		parts = append(parts, strings.Join(m, ","))
	}
	slices.Sort(parts)
	return strings.Join(parts, " | ")
}

// campaignsAnyOrder: the same reports committed in many orders, in
// commits of various sizes, make the same campaigns — those grouping them
// in memory makes (campaign.Partition) — with every merge in the custody
// log and the custody chain whole.
func campaignsAnyOrder(t *testing.T, open Open) {
	ctx := context.Background()
	const n = 150
	ids := make([]string, n)
	sigs := map[string]campaign.Signature{}
	for i := range n {
		id, sig := groupingReport(i)
		ids[i], sigs[id] = id, sig
	}
	// The truth: the partition grouped in memory, in id order.
	want, nparts := groupInMemory(ids, sigs)
	if nparts < 12 || nparts > 40 {
		t.Fatalf("the stream makes %d campaigns: not a mix of runs", nparts)
	}
	found := func(_ context.Context, _ campaign.Index, r *intake.Report) error {
		r.CampaignID, r.CampaignNew, r.CampaignWhy = "c-"+r.ID, true, "founded the campaign"
		return nil
	}
	merges := 0
	for o := range 4 {
		s := open(t)
		order := slices.Clone(ids)
		rng := rand.New(rand.NewPCG(uint64(o), 9))
		rng.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		for len(order) > 0 {
			k := min(len(order), 1+rng.IntN(8))
			var batches []*intake.Batch
			for _, id := range order[:k] {
				at := clock.Add(time.Duration(len(ids)-len(order)) * time.Second)
				c := &intake.Complaint{ID: "c" + id, ReceivedAt: at, Channel: intake.ChannelAPI, Raw: []byte(id), SHA256: "h"}
				r := &intake.Report{ID: id, ComplaintID: c.ID, ReceivedAt: at, Channel: intake.ChannelAPI, Form: intake.FormRaw, Raw: []byte(id), SHA256: "h",
					Verdict: &analysis.Verdict{}, Signature: sigs[id]}
				batches = append(batches, &intake.Batch{Complaint: c, Reports: []*intake.Report{r},
					Custody: []intake.CustodyEntry{{ReportID: id, At: at, Actor: "api", Action: "received"}}})
			}
			order = order[k:]
			if err := s.Commit(ctx, batches, found); err != nil {
				t.Fatal(err)
			}
		}
		if got := partition(t, s); got != want {
			t.Fatalf("order %d: the campaigns differ from grouping the same reports in memory:\n%s\nwant\n%s", o, got, want)
		}
		st, err := s.Stats(ctx)
		if err != nil || st.Campaigns != nparts || st.Reports != n {
			t.Fatalf("order %d: %+v %v, want %d campaigns", o, st, err, nparts)
		}
		entries, problems, err := s.VerifyCustodyLog(ctx)
		if err != nil || len(problems) > 0 {
			t.Fatalf("order %d: custody log: %v %v", o, problems, err)
		}
		merges += int(entries) - n
	}
	if merges == 0 {
		t.Error("no order needed a merge: the test does not exercise merging")
	}
	t.Logf("%d reports, %d campaigns in every order; %d merges over 4 orders", n, nparts, merges)
}

// TwoInstancesMerging is two stores on one database merging campaigns at
// once: for each of eight runs, three campaigns with nothing in common,
// then at the same moment one instance commits a report sharing keys with
// the first and second, the other one sharing keys with the second and
// third. Each run must end as one campaign, with no report lost, two
// merges recorded, and one custody chain.
func TwoInstancesMerging(t *testing.T, a, b Store) {
	ctx := context.Background()
	const runs = 8
	mk := func(id string, at int, domains ...string) *intake.Batch {
		sig := campaign.Signature{Words: 2, Domains: domains}
		for i := range sig.MinHash {
			sig.MinHash[i] = uint32(at*100 + i)
		}
		ts := clock.Add(time.Duration(at) * time.Second)
		c := &intake.Complaint{ID: "c" + id, ReceivedAt: ts, Channel: intake.ChannelAPI, Raw: []byte(id), SHA256: "h"}
		r := &intake.Report{ID: id, ComplaintID: c.ID, ReceivedAt: ts, Channel: intake.ChannelAPI, Form: intake.FormRaw, Raw: []byte(id), SHA256: "h",
			Verdict: &analysis.Verdict{}, Signature: sig}
		return &intake.Batch{Complaint: c, Reports: []*intake.Report{r}, Custody: []intake.CustodyEntry{{ReportID: id, At: ts, Actor: "api", Action: "received"}}}
	}
	found := func(_ context.Context, _ campaign.Index, r *intake.Report) error {
		r.CampaignID, r.CampaignNew = "c-"+r.ID, true
		return nil
	}
	dom := func(run, k int) string { return fmt.Sprintf("run%d-k%d.test", run, k) }
	var seed []*intake.Batch
	for run := range runs {
		for k := range 3 {
			seed = append(seed, mk(fmt.Sprintf("m%d-seed%d", run, k), run*10+k, dom(run, k)))
		}
	}
	if err := a.Commit(ctx, seed, found); err != nil {
		t.Fatal(err)
	}
	var start [runs]sync.WaitGroup
	for i := range start {
		start[i].Add(2)
	}
	var wg sync.WaitGroup
	for n, s := range []Store{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for run := range runs {
				start[run].Done()
				start[run].Wait()
				if err := s.Commit(ctx, []*intake.Batch{mk(fmt.Sprintf("m%d-bridge%d", run, n), 500+run*10+n, dom(run, n), dom(run, n+1))}, found); err != nil {
					t.Errorf("instance %d, run %d: %v", n, run, err)
					continue // not return: the other instance waits at the next run's start
				}
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	for run := range runs {
		want := "c-" + fmt.Sprintf("m%d-seed0", run)
		for _, id := range []string{"seed0", "seed1", "seed2", "bridge0", "bridge1"} {
			r, err := b.Report(ctx, fmt.Sprintf("m%d-%s", run, id))
			if err != nil {
				t.Fatal(err)
			}
			if r.CampaignID != want {
				t.Errorf("run %d: %s in campaign %s, want %s (the oldest)", run, id, r.CampaignID, want)
			}
		}
		c, err := a.Campaign(ctx, want)
		if err != nil || c.Reports != 5 || len(c.Merged) != 2 {
			t.Errorf("run %d: %+v %v", run, c, err)
		}
	}
	st, err := a.Stats(ctx)
	if err != nil || st.Reports != runs*5 || st.Campaigns != runs {
		t.Errorf("%+v %v, want %d reports in %d campaigns", st, err, runs*5, runs)
	}
	entries, problems, err := b.VerifyCustodyLog(ctx)
	if err != nil || len(problems) > 0 || entries != runs*5+runs*2 {
		t.Fatalf("custody log: %d entries (want %d: received and merged), %v, %v", entries, runs*7, problems, err)
	}
}

// MigrateRegroups: a database grouped by the old rule (here: campaigns
// cutting across the runs, one with a case) is regrouped by migration 32
// when opened: the campaigns are then those of grouping the same reports
// by keys, no report, case note or custody entry is lost, every report
// moved has a custody entry saying so, and opening it again changes
// nothing. db is at schema 31; open takes it the rest of the way.
func MigrateRegroups(t *testing.T, db *sql.DB, old Store, rebind func(string) string, open func() Store) {
	ctx := context.Background()
	const n = 60
	var ids []string
	sigs := map[string]campaign.Signature{}
	oldCamp := map[string]string{}
	for i := range n {
		id, sig := groupingReport(i)
		ids = append(ids, id)
		sigs[id] = sig
		oldCamp[id] = fmt.Sprintf("old-%d", i%7) // cuts across the twelve runs
		js, err := json.Marshal(sig)
		if err != nil {
			t.Fatal(err)
		}
		at := clock.Add(time.Duration(i) * time.Second).UnixNano()
		if i < 7 {
			if _, err := db.ExecContext(ctx, rebind(`INSERT INTO campaigns (id, created_at, founder, subject, signature, founded_seq) VALUES (?, ?, ?, 'subject', ?, 0)`),
				oldCamp[id], at, id, string(js)); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := db.ExecContext(ctx, rebind(`INSERT INTO complaints (id, received_at, channel, sha256, reporter_id, raw, purged_at) VALUES (?, ?, 'api', 'x', '', ?, 0)`),
			"c"+id, at, []byte(id)); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(ctx, rebind(`INSERT INTO reports (id, complaint_id, received_at, channel, form, unverifiable, feedback, sha256, raw,
			reporter_id, submitted_by, consent, customer, status_hash, verdict, signature, campaign_id, campaign_why, subject, from_domain,
			origin_ip, country, asn, network, spam_score, reporter_auth, purged_at)
			VALUES (?, ?, ?, 'api', 'raw', '[]', '{}', 'x', ?, '', 'token:t', 'unknown', 'unknown', ?, '{}', ?, ?, 'old rule', '', '', '', '', 0, '', -1, '', 0)`),
			id, "c"+id, at, []byte(id), "h-"+id, string(js), oldCamp[id]); err != nil {
			t.Fatal(err)
		}
		if _, err := old.AppendCustody(ctx, intake.CustodyEntry{ReportID: id, At: clock, Actor: "api", Action: "received"}); err != nil {
			t.Fatal(err)
		}
	}
	svc := &cases.Service{Store: old, Campaigns: old, Now: func() time.Time { return clock }}
	if _, err := svc.Note(ctx, "old-3", 0, "looked at the old campaign", "user:ana"); err != nil {
		t.Fatal(err)
	}
	s := open()
	// The truth: the same reports grouped by keys in memory.
	want, nparts := groupInMemory(ids, sigs)
	if got := partition(t, s); got != want {
		t.Fatalf("after the migration:\n%s\nwant\n%s", got, want)
	}
	st, err := s.Stats(ctx)
	if err != nil || st.Reports != n || st.Campaigns != nparts {
		t.Errorf("after the migration: %+v %v, want %d reports in %d campaigns", st, err, n, nparts)
	}
	// The old case followed old-3 wherever it went.
	r3, err := s.Report(ctx, ids[3])
	if err != nil {
		t.Fatal(err)
	}
	svc = &cases.Service{Store: s, Campaigns: s, Now: func() time.Time { return clock }}
	c, err := svc.Get(ctx, r3.CampaignID)
	found := false
	for _, e := range c.Events {
		found = found || e.Text == "looked at the old campaign"
	}
	if err != nil || !found {
		t.Errorf("the old case's note is lost: %+v %v", c, err)
	}
	moved := 0
	for _, id := range ids {
		r, err := s.Report(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if r.CampaignID != oldCamp[id] {
			log, err := s.Custody(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if len(log) < 2 || log[0].Action != "received" || !slices.ContainsFunc(log, func(e intake.CustodyEntry) bool { return e.Action == "campaign-regrouped" }) {
				t.Errorf("report %s moved from %s to %s with no custody entry: %+v", id, oldCamp[id], r.CampaignID, log)
			}
			moved++
		}
	}
	if moved == 0 {
		t.Error("no report moved: the test does not exercise the regrouping")
	}
	entries, problems, err := s.VerifyCustodyLog(ctx)
	if err != nil || len(problems) > 0 {
		t.Fatalf("custody log: %v %v", problems, err)
	}
	again := open()
	if got := partition(t, again); got != want {
		t.Error("opening again changed the campaigns")
	}
	if e2, _, _ := again.VerifyCustodyLog(ctx); e2 != entries {
		t.Errorf("opening again wrote %d custody entries", e2-entries)
	}
	t.Logf("%d reports in 7 old campaigns regrouped into %d; %d moved", n, nparts, moved)
}

// groupInMemory groups the reports ids (their signatures in sigs) by
// their keys in memory, in the order given, and returns the partition
// written as partition writes a store's ("a,b | c") and its number of
// campaigns: the truth a store's grouping is held to.
func groupInMemory(ids []string, sigs map[string]campaign.Signature) (string, int) {
	p := campaign.NewPartition()
	camp := map[string]string{}
	for i, id := range ids {
		pl := p.Place(sigs[id].Keys())
		if pl.Campaign == "" {
			pl.Campaign = "c" + id
			p.Found(pl.Campaign, int64(i), pl.NewKeys)
		}
		camp[id] = pl.Campaign
	}
	by := map[string][]string{}
	for _, id := range ids {
		by[p.Find(camp[id])] = append(by[p.Find(camp[id])], id)
	}
	var parts []string
	for _, m := range by {
		slices.Sort(m)
		parts = append(parts, strings.Join(m, ","))
	}
	slices.Sort(parts)
	return strings.Join(parts, " | "), len(by)
}
