package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/accord-antispam/accord/internal/cases"
	"github.com/accord-antispam/accord/internal/filter"
	"github.com/accord-antispam/accord/internal/intake"
)

func fptr[T any](v T) *T { return &v }

func filterPolicies(t *testing.T, s Store) {
	ctx := context.Background()
	at := time.Unix(1800000000, 0).UTC()
	p := filter.Policy{Kind: filter.ScopeRecipient, Key: "ana@example.org", Spam: fptr(4.5), Action: fptr(filter.ActionQuarantine),
		Allow: []string{"friend.example"}, UpdatedAt: at, UpdatedBy: "user:ana"}
	if err := s.PutPolicy(ctx, p); err != nil {
		t.Fatal(err)
	}
	p.Spam = fptr(5.5) // replaces
	if err := s.PutPolicy(ctx, p); err != nil {
		t.Fatal(err)
	}
	s.PutPolicy(ctx, filter.Policy{Kind: filter.ScopeDefault, Enabled: fptr(true)})
	got, err := s.Policy(ctx, filter.ScopeRecipient, "ana@example.org")
	if err != nil || *got.Spam != 5.5 || *got.Action != filter.ActionQuarantine || got.Allow[0] != "friend.example" || got.UpdatedBy != "user:ana" || got.Unsure != nil {
		t.Fatalf("policy %+v %v", got, err)
	}
	all, _ := s.Policies(ctx)
	if len(all) != 2 {
		t.Fatalf("%d policies, want 2", len(all))
	}
	if _, err := s.Policy(ctx, filter.ScopeDomain, "example.org"); !errors.Is(err, filter.ErrNotFound) {
		t.Errorf("missing policy: %v", err)
	}
	if err := s.DeletePolicy(ctx, filter.ScopeRecipient, "ana@example.org"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeletePolicy(ctx, filter.ScopeRecipient, "ana@example.org"); !errors.Is(err, filter.ErrNotFound) {
		t.Errorf("second delete: %v", err)
	}
}

func filterQuarantine(t *testing.T, s Store) {
	ctx := context.Background()
	now := time.Unix(1800000000, 0).UTC()
	raw := []byte("Subject: held\r\n\r\nbody\x00\xff")
	for i, id := range []string{"q-1", "q-2", "q-3"} {
		h := filter.Held{ID: id, Recipient: "ana@example.org", MailFrom: "s@x.example", From: "s@x.example", Subject: "held " + id,
			ReceivedAt: now.Add(time.Duration(i) * time.Minute), ExpiresAt: now.Add(30 * 24 * time.Hour), Score: 9.5,
			Symbols: []filter.Symbol{{Name: "GTUBE", Score: 1000, Description: "test"}}, Reference: "ref" + id, Raw: raw, State: filter.StateHeld}
		if i == 2 {
			h.Recipient = "bob@example.org"
		}
		if i == 0 {
			h.Session = filter.Session{IP: "203.0.113.5", Helo: "bulk.example.net", NoRDNS: true}
		}
		if err := s.Hold(ctx, h); err != nil {
			t.Fatal(err)
		}
	}
	// The three rows share one copy of the bytes.
	if n, size, total, err := s.HeldUsage(ctx, "ana@example.org"); err != nil || n != 2 || size != int64(2*len(raw)) || total != int64(len(raw)) {
		t.Fatalf("usage: %d messages, %d bytes for ana, %d stored (want %d once): %v", n, size, total, len(raw), err)
	}
	got, err := s.HeldMessage(ctx, "q-1")
	if err != nil || !bytes.Equal(got.Raw, raw) || got.Symbols[0].Name != "GTUBE" || !got.ReceivedAt.Equal(now) || got.Size != len(raw) ||
		got.Session != (filter.Session{IP: "203.0.113.5", Helo: "bulk.example.net", NoRDNS: true}) {
		t.Fatalf("held %+v %v", got, err)
	}
	list, _ := s.HeldMessages(ctx, filter.HeldFilter{Recipient: "ana@example.org"})
	if len(list) != 2 || list[0].ID != "q-2" || list[0].Raw != nil {
		t.Fatalf("list %+v", list)
	}
	// Only one of two concurrent releases moves the message.
	var wg sync.WaitGroup
	var ok [2]bool
	for i := range ok {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok[i] = s.SetHeldState(ctx, "q-1", filter.StateHeld, filter.StateReleasing, "user:ana", now) == nil
		}()
	}
	wg.Wait()
	if ok[0] == ok[1] {
		t.Fatalf("concurrent state changes: %v", ok)
	}
	s.SetHeldState(ctx, "q-1", filter.StateReleasing, filter.StateReleased, "user:ana", now)
	if h, _ := s.HeldMessage(ctx, "q-1"); h.State != filter.StateReleased || h.ActedBy != "user:ana" {
		t.Errorf("after release: %+v", h)
	}
	// Purge: released before t, and expired.
	n, err := s.PurgeHeld(ctx, now.Add(time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("purge %d %v", n, err)
	}
	n, _ = s.PurgeHeld(ctx, now.Add(31*24*time.Hour))
	if n != 2 {
		t.Fatalf("purge of expired: %d", n)
	}
	if _, _, total, _ := s.HeldUsage(ctx, "ana@example.org"); total != 0 {
		t.Errorf("after the purge the bytes of no held message remain: %d", total)
	}
	// Audit.
	s.FilterAudit(ctx, filter.AuditEntry{At: now, Actor: "user:root", Action: "quarantine.read", Target: "q-9"})
	s.FilterAudit(ctx, filter.AuditEntry{At: now, Actor: "user:root", Action: "policy.set", Target: "default"})
	log, _ := s.FilterAuditLog(ctx, "q-9", 0)
	if len(log) != 1 || log[0].Actor != "user:root" || !log[0].At.Equal(now) {
		t.Fatalf("audit %+v", log)
	}
}

// filterDropBytes: a message's bytes are erased at once, while another
// row shares them they stay for it, and the row stays (trial 26 T7).
func filterDropBytes(t *testing.T, s Store) {
	ctx := context.Background()
	now := time.Unix(1800000000, 0).UTC()
	raw := []byte("Subject: shared\r\n\r\nbody")
	for _, id := range []string{"q-d1", "q-d2"} {
		if err := s.Hold(ctx, filter.Held{ID: id, Recipient: id + "@example.org", ReceivedAt: now, ExpiresAt: now.Add(time.Hour), Raw: raw, State: filter.StateHeld}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.DropHeldBytes(ctx, "q-d1"); err != nil {
		t.Fatal(err)
	}
	h1, err1 := s.HeldMessage(ctx, "q-d1")
	h2, err2 := s.HeldMessage(ctx, "q-d2")
	if err1 != nil || err2 != nil || len(h1.Raw) != 0 || !bytes.Equal(h2.Raw, raw) || h1.Size != len(raw) {
		t.Fatalf("after dropping q-d1's bytes: %q (%v), %q (%v)", h1.Raw, err1, h2.Raw, err2)
	}
	if _, _, total, _ := s.HeldUsage(ctx, ""); total != int64(len(raw)) {
		t.Fatalf("the shared bytes: %d stored, want %d", total, len(raw))
	}
	s.DropHeldBytes(ctx, "q-d2")
	if _, _, total, _ := s.HeldUsage(ctx, ""); total != 0 {
		t.Fatalf("no row points at the bytes, %d stored", total)
	}
	if h, err := s.HeldMessage(ctx, "q-d2"); err != nil || len(h.Raw) != 0 {
		t.Fatalf("q-d2: %q %v", h.Raw, err)
	}
	if err := s.DropHeldBytes(ctx, "q-none"); !errors.Is(err, filter.ErrNotFound) {
		t.Fatalf("unknown id: %v", err)
	}
}

// filterAnnounce: a held message is given to one digest only — of
// concurrent claims (instances sharing the store) each message goes to
// one; what is no longer held is not announced; a message given back is
// announced again.
func filterAnnounce(t *testing.T, s Store) {
	ctx := context.Background()
	now := time.Unix(1800000000, 0).UTC()
	const n = 300
	for i := range n {
		h := filter.Held{ID: fmt.Sprintf("q-a%02d", i), Recipient: "ana@example.org", ReceivedAt: now.Add(time.Duration(i) * time.Second),
			ExpiresAt: now.Add(30 * 24 * time.Hour), Raw: []byte("Subject: x\r\n\r\nbody"), State: filter.StateHeld}
		if err := s.Hold(ctx, h); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.SetHeldState(ctx, "q-a00", filter.StateHeld, filter.StateDeleted, "cli", now); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	got := map[string]int{}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			hs, err := s.AnnounceHeld(ctx, now.Add(time.Hour), 0)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			for _, h := range hs {
				got[h.ID]++
			}
		}()
	}
	wg.Wait()
	if len(got) != n-1 || got["q-a00"] != 0 {
		t.Fatalf("announced %d of %d held messages (the deleted one %d times)", len(got), n-1, got["q-a00"])
	}
	for id, c := range got {
		if c != 1 {
			t.Errorf("%s announced %d times", id, c)
		}
	}
	if hs, err := s.AnnounceHeld(ctx, now.Add(2*time.Hour), 0); err != nil || len(hs) != 0 {
		t.Fatalf("announced again: %d %v", len(hs), err)
	}
	if err := s.UnannounceHeld(ctx, []string{"q-a07", "q-a03"}); err != nil {
		t.Fatal(err)
	}
	hs, err := s.AnnounceHeld(ctx, now.Add(3*time.Hour), 0)
	if err != nil || len(hs) != 2 || hs[0].ID != "q-a03" || hs[1].ID != "q-a07" || hs[0].Recipient != "ana@example.org" || !hs[0].ReceivedAt.Equal(now.Add(3*time.Second)) {
		t.Fatalf("given back, then announced: %+v %v", hs, err)
	}
}

func filterLearned(t *testing.T, s Store) {
	ctx := context.Background()
	now := time.Unix(1800000000, 0).UTC()
	var seqs []int64
	for i := 0; i < 3; i++ {
		seq, err := s.AddLearned(ctx, filter.Learned{Digest: 1<<63 + uint64(i), Spam: i%2 == 0, At: now.Add(time.Duration(i) * time.Hour), Source: "rspamd", Sample: []byte{byte(i), 0}, ModelID: "bits=20"})
		if err != nil {
			t.Fatal(err)
		}
		seqs = append(seqs, seq)
	}
	s.AddLearned(ctx, filter.Learned{Digest: 7, At: now, Sample: []byte{1}, ModelID: "bits=16"})
	if !(seqs[0] < seqs[1] && seqs[1] < seqs[2]) {
		t.Fatalf("sequence %v", seqs)
	}
	recs, top, err := s.LearnedSince(ctx, seqs[0], "bits=20")
	if err != nil || len(recs) != 2 || top < seqs[2] || recs[0].Digest != 1<<63+1 || recs[0].Spam || recs[1].Source != "rspamd" {
		t.Fatalf("since: %+v top %d %v", recs, top, err)
	}
	if n, _ := s.PurgeLearned(ctx, now.Add(90*time.Minute)); n != 3 { // two of bits=20, one of bits=16
		t.Fatalf("purged %d, want 3", n)
	}
	recs, _, _ = s.LearnedSince(ctx, 0, "bits=20")
	if len(recs) != 1 {
		t.Fatalf("after purge: %d records", len(recs))
	}
	if _, err := s.LatestSnapshot(ctx); !errors.Is(err, filter.ErrNotFound) {
		t.Fatalf("no snapshot: %v", err)
	}
	for v := int64(1); v <= 3; v++ {
		if err := s.PutSnapshot(ctx, filter.Snapshot{Version: v, At: now, Model: []byte{byte(v)}}); err != nil {
			t.Fatal(err)
		}
	}
	s.PutSnapshot(ctx, filter.Snapshot{Version: 3, At: now, Model: []byte{9}}) // the same version again: kept as it was
	sn, err := s.LatestSnapshot(ctx)
	if err != nil || sn.Version != 3 || sn.Model[0] != 3 {
		t.Fatalf("snapshot %+v %v", sn, err)
	}
	if cs, err := s.ConfirmedCampaigns(ctx, 1); err != nil || len(cs) != 0 {
		t.Fatalf("confirmed campaigns on an empty desk: %v %v", cs, err)
	}
}

// filterConfirmedCampaigns: a campaign counts for the filter once an
// analyst took it up (triage, investigating, referred; not new, not
// closed) and reports of it came from campaign_min_reports distinct
// reporters — one client's repeated forwards are one (trial 26 T4).
func filterConfirmedCampaigns(t *testing.T, s Store) {
	ctx := context.Background()
	d := desk(t, s)
	campaignOf := func(from string, i int) string {
		t.Helper()
		rec, err := d.Submit(ctx, intake.Submission{Channel: intake.ChannelSMTP, Raw: forwarded(from, spam(i)), Reporter: from, SubmittedBy: "smtp"})
		if err != nil {
			t.Fatal(err)
		}
		return rec.Reports[0].CampaignID
	}
	confirmed := func() map[string]int {
		t.Helper()
		cs, err := s.ConfirmedCampaigns(ctx, 3)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]int{}
		for _, c := range cs {
			out[c.ID] = c.Reports
		}
		return out
	}
	id := campaignOf("ana@example.net", 1)
	for i := 2; i <= 4; i++ {
		if c := campaignOf("ana@example.net", i); c != id {
			t.Fatalf("report %d grouped into %s, not %s", i, c, id)
		}
	}
	if got := confirmed(); len(got) != 0 {
		t.Fatalf("a campaign nobody took up (status new) is confirmed: %v", got)
	}
	svc := &cases.Service{Store: s, Campaigns: s, Now: func() time.Time { return time.Now() }}
	if _, err := svc.SetStatus(ctx, id, -1, cases.Investigating, "worth it", "user:ana"); err != nil {
		t.Fatal(err)
	}
	if got := confirmed(); len(got) != 0 {
		t.Fatalf("four reports from one reporter count as three: %v", got)
	}
	campaignOf("bob@example.net", 5)
	campaignOf("carl@example.net", 6)
	if got := confirmed(); got[id] != 3 || len(got) != 1 {
		t.Fatalf("investigated, three reporters: %v, want %s with 3", got, id)
	}
	if _, err := svc.SetStatus(ctx, id, -1, cases.Closed, "done", "user:ana"); err != nil {
		t.Fatal(err)
	}
	if got := confirmed(); len(got) != 0 {
		t.Fatalf("a closed case's campaign is confirmed: %v", got)
	}
	if _, err := svc.SetStatus(ctx, id, -1, cases.Triage, "back again", "user:ana"); err != nil {
		t.Fatal(err)
	}
	if got := confirmed(); got[id] != 3 {
		t.Fatalf("reopened into triage: %v", got)
	}
}
