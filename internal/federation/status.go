package federation

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// StatusQuery asks a peer where the link stands on its side. The sizes
// are the asker's logs, so the peer can prove its own extend them (or
// that they extend its own).
type StatusQuery struct {
	Nonce   string `json:"nonce"`
	OutSize uint64 `json:"out_size"` // The asker's log of what it sent.
	InSize  uint64 `json:"in_size"`  // The asker's log of what it received.
	// Void, when set, is a sequence the asker sealed and will set aside
	// unless the peer holds it: the peer, if it has not accepted it,
	// refuses it (and every lower one it has not accepted) from then on,
	// before it answers — so a copy still on its way cannot land after the
	// asker has decided its items again under a later sequence.
	Void uint64 `json:"void,omitempty"`
	// History, when set, asks for the peer's digest of every checkpoint
	// it stored of each direction, up to the asker's last (OutUpTo: of
	// what the asker sent; InUpTo: of what it received), and for the
	// peer's own key history: custody compare then checks every
	// checkpoint and every key the asker's registry holds for the peer,
	// not only the latest checkpoint.
	History bool   `json:"history,omitempty"`
	OutUpTo uint64 `json:"out_up_to,omitempty"`
	InUpTo  uint64 `json:"in_up_to,omitempty"`
}

// CheckpointDigest sums up the checkpoints a node stored of one direction
// of a link, up to an envelope: how many, and a hash over each one's
// statement (both ends signed it: its keys, sequence, size, root and
// time), in sequence order.
type CheckpointDigest struct {
	UpTo   uint64 `json:"up_to"` // The last envelope counted.
	Count  int    `json:"count"`
	Digest string `json:"digest"`
}

// digestCheckpoints is the digest of the checkpoints up to envelope upTo
// (cps in sequence order, as the store lists them).
func digestCheckpoints(cps []Checkpoint, upTo uint64) CheckpointDigest {
	h := sha256.New()
	h.Write([]byte("accord-checkpoints/1\n"))
	d := CheckpointDigest{}
	for i := range cps {
		if cps[i].Seq > upTo {
			continue
		}
		sum := sha256.Sum256(cps[i].Statement())
		fmt.Fprintf(h, "%x\n", sum)
		d.Count++
		d.UpTo = max(d.UpTo, cps[i].Seq)
	}
	d.Digest = hex.EncodeToString(h.Sum(nil))
	return d
}

// KeyRecord is one of a node's own keys, as it tells a peer.
type KeyRecord struct {
	Key     string    `json:"key"`
	Added   time.Time `json:"added"`
	Retired time.Time `json:"retired,omitzero"`
}

// StatusReply is a peer's signed view of the link: the last envelopes
// each way and the latest checkpoints (countersigned by both ends), with
// RFC 6962 consistency proofs from the asker's log sizes when the peer's
// logs are longer.
type StatusReply struct {
	Query    string      `json:"query"`  // Hex SHA-256 of the query payload it answers.
	InSeq    uint64      `json:"in_seq"` // Last envelope the peer accepted from the asker.
	OutSeq   uint64      `json:"out_seq"`
	In       *Checkpoint `json:"in,omitempty"`  // The peer's latest checkpoint of what the asker sent.
	Out      *Checkpoint `json:"out,omitempty"` // The peer's latest checkpoint of what it sent the asker.
	InProof  []string    `json:"in_proof,omitempty"`
	OutProof []string    `json:"out_proof,omitempty"`
	// Asked for with StatusQuery.History: the digests of the peer's
	// checkpoints of what the asker sent (In) and of what it sent the
	// asker (Out), and the peer's own keys. Nil from a node that does not
	// know them (an older version).
	InHistory  *CheckpointDigest `json:"in_history,omitempty"`
	OutHistory *CheckpointDigest `json:"out_history,omitempty"`
	Keys       []KeyRecord       `json:"keys,omitempty"`
	// signer is the peer's key the answer was sealed with (not sent).
	signer string
}

func latest(cps []Checkpoint) *Checkpoint {
	if len(cps) == 0 {
		return nil
	}
	c := cps[len(cps)-1]
	return &c
}

// proofFrom proves that the first size leaves are a prefix of leaves[:to].
func proofFrom(es []LogEntry, size, to uint64) ([]string, error) {
	if size == 0 || size >= to || to > uint64(len(es)) {
		return nil, nil
	}
	leaves := make([][]byte, to)
	for i := range leaves {
		leaves[i] = es[i].Leaf
	}
	pr, err := ConsistencyProof(leaves, size)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(pr))
	for i, h := range pr {
		out[i] = hexs(h)
	}
	return out, nil
}

// answerStatus answers a verified status query.
func (s *Service) answerStatus(ctx context.Context, op *Opened) (json.RawMessage, error) {
	var q StatusQuery
	if err := json.Unmarshal(op.Payload, &q); err != nil || q.Nonce == "" {
		return nil, refuse(CodeMalformed, fmt.Errorf("%w: status query", ErrMalformed))
	}
	p := op.Peer
	// A query is single use, as an envelope's sequence is: the asker
	// makes a new one (a random nonce) each time, so a copy — replayed by
	// whoever saw it pass, within the ±Window its time allows — is
	// refused before any work. Answered, it read both logs and made their
	// proofs, and gave the copier a fresh signed view of the link.
	window := s.Window
	if window <= 0 {
		window = 10 * time.Minute
	}
	sum := sha256.Sum256(op.Payload)
	if !s.firstAdmission("status "+p.Name+" "+hex.EncodeToString(sum[:]), s.now(), 2*window) {
		return nil, refuse(CodeReplay, fmt.Errorf("%w: %s's status query %.16x… was answered already (a copy)", ErrReplay, p.Name, sum))
	}
	if q.Void > 0 {
		// Recorded before the link is read for the answer: an envelope
		// up to Void committed after this is refused (CommitReceived), one
		// committed before shows in the answer's InSeq.
		if err := s.Store.VoidInbound(ctx, p.Name, q.Void); err != nil {
			return nil, refuse(CodeInternal, err)
		}
	}
	link, err := s.Store.Link(ctx, p.Name)
	if err != nil {
		return nil, refuse(CodeInternal, err)
	}
	rep := StatusReply{Query: hex.EncodeToString(sum[:]), InSeq: link.InSeq, OutSeq: link.OutSeq}
	for _, side := range []struct {
		dir     Direction
		cp      **Checkpoint
		proof   *[]string
		size    uint64
		history **CheckpointDigest
		upTo    uint64
	}{{In, &rep.In, &rep.InProof, q.OutSize, &rep.InHistory, q.OutUpTo}, {Out, &rep.Out, &rep.OutProof, q.InSize, &rep.OutHistory, q.InUpTo}} {
		cps, err := s.Store.Checkpoints(ctx, p.Name, side.dir)
		if err != nil {
			return nil, refuse(CodeInternal, err)
		}
		if q.History {
			d := digestCheckpoints(cps, side.upTo)
			*side.history = &d
		}
		*side.cp = latest(cps)
		if *side.cp == nil {
			continue
		}
		es, err := s.Store.Log(ctx, p.Name, side.dir)
		if err != nil {
			return nil, refuse(CodeInternal, err)
		}
		if *side.proof, err = proofFrom(es, side.size, (*side.cp).Size); err != nil {
			return nil, refuse(CodeInternal, err)
		}
	}
	if q.History {
		own, err := s.Store.OwnKeys(ctx)
		if err != nil {
			return nil, refuse(CodeInternal, err)
		}
		for _, k := range own {
			rep.Keys = append(rep.Keys, KeyRecord{Key: k.Key, Added: k.Added.UTC(), Retired: k.Retired.UTC()})
		}
	}
	body, err := json.Marshal(rep)
	if err != nil {
		return nil, refuse(CodeInternal, err)
	}
	sealed, err := Seal(s.Key, Envelope{Type: TypeStatusAnswer, To: op.Envelope.From, Time: s.now()}, body)
	if err != nil {
		return nil, refuse(CodeInternal, err)
	}
	return sealed, nil
}

// askStatus asks a peer for its signed view of the link and checks the
// answer: sealed by the peer for this node, fresh, for this query. void,
// when not 0, asks the peer to refuse from now on the envelopes up to it
// that it has not accepted (StatusQuery.Void); history asks for the
// digests of its checkpoints and its key history (StatusQuery.History).
func (s *Service) askStatus(ctx context.Context, p *Peer, void uint64, history bool) (*StatusReply, error) {
	to, ok := p.ActiveKey()
	if !ok {
		return nil, fmt.Errorf("peer %s has no active key", p.Name)
	}
	return s.askStatusTo(ctx, p, to, void, history)
}

// askStatusTo is askStatus with the query sealed for the peer's key to.
func (s *Service) askStatusTo(ctx context.Context, p *Peer, to string, void uint64, history bool) (*StatusReply, error) {
	if s.Transport == nil {
		return nil, ErrNoTransport
	}
	if p.URL == "" {
		return nil, fmt.Errorf("peer %s has no URL (accord peer set-url)", p.Name)
	}
	out, err := s.Store.Log(ctx, p.Name, Out)
	if err != nil {
		return nil, err
	}
	in, err := s.Store.Log(ctx, p.Name, In)
	if err != nil {
		return nil, err
	}
	var nonce [16]byte
	rand.Read(nonce[:])
	sq := StatusQuery{Nonce: hex.EncodeToString(nonce[:]), OutSize: uint64(len(out)), InSize: uint64(len(in)), Void: void}
	if history {
		sq.History = true
		for _, x := range []struct {
			dir  Direction
			upTo *uint64
		}{{Out, &sq.OutUpTo}, {In, &sq.InUpTo}} {
			cps, err := s.Store.Checkpoints(ctx, p.Name, x.dir)
			if err != nil {
				return nil, err
			}
			if l := latest(cps); l != nil {
				*x.upTo = l.Seq
			}
		}
	}
	q, _ := json.Marshal(sq)
	sealed, err := Seal(s.Key, Envelope{Type: TypeStatus, To: to, Time: s.now()}, q)
	if err != nil {
		return nil, err
	}
	body, err := s.Transport.Post(ctx, p.URL, sealed, s.admission(to, sealed))
	if err != nil {
		var re *RemoteError
		if errors.As(err, &re) {
			re.Peer = p.Name
		}
		return nil, fmt.Errorf("ask %s for its view of the link: %w", p.Name, err)
	}
	op, err := s.verifier(ctx).Open(body)
	if err != nil {
		return nil, fmt.Errorf("the status answer of %s does not verify: %w", p.Name, err)
	}
	if op.Peer.Name != p.Name || op.Envelope.Type != TypeStatusAnswer {
		return nil, fmt.Errorf("the status answer of %s is not its own", p.Name)
	}
	var rep StatusReply
	if err := json.Unmarshal(op.Payload, &rep); err != nil {
		return nil, fmt.Errorf("the status answer of %s is unreadable: %w", p.Name, err)
	}
	sum := sha256.Sum256(q)
	if rep.Query != hex.EncodeToString(sum[:]) {
		return nil, errors.New("the status answer is for another query")
	}
	rep.signer = op.Envelope.From
	return &rep, nil
}

// Comparison is what `accord custody compare` found: each direction of a
// link as this node logs it against the peer's latest countersigned
// checkpoint of it.
type Comparison struct {
	Peer     string
	Sent     Side // This node's log of what it sent vs the peer's log of what it received.
	Received Side // This node's log of what it received vs the peer's of what it sent.
	Problems []string
	Notes    []string
	// AnsweredBy is the peer's key that sealed its answer: what the
	// comparison rests on. Its fingerprint can be checked with the peer's
	// operator (accord node fingerprint on its side).
	AnsweredBy string
	// History: every checkpoint and every key of the peer's here was
	// compared with the peer's (false with a peer too old to say).
	History bool
}

// Side of a link in a comparison.
type Side struct {
	LocalSize  uint64
	LocalRoot  string
	Remote     *Checkpoint // The peer's latest checkpoint, signed by both ends.
	Consistent bool        // The shorter log is a prefix of the longer (RFC 6962 consistency).
}

// CompareCustody asks the peer for its latest countersigned checkpoints of
// the link and checks them against this node's logs with RFC 6962
// consistency proofs: a log truncated on either side, or that diverged,
// is found even when it still verifies on its own. It asks too for a
// digest of every checkpoint the peer stored and for the peer's own key
// history: a checkpoint replaced at rest (re-signed under a key added to
// this node's registry, with another time), or a key the peer never had,
// is found — what custody verify's time checks rest on is confirmed by
// the peer.
func (s *Service) CompareCustody(ctx context.Context, peer string) (Comparison, error) {
	c := Comparison{Peer: peer}
	unlock := s.lock(peer)
	defer unlock()
	p, err := s.Store.Peer(ctx, peer)
	if err != nil {
		return c, err
	}
	// The query is sealed for the peer's active key; a registry holding
	// more than one (a key row added at rest) gets the query sealed for
	// each in turn until the peer answers, and the problem said.
	var active []string
	for _, k := range p.Keys {
		if k.Status == KeyActive {
			active = append(active, k.Key)
		}
	}
	if len(active) == 0 {
		return c, fmt.Errorf("peer %s has no active key", p.Name)
	}
	var rep *StatusReply
	var answered string
	for _, to := range active {
		if rep, err = s.askStatusTo(ctx, p, to, 0, true); err == nil {
			answered = to
			break
		}
	}
	if err != nil {
		return c, err
	}
	c.AnsweredBy = rep.signer
	if len(active) > 1 {
		c.Problems = append(c.Problems, fmt.Sprintf("%s has %d active keys in this node's registry (a key is made active only by retiring the one before it); it answered the query sealed for %s",
			peer, len(active), short(answered)))
	}
	link, err := s.Store.Link(ctx, peer)
	if err != nil {
		return c, err
	}
	own, err := s.Store.OwnKeys(ctx)
	if err != nil {
		return c, err
	}
	mine := map[string]bool{}
	for _, k := range own {
		mine[k.Key] = true
	}
	theirs := map[string]bool{}
	for _, k := range p.Keys {
		theirs[k.Key] = true
	}
	// Envelopes set aside without the peer's word: one the peer holds is
	// not a loss on this side — the next sync records it.
	aside, err := s.Store.Abandoned(ctx, peer)
	if err != nil {
		return c, err
	}
	setAside := func(cp *Checkpoint) *Pending {
		for i, a := range aside {
			w := a.Delivery.Checkpoint
			if cp != nil && cp.Seq == a.Seq && string(cp.Statement()) == string(w.Statement()) && cp.SenderSignature == w.SenderSignature {
				return &aside[i]
			}
		}
		return nil
	}
	for _, side := range []struct {
		name         string
		dir          Direction
		out          *Side
		remote       *Checkpoint
		proof        []string
		sender, recv map[string]bool
		localSeq     uint64
		remoteSeq    uint64
	}{
		{"sent", Out, &c.Sent, rep.In, rep.InProof, mine, theirs, link.OutSeq, rep.InSeq},
		{"received", In, &c.Received, rep.Out, rep.OutProof, theirs, mine, link.InSeq, rep.OutSeq},
	} {
		es, err := s.Store.Log(ctx, peer, side.dir)
		if err != nil {
			return c, err
		}
		cps, err := s.Store.Checkpoints(ctx, peer, side.dir)
		if err != nil {
			return c, err
		}
		leaves := make([][]byte, len(es))
		for i, e := range es {
			leaves[i] = e.Leaf
		}
		a := uint64(len(leaves))
		ra := Root(leaves)
		side.out.LocalSize, side.out.LocalRoot, side.out.Remote = a, hexs(ra), side.remote
		problem := func(format string, args ...any) {
			c.Problems = append(c.Problems, side.name+": "+fmt.Sprintf(format, args...))
		}
		if a := setAside(side.remote); side.dir == Out && side.localSeq < side.remoteSeq && a != nil {
			// The peer's log is this node's with the envelope set aside.
			ext := append([][]byte(nil), leaves...)
			for _, e := range a.Delivery.Entries {
				ext = append(ext, e.Leaf)
			}
			if hexs(Root(ext)) == side.remote.Root && uint64(len(ext)) == side.remote.Size {
				c.Notes = append(c.Notes, fmt.Sprintf("sent: the peer holds envelope %d, which this node set aside without its word (peer pending --drop --force); the next sync records it as delivered",
					side.remoteSeq))
				side.out.Consistent = true
				continue
			}
		}
		if side.localSeq < side.remoteSeq {
			problem("this node's record ends at envelope %d, the peer's at envelope %d: this node lost the last %s", side.localSeq, side.remoteSeq, plural(int(side.remoteSeq-side.localSeq), "envelope"))
		}
		rc := side.remote
		if rc == nil {
			if a > 0 {
				problem("this node logs %d entries, the peer holds no checkpoint of them", a)
			} else {
				side.out.Consistent = true
			}
			continue
		}
		if err := rc.VerifySignatures(); err != nil || rc.ReceiverSignature == "" {
			problem("the peer's checkpoint %d is not signed by both ends: %v", rc.Seq, err)
			continue
		}
		if !side.sender[rc.From] || !side.recv[rc.To] {
			problem("the peer's checkpoint %d is signed by keys that are not this link's", rc.Seq)
			continue
		}
		b := rc.Size
		rb, err := hex.DecodeString(rc.Root)
		if err != nil {
			problem("the peer's checkpoint %d has an unreadable root", rc.Seq)
			continue
		}
		switch {
		case a == b:
			if hexs(ra) != rc.Root {
				problem("both logs hold %d entries but their roots differ: the logs diverged", a)
			} else {
				side.out.Consistent = true
			}
		case a < b:
			proof := make([][]byte, len(side.proof))
			for i, h := range side.proof {
				proof[i], _ = hex.DecodeString(h)
			}
			if a > 0 && VerifyConsistency(a, b, proof, ra, rb) != nil {
				problem("this node's log (%d entries) is not a prefix of the peer's checkpoint %d (%d entries): the logs diverged", a, rc.Seq, b)
				continue
			}
			side.out.Consistent = true
			problem("this node's log holds %d entries but the checkpoint of envelope %d, signed by both ends, covers %d: its last %d entries were deleted (truncated tail)",
				a, rc.Seq, b, b-a)
		default:
			if hexs(Root(leaves[:b])) != rc.Root {
				problem("the peer's checkpoint %d (%d entries) is not a prefix of this node's log (%d entries): the logs diverged", rc.Seq, b, a)
				continue
			}
			side.out.Consistent = true
			var later *Checkpoint
			for i := range cps {
				if cps[i].Size > b && cps[i].ReceiverSignature != "" {
					later = &cps[i]
				}
			}
			if later != nil {
				problem("the peer's latest checkpoint covers %d entries, but it countersigned checkpoint %d of %d entries: the peer's log lost its last %d entries (truncated tail)",
					b, later.Seq, later.Size, later.Size-b)
			} else {
				c.Notes = append(c.Notes, fmt.Sprintf("%s: the peer has not yet countersigned the last %d entries", side.name, a-b))
			}
		}
	}
	// Every checkpoint, not only the latest, and every key this node's
	// registry holds for the peer, against the peer's own word: the
	// registry is a table anyone with the database can add a key to, and
	// this node's own key, which countersigns, is on the same disk — a
	// checkpoint re-signed under an added key, with a later time, would
	// otherwise verify here and move every retention counted from it.
	if rep.InHistory == nil || rep.OutHistory == nil || len(rep.Keys) == 0 {
		c.Notes = append(c.Notes, fmt.Sprintf("%s's answer holds no digest of its checkpoints and no key history (an older version of Accord): only the latest checkpoints were compared", peer))
		return c, nil
	}
	c.History = true
	for _, x := range []struct {
		name   string
		dir    Direction
		remote *CheckpointDigest
	}{{"sent", Out, rep.InHistory}, {"received", In, rep.OutHistory}} {
		cps, err := s.Store.Checkpoints(ctx, peer, x.dir)
		if err != nil {
			return c, err
		}
		if local := digestCheckpoints(cps, x.remote.UpTo); local.Count != x.remote.Count || local.Digest != x.remote.Digest {
			c.Problems = append(c.Problems, fmt.Sprintf("%s: the %d checkpoints this node stored of envelopes 1 to %d are not the %d the peer stored: one was replaced, added or deleted at rest (its signed time or keys changed)",
				x.name, local.Count, x.remote.UpTo, x.remote.Count))
		}
	}
	told := map[string]bool{}
	for _, k := range rep.Keys {
		told[k.Key] = true
	}
	for _, k := range p.Keys {
		if told[k.Key] {
			continue
		}
		var signed []string
		for _, dir := range []Direction{In, Out} {
			cps, err := s.Store.Checkpoints(ctx, peer, dir)
			if err != nil {
				return c, err
			}
			for _, cp := range cps {
				if dir == In && cp.From == k.Key || dir == Out && cp.To == k.Key {
					signed = append(signed, fmt.Sprintf("%s %d", dir, cp.Seq))
				}
			}
		}
		c.Problems = append(c.Problems, fmt.Sprintf("%s's key %s (%s in this node's registry, added %s) is not one of the keys %s says it has had (it lists %d): it was added at rest; checkpoints signed with it: %s",
			peer, short(k.Key), k.Status, k.Added.UTC().Format(time.RFC3339), peer, len(rep.Keys), orNone(strings.Join(signed, ", "))))
	}
	return c, nil
}
