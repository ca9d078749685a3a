package storetest

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
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
		return keyedBatch(id, at, intake.ChannelAPI, domains...)
	}
	found := foundOwn
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
		// The bridge committed first merges two singletons (the older
		// survives), the second merges the remaining singleton into that
		// one, now the larger: seed0 or seed1, never seed2.
		first, err := b.Report(ctx, fmt.Sprintf("m%d-seed0", run))
		if err != nil {
			t.Fatal(err)
		}
		want := first.CampaignID
		if want != fmt.Sprintf("c-m%d-seed0", run) && want != fmt.Sprintf("c-m%d-seed1", run) {
			t.Errorf("run %d: the survivor is %s, want c-m%d-seed0 or c-m%d-seed1", run, want, run, run)
		}
		for _, id := range []string{"seed0", "seed1", "seed2", "bridge0", "bridge1"} {
			r, err := b.Report(ctx, fmt.Sprintf("m%d-%s", run, id))
			if err != nil {
				t.Fatal(err)
			}
			if r.CampaignID != want {
				t.Errorf("run %d: %s in campaign %s, want %s (seed0's)", run, id, r.CampaignID, want)
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
	// The case as schema 31 stored it (today's AppendCaseEvent reads
	// merged_into, which that schema does not have).
	for _, q := range []string{
		`INSERT INTO cases (campaign_id, status, assignee, opened_at, updated_at, closed_at, version) VALUES ('old-3', 'new', '', ?, ?, 0, 1)`,
		`INSERT INTO case_events (campaign_id, n, at, actor, kind, status, text, ref) VALUES ('old-3', 1, ?, 'user:ana', 'note', 'new', 'looked at the old campaign', '')`,
	} {
		args := []any{clock.UnixNano(), clock.UnixNano()}[:strings.Count(q, "?")]
		if _, err := db.ExecContext(ctx, rebind(q), args...); err != nil {
			t.Fatal(err)
		}
	}
	s := open()
	// The truth: old-3 has a case, so it is sealed and keeps its reports
	// (attack 11, F3: regrouping took reports out of a worked case); the
	// others are the same reports grouped by keys in memory.
	var worked, others []string
	for _, id := range ids {
		if oldCamp[id] == "old-3" {
			worked = append(worked, id)
		} else {
			others = append(others, id)
		}
	}
	rest, nparts := groupInMemory(others, sigs)
	parts := append(strings.Split(rest, " | "), strings.Join(worked, ","))
	slices.Sort(parts)
	want := strings.Join(parts, " | ")
	nparts++
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
	svc := &cases.Service{Store: s, Campaigns: s, Now: func() time.Time { return clock }}
	c, err := svc.Get(ctx, r3.CampaignID)
	found := false
	for _, e := range c.Events {
		found = found || e.Text == "looked at the old campaign"
	}
	if err != nil || !found {
		t.Errorf("the old case's note is lost: %+v %v", c, err)
	}
	for _, id := range worked {
		if r, err := s.Report(ctx, id); err != nil || r.CampaignID != "old-3" {
			t.Errorf("report %s of the worked campaign old-3 moved: %+v %v", id, r, err)
		}
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

// sealedCampaigns: a report bridging a campaign a person worked on (its
// case has an event) and another does not merge them: it joins the
// other, the worked campaign keeps its reports, keys and case, and the
// link is proposed (both campaigns list it). Bridges between campaigns
// nobody worked on merge as before. An analyst's merge then goes the
// intake merge's way: recorded, in the custody log by the analyst, and
// an event of the surviving case saying who and why.
func sealedCampaigns(t *testing.T, s Store) {
	ctx := context.Background()
	mk := func(id string, at int, domains ...string) *intake.Batch {
		return keyedBatch(id, at, intake.ChannelWeb, domains...)
	}
	found := foundOwn
	commit := func(b *intake.Batch) {
		t.Helper()
		if err := s.Commit(ctx, []*intake.Batch{b}, found); err != nil {
			t.Fatal(err)
		}
	}
	campaignOf := func(id string) string {
		t.Helper()
		r, err := s.Report(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return r.CampaignID
	}
	for i, d := range []string{"worked", "junk", "c", "d"} {
		commit(mk(d, i+1, d+".test"))
	}
	svc := &cases.Service{Store: s, Campaigns: s, Now: func() time.Time { return clock.Add(time.Minute) }}
	if _, err := svc.Note(ctx, "c-worked", 0, "informant says: pharma ring", "user:ana"); err != nil {
		t.Fatal(err)
	}
	commit(mk("bridge", 10, "worked.test", "junk.test"))
	commit(mk("bridge2", 11, "c.test", "d.test"))
	if got := campaignOf("bridge"); got != "c-junk" {
		t.Fatalf("the bridge joined %s, want c-junk (the campaign nobody worked on)", got)
	}
	if got := campaignOf("worked"); got != "c-worked" {
		t.Fatalf("the worked campaign's report is now in %s", got)
	}
	if got, want := campaignOf("d"), "c-c"; got != want {
		t.Errorf("a bridge between campaigns nobody worked on: d in %s, want %s", got, want)
	}
	cw, err := s.Campaign(ctx, "c-worked")
	if err != nil || cw.Reports != 1 || len(cw.Merged) != 0 {
		t.Fatalf("the worked campaign after the bridge: %+v %v", cw, err)
	}
	c, err := svc.Get(ctx, "c-worked")
	if err != nil || c.Version != 1 || len(c.Links) != 1 {
		t.Fatalf("the worked case: %+v %v", c, err)
	}
	if l := c.Links[0]; l.Campaign != "c-worked" || l.Other != "c-junk" || l.ReportID != "bridge" || !l.At.Equal(clock.Add(10*time.Second)) || !strings.Contains(l.Why, "c-worked") {
		t.Errorf("the proposed link: %+v", l)
	}
	if other, err := s.ProposedLinks(ctx, "c-junk"); err != nil || len(other) != 1 || other[0].ReportID != "bridge" {
		t.Errorf("the other side's links: %+v %v", other, err)
	}
	if none, err := s.ProposedLinks(ctx, "c-c"); err != nil || len(none) != 0 {
		t.Errorf("a merge between unworked campaigns proposed links: %+v %v", none, err)
	}
	// Only the worked campaign's keys: the report joins it.
	commit(mk("more", 12, "worked.test"))
	if got := campaignOf("more"); got != "c-worked" {
		t.Errorf("a report sharing keys only with the worked campaign joined %s", got)
	}

	// The analyst merges on purpose.
	before, _, err := s.VerifyCustodyLog(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Merge(ctx, "c-junk", "c-junk", "why", "user:ana"); !errors.Is(err, cases.ErrInvalid) {
		t.Errorf("merge into itself: %v", err)
	}
	if err := s.MergeCampaigns(ctx, "c-nothing", "c-worked", "user:ana", "why"); !errors.Is(err, cases.ErrNotFound) {
		t.Errorf("merge of no campaign: %v", err)
	}
	m, err := svc.Merge(ctx, "c-junk", "c-worked", "same sender, checked by hand", "user:ana")
	if err != nil {
		t.Fatal(err)
	}
	last := m.Events[len(m.Events)-1]
	if m.Version != 2 || last.Kind != cases.KindMerge || last.Actor != "user:ana" || last.Ref != "c-junk" || !strings.Contains(last.Text, "same sender, checked by hand") {
		t.Errorf("the merged case: %+v", m)
	}
	if len(m.Links) != 0 {
		t.Errorf("the link is still proposed after the merge: %+v", m.Links)
	}
	for _, id := range []string{"junk", "bridge"} {
		if got := campaignOf(id); got != "c-worked" {
			t.Errorf("%s in %s after the merge", id, got)
		}
	}
	if _, err := svc.Merge(ctx, "c-junk", "c-worked", "again", "user:ana"); !errors.Is(err, cases.ErrInvalid) {
		t.Errorf("merging a merged campaign again: %v", err)
	}
	log, err := s.Custody(ctx, "bridge")
	if err != nil || len(log) != 2 || log[1].Action != "campaign-merged" || log[1].Actor != "user:ana" || !strings.Contains(log[1].Detail, "c-junk merged into c-worked") {
		t.Errorf("custody of the bridge: %+v %v", log, err)
	}
	after, problems, err := s.VerifyCustodyLog(ctx)
	if err != nil || len(problems) > 0 || after != before+1 {
		t.Errorf("custody log: %d entries after %d, %v %v", after, before, problems, err)
	}

	// A worked campaign merged into another: its events are marked as its.
	if _, err := svc.Decide(ctx, "c-worked", -1, "preserve evidence", "user:ana"); err != nil {
		t.Fatal(err)
	}
	m, err = svc.Merge(ctx, "c-worked", "c-c", "one ring", "user:ana")
	if err != nil {
		t.Fatal(err)
	}
	var texts []string
	for _, e := range m.Events {
		texts = append(texts, e.Text)
	}
	// (In time order: the note and the decision at the service's clock,
	// the merges at the store's.)
	if len(m.Events) != 4 || m.Events[0].Text != "[campaign c-worked] informant says: pharma ring" || m.Events[1].Text != "[campaign c-worked] preserve evidence" ||
		!strings.HasPrefix(m.Events[2].Text, "[campaign c-worked] campaign c-junk merged") || m.Events[3].Kind != cases.KindMerge || m.Events[3].Ref != "c-worked" {
		t.Errorf("the absorbed case's events: %q", texts)
	}
}

// MergedCampaignsForgotten: a merged campaign's row, which only answers
// for its id, keeps its founder's subject (often the recipient's name)
// and signature no longer than the founder's message (retention of
// evidence blanks them), and goes when its survivor is deleted (attack
// 11, F5). db is s's database, rebind its placeholders.
func MergedCampaignsForgotten(t *testing.T, db *sql.DB, s Store, rebind func(string) string) {
	ctx := context.Background()
	mk := func(id string, at int, subject string, domains ...string) *intake.Batch {
		sig := campaign.Signature{Words: 2, Domains: domains}
		for i := range sig.MinHash {
			sig.MinHash[i] = uint32(at*100 + i)
		}
		ts := clock.Add(time.Duration(at) * time.Second)
		c := &intake.Complaint{ID: "c" + id, ReceivedAt: ts, Channel: intake.ChannelWeb, Raw: []byte(id), SHA256: "h"}
		v := &analysis.Verdict{}
		v.Message.Subject = subject
		r := &intake.Report{ID: id, ComplaintID: c.ID, ReceivedAt: ts, Channel: intake.ChannelWeb, Form: intake.FormRaw, Raw: []byte(id), SHA256: "h",
			Verdict: v, Signature: sig}
		return &intake.Batch{Complaint: c, Reports: []*intake.Report{r}, Custody: []intake.CustodyEntry{{ReportID: id, At: ts, Actor: "web", Action: "received"}}}
	}
	found := foundOwn
	for _, b := range []*intake.Batch{mk("news", 1, "Newsletter", "news.test"), mk("parcel", 2, "Alice Martin, your parcel 4711", "parcel.test"),
		mk("bridge", 100, "Hi", "news.test", "parcel.test")} {
		if err := s.Commit(ctx, []*intake.Batch{b}, found); err != nil {
			t.Fatal(err)
		}
	}
	row := func() (string, string, bool) {
		t.Helper()
		var subject, sig string
		err := db.QueryRowContext(ctx, rebind(`SELECT subject, signature FROM campaigns WHERE id = ?`), "c-parcel").Scan(&subject, &sig)
		if errors.Is(err, sql.ErrNoRows) {
			return "", "", false
		}
		if err != nil {
			t.Fatal(err)
		}
		return subject, sig, true
	}
	if subject, sig, ok := row(); !ok || subject != "Alice Martin, your parcel 4711" || !strings.Contains(sig, "parcel.test") {
		t.Fatalf("the merged campaign's row before retention: %q %q %v", subject, sig, ok)
	}
	if n, err := s.PurgeEvidence(ctx, clock.Add(time.Minute), clock.Add(time.Hour), "retention", 100); err != nil || n != 2 {
		t.Fatalf("purge evidence: %d %v", n, err)
	}
	if subject, sig, ok := row(); !ok || subject != "" || strings.Contains(sig, "parcel.test") {
		t.Errorf("the merged campaign's row after its founder's message went: %q %q %v", subject, sig, ok)
	}
	if n, err := s.PurgeReports(ctx, clock.Add(time.Hour), clock.Add(2*time.Hour), "retention", 100); err != nil || n != 3 {
		t.Fatalf("purge reports: %d %v", n, err)
	}
	if _, _, ok := row(); ok {
		t.Error("the merged campaign's row outlived its survivor")
	}

	// A merged id answers with its survivor only while the survivor has
	// reports: never a redirect to a campaign that is gone (F6).
	for _, b := range []*intake.Batch{mk("x", 200, "X", "x.test"), mk("y", 201, "Y", "y.test"), mk("xy", 202, "XY", "x.test", "y.test")} {
		if err := s.Commit(ctx, []*intake.Batch{b}, found); err != nil {
			t.Fatal(err)
		}
	}
	var merged *intake.MergedError
	if _, err := s.Campaign(ctx, "c-y"); !errors.As(err, &merged) || merged.Into != "c-x" {
		t.Fatalf("merged c-y: %v, want a MergedError into c-x", err)
	}
	if _, err := db.ExecContext(ctx, rebind(`DELETE FROM reports WHERE campaign_id = ?`), "c-x"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Campaign(ctx, "c-y"); !errors.Is(err, intake.ErrNotFound) || errors.As(err, &merged) {
		t.Errorf("merged c-y, its survivor's reports gone: %v, want not found", err)
	}
}

// keyedBatch is one complaint of one report received at clock+at seconds
// through channel, whose signature (two words, the link domains given)
// has MinHash values of its own: it shares keys only through its
// domains' short-text keys.
func keyedBatch(id string, at int, channel intake.Channel, domains ...string) *intake.Batch {
	sig := campaign.Signature{Words: 2, Domains: domains}
	for i := range sig.MinHash {
		sig.MinHash[i] = uint32(at*100 + i)
	}
	ts := clock.Add(time.Duration(at) * time.Second)
	c := &intake.Complaint{ID: "c" + id, ReceivedAt: ts, Channel: channel, Raw: []byte(id), SHA256: "h"}
	r := &intake.Report{ID: id, ComplaintID: c.ID, ReceivedAt: ts, Channel: channel, Form: intake.FormRaw, Raw: []byte(id), SHA256: "h",
		Verdict: &analysis.Verdict{}, Signature: sig}
	return &intake.Batch{Complaint: c, Reports: []*intake.Report{r}, Custody: []intake.CustodyEntry{{ReportID: id, At: ts, Actor: string(channel), Action: "received"}}}
}

// foundOwn founds a campaign of its own, "c-" and the report's id, for a
// report whose keys no campaign owns.
func foundOwn(_ context.Context, _ campaign.Index, r *intake.Report) error {
	r.CampaignID, r.CampaignNew = "c-"+r.ID, true
	return nil
}
