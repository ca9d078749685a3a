package federation

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// verifier checks envelopes against this node's registry.
func (s *Service) verifier(ctx context.Context) *Verifier {
	return &Verifier{
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
		Former: func(key string) (bool, error) {
			own, err := s.Store.OwnKeys(ctx)
			for _, k := range own {
				if k.Key == key && !k.Retired.IsZero() {
					return true, nil
				}
			}
			return false, err
		},
	}
}

// openRefusal maps what Open found to the code the sender is told.
func openRefusal(err error) *Refusal {
	switch {
	case errors.Is(err, ErrMalformed):
		return refuse(CodeMalformed, err)
	case errors.Is(err, ErrBadSignature), errors.Is(err, ErrUnknownKey), errors.Is(err, ErrRevokedKey), errors.Is(err, ErrRetiredKey),
		errors.Is(err, ErrPeerInactive), errors.Is(err, ErrNotAddressed):
		return refuse(CodeRefused, err)
	case errors.Is(err, ErrWrongRecipient):
		return refuse(CodeWrongRecipient, err)
	case errors.Is(err, ErrStale):
		return refuse(CodeStale, err)
	case errors.Is(err, ErrTampered):
		return refuse(CodeTampered, err)
	case errors.Is(err, ErrReplay):
		return refuse(CodeReplay, err)
	}
	return refuse(CodeInternal, err)
}

// Receive handles an envelope from a peer and returns the body of the
// answer: a sync envelope is verified and, only when everything checks,
// stored and countersigned; a status query is answered with the link's
// latest checkpoints, signed. A refusal is a *Refusal whose code is all
// the sender may learn.
func (s *Service) Receive(ctx context.Context, raw []byte) (json.RawMessage, error) {
	op, err := s.verifier(ctx).Open(raw)
	if err != nil {
		re := openRefusal(err)
		if errors.Is(err, ErrPeerInactive) && op != nil && op.Peer.Status != StatusRemoved {
			// Refused while the peer is suspended (or sealed before its
			// status changed): its sequence is set aside here at once, as
			// when the peer itself sets an envelope aside, so a copy is
			// refused after a resume — the sealing time, the sender's
			// clock, is not trusted for that. The peer's next round asks
			// (status query), hears "not held", and seals again higher.
			if e2 := s.Store.VoidInbound(ctx, op.Peer.Name, op.Envelope.Seq); e2 != nil {
				s.log().Error("federation: set aside a refused envelope's sequence", "peer", op.Peer.Name, "seq", op.Envelope.Seq, "err", e2)
			}
		}
		if re.Code == CodeReplay && op != nil {
			if cp, ph, e2 := s.Store.ReceivedCheckpoint(ctx, op.Peer.Name, op.Envelope.Seq); e2 == nil && ph == op.Envelope.PayloadSHA256 {
				re.Answer = &Answer{Seq: cp.Seq, ReceiverSignature: cp.ReceiverSignature, Checkpoint: cp}
			} else if e2 == nil {
				s.log().Warn("federation: a replay with a different payload", "peer", op.Peer.Name, "seq", op.Envelope.Seq)
			}
		}
		return nil, re
	}
	switch op.Envelope.Type {
	case TypeSync:
		unlock := s.lock(op.Peer.Name)
		defer unlock()
		ans, err := s.receiveSync(ctx, op)
		if err != nil {
			return nil, err
		}
		b, _ := json.Marshal(ans)
		return b, nil
	case TypeStatus:
		return s.answerStatus(ctx, op)
	}
	return nil, refuse(CodeMalformed, fmt.Errorf("%w: a %s envelope is not delivered to an inbox", ErrMalformed, op.Envelope.Type))
}

// receiveSync verifies a sync envelope's contents — every package's
// signature and proofs, every assistance message against the request it
// changes, the sender's checkpoint against this node's own log of the
// link — and stores it all at once, then countersigns the checkpoint.
func (s *Service) receiveSync(ctx context.Context, op *Opened) (*Answer, error) {
	p, e := op.Peer, op.Envelope
	var pl Payload
	if err := json.Unmarshal(op.Payload, &pl); err != nil {
		return nil, refuse(CodeMalformed, fmt.Errorf("%w: payload: %v", ErrMalformed, err))
	}
	senderKey, _ := ParsePublicKey(e.From)
	now := s.now()
	link, err := s.Store.Link(ctx, p.Name)
	if err != nil {
		return nil, refuse(CodeInternal, err)
	}
	if e.Seq <= link.InVoid {
		return nil, refuse(CodeSuperseded, fmt.Errorf("%w: envelope %d from %s (set aside up to %d)", ErrVoided, e.Seq, p.Name, link.InVoid))
	}
	if t := pl.Terms; t != nil {
		if err := t.Check(); err != nil {
			return nil, refuse(CodeMalformed, fmt.Errorf("%w: %v", ErrMalformed, err))
		}
		if t.Agreement == link.InAgreement && t.Version < link.InVersion {
			return nil, refuse(CodeSuperseded, fmt.Errorf("envelope %d from %s was decided under %s version %d; version %d already came", e.Seq, p.Name,
				t.Agreement, t.Version, link.InVersion))
		}
	}
	var items []ReceivedItem
	for i := range pl.Packages {
		pk := &pl.Packages[i]
		if err := VerifyPackage(senderKey, pk); err != nil {
			return nil, refuse(CodeBadPackage, err)
		}
		for _, pi := range pk.Items {
			if err := CheckItem(pi.Item); err != nil {
				return nil, refuse(CodeMalformed, fmt.Errorf("%w: package %s: %v", ErrMalformed, pk.ID, err))
			}
			ri := ReceivedItem{Peer: p.Name, Item: pi.Item, Package: pk.ID, Root: pk.Root, Signature: pk.Signature,
				SignedAt: pk.SignedAt, Seq: e.Seq, ReceivedAt: now, Proof: &ItemProof{Size: pk.Size, Index: pi.Index, Path: pi.Proof}}
			if pl.Terms != nil {
				ri.Terms = *pl.Terms
				if pl.Terms.RetentionDays > 0 {
					ri.ExpiresAt = now.AddDate(0, 0, pl.Terms.RetentionDays)
				}
			}
			items = append(items, ri)
		}
	}
	for _, w := range pl.Withdrawals {
		if w.Key == "" || len(w.Hash) != 64 {
			return nil, refuse(CodeMalformed, fmt.Errorf("%w: a withdrawal names no item", ErrMalformed))
		}
	}
	reqs, replies, err := s.applyMessages(ctx, p, pl.Assistance, now)
	if err != nil {
		return nil, refuse(CodeBadAssistance, err)
	}
	entries := EnvelopeLeaves(e.Seq, &pl, now)
	prev, err := s.Store.Log(ctx, p.Name, In)
	if err != nil {
		return nil, refuse(CodeInternal, err)
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
		return nil, refuse(CodeCustody,
			fmt.Errorf("the sender's checkpoint (size %d, root %.16s…) does not match this node's log of the link (size %d, root %.16s…)",
				cp.Size, cp.Root, len(leaves), hexs(Root(leaves))))
	}
	cp.ReceiverSignature = ""
	if err := cp.VerifySignatures(); err != nil {
		return nil, refuse(CodeCustody, err)
	}
	cp.ReceiverSignature = base64.StdEncoding.EncodeToString(ed25519.Sign(s.Key, cp.Statement()))
	cp.Recorded = now
	if err := s.Store.CommitReceived(ctx, Receipt{Peer: p.Name, Seq: e.Seq, At: now, PayloadHash: e.PayloadSHA256, Items: items,
		Withdrawals: pl.Withdrawals, Terms: pl.Terms, Requests: reqs, Replies: replies, Entries: entries, Checkpoint: cp}); errors.Is(err, ErrVoided) {
		// The sender's status query voided it while it was being read.
		return nil, refuse(CodeSuperseded, err)
	} else if err != nil {
		return nil, refuse(CodeInternal, fmt.Errorf("store envelope %d from %s: %w", e.Seq, p.Name, err))
	}
	s.log().Info("federation: envelope accepted", "peer", p.Name, "seq", e.Seq, "items", len(items), "withdrawn", len(pl.Withdrawals),
		"messages", len(pl.Assistance), "reads", len(pl.Reads))
	return &Answer{Seq: e.Seq, ReceiverSignature: cp.ReceiverSignature, Items: len(items), Withdrawn: len(pl.Withdrawals), Messages: len(pl.Assistance)}, nil
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
			r.Events = append(r.Events, Event{At: now, Action: ActCreate, State: StateSent, By: p.Name, Note: m.Note}.withMsg(m))
			// Receipt is acknowledged at once, by protocol: the requester
			// knows its request arrived.
			r.State = StateAcknowledged
			ack := AssistMsg{RequestID: r.ID, Action: ActAcknowledge, At: now, Note: "received"}
			r.Events = append(r.Events, Event{At: now, Action: ActAcknowledge, State: StateAcknowledged, By: "self", Note: "received"}.withMsg(ack))
			replies = append(replies, ack)
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
			r.Events = append(r.Events, Event{At: now, Action: m.Action, State: next, By: p.Name, Note: m.Note}.withMsg(m))
		}
		if seen[r.ID] == nil {
			out = append(out, r)
		}
		seen[r.ID] = r
	}
	return out, replies, nil
}
