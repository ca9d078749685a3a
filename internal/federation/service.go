package federation

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base32"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"time"
)

// Service is a node's side of the federation.
type Service struct {
	Store        Store
	Source       Source // What the node knows: its reports, grouped in campaigns.
	Key          ed25519.PrivateKey
	Jurisdiction string
	Client       *http.Client
	Now          func() time.Time
	Log          *slog.Logger
	Window       time.Duration // Accepted clock difference for envelopes (10 minutes).
	MaxItems     int           // Items per envelope (500).
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

func (s *Service) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.New(slog.DiscardHandler)
}

// Self is this node's public key, base64.
func (s *Service) Self() string {
	return base64.StdEncoding.EncodeToString(s.Key.Public().(ed25519.PublicKey))
}

// Init records the node's current key in its key history.
func (s *Service) Init(ctx context.Context) error {
	keys, err := s.Store.OwnKeys(ctx)
	if err != nil {
		return err
	}
	self := s.Self()
	for _, k := range keys {
		if k.Key == self {
			return nil
		}
	}
	for _, k := range keys {
		if k.Retired.IsZero() {
			k.Retired = s.now()
			if err := s.Store.RecordOwnKey(ctx, k); err != nil {
				return err
			}
		}
	}
	return s.Store.RecordOwnKey(ctx, OwnKey{Key: self, Added: s.now()})
}

// PreviewLine is one item and what the policy says about it for a peer.
type PreviewLine struct {
	Item     Item
	Package  string
	Decision Decision
	State    string // "new", "changed", "sent" (unchanged since last sent).
}

// Preview shows exactly what a peer would receive now, and why anything
// else would not be sent. With a, it previews under that agreement instead
// of the one in force.
func (s *Service) Preview(ctx context.Context, peer string, a *Agreement) ([]PreviewLine, error) {
	sh, err := Collect(ctx, s.Source, s.Jurisdiction)
	if err != nil {
		return nil, err
	}
	return s.preview(ctx, sh, peer, a)
}

// preview decides every item of a computed shared set for a peer.
func (s *Service) preview(ctx context.Context, sh *Shared, peer string, a *Agreement) ([]PreviewLine, error) {
	p, err := s.Store.Peer(ctx, peer)
	if err != nil {
		return nil, err
	}
	if a == nil {
		a = p.Agreement
	}
	groups := sh.ItemsFor(a)
	sent, err := s.Store.Sent(ctx, peer)
	if err != nil {
		return nil, err
	}
	now := s.now()
	var out []PreviewLine
	for _, g := range groups {
		for _, it := range g.Items {
			st := "new"
			if h, ok := sent[it.Key]; ok {
				st = "changed"
				if h == it.Hash {
					st = "sent"
				}
			}
			out = append(out, PreviewLine{Item: it, Package: g.ID, Decision: Decide(a, p.State(), it, now), State: st})
		}
	}
	return out, nil
}

// SyncResult says what a round did.
type SyncResult struct {
	Envelopes int
	Items     int
	Messages  int
	Withheld  map[string]int // Clause -> items the policy denied.
	Unchanged int
}

func (r SyncResult) String() string {
	var w []string
	for c, n := range r.Withheld {
		w = append(w, fmt.Sprintf("%s %d", c, n))
	}
	sort.Strings(w)
	return fmt.Sprintf("%d envelopes: %d items, %d assistance messages; %d unchanged; withheld by clause: %s",
		r.Envelopes, r.Items, r.Messages, r.Unchanged, orNone(strings.Join(w, ", ")))
}

// Sync pushes to a peer what the agreement allows and it does not have yet,
// and the assistance messages waiting for it. It is resumable: whatever
// was not acknowledged is sent again next time, under a new sequence.
func (s *Service) Sync(ctx context.Context, peer string) (SyncResult, error) {
	res := SyncResult{Withheld: map[string]int{}}
	p, err := s.Store.Peer(ctx, peer)
	if err != nil {
		return res, err
	}
	if p.Status != StatusActive {
		return res, fmt.Errorf("peer %s is %s: nothing is sent", peer, p.Status)
	}
	sh, err := Collect(ctx, s.Source, s.Jurisdiction)
	if err != nil {
		return res, err
	}
	lines, err := s.preview(ctx, sh, peer, nil)
	if err != nil {
		return res, err
	}
	all := map[string][]Item{}
	for _, g := range sh.ItemsFor(p.Agreement) {
		all[g.ID] = g.Items
	}
	var pending []PreviewLine
	for _, l := range lines {
		switch {
		case !l.Decision.Allow:
			res.Withheld[l.Decision.Clause]++
		case l.State == "sent":
			res.Unchanged++
		default:
			pending = append(pending, l)
		}
	}
	queued, err := s.Store.Outbox(ctx, peer)
	if err != nil {
		return res, err
	}
	// An envelope built earlier and never acknowledged goes first, as it
	// was: its transfers are already in its checkpoint.
	pend, err := s.Store.Pending(ctx, peer)
	if err != nil {
		return res, err
	}
	if pend != nil {
		if err := s.deliver(ctx, p, pend); err != nil {
			return res, err
		}
		res.Envelopes++
		res.Items += len(pend.Delivery.Items)
		res.Messages += len(pend.Delivery.Delivered)
		// What it carried is now recorded as sent; look again.
		return s.syncMore(ctx, p, res)
	}
	max := s.MaxItems
	if max <= 0 {
		max = 500
	}
	for len(pending) > 0 || len(queued) > 0 {
		n := min(max, len(pending))
		batch := pending[:n]
		pending = pending[n:]
		msgs := queued
		queued = nil
		pe, err := s.build(ctx, p, batch, all, msgs)
		if err != nil {
			return res, err
		}
		if err := s.deliver(ctx, p, pe); err != nil {
			return res, err
		}
		res.Envelopes++
		res.Items += len(batch)
		res.Messages += len(msgs)
	}
	for c, n := range res.Withheld {
		s.log().Info("federation: withheld", "peer", peer, "clause", c, "items", n)
	}
	return res, nil
}

// syncMore continues a round after a pending envelope went through.
func (s *Service) syncMore(ctx context.Context, p *Peer, res SyncResult) (SyncResult, error) {
	more, err := s.Sync(ctx, p.Name)
	more.Envelopes += res.Envelopes
	more.Items += res.Items
	more.Messages += res.Messages
	return more, err
}

// build makes the next envelope's payload and keeps it as pending.
func (s *Service) build(ctx context.Context, p *Peer, batch []PreviewLine, all map[string][]Item, msgs []Queued) (*Pending, error) {
	peerKey, ok := p.ActiveKey()
	if !ok {
		return nil, fmt.Errorf("peer %s has no active key", p.Name)
	}
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
	var pl Payload
	if a := p.Agreement; a != nil && len(batch) > 0 {
		pl.Terms = &Terms{Agreement: a.ID, Version: a.Version, Purposes: a.Purposes, LegalBasis: a.LegalBasis,
			RetentionDays: a.RetentionDays, OnwardSharing: a.OnwardSharing}
	}
	var items []Item
	for _, id := range order {
		pk, err := BuildPackage(s.Key, id, all[id], include[id], now)
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
	seq := link.OutSeq + 1
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
	cp := Checkpoint{From: s.Self(), To: peerKey, Seq: seq, Size: uint64(len(leaves)), Root: hexs(Root(leaves)), Time: now}
	cp.SenderSignature = base64.StdEncoding.EncodeToString(ed25519.Sign(s.Key, cp.Statement()))
	pl.Checkpoint = cp
	body, err := json.Marshal(pl)
	if err != nil {
		return nil, err
	}
	pe := &Pending{Seq: seq, Payload: body, Delivery: Delivery{Peer: p.Name, Seq: seq, Items: items, Entries: entries, Checkpoint: cp, Delivered: delivered}}
	if err := s.Store.SavePending(ctx, p.Name, *pe); err != nil {
		return nil, err
	}
	return pe, nil
}

// deliver posts a pending envelope (sealed afresh, so its time is current)
// and records it once the peer has countersigned.
func (s *Service) deliver(ctx context.Context, p *Peer, pe *Pending) error {
	cp := pe.Delivery.Checkpoint
	sealed, err := Seal(s.Key, Envelope{Type: "sync", To: cp.To, Seq: pe.Seq, Time: s.now()}, pe.Payload)
	if err != nil {
		return err
	}
	ans, err := s.post(ctx, p, sealed)
	if err != nil {
		return err
	}
	if st := ans.Checkpoint; st != nil {
		// A retry of a delivery whose answer was lost: the peer holds the
		// same checkpoint, countersigned then.
		if st.Statement() == nil || string(st.Statement()) != string(cp.Statement()) || st.SenderSignature != cp.SenderSignature {
			return fmt.Errorf("peer %s holds a different envelope %d", p.Name, pe.Seq)
		}
		cp = *st
	} else {
		cp.ReceiverSignature = ans.ReceiverSignature
	}
	if err := cp.VerifySignatures(); err != nil || cp.ReceiverSignature == "" {
		return fmt.Errorf("peer %s did not countersign the checkpoint of envelope %d: %v", p.Name, pe.Seq, err)
	}
	d := pe.Delivery
	d.Checkpoint = cp
	return s.Store.CommitSent(ctx, d)
}

// Answer is the receiver's reply to an envelope.
type Answer struct {
	Seq               uint64 `json:"seq"`
	ReceiverSignature string `json:"receiver_signature"`
	Items             int    `json:"items"`
	Messages          int    `json:"messages"`
	// Checkpoint is the stored, countersigned checkpoint when the envelope
	// is a retry of one already accepted.
	Checkpoint *Checkpoint `json:"checkpoint,omitempty"`
}

type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
	Answer *Answer `json:"answer,omitempty"`
}

func (s *Service) post(ctx context.Context, p *Peer, sealed []byte) (*Answer, error) {
	if p.URL == "" {
		return nil, fmt.Errorf("peer %s has no URL", p.Name)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(p.URL, "/")+InboxPath, bytes.NewReader(sealed))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	c := s.Client
	if c == nil {
		c = &http.Client{Timeout: time.Minute}
	}
	res, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("deliver to %s: %w", p.Name, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if res.StatusCode == http.StatusOK {
		var a Answer
		if err := json.Unmarshal(b, &a); err != nil {
			return nil, fmt.Errorf("deliver to %s: unreadable answer: %w", p.Name, err)
		}
		return &a, nil
	}
	var e errorBody
	json.Unmarshal(b, &e)
	if res.StatusCode == http.StatusConflict && e.Answer != nil {
		// The peer already has this sequence (an earlier attempt got
		// through but its answer was lost): its countersignature says so.
		return e.Answer, nil
	}
	return nil, fmt.Errorf("deliver to %s: %d %s: %s", p.Name, res.StatusCode, e.Error.Code, e.Error.Message)
}

// InboxPath is where peers deliver envelopes.
const InboxPath = "/federation/v1/inbox"

// ReceiveError is a refused envelope, with the HTTP status and a stable
// code.
type ReceiveError struct {
	Status int
	Code   string
	Err    error
	Answer *Answer // For a replay of an envelope already stored.
}

func (e *ReceiveError) Error() string { return e.Err.Error() }
func (e *ReceiveError) Unwrap() error { return e.Err }

func refuse(status int, code string, err error) *ReceiveError {
	return &ReceiveError{Status: status, Code: code, Err: err}
}

// Receive verifies an envelope and, only when everything checks, stores
// it: the sender, signature, recipient, freshness and sequence; every
// package's signature and proofs; every assistance message against the
// request it changes; and that the sender's checkpoint matches this node's
// own log of the link. Then it countersigns the checkpoint.
func (s *Service) Receive(ctx context.Context, raw []byte) (*Answer, error) {
	v := &Verifier{
		Self: s.Key.Public().(ed25519.PublicKey),
		PeerOf: func(key string) (*Peer, error) {
			p, err := s.Store.PeerByKey(ctx, key)
			if errors.Is(err, ErrNotFound) {
				return nil, ErrUnknownKey
			}
			return p, err
		},
		LastSeq: func(peer string) (uint64, error) {
			l, err := s.Store.Link(ctx, peer)
			return l.InSeq, err
		},
		Now:    s.now,
		Window: s.Window,
	}
	op, err := v.Open(raw)
	switch {
	case errors.Is(err, ErrReplay):
		re := refuse(http.StatusConflict, "replay", err)
		if cp, ph, e2 := s.Store.ReceivedCheckpoint(ctx, op.Peer.Name, op.Envelope.Seq); e2 == nil && ph == op.Envelope.PayloadSHA256 {
			re.Answer = &Answer{Seq: cp.Seq, ReceiverSignature: cp.ReceiverSignature, Checkpoint: cp}
		} else if e2 == nil {
			s.log().Warn("federation: a replay with a different payload", "peer", op.Peer.Name, "seq", op.Envelope.Seq)
		}
		return nil, re
	case errors.Is(err, ErrMalformed):
		return nil, refuse(http.StatusBadRequest, "malformed", err)
	case errors.Is(err, ErrUnknownKey), errors.Is(err, ErrRevokedKey), errors.Is(err, ErrRetiredKey),
		errors.Is(err, ErrPeerInactive), errors.Is(err, ErrBadSignature), errors.Is(err, ErrWrongRecipient):
		return nil, refuse(http.StatusForbidden, codeOf(err), err)
	case errors.Is(err, ErrStale), errors.Is(err, ErrTampered):
		return nil, refuse(http.StatusBadRequest, codeOf(err), err)
	case err != nil:
		return nil, refuse(http.StatusInternalServerError, "internal", err)
	}
	p, e := op.Peer, op.Envelope
	var pl Payload
	if err := json.Unmarshal(op.Payload, &pl); err != nil {
		return nil, refuse(http.StatusBadRequest, "malformed", fmt.Errorf("%w: payload: %v", ErrMalformed, err))
	}
	senderKey, _ := ParsePublicKey(e.From)
	now := s.now()
	var items []ReceivedItem
	for i := range pl.Packages {
		pk := &pl.Packages[i]
		if err := VerifyPackage(senderKey, pk); err != nil {
			return nil, refuse(http.StatusUnprocessableEntity, "bad-package", err)
		}
		for _, pi := range pk.Items {
			ri := ReceivedItem{Peer: p.Name, Item: pi.Item, Package: pk.ID, Root: pk.Root, Signature: pk.Signature,
				SignedAt: pk.SignedAt, Seq: e.Seq, ReceivedAt: now}
			if pl.Terms != nil {
				ri.Terms = *pl.Terms
				if pl.Terms.RetentionDays > 0 {
					ri.ExpiresAt = now.AddDate(0, 0, pl.Terms.RetentionDays)
				}
			}
			items = append(items, ri)
		}
	}
	reqs, replies, err := s.applyMessages(ctx, p, pl.Assistance, now)
	if err != nil {
		return nil, refuse(http.StatusUnprocessableEntity, "bad-assistance", err)
	}
	entries := EnvelopeLeaves(e.Seq, &pl, now)
	prev, err := s.Store.Log(ctx, p.Name, In)
	if err != nil {
		return nil, refuse(http.StatusInternalServerError, "internal", err)
	}
	leaves := make([][]byte, 0, len(prev)+len(entries))
	for _, x := range prev {
		leaves = append(leaves, x.Leaf)
	}
	for i := range entries {
		entries[i].Index = uint64(len(prev) + i)
		leaves = append(leaves, entries[i].Leaf)
	}
	cp := pl.Checkpoint
	if cp.From != e.From || cp.To != e.To || cp.Seq != e.Seq || cp.Size != uint64(len(leaves)) || cp.Root != hexs(Root(leaves)) {
		return nil, refuse(http.StatusUnprocessableEntity, "custody-mismatch",
			fmt.Errorf("federation: the sender's checkpoint (size %d, root %.16s…) does not match this node's log of the link (size %d, root %.16s…)",
				cp.Size, cp.Root, len(leaves), hexs(Root(leaves))))
	}
	cp.ReceiverSignature = ""
	if err := cp.VerifySignatures(); err != nil {
		return nil, refuse(http.StatusUnprocessableEntity, "bad-checkpoint", err)
	}
	cp.ReceiverSignature = base64.StdEncoding.EncodeToString(ed25519.Sign(s.Key, cp.Statement()))
	if err := s.Store.CommitReceived(ctx, Receipt{Peer: p.Name, Seq: e.Seq, PayloadHash: e.PayloadSHA256, Items: items,
		Requests: reqs, Replies: replies, Entries: entries, Checkpoint: cp}); err != nil {
		return nil, refuse(http.StatusInternalServerError, "store-failed", err)
	}
	s.log().Info("federation: envelope accepted", "peer", p.Name, "seq", e.Seq, "items", len(items), "messages", len(pl.Assistance))
	return &Answer{Seq: e.Seq, ReceiverSignature: cp.ReceiverSignature, Items: len(items), Messages: len(pl.Assistance)}, nil
}

func codeOf(err error) string {
	for _, c := range []struct {
		e    error
		code string
	}{{ErrUnknownKey, "unknown-key"}, {ErrRevokedKey, "revoked-key"}, {ErrRetiredKey, "retired-key"}, {ErrPeerInactive, "peer-inactive"},
		{ErrBadSignature, "bad-signature"}, {ErrWrongRecipient, "wrong-recipient"}, {ErrStale, "stale"}, {ErrTampered, "tampered"}} {
		if errors.Is(err, c.e) {
			return c.code
		}
	}
	return "refused"
}

// applyMessages checks assistance messages against the requests they
// change and returns the requests as they will be stored, with the
// acknowledgements to send back. Nothing is stored here.
func (s *Service) applyMessages(ctx context.Context, p *Peer, msgs []AssistMsg, now time.Time) ([]*Request, []AssistMsg, error) {
	var out []*Request
	var replies []AssistMsg
	seen := map[string]*Request{}
	for _, m := range msgs {
		r := seen[m.RequestID]
		if r == nil {
			got, err := s.Store.Request(ctx, m.RequestID)
			switch {
			case errors.Is(err, ErrNotFound):
			case err != nil:
				return nil, nil, err
			default:
				r = got
			}
		}
		if m.Action == ActCreate {
			if r != nil {
				return nil, nil, fmt.Errorf("request %s already exists", m.RequestID)
			}
			if !ValidType(m.Type) || strings.TrimSpace(m.Subject) == "" || m.RequestID == "" {
				return nil, nil, fmt.Errorf("request %s: a type and a subject are required", m.RequestID)
			}
			r = &Request{ID: m.RequestID, Peer: p.Name, Role: Responder, Type: m.Type, Subject: m.Subject, Body: m.Body,
				Campaign: m.Campaign, LegalBasis: m.LegalBasis, Created: m.At, Deadline: m.Deadline, State: StateSent, Updated: now}
			r.Events = append(r.Events, Event{At: now, Action: ActCreate, State: StateSent, By: p.Name, Note: m.Note})
			// Receipt is acknowledged at once, by protocol: the requester
			// knows its request arrived.
			r.State = StateAcknowledged
			r.Events = append(r.Events, Event{At: now, Action: ActAcknowledge, State: StateAcknowledged, By: "self", Note: "received"})
			replies = append(replies, AssistMsg{RequestID: r.ID, Action: ActAcknowledge, At: now, Note: "received"})
		} else {
			if r == nil || r.Peer != p.Name {
				return nil, nil, fmt.Errorf("request %s is unknown here", m.RequestID)
			}
			other := Requester
			if r.Role == Requester {
				other = Responder
			}
			next, err := Next(r, m.Action, other)
			if err != nil {
				return nil, nil, fmt.Errorf("request %s: %w", r.ID, err)
			}
			r.State, r.Updated = next, now
			r.Events = append(r.Events, Event{At: now, Action: m.Action, State: next, By: p.Name, Note: m.Note})
		}
		if seen[r.ID] == nil {
			out = append(out, r)
		}
		seen[r.ID] = r
	}
	return out, replies, nil
}

// Handler serves the inbox.
func (s *Service) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", "POST")
			writeErr(w, refuse(http.StatusMethodNotAllowed, "method", errors.New("POST an envelope")))
			return
		}
		raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<20))
		if err != nil {
			writeErr(w, refuse(http.StatusRequestEntityTooLarge, "too-large", errors.New("an envelope is at most 64 MiB")))
			return
		}
		ans, err := s.Receive(r.Context(), raw)
		if err != nil {
			var re *ReceiveError
			if !errors.As(err, &re) {
				re = refuse(http.StatusInternalServerError, "internal", err)
			}
			s.log().Warn("federation: envelope refused", "code", re.Code, "err", re.Err, "remote", r.RemoteAddr)
			writeErr(w, re)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(ans)
	})
}

func writeErr(w http.ResponseWriter, re *ReceiveError) {
	var b errorBody
	b.Error.Code, b.Error.Message, b.Answer = re.Code, re.Err.Error(), re.Answer
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(re.Status)
	json.NewEncoder(w).Encode(b)
}

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

func newID() string {
	var b [10]byte
	rand.Read(b[:])
	return strings.ToLower(b32.EncodeToString(b[:]))
}

// NewRequest opens a mutual assistance request to a peer, with the
// deadline the agreement sets, and queues it for the next sync.
func (s *Service) NewRequest(ctx context.Context, peer string, t RequestType, subject, body, campaign, legal, by string) (*Request, error) {
	p, err := s.Store.Peer(ctx, peer)
	if err != nil {
		return nil, err
	}
	if p.Status != StatusActive {
		return nil, fmt.Errorf("peer %s is %s", peer, p.Status)
	}
	if !ValidType(t) {
		return nil, fmt.Errorf("request type %q: want information, enforcement or alert", t)
	}
	if strings.TrimSpace(subject) == "" {
		return nil, errors.New("a request needs a subject")
	}
	if legal == "" && p.Agreement != nil {
		legal = p.Agreement.LegalBasis
	}
	now := s.now()
	r := &Request{ID: "a-" + newID(), Peer: peer, Role: Requester, Type: t, Subject: subject, Body: body, Campaign: campaign,
		LegalBasis: legal, Created: now, Deadline: DeadlineFor(t, p.Agreement, now), State: StateSent, Updated: now}
	r.Events = []Event{{At: now, Action: ActCreate, State: StateSent, By: by}}
	m := AssistMsg{RequestID: r.ID, Action: ActCreate, Type: t, Subject: subject, Body: body, Campaign: campaign, LegalBasis: legal,
		Deadline: r.Deadline, At: now}
	return r, s.Store.SaveRequest(ctx, r, &m)
}

// Transition takes an action on a request on this node's side and queues
// it for the peer.
func (s *Service) Transition(ctx context.Context, id string, a Action, note, by string) (*Request, error) {
	r, err := s.Store.Request(ctx, id)
	if err != nil {
		return nil, err
	}
	if a == ActRefuse && strings.TrimSpace(note) == "" {
		return nil, errors.New("a refusal needs its reason (--note)")
	}
	next, err := Next(r, a, r.Role)
	if err != nil {
		return nil, err
	}
	now := s.now()
	r.State, r.Updated = next, now
	r.Events = append(r.Events, Event{At: now, Action: a, State: next, By: by, Note: note})
	m := AssistMsg{RequestID: r.ID, Action: a, At: now, Note: note}
	return r, s.Store.SaveRequest(ctx, r, &m)
}

// CustodyReport is the state of one link's logs on this node.
type CustodyReport struct {
	Peer     string
	Out, In  LogState
	Problems []string
}

// LogState is one direction of a link.
type LogState struct {
	Size       uint64
	Root       string
	Checkpoint *Checkpoint // The latest, countersigned.
}

// VerifyCustody recomputes both logs of a link, checks every checkpoint's
// two signatures against the keys they name, that each key was the
// signer's (this node's key history, the peer's registered keys), that
// each checkpoint's root is the log's root at that size, and that the
// latest covers the whole log.
func (s *Service) VerifyCustody(ctx context.Context, peer string) (CustodyReport, error) {
	rep := CustodyReport{Peer: peer}
	p, err := s.Store.Peer(ctx, peer)
	if err != nil {
		return rep, err
	}
	own, err := s.Store.OwnKeys(ctx)
	if err != nil {
		return rep, err
	}
	mine := map[string]bool{}
	for _, k := range own {
		mine[k.Key] = true
	}
	theirs := map[string]bool{}
	for _, k := range p.Keys {
		if k.Status != KeyRevoked {
			theirs[k.Key] = true
		}
	}
	for _, dir := range []Direction{Out, In} {
		es, err := s.Store.Log(ctx, peer, dir)
		if err != nil {
			return rep, err
		}
		cps, err := s.Store.Checkpoints(ctx, peer, dir)
		if err != nil {
			return rep, err
		}
		leaves := make([][]byte, len(es))
		for i, e := range es {
			if i > 0 && es[i-1].Index+1 != e.Index {
				rep.Problems = append(rep.Problems, fmt.Sprintf("%s log: entry %d is missing", dir, es[i-1].Index+1))
			}
			if !bytes.Equal(e.Leaf, TransferLeaf(e.Seq, e.What, e.Key, e.Hash)) {
				rep.Problems = append(rep.Problems, fmt.Sprintf("%s log: entry %d does not match its leaf hash", dir, e.Index))
			}
			leaves[i] = e.Leaf
		}
		st := LogState{Size: uint64(len(leaves)), Root: hexs(Root(leaves))}
		for i := range cps {
			cp := cps[i]
			sender, receiver := mine, theirs
			if dir == In {
				sender, receiver = theirs, mine
			}
			if !sender[cp.From] || !receiver[cp.To] {
				rep.Problems = append(rep.Problems, fmt.Sprintf("%s checkpoint %d: signed by keys that are not this link's", dir, cp.Seq))
			}
			if err := cp.VerifySignatures(); err != nil {
				rep.Problems = append(rep.Problems, fmt.Sprintf("%s %v", dir, err))
			}
			if cp.ReceiverSignature == "" {
				rep.Problems = append(rep.Problems, fmt.Sprintf("%s checkpoint %d: not countersigned", dir, cp.Seq))
			}
			if cp.Size > uint64(len(leaves)) || cp.Root != hexs(Root(leaves[:cp.Size])) {
				rep.Problems = append(rep.Problems, fmt.Sprintf("%s checkpoint %d: its root is not the log's at size %d", dir, cp.Seq, cp.Size))
			}
			c := cp
			st.Checkpoint = &c
		}
		if st.Checkpoint != nil && st.Checkpoint.Size != st.Size {
			rep.Problems = append(rep.Problems, fmt.Sprintf("%s log: %d entries after the last checkpoint (size %d)", dir, st.Size-st.Checkpoint.Size, st.Checkpoint.Size))
		}
		if dir == Out {
			rep.Out = st
		} else {
			rep.In = st
		}
	}
	return rep, nil
}
