package federation

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// SyncResult says what a round with one peer did: what really left, and
// why anything else did not.
type SyncResult struct {
	Envelopes int
	Items     int
	Withdrawn int
	Messages  int
	Reads     int
	Withheld  map[string]int // Clause -> items the policy denied.
	Unchanged int
	// Resumed counts the items of an envelope left pending by an earlier
	// round that the peer turned out to hold (its answer was lost).
	Resumed int
	// Dropped counts the items of a pending envelope the peer never got:
	// they were decided again under the terms in force, not sent as they
	// were.
	Dropped int
	// Superseded names pending envelopes the peer turned out to hold that
	// were decided under an agreement version no longer in force (the
	// envelope arrived late, or was replayed): recorded, as the peer holds
	// them and both custody logs must agree, but not as a delivery made
	// under the terms in force — what those terms do not allow is withdrawn
	// in the same round.
	Superseded []string
}

func (r SyncResult) String() string {
	var w []string
	for c, n := range r.Withheld {
		w = append(w, fmt.Sprintf("%s %d", c, n))
	}
	sort.Strings(w)
	out := fmt.Sprintf("%s: %s, %d withdrawn, %s, %s; %d unchanged; withheld by clause: %s",
		plural(r.Envelopes, "envelope"), plural(r.Items, "item"), r.Withdrawn, plural(r.Messages, "assistance message"), plural(r.Reads, "read"), r.Unchanged, orNone(strings.Join(w, ", ")))
	if r.Resumed > 0 {
		out += fmt.Sprintf("; an earlier envelope of %s had arrived and is now recorded", plural(r.Resumed, "item"))
	}
	if r.Dropped > 0 {
		out += fmt.Sprintf("; an earlier envelope of %d items had not arrived and was decided again", r.Dropped)
	}
	for _, s := range r.Superseded {
		out += "; WARNING: " + s
	}
	return out
}

// errTermsChanged: the peer's state, agreement or key changed between the
// decision and the sending; the envelope was not sent.
var errTermsChanged = errors.New("federation: the terms changed while the envelope was being built")

// Sync pushes to a peer what the agreement in force allows and it does
// not have yet, withdraws what it may no longer have, and delivers the
// assistance messages and TAXII reads waiting for it.
func (s *Service) Sync(ctx context.Context, peer string) (SyncResult, error) {
	sh, err := s.Collect(ctx)
	if err != nil {
		return SyncResult{Withheld: map[string]int{}}, err
	}
	return s.SyncShared(ctx, sh, peer)
}

// SyncShared is Sync over a shared set already collected (a round
// collects it once for every peer). Every item is decided under the peer's
// state and agreement at the moment its envelope leaves: an envelope left
// pending by an earlier round is never sent as it was — the peer is asked
// whether it holds it (then it is recorded as delivered) and otherwise it
// is dropped and its items decided again.
func (s *Service) SyncShared(ctx context.Context, sh *Shared, peer string) (SyncResult, error) {
	res := SyncResult{Withheld: map[string]int{}}
	unlock := s.lock(peer)
	defer unlock()
	p, err := s.Store.Peer(ctx, peer)
	if err != nil {
		return res, err
	}
	if p.Status != StatusActive {
		return res, fmt.Errorf("peer %s is %s: nothing is sent", peer, p.Status)
	}
	if err := s.resolveAbandoned(ctx, p, &res); err != nil {
		return res, err
	}
	pend, err := s.Store.Pending(ctx, peer)
	if err != nil {
		return res, err
	}
	if pend != nil {
		if err := s.settle(ctx, p, pend, &res); err != nil {
			return res, err
		}
	}
	for attempt := 0; ; attempt++ {
		err := s.push(ctx, sh, peer, &res)
		if errors.Is(err, errTermsChanged) && attempt < 3 {
			s.log().Info("federation: terms changed during a sync; deciding again", "peer", peer)
			// A domain withheld since the set was collected changes the
			// set itself: collect it again.
			if ws, werr := s.Store.Withheld(ctx); werr != nil {
				return res, werr
			} else if withheldVersion(ws) != sh.withheld {
				if sh, err = s.Collect(ctx); err != nil {
					return res, err
				}
			}
			continue
		}
		if err == nil {
			for c, n := range res.Withheld {
				s.log().Info("federation: withheld", "peer", peer, "clause", c, "items", n)
			}
		} else if res.Envelopes > 0 {
			// What arrived before the failure did arrive, and is
			// recorded: the summary of a failed round says so, not only
			// the failure.
			err = &PartialError{Err: err, Done: res}
		}
		return res, err
	}
}

// PartialError is a sync that failed after some envelopes arrived: Done
// counts them (recorded on both sides, never sent again).
type PartialError struct {
	Err  error
	Done SyncResult
}

func (e *PartialError) Error() string {
	return fmt.Sprintf("%v (before the failure %s arrived and are recorded: %s, %d withdrawn)", e.Err, plural(e.Done.Envelopes, "envelope"), plural(e.Done.Items, "item"), e.Done.Withdrawn)
}

func (e *PartialError) Unwrap() error { return e.Err }

// settle resolves an envelope left pending: recorded if the peer holds it;
// otherwise set aside — the peer, asked, refuses it from then on, and its
// items are decided again in a new envelope under a higher sequence (a
// sequence once sealed and sent is never sealed again, so a copy of the
// old envelope still on its way can never pass for the new one).
func (s *Service) settle(ctx context.Context, p *Peer, pend *Pending, res *SyncResult) error {
	st, err := s.askStatus(ctx, p, pend.Seq, false)
	if err != nil {
		return fmt.Errorf("envelope %d to %s is pending and the peer cannot be asked whether it holds it: %w", pend.Seq, p.Name, err)
	}
	link, err := s.Store.Link(ctx, p.Name)
	if err != nil {
		return err
	}
	switch {
	case st.InSeq == pend.Seq:
		return s.recordHeld(ctx, p, st, pend, res)
	case st.InSeq == link.OutSeq:
		if err := s.Store.AbandonPending(ctx, p.Name, true, s.now()); err != nil {
			return err
		}
		res.Dropped += len(pend.Delivery.Items)
		s.log().Info("federation: a pending envelope never arrived; set aside (the peer refuses it from now on), its items are decided again", "peer", p.Name, "seq", pend.Seq,
			"items", len(pend.Delivery.Items), "agreement_version", pend.Delivery.Agreement)
	default:
		return fmt.Errorf("peer %s last received envelope %d, this node last delivered %d and has %d pending: the link's records diverge (accord custody compare %s)",
			p.Name, st.InSeq, link.OutSeq, pend.Seq, p.Name)
	}
	return nil
}

// recordHeld records as delivered an envelope the peer turned out to hold
// (st.InSeq is its sequence), once the peer's checkpoint of it is the one
// this node signed, countersigned; decided under an agreement version no
// longer in force, it is flagged, and what the agreement in force does
// not allow is withdrawn in the same round.
func (s *Service) recordHeld(ctx context.Context, p *Peer, st *StatusReply, pend *Pending, res *SyncResult) error {
	cp := st.In
	want := pend.Delivery.Checkpoint
	if cp == nil || cp.Seq != pend.Seq || string(cp.Statement()) != string(want.Statement()) || cp.SenderSignature != want.SenderSignature {
		return fmt.Errorf("peer %s holds an envelope %d that is not the one this node sent: the custody logs of the link diverge (accord custody compare %s)", p.Name, pend.Seq, p.Name)
	}
	if err := cp.VerifySignatures(); err != nil || cp.ReceiverSignature == "" {
		return fmt.Errorf("peer %s did not countersign envelope %d: %v", p.Name, pend.Seq, err)
	}
	d := pend.Delivery
	d.Checkpoint = *cp
	d.Checkpoint.Recorded = s.now()
	if err := s.Store.CommitSent(ctx, d); err != nil {
		return err
	}
	res.Resumed += len(d.Items)
	s.log().Info("federation: an envelope left pending or set aside had arrived; recorded", "peer", p.Name, "seq", pend.Seq, "items", len(d.Items))
	if cur := agreementVersion(p); d.Agreement != cur {
		msg := fmt.Sprintf("envelope %d, decided under agreement version %d, reached %s although version %d is in force (it arrived late or was replayed); what version %d does not allow is withdrawn now",
			pend.Seq, d.Agreement, p.Name, cur, cur)
		res.Superseded = append(res.Superseded, msg)
		s.log().Warn("federation: "+msg, "peer", p.Name)
	}
	return nil
}

// resolveAbandoned settles the envelopes set aside without the peer's
// word (peer pending --drop --force): the peer is asked to refuse them
// from now on; if it already holds one, that one is recorded as delivered
// (and what the terms in force do not allow withdrawn in the same round),
// so the link's two logs stay one.
func (s *Service) resolveAbandoned(ctx context.Context, p *Peer, res *SyncResult) error {
	ab, err := s.Store.Abandoned(ctx, p.Name)
	if err != nil || len(ab) == 0 {
		return err
	}
	last := ab[len(ab)-1].Seq
	st, err := s.askStatus(ctx, p, last, false)
	if err != nil {
		return fmt.Errorf("envelope %d to %s was set aside without the peer's word, and the peer cannot be asked whether it holds it: %w", last, p.Name, err)
	}
	link, err := s.Store.Link(ctx, p.Name)
	if err != nil {
		return err
	}
	if st.InSeq != link.OutSeq {
		held := -1
		for i := range ab {
			if ab[i].Seq == st.InSeq {
				held = i
			}
		}
		if held < 0 {
			return fmt.Errorf("peer %s last received envelope %d, this node last delivered %d and set aside %d: the link's records diverge (accord custody compare %s)",
				p.Name, st.InSeq, link.OutSeq, last, p.Name)
		}
		if err := s.recordHeld(ctx, p, st, &ab[held], res); err != nil {
			return err
		}
	}
	return s.Store.ConfirmAbandoned(ctx, p.Name, last, s.now())
}

// agreementVersion is the version of the agreement in force with p (0: none).
func agreementVersion(p *Peer) int {
	if p.Agreement == nil {
		return 0
	}
	return p.Agreement.Version
}

// push decides every item under the terms in force and sends what is due.
func (s *Service) push(ctx context.Context, sh *Shared, peer string, res *SyncResult) error {
	p, err := s.Store.Peer(ctx, peer)
	if err != nil {
		return err
	}
	if p.Status != StatusActive {
		return fmt.Errorf("peer %s is %s: nothing is sent", peer, p.Status)
	}
	to, ok := p.ActiveKey()
	if !ok {
		return fmt.Errorf("peer %s has no active key: nothing can be sealed for it", peer)
	}
	lines, err := s.PreviewShared(ctx, sh, peer, nil)
	if err != nil {
		return err
	}
	sent, err := s.Store.Sent(ctx, peer)
	if err != nil {
		return err
	}
	groups := map[string][]Item{}
	for _, g := range sh.ItemsFor(p.Agreement) {
		groups[g.ID] = g.Items
	}
	withheld := map[string]int{}
	unchanged := 0
	var due []PreviewLine
	decided := map[string]Decision{}
	for _, l := range lines {
		decided[l.Item.Key] = l.Decision
		switch {
		case !l.Decision.Allow:
			withheld[l.Decision.Clause]++
		case l.State == "sent":
			unchanged++
		default:
			due = append(due, l)
		}
	}
	res.Withheld, res.Unchanged = withheld, unchanged
	var wds []Withdrawal
	for key, hash := range sent {
		d, held := decided[key]
		switch {
		case !held:
			wds = append(wds, Withdrawal{Key: key, Hash: hash, Clause: "held", Reason: "no longer among what this node shares (erased, or replaced by another item)"})
		case !d.Allow:
			wds = append(wds, Withdrawal{Key: key, Hash: hash, Clause: d.Clause, Reason: d.Reason})
		}
	}
	sort.Slice(wds, func(i, j int) bool { return wds[i].Key < wds[j].Key })
	queued, err := s.Store.Outbox(ctx, peer)
	if err != nil {
		return err
	}
	reads, err := s.Store.UnloggedReads(ctx, peer)
	if err != nil {
		return err
	}
	maxItems, maxBytes := s.MaxItems, s.budget(peer)
	if maxItems <= 0 {
		maxItems = 500
	}
	// Reads go bounded (BoundReads), every one of them marked logged.
	readIDs := make([]int64, len(reads))
	for i, r := range reads {
		readIDs[i] = r.ID
	}
	nReads := len(reads)
	logged := BoundReads(reads)
	for len(due) > 0 || len(wds) > 0 || len(queued) > 0 || len(logged) > 0 {
		// Withdrawals are batched like items, and what rides along
		// (withdrawals, messages, reads) counts in the byte budget.
		nw := min(len(wds), maxItems)
		size := jsonSize(wds[:nw]) + jsonSize(queued) + jsonSize(logged)
		n := 0
		for n < len(due) && n < maxItems && (n == 0 && nw == 0 || size+sh.Size(due[n].Item) <= maxBytes) {
			size += sh.Size(due[n].Item)
			n++
		}
		batch := due[:n]
		due = due[n:]
		pe, err := s.build(ctx, p, to, sh, batch, groups, wds[:nw], queued, logged, readIDs)
		if err != nil {
			return err
		}
		if err := s.deliver(ctx, p, pe); err != nil {
			return err
		}
		res.Envelopes++
		res.Items += len(batch)
		res.Withdrawn += nw
		res.Messages += len(queued)
		res.Reads += nReads
		wds, queued, logged, readIDs, nReads = wds[nw:], nil, nil, nil, 0
	}
	return nil
}

// jsonSize is the size of v in JSON.
func jsonSize(v any) int {
	b, _ := json.Marshal(v)
	return len(b)
}

// build makes the next envelope and keeps it as pending. The bodies of
// the evidence it carries are made here, from their reports (the shared
// set holds their hashes only).
func (s *Service) build(ctx context.Context, p *Peer, to string, sh *Shared, batch []PreviewLine, groups map[string][]Item, wds []Withdrawal, msgs []Queued, reads []Read, readIDs []int64) (*Pending, error) {
	link, err := s.Store.Link(ctx, p.Name)
	if err != nil {
		return nil, err
	}
	now := s.now()
	include := map[string]map[string]bool{}
	var order []string
	for _, l := range batch {
		if include[l.Package] == nil {
			include[l.Package] = map[string]bool{}
			order = append(order, l.Package)
		}
		include[l.Package][l.Item.Key] = true
	}
	pl := Payload{Withdrawals: wds, Reads: reads}
	version := 0
	if a := p.Agreement; a != nil {
		version = a.Version
		if len(batch) > 0 || len(wds) > 0 {
			pl.Terms = TermsOf(a)
		}
	}
	var items []Item
	for _, id := range order {
		// Only the items it carries need their bodies: the others are in
		// the package by their hash.
		all := groups[id]
		var carried []Item
		var at []int
		for i, it := range all {
			if include[id][it.Key] && it.Body == nil {
				carried, at = append(carried, it), append(at, i)
			}
		}
		if len(carried) > 0 {
			made, err := sh.Bodies(ctx, carried)
			if err != nil {
				return nil, err
			}
			all = append([]Item(nil), all...)
			for j, i := range at {
				all[i] = made[j]
			}
		}
		pk, err := BuildPackage(s.Key, id, all, include[id], now)
		if err != nil {
			return nil, err
		}
		pl.Packages = append(pl.Packages, pk)
		for _, pi := range pk.Items {
			items = append(items, pi.Item)
		}
	}
	var delivered []int64
	for _, q := range msgs {
		pl.Assistance = append(pl.Assistance, q.Msg)
		delivered = append(delivered, q.ID)
	}
	withdrawn := make([]string, len(wds))
	for i, w := range wds {
		withdrawn[i] = w.Key
	}
	seq := link.NextSeq()
	entries := EnvelopeLeaves(seq, &pl, now)
	prev, err := s.Store.Log(ctx, p.Name, Out)
	if err != nil {
		return nil, err
	}
	leaves := make([][]byte, 0, len(prev)+len(entries))
	for _, e := range prev {
		leaves = append(leaves, e.Leaf)
	}
	for i := range entries {
		entries[i].Index = uint64(len(prev) + i)
		leaves = append(leaves, entries[i].Leaf)
	}
	cp := Checkpoint{From: s.Self(), To: to, Seq: seq, Size: uint64(len(leaves)), Root: hexs(Root(leaves)), Time: now}
	cp.SenderSignature = base64.StdEncoding.EncodeToString(ed25519.Sign(s.Key, cp.Statement()))
	pl.Checkpoint = cp
	body, err := json.Marshal(pl)
	if err != nil {
		return nil, err
	}
	pe := &Pending{Seq: seq, Payload: body, Delivery: Delivery{Peer: p.Name, Seq: seq, Items: items, Withdrawn: withdrawn, Entries: entries,
		Checkpoint: cp, Delivered: delivered, Reads: readIDs, Agreement: version, Withheld: sh.withheld, BuiltAt: now}}
	if err := s.Store.SavePending(ctx, p.Name, *pe); err != nil {
		return nil, err
	}
	return pe, nil
}

// deliver seals a pending envelope at the moment it leaves — after checking
// that the peer's state, agreement and key, and the domains withheld, are
// still those it was decided under — posts it, and records it once the peer has countersigned.
func (s *Service) deliver(ctx context.Context, p *Peer, pe *Pending) error {
	cur, err := s.Store.Peer(ctx, p.Name)
	if err != nil {
		return err
	}
	key, _ := cur.ActiveKey()
	version := 0
	if cur.Agreement != nil {
		version = cur.Agreement.Version
	}
	cp := pe.Delivery.Checkpoint
	ws, err := s.Store.Withheld(ctx)
	if err != nil {
		return err
	}
	if cur.Status != StatusActive || version != pe.Delivery.Agreement || key != cp.To || withheldVersion(ws) != pe.Delivery.Withheld {
		if err := s.Store.DropPending(ctx, p.Name); err != nil {
			return err
		}
		return errTermsChanged
	}
	if s.Transport == nil {
		return ErrNoTransport
	}
	if cur.URL == "" {
		return fmt.Errorf("peer %s has no URL (accord peer set-url)", cur.Name)
	}
	sealed, err := Seal(s.Key, Envelope{Type: TypeSync, To: cp.To, Seq: pe.Seq, Time: s.now()}, pe.Payload)
	if err != nil {
		return err
	}
	var ans Answer
	body, err := s.Transport.Post(ctx, cur.URL, sealed, s.admission(cp.To, sealed))
	var re *RemoteError
	var slow *SlowError
	switch {
	case errors.As(err, &re) && re.Code == CodeReplay && re.Answer != nil:
		// The peer already holds this sequence (an earlier attempt got
		// through but its answer was lost): its countersignature says so.
		ans = *re.Answer
	case errors.As(err, &slow):
		slow.Peer, slow.Envelope = cur.Name, pe.Seq
		return s.tooSlow(cur.Name, pe, slow)
	case err != nil:
		if re != nil {
			re.Peer = cur.Name
		}
		return fmt.Errorf("deliver envelope %d to %s: %w", pe.Seq, cur.Name, err)
	default:
		if err := json.Unmarshal(body, &ans); err != nil {
			return fmt.Errorf("deliver envelope %d to %s: unreadable answer: %w", pe.Seq, cur.Name, err)
		}
	}
	if st := ans.Checkpoint; st != nil {
		if string(st.Statement()) != string(cp.Statement()) || st.SenderSignature != cp.SenderSignature {
			return fmt.Errorf("peer %s holds a different envelope %d", cur.Name, pe.Seq)
		}
		cp = *st
	} else {
		cp.ReceiverSignature = ans.ReceiverSignature
	}
	if err := cp.VerifySignatures(); err != nil || cp.ReceiverSignature == "" {
		return fmt.Errorf("peer %s did not countersign the checkpoint of envelope %d: %v", cur.Name, pe.Seq, err)
	}
	d := pe.Delivery
	d.Checkpoint = cp
	d.Checkpoint.Recorded = s.now()
	return s.Store.CommitSent(ctx, d)
}

// minBudget is the smallest item budget a peer's envelopes are cut to.
const minBudget = 64 << 10

// budget is the item bytes an envelope to peer may carry: MaxBytes (16
// MiB), or less once an envelope could not reach it in time.
func (s *Service) budget(peer string) int {
	b := s.MaxBytes
	if b <= 0 {
		b = 16 << 20
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if n, ok := s.budgets[peer]; ok && n < b {
		return n
	}
	return b
}

// tooSlow handles an envelope the peer did not take in time. It stays
// pending — the next round asks the peer, finds it not held and decides
// its items again — and the envelopes to that peer carry from then on at
// most half of what arrived of it (in proportion to its items' bytes),
// so they fit the link within the peer's read limit instead of being cut
// at every round. The error says what happened and what to do.
func (s *Service) tooSlow(peer string, pe *Pending, e *SlowError) error {
	items := 0
	for _, it := range pe.Delivery.Items {
		items += len(it.Body)
	}
	old := s.budget(peer)
	next := old / 2
	if e.Size > 0 && e.Sent > 0 && e.Sent < e.Size {
		next = min(next, int(float64(min(old, max(items, 1)))*float64(e.Sent)/float64(e.Size)/2))
	}
	next = max(next, minBudget)
	s.mu.Lock()
	if s.budgets == nil {
		s.budgets = map[string]int{}
	}
	s.budgets[peer] = next
	s.mu.Unlock()
	advice := fmt.Sprintf("the next envelopes to %s carry at most %s of items (until this process restarts); "+
		"to keep them so, set [federation] envelope_bytes to %d or less", peer, bytesOf(int64(next)), next)
	if e.ByPeer && e.MaxRead > 0 {
		advice += fmt.Sprintf(", or ask %s to raise its inbox_max_read", peer)
	}
	s.log().Warn("federation: envelope cut as too slow", "peer", peer, "envelope", pe.Seq, "bytes", e.Size, "received", e.Sent,
		"seconds", e.Took.Seconds(), "by_peer", e.ByPeer, "next_budget", next)
	return fmt.Errorf("deliver envelope %d to %s: %w; %s", pe.Seq, peer, e, advice)
}

// Answer is the receiver's reply to a sync envelope.
type Answer struct {
	Seq               uint64 `json:"seq"`
	ReceiverSignature string `json:"receiver_signature"`
	Items             int    `json:"items"`
	Withdrawn         int    `json:"withdrawn,omitempty"`
	Messages          int    `json:"messages"`
	// Checkpoint is the stored, countersigned checkpoint when the envelope
	// is a retry of one already accepted.
	Checkpoint *Checkpoint `json:"checkpoint,omitempty"`
}

// PendingInfo describes an envelope waiting to be settled.
type PendingInfo struct {
	Seq       uint64
	Items     int
	Withdrawn int
	Messages  int
	Agreement int    // The agreement version it was decided under.
	To        string // The peer's key it was sealed for.
	BuiltAt   string
}

// PendingOf describes the envelope pending for a peer, nil when none.
func (s *Service) PendingOf(ctx context.Context, peer string) (*PendingInfo, error) {
	pe, err := s.Store.Pending(ctx, peer)
	if err != nil || pe == nil {
		return nil, err
	}
	d := pe.Delivery
	return &PendingInfo{Seq: pe.Seq, Items: len(d.Items), Withdrawn: len(d.Withdrawn), Messages: len(d.Delivered), Agreement: d.Agreement,
		To: d.Checkpoint.To, BuiltAt: d.BuiltAt.Format("2006-01-02T15:04:05Z07:00")}, nil
}

// DropPending settles the envelope pending for a peer: recorded if the
// peer holds it, else set aside (the peer refuses it from then on). force
// sets it aside without asking, for a peer that cannot be reached; its
// sequence is never sealed again, and the next sync asks the peer first:
// if the envelope did arrive, it is recorded then.
func (s *Service) DropPending(ctx context.Context, peer string, force bool) error {
	unlock := s.lock(peer)
	defer unlock()
	pe, err := s.Store.Pending(ctx, peer)
	if err != nil || pe == nil {
		return err
	}
	if !force {
		p, err := s.Store.Peer(ctx, peer)
		if err != nil {
			return err
		}
		res := SyncResult{}
		return s.settle(ctx, p, pe, &res)
	}
	return s.Store.AbandonPending(ctx, peer, false, s.now())
}

// plural is "1 item", "2 items".
func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
