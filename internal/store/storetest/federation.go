package storetest

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/accord-antispam/accord/internal/federation"
	"github.com/accord-antispam/accord/internal/intake"
)

func pubkey(t *testing.T) string {
	pub, _, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(pub)
}

const agreementV1 = "id = \"FR-US\"\nversion = 1\naudience = [\"us\"]\nshare = [\"indicators\"]\norigins = [\"US\"]\n"

func peers(t *testing.T, s Store) {
	ctx := context.Background()
	a, err := federation.ParseAgreement([]byte(agreementV1))
	if err != nil {
		t.Fatal(err)
	}
	k1, k2 := pubkey(t), pubkey(t)
	p := federation.Peer{Name: "us", URL: "http://127.0.0.1:1", Jurisdiction: "US", Status: federation.StatusActive, Added: clock,
		Keys: []federation.PeerKey{{Key: k1, Status: federation.KeyActive, Added: clock}}, Agreement: a}
	if err := s.AddPeer(ctx, p); err != nil {
		t.Fatal(err)
	}
	if err := s.AddPeer(ctx, p); err == nil {
		t.Error("the same peer was added twice")
	}
	other := p
	other.Name = "au"
	if err := s.AddPeer(ctx, other); err == nil {
		t.Error("one key was registered for two peers")
	}
	got, err := s.PeerByKey(ctx, k1)
	if err != nil || got.Name != "us" || got.Agreement == nil || got.Agreement.ID != "FR-US" || got.Jurisdiction != "US" {
		t.Fatalf("peer by key: %+v %v", got, err)
	}
	if _, err := s.PeerByKey(ctx, k2); !errors.Is(err, federation.ErrNotFound) {
		t.Errorf("unknown key: %v", err)
	}
	// Rotation retires the old key; revocation is recorded.
	if err := s.AddPeerKey(ctx, "us", k2, clock.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	got, _ = s.Peer(ctx, "us")
	if k, _ := got.ActiveKey(); k != k2 || len(got.Keys) != 2 || got.Keys[0].Status != federation.KeyRetired {
		t.Errorf("after rotation: %+v", got.Keys)
	}
	if err := s.SetKeyStatus(ctx, "us", k2, federation.KeyRevoked, clock.Add(2*time.Hour)); err != nil {
		t.Fatal(err)
	}
	got, _ = s.Peer(ctx, "us")
	if _, ok := got.ActiveKey(); ok || got.Keys[1].Status != federation.KeyRevoked || !got.Keys[1].Changed.Equal(clock.Add(2*time.Hour)) {
		t.Errorf("after revocation: %+v", got.Keys)
	}
	// Agreements only move forward and keep their history.
	b, _ := federation.ParseAgreement([]byte("id = \"FR-US\"\nversion = 2\naudience = [\"us\"]\nshare = [\"indicators\", \"campaigns\"]\norigins = [\"US\"]\n"))
	if err := s.SetAgreement(ctx, "us", b, clock.Add(3*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.SetAgreement(ctx, "us", a, clock.Add(4*time.Hour)); err == nil {
		t.Error("an older agreement version replaced a newer one")
	}
	hist, err := s.AgreementHistory(ctx, "us")
	if err != nil || len(hist) != 2 || hist[1].Version != 2 {
		t.Errorf("history %+v %v", hist, err)
	}
	if err := s.SetPeerStatus(ctx, "us", federation.StatusSuspended, clock); err != nil {
		t.Fatal(err)
	}
	if err := s.SetPeerStatus(ctx, "nobody", federation.StatusSuspended, clock); !errors.Is(err, federation.ErrNotFound) {
		t.Errorf("unknown peer: %v", err)
	}
	ps, _ := s.Peers(ctx)
	if len(ps) != 1 || ps[0].Status != federation.StatusSuspended || len(ps[0].Agreement.Share) != 2 {
		t.Errorf("peers %+v", ps)
	}
	if err := s.RecordOwnKey(ctx, federation.OwnKey{Key: k1, Added: clock}); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordOwnKey(ctx, federation.OwnKey{Key: k1, Added: clock, Retired: clock.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if own, _ := s.OwnKeys(ctx); len(own) != 1 || !own[0].Retired.Equal(clock.Add(time.Hour)) {
		t.Errorf("own keys %+v", own)
	}
}

func entry(i uint64, seq uint64, key string) federation.LogEntry {
	return federation.LogEntry{Index: i, Seq: seq, What: "item", Key: key, Hash: "h" + key, At: clock, Leaf: federation.TransferLeaf(seq, "item", key, "h"+key)}
}

func links(t *testing.T, s Store) {
	ctx := context.Background()
	if err := s.AddPeer(ctx, federation.Peer{Name: "us", Status: federation.StatusActive, Added: clock,
		Keys: []federation.PeerKey{{Key: pubkey(t), Status: federation.KeyActive, Added: clock}}}); err != nil {
		t.Fatal(err)
	}
	id, err := s.Outbox(ctx, "us")
	if err != nil || len(id) != 0 {
		t.Fatalf("outbox %v %v", id, err)
	}
	r := &federation.Request{ID: "a-1", Peer: "us", Role: federation.Requester, Type: federation.TypeInformation, Subject: "s",
		Created: clock, State: federation.StateSent, Updated: clock, Events: []federation.Event{{At: clock, Action: federation.ActCreate, State: federation.StateSent, By: "ana",
			Msg: []byte(`{"request_id":"a-1","action":"create","at":"2026-11-03T10:00:00Z"}`)}}}
	if err := s.SaveRequest(ctx, r, &federation.AssistMsg{RequestID: "a-1", Action: federation.ActCreate, At: clock}); err != nil {
		t.Fatal(err)
	}
	// Each step keeps the message it went as, byte for byte: custody
	// verify checks it against the hash the log holds.
	if got, err := s.Request(ctx, "a-1"); err != nil || len(got.Events) != 1 || string(got.Events[0].Msg) != string(r.Events[0].Msg) {
		t.Fatalf("request %+v %v", got, err)
	}
	q, _ := s.Outbox(ctx, "us")
	if len(q) != 1 || q[0].Msg.RequestID != "a-1" {
		t.Fatalf("outbox %+v", q)
	}
	pend := federation.Pending{Seq: 1, Payload: []byte("{}"), Delivery: federation.Delivery{Peer: "us", Seq: 1,
		Items: []federation.Item{{Key: "k1", Hash: "hk1"}}, Entries: []federation.LogEntry{entry(0, 1, "k1")},
		Checkpoint: federation.Checkpoint{Seq: 1, Size: 1, Root: "r1"}, Delivered: []int64{q[0].ID}}}
	if err := s.SavePending(ctx, "us", pend); err != nil {
		t.Fatal(err)
	}
	got, err := s.Pending(ctx, "us")
	if err != nil || got == nil || got.Seq != 1 || len(got.Delivery.Entries) != 1 || string(got.Delivery.Entries[0].Leaf) != string(pend.Delivery.Entries[0].Leaf) {
		t.Fatalf("pending %+v %v", got, err)
	}
	// A delivery that does not follow the last sequence is refused whole.
	wrong := pend.Delivery
	wrong.Seq = 2
	if err := s.CommitSent(ctx, wrong); err == nil {
		t.Fatal("a delivery out of sequence was recorded")
	}
	if sent, _ := s.Sent(ctx, "us"); len(sent) != 0 {
		t.Fatalf("a refused delivery left %v", sent)
	}
	if err := s.CommitSent(ctx, pend.Delivery); err != nil {
		t.Fatal(err)
	}
	if p, _ := s.Pending(ctx, "us"); p != nil {
		t.Error("the pending envelope survived its delivery")
	}
	if q, _ := s.Outbox(ctx, "us"); len(q) != 0 {
		t.Error("a delivered message stayed in the outbox")
	}
	sent, _ := s.Sent(ctx, "us")
	l, _ := s.Link(ctx, "us")
	log, _ := s.Log(ctx, "us", federation.Out)
	cps, _ := s.Checkpoints(ctx, "us", federation.Out)
	if sent["k1"] != "hk1" || l.OutSeq != 1 || len(log) != 1 || len(cps) != 1 || cps[0].Root != "r1" {
		t.Errorf("after delivery: sent %v link %+v log %d checkpoints %+v", sent, l, len(log), cps)
	}
	// Receiving: a log entry at the wrong index is refused, nothing kept.
	rec := federation.Receipt{Peer: "us", Seq: 1, PayloadHash: "ph", Entries: []federation.LogEntry{entry(1, 1, "x")},
		Items: []federation.ReceivedItem{{Peer: "us", Item: federation.Item{Key: "x", Kind: federation.KindIndicators, Hash: "hx", Body: []byte(`{"v":1}`)}, Seq: 1, ReceivedAt: clock,
			Terms: federation.Terms{Agreement: "FR-US", Version: 1, RetentionDays: 30}, ExpiresAt: clock.AddDate(0, 0, 30)}},
		Checkpoint: federation.Checkpoint{Seq: 1, Size: 1, Root: "rx", ReceiverSignature: "sig"}}
	if err := s.CommitReceived(ctx, rec); err == nil {
		t.Fatal("a log entry out of place was accepted")
	}
	if items, _ := s.Received(ctx, federation.ReceivedFilter{}); len(items) != 0 {
		t.Fatal("a refused receipt left items")
	}
	rec.Entries = []federation.LogEntry{entry(0, 1, "x")}
	if err := s.CommitReceived(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if err := s.CommitReceived(ctx, rec); err == nil {
		t.Error("the same envelope was received twice")
	}
	cp, ph, err := s.ReceivedCheckpoint(ctx, "us", 1)
	if err != nil || ph != "ph" || cp.ReceiverSignature != "sig" {
		t.Errorf("received checkpoint %+v %q %v", cp, ph, err)
	}
	items, _ := s.Received(ctx, federation.ReceivedFilter{Peer: "us", Kind: federation.KindIndicators})
	if len(items) != 1 || items[0].Item.Hash != "hx" || items[0].Terms.Agreement != "FR-US" || !items[0].ExpiresAt.Equal(clock.AddDate(0, 0, 30)) ||
		string(items[0].Item.Body) != `{"v":1}` || items[0].Status() != "held" {
		t.Errorf("received %+v", items)
	}
	// Retention: purged once it ends, the custody log untouched.
	if n, err := s.PurgeExpired(ctx, clock.AddDate(0, 0, 29)); err != nil || n != 0 {
		t.Errorf("purge before the end: %d %v", n, err)
	}
	if n, err := s.PurgeExpired(ctx, clock.AddDate(0, 0, 31)); err != nil || n != 1 {
		t.Errorf("purge after the end: %d %v", n, err)
	}
	if items, _ := s.Received(ctx, federation.ReceivedFilter{}); len(items) != 1 || items[0].Status() != "purged" || items[0].Item.Body != nil ||
		items[0].Item.Hash != "hx" {
		t.Errorf("after the purge, want a tombstone with the hash and no body: %+v", items)
	}
	if n, err := s.PurgeExpired(ctx, clock.AddDate(0, 0, 32)); err != nil || n != 0 {
		t.Errorf("purged twice: %d %v", n, err)
	}
	if log, _ := s.Log(ctx, "us", federation.In); len(log) != 1 {
		t.Errorf("the purge touched the custody log: %d entries", len(log))
	}
}

func requests(t *testing.T, s Store) {
	ctx := context.Background()
	r := &federation.Request{ID: "a-2", Peer: "us", Role: federation.Responder, Type: federation.TypeEnforcement, Subject: "stop them",
		Created: clock, Deadline: clock.AddDate(0, 0, 180), State: federation.StateSent, Updated: clock,
		Events: []federation.Event{{At: clock, Action: federation.ActCreate, State: federation.StateSent, By: "fr"}}}
	if err := s.SaveRequest(ctx, r, nil); err != nil {
		t.Fatal(err)
	}
	r.State = federation.StateAcknowledged
	r.Events = append(r.Events, federation.Event{At: clock.Add(time.Minute), Action: federation.ActAcknowledge, State: federation.StateAcknowledged, By: "self", Note: "received"})
	if err := s.SaveRequest(ctx, r, nil); err != nil {
		t.Fatal(err)
	}
	got, err := s.Request(ctx, "a-2")
	if err != nil || got.State != federation.StateAcknowledged || len(got.Events) != 2 || got.Events[1].Note != "received" || !got.Deadline.Equal(r.Deadline) {
		t.Fatalf("request %+v %v", got, err)
	}
	if _, err := s.Request(ctx, "nope"); !errors.Is(err, federation.ErrNotFound) {
		t.Errorf("unknown request: %v", err)
	}
	all, _ := s.Requests(ctx, "")
	mine, _ := s.Requests(ctx, "au")
	if len(all) != 1 || len(mine) != 0 {
		t.Errorf("requests %d / %d", len(all), len(mine))
	}
}

// sharedReports: the federation reads the index of every report at once,
// in campaign order, with its reporter, and in full only the reports it
// names; the version moves with the reports; an erasure changes the
// report's reference (so what was derived from it is derived again);
// lists refuse a limit over the maximum instead of cutting it short.
func sharedReports(t *testing.T, s Store) {
	ctx := context.Background()
	d := desk(t, s)
	v0, err := s.SharedVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var first intake.Receipted
	for i := 0; i < 3; i++ {
		rec, err := d.Submit(ctx, intake.Submission{Channel: intake.ChannelSMTP, Raw: spam(i), Reporter: fmt.Sprintf("r%d@example.net", i), SubmittedBy: "smtp"})
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = rec.Reports[0]
		}
	}
	if _, err := d.Submit(ctx, intake.Submission{Channel: intake.ChannelAPI, Raw: spam(9), SubmittedBy: "tok"}); err != nil {
		t.Fatal(err)
	}
	v1, _ := s.SharedVersion(ctx)
	if v1 == v0 {
		t.Errorf("the version did not move with new reports: %s", v1)
	}
	index := func() map[string]federation.ReportRef {
		t.Helper()
		refs := map[string]federation.ReportRef{}
		var lastCamp string
		seen := map[string]bool{}
		var prev federation.ReportRef
		err := s.SharedIndex(ctx, func(r federation.ReportRef) error {
			if r.CampaignID != lastCamp {
				if seen[r.CampaignID] {
					t.Errorf("campaign %s comes back after another", r.CampaignID)
				}
				seen[r.CampaignID], lastCamp = true, r.CampaignID
			} else if r.ReceivedAt.Before(prev.ReceivedAt) {
				t.Errorf("report %s comes before %s in its campaign", prev.ID, r.ID)
			}
			if r.SHA256 == "" || r.ReceivedAt.IsZero() {
				t.Errorf("report %s indexed without its hash or arrival", r.ID)
			}
			refs[r.ID], prev = r, r
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return refs
	}
	refs := index()
	if len(refs) != 4 {
		t.Fatalf("%d reports indexed", len(refs))
	}
	n := 0
	var ids []string
	for id, r := range refs {
		if r.Reporter != "" {
			n++
		}
		ids = append(ids, id)
	}
	if n != 3 {
		t.Errorf("reporters: %v", refs)
	}
	got := map[string]bool{}
	err = s.SharedReports(ctx, append(ids, "no-such-report"), func(r *intake.Report, reporter string) error {
		if r.Verdict == nil || len(r.Raw) == 0 || r.SHA256 == "" {
			t.Errorf("report %s read without its verdict or message", r.ID)
		}
		if ref := federation.RefOf(r, reporter); ref != refs[r.ID] {
			t.Errorf("report %s read in full as %+v, indexed as %+v", r.ID, ref, refs[r.ID])
		}
		got[r.ID] = true
		return nil
	})
	if err != nil || len(got) != 4 {
		t.Fatalf("%d reports read in full, %v", len(got), err)
	}
	got = map[string]bool{}
	if err := s.SharedReports(ctx, ids[:1], func(r *intake.Report, _ string) error { got[r.ID] = true; return nil }); err != nil || len(got) != 1 || !got[ids[0]] {
		t.Errorf("one report asked for, %v read: %v", got, err)
	}
	if v2, _ := s.SharedVersion(ctx); v2 != v1 {
		t.Errorf("the version moved without a change: %s → %s", v1, v2)
	}
	if _, err := s.Reports(ctx, intake.ReportFilter{Limit: intake.MaxLimit + 1}); !errors.Is(err, intake.ErrLimit) {
		t.Errorf("a report list over the maximum: %v", err)
	}
	if _, err := s.Campaigns(ctx, intake.CampaignFilter{Limit: 5000}); !errors.Is(err, intake.ErrLimit) {
		t.Errorf("a campaign list over the maximum: %v", err)
	}
	if l, err := s.Reports(ctx, intake.ReportFilter{Limit: intake.MaxLimit}); err != nil || len(l) != 4 {
		t.Errorf("a list at the maximum: %d %v", len(l), err)
	}
	// An erased report leaves what the node shares (its items are then
	// withdrawn from partners), and the version moves: the TAXII
	// collections' change check sees the erasure.
	if _, err := d.Erase(ctx, first.ID, first.StatusToken); err != nil {
		t.Fatal(err)
	}
	if r, ok := index()[first.ID]; ok {
		t.Errorf("after erasure, report %s is still indexed to share, as %+v", first.ID, r)
	}
	if len(index()) != 3 {
		t.Errorf("after one erasure, %d of 4 reports indexed", len(index()))
	}
	if v2, _ := s.SharedVersion(ctx); v2 == v1 {
		t.Errorf("the version did not move with an erasure: %s", v2)
	}
}

// linkChanges: a pending envelope dropped; withdrawals mark received items
// and bring their purge forward; reads wait for an envelope; a removed
// peer loses what waited for it.
func linkChanges(t *testing.T, s Store) {
	ctx := context.Background()
	if err := s.AddPeer(ctx, federation.Peer{Name: "us", URL: "https://us.example", Jurisdiction: "US", Status: federation.StatusActive, Added: clock,
		Keys: []federation.PeerKey{{Key: pubkey(t), Status: federation.KeyActive, Added: clock}}}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetPeerURL(ctx, "us", "https://us2.example"); err != nil {
		t.Fatal(err)
	}
	if p, _ := s.Peer(ctx, "us"); p.URL != "https://us2.example" {
		t.Errorf("url %q", p.URL)
	}
	if err := s.SetPeerURL(ctx, "nobody", "https://x.example"); !errors.Is(err, federation.ErrNotFound) {
		t.Errorf("set-url of an unknown peer: %v", err)
	}
	pend := federation.Pending{Seq: 1, Payload: []byte("{}"), Delivery: federation.Delivery{Peer: "us", Seq: 1, Agreement: 3}}
	if err := s.SavePending(ctx, "us", pend); err != nil {
		t.Fatal(err)
	}
	if p, _ := s.Pending(ctx, "us"); p == nil || p.Delivery.Agreement != 3 {
		t.Fatalf("pending %+v", p)
	}
	if err := s.DropPending(ctx, "us"); err != nil {
		t.Fatal(err)
	}
	if p, _ := s.Pending(ctx, "us"); p != nil {
		t.Error("a dropped envelope is still pending")
	}
	// Set aside: its sequence is never sealed again; the peer's word
	// confirms it; the receiving side refuses what was voided.
	pend.Seq, pend.Delivery.Seq = 2, 2
	if err := s.SavePending(ctx, "us", pend); err != nil {
		t.Fatal(err)
	}
	if err := s.AbandonPending(ctx, "us", false, clock); err != nil {
		t.Fatal(err)
	}
	if l, _ := s.Link(ctx, "us"); l.OutVoid != 2 || l.NextSeq() != 3 {
		t.Errorf("after setting envelope 2 aside: %+v", l)
	}
	if ab, _ := s.Abandoned(ctx, "us"); len(ab) != 1 || ab[0].Seq != 2 || ab[0].Delivery.Agreement != 3 {
		t.Errorf("set aside: %+v", ab)
	}
	if err := s.ConfirmAbandoned(ctx, "us", 2, clock); err != nil {
		t.Fatal(err)
	}
	if ab, _ := s.Abandoned(ctx, "us"); len(ab) != 0 {
		t.Errorf("still unconfirmed: %+v", ab)
	}
	if err := s.AddPeer(ctx, federation.Peer{Name: "ca", URL: "https://ca.example", Jurisdiction: "CA", Status: federation.StatusActive, Added: clock,
		Keys: []federation.PeerKey{{Key: pubkey(t), Status: federation.KeyActive, Added: clock}}}); err != nil {
		t.Fatal(err)
	}
	if err := s.VoidInbound(ctx, "ca", 1); err != nil {
		t.Fatal(err)
	}
	if l, _ := s.Link(ctx, "ca"); l.InVoid != 1 {
		t.Errorf("voided inbound: %+v", l)
	}
	if err := s.CommitReceived(ctx, federation.Receipt{Peer: "ca", Seq: 1, At: clock, Checkpoint: federation.Checkpoint{Seq: 1}}); !errors.Is(err, federation.ErrVoided) {
		t.Errorf("a voided envelope committed: %v", err)
	}
	// Two items received, one withdrawn with 0 days to keep it.
	item := func(k string) federation.ReceivedItem {
		return federation.ReceivedItem{Peer: "us", Item: federation.Item{Key: k, Kind: federation.KindReports, Hash: k + "h", Body: []byte(`{}`)},
			Seq: 1, ReceivedAt: clock, Terms: federation.Terms{Agreement: "A", Version: 1, RetentionDays: 365}, ExpiresAt: clock.AddDate(1, 0, 0)}
	}
	if err := s.CommitReceived(ctx, federation.Receipt{Peer: "us", Seq: 1, At: clock, Items: []federation.ReceivedItem{item("a"), item("b")},
		Entries: []federation.LogEntry{entry(0, 1, "a"), entry(1, 1, "b")}, Checkpoint: federation.Checkpoint{Seq: 1, Size: 2}}); err != nil {
		t.Fatal(err)
	}
	later := clock.Add(time.Hour)
	if err := s.CommitReceived(ctx, federation.Receipt{Peer: "us", Seq: 2, At: later, Terms: &federation.Terms{KeepWithdrawnDays: 0},
		Withdrawals: []federation.Withdrawal{{Key: "a", Hash: "ah", Clause: "origins", Reason: "CN is not among US"}},
		Entries:     []federation.LogEntry{entry(2, 2, "a")}, Checkpoint: federation.Checkpoint{Seq: 2, Size: 3}}); err != nil {
		t.Fatal(err)
	}
	got := map[string]federation.ReceivedItem{}
	items, _ := s.Received(ctx, federation.ReceivedFilter{Peer: "us"})
	for _, it := range items {
		got[it.Item.Key] = it
	}
	// keep_withdrawn_days = 0: purged in the transaction that stored the
	// withdrawal, not at the next scheduled purge.
	if a := got["a"]; a.Status() != "purged" || !a.Purged.Equal(later) || len(a.Item.Body) != 0 || !a.Withdrawn.Equal(later) || a.Why != "origins: CN is not among US" || !a.ExpiresAt.Equal(later) {
		t.Errorf("withdrawn item %+v", a)
	}
	if b := got["b"]; b.Status() != "held" {
		t.Errorf("the other item %+v", b)
	}
	if n, err := s.PurgeExpired(ctx, later); err != nil || n != 0 {
		t.Errorf("the scheduled purge after the withdrawal: %d %v", n, err)
	}
	// Reads wait for the next envelope, then are logged with it.
	for i := 0; i < 2; i++ {
		if err := s.RecordRead(ctx, "us", federation.Read{At: clock.Add(time.Duration(i) * time.Second), Request: "/taxii2/x", Objects: 3, Hash: "rh"}); err != nil {
			t.Fatal(err)
		}
	}
	reads, err := s.UnloggedReads(ctx, "us")
	if err != nil || len(reads) != 2 || reads[0].Objects != 3 || reads[0].ID == 0 {
		t.Fatalf("reads %+v %v", reads, err)
	}
	if err := s.CommitSent(ctx, federation.Delivery{Peer: "us", Seq: 1, Reads: []int64{reads[0].ID, reads[1].ID},
		Checkpoint: federation.Checkpoint{Seq: 1}}); err != nil {
		t.Fatal(err)
	}
	if reads, _ := s.UnloggedReads(ctx, "us"); len(reads) != 0 {
		t.Errorf("logged reads still wait: %d", len(reads))
	}
	// Removal: what waited goes, the logs and received items stay.
	s.SavePending(ctx, "us", pend)
	s.RecordRead(ctx, "us", federation.Read{At: clock, Request: "/r", Hash: "x"})
	if err := s.RemovePeer(ctx, "us", clock); err != nil {
		t.Fatal(err)
	}
	if p, _ := s.Peer(ctx, "us"); p.Status != federation.StatusRemoved {
		t.Errorf("status %s", p.Status)
	}
	if p, _ := s.Pending(ctx, "us"); p != nil {
		t.Error("a removed peer keeps a pending envelope")
	}
	if r, _ := s.UnloggedReads(ctx, "us"); len(r) != 0 {
		t.Error("a removed peer keeps unlogged reads")
	}
	if items, _ := s.Received(ctx, federation.ReceivedFilter{Peer: "us"}); len(items) != 2 {
		t.Errorf("removal deleted received items: %d", len(items))
	}
}

// withheldDomains: the analyst's markings are kept with their reason,
// listed by domain; a second marking of a domain is refused (its first
// reason stays) and removing one not marked is an error.
func withheldDomains(t *testing.T, s Store) {
	ctx := context.Background()
	if ws, err := s.Withheld(ctx); err != nil || len(ws) != 0 {
		t.Fatalf("a new store withholds %v (%v)", ws, err)
	}
	at := time.Date(2026, 11, 29, 10, 0, 0, 0, time.UTC)
	for _, w := range []federation.Withheld{{Domain: "zeta.example", Reason: "worn by a BEC", By: "cli:ana", At: at}, {Domain: "acme.example", Reason: "a phish's logo", By: "cli:bob", At: at.Add(time.Minute)}} {
		if err := s.AddWithheld(ctx, w); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.AddWithheld(ctx, federation.Withheld{Domain: "acme.example", Reason: "again", At: at}); !errors.Is(err, federation.ErrExists) {
		t.Errorf("a second marking: %v", err)
	}
	ws, err := s.Withheld(ctx)
	if err != nil || len(ws) != 2 || ws[0].Domain != "acme.example" || ws[0].Reason != "a phish's logo" || ws[0].By != "cli:bob" || !ws[0].At.Equal(at.Add(time.Minute)) {
		t.Fatalf("withheld: %+v (%v)", ws, err)
	}
	if err := s.RemoveWithheld(ctx, "acme.example"); err != nil {
		t.Fatal(err)
	}
	if err := s.RemoveWithheld(ctx, "acme.example"); !errors.Is(err, federation.ErrNotFound) {
		t.Errorf("removing twice: %v", err)
	}
	if ws, _ := s.Withheld(ctx); len(ws) != 1 || ws[0].Domain != "zeta.example" {
		t.Errorf("after removal: %+v", ws)
	}
}
