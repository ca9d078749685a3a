package federation

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// CustodyReport is the state of one link's logs on this node.
type CustodyReport struct {
	Peer     string
	Out, In  LogState
	Items    int      // Received items checked against their logged hashes.
	Steps    int      // Assistance request steps checked against their logged messages.
	Problems []string // Anything that does not verify.
	Notes    []string // What verifies but deserves saying (signatures by keys since retired or revoked).
}

// LogState is one direction of a link.
type LogState struct {
	Size       uint64
	Root       string
	Checkpoint *Checkpoint // The latest, countersigned.
}

// keyLife is when a key could sign for its owner.
type keyLife struct {
	owner       string // "this node" or the peer's name.
	from, until time.Time
	retired     time.Time
	revoked     time.Time
}

func orNever(t time.Time) string {
	if t.IsZero() {
		return "without expiry"
	}
	return "until " + t.UTC().Format(time.RFC3339)
}

func short(key string) string {
	if pub, err := ParsePublicKey(key); err == nil {
		f := Fingerprint(pub)
		return f[:min(len(f), len("SHA256:")+16)] // Enough to tell keys apart on a line; keys show prints it whole.
	}
	return key
}

// VerifyCustody checks everything this node holds about a link: both
// logs recomputed, every leaf against what it records, every checkpoint's
// two signatures, each by a key of the right end that was valid when the
// checkpoint was stored (a key retired or revoked later still vouches for
// what it signed before — said plainly), each checkpoint's root against
// the log's at its size, the latest covering the whole log (reads waiting
// for the next envelope aside); and every received item still held
// against the hash its log entry recorded (body, markings, campaign,
// updated time, terms) and against the key and kind the store files it
// under, so an item changed after it arrived is found; and every item
// the log says arrived is held, purged or withdrawn by a logged
// withdrawal; a withdrawn item is kept at most the days the terms logged
// with its withdrawal allow, and a purge mark comes no earlier than the
// retention or a withdrawal let the item go — both counted from the
// checkpoint times both nodes signed, not from columns anyone with the
// database can move; and every mutual assistance request with the peer,
// step by step, against the messages the logs hold the hashes of
// (verifyAssistance). A log truncated consistently on this side alone is
// found by CompareCustody, with the peer's countersigned checkpoints.
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
	mine := map[string]keyLife{}
	for _, k := range own {
		mine[k.Key] = keyLife{owner: "this node", from: k.Added, until: k.Retired, retired: k.Retired}
	}
	theirs := map[string]keyLife{}
	var active []string
	for _, k := range p.Keys {
		theirs[k.Key] = keyLife{owner: peer, from: k.Added, until: k.ValidUntil(), retired: k.RetiredAt, revoked: k.RevokedAt}
		if k.Status == KeyActive {
			active = append(active, short(k.Key))
		}
	}
	if len(active) > 1 {
		// Rotating a peer's key retires the one before it: two active
		// keys is a key row added at rest.
		rep.Problems = append(rep.Problems, fmt.Sprintf("%s has %d active keys in this node's registry (%s): a key is made active only by retiring the one before it (a key row added at rest?)",
			peer, len(active), strings.Join(active, ", ")))
	}
	window := s.Window
	if window <= 0 {
		window = 10 * time.Minute
	}
	// signer judges one signature of a checkpoint stored at "at".
	signer := func(dir Direction, cp Checkpoint, role string, keys map[string]keyLife, key string, at time.Time) {
		k, ok := keys[key]
		if !ok {
			rep.Problems = append(rep.Problems, fmt.Sprintf("%s checkpoint %d: the %s's signature is by key %s, which is not %s's", dir, cp.Seq, role, short(key),
				map[bool]string{true: "this node", false: peer}[role == "sender" && dir == Out || role == "receiver" && dir == In]))
			return
		}
		if at.Before(k.from.Add(-window)) {
			rep.Problems = append(rep.Problems, fmt.Sprintf("%s checkpoint %d: signed by %s's key %s before that key was recorded (%s)", dir, cp.Seq, k.owner, short(key),
				k.from.UTC().Format(time.RFC3339)))
			return
		}
		if !k.until.IsZero() && at.After(k.until) {
			what := "retirement"
			if !k.revoked.IsZero() && k.until.Equal(k.revoked) {
				what = "revocation"
			}
			rep.Problems = append(rep.Problems, fmt.Sprintf("%s checkpoint %d: signed by %s's key %s at %s, after its %s at %s: not valid", dir, cp.Seq, k.owner,
				short(key), at.UTC().Format(time.RFC3339), what, k.until.UTC().Format(time.RFC3339)))
			return
		}
		switch {
		case !k.revoked.IsZero():
			rep.Notes = append(rep.Notes, fmt.Sprintf("%s checkpoint %d: signed by %s's key %s at %s, before its revocation at %s: valid", dir, cp.Seq, k.owner,
				short(key), at.UTC().Format(time.RFC3339), k.revoked.UTC().Format(time.RFC3339)))
		case !k.retired.IsZero():
			rep.Notes = append(rep.Notes, fmt.Sprintf("%s checkpoint %d: signed by %s's key %s, retired since %s: valid when signed", dir, cp.Seq, k.owner,
				short(key), k.retired.UTC().Format(time.RFC3339)))
		}
	}
	logged := map[string]bool{}
	withdrawnAt := map[string]uint64{}   // Key → the latest envelope that withdrew it.
	arrived := map[string]uint64{}       // Key → the latest envelope that brought it.
	signedAt := map[uint64]time.Time{}   // Incoming envelope → its checkpoint's signed time.
	inSeqs := map[uint64]bool{}          // Incoming envelopes the log holds entries of.
	withdrawals := map[string][]uint64{} // Key → every envelope that withdrew it.
	keepAt := map[uint64]int{}           // Incoming envelope with withdrawals → its logged keep_withdrawn_days.
	logs := map[Direction][]LogEntry{}
	var inCps []Checkpoint
	for _, dir := range []Direction{Out, In} {
		es, err := s.Store.Log(ctx, peer, dir)
		if err != nil {
			return rep, err
		}
		logs[dir] = es
		cps, err := s.Store.Checkpoints(ctx, peer, dir)
		if err != nil {
			return rep, err
		}
		leaves := make([][]byte, len(es))
		for i, e := range es {
			if uint64(i) != e.Index {
				rep.Problems = append(rep.Problems, fmt.Sprintf("%s log: entry %d is at position %d (entries missing)", dir, e.Index, i))
			}
			if !bytes.Equal(e.Leaf, TransferLeaf(e.Seq, e.What, e.Key, e.Hash)) {
				rep.Problems = append(rep.Problems, fmt.Sprintf("%s log: entry %d does not match its leaf hash", dir, e.Index))
			}
			if dir == In {
				inSeqs[e.Seq] = true
			}
			if dir == In && e.What == "item" {
				logged[fmt.Sprintf("%s\x00%s\x00%d", e.Key, e.Hash, e.Seq)] = true
				arrived[e.Key] = max(arrived[e.Key], e.Seq)
			}
			if dir == In && e.What == "withdraw" {
				withdrawnAt[e.Key] = max(withdrawnAt[e.Key], e.Seq)
				withdrawals[e.Key] = append(withdrawals[e.Key], e.Seq)
			}
			if dir == In && e.What == "terms" {
				var t Terms
				if err := json.Unmarshal([]byte(e.Key), &t); err != nil || e.Hash != HashBody([]byte(e.Key)) {
					rep.Problems = append(rep.Problems, fmt.Sprintf("%s log: entry %d does not hold the terms of envelope %d", dir, e.Index, e.Seq))
				} else {
					keepAt[e.Seq] = t.KeepWithdrawnDays
				}
			}
			leaves[i] = e.Leaf
		}
		st := LogState{Size: uint64(len(leaves)), Root: hexs(Root(leaves))}
		sender, receiver := mine, theirs
		if dir == In {
			sender, receiver = theirs, mine
		}
		if dir == In {
			inCps = cps
		}
		for i := range cps {
			cp := cps[i]
			if dir == In {
				signedAt[cp.Seq] = cp.Time
			}
			at := cp.Recorded
			if at.IsZero() {
				at = cp.Time
			}
			signer(dir, cp, "sender", sender, cp.From, at)
			if cp.ReceiverSignature == "" {
				rep.Problems = append(rep.Problems, fmt.Sprintf("%s checkpoint %d: not countersigned", dir, cp.Seq))
			} else {
				signer(dir, cp, "receiver", receiver, cp.To, at)
			}
			if err := cp.VerifySignatures(); err != nil {
				rep.Problems = append(rep.Problems, fmt.Sprintf("%s %v", dir, err))
			}
			if cp.Size > uint64(len(leaves)) || cp.Root != hexs(Root(leaves[:cp.Size])) {
				rep.Problems = append(rep.Problems, fmt.Sprintf("%s checkpoint %d: its root is not the log's at size %d", dir, cp.Seq, cp.Size))
			}
			c := cp
			st.Checkpoint = &c
		}
		switch {
		case st.Checkpoint != nil && st.Size < st.Checkpoint.Size:
			// Sizes are unsigned: "after" would print 2^64 less the gap.
			rep.Problems = append(rep.Problems, fmt.Sprintf("%s log: %d entries, %d fewer than its last checkpoint (size %d) signed (entries deleted)",
				dir, st.Size, st.Checkpoint.Size-st.Size, st.Checkpoint.Size))
		case st.Checkpoint != nil && st.Checkpoint.Size != st.Size:
			rep.Problems = append(rep.Problems, fmt.Sprintf("%s log: %d entries after the last checkpoint (size %d)", dir, st.Size-st.Checkpoint.Size, st.Checkpoint.Size))
		}
		if st.Checkpoint == nil && st.Size > 0 {
			rep.Problems = append(rep.Problems, fmt.Sprintf("%s log: %d entries and no checkpoint", dir, st.Size))
		}
		if dir == Out {
			rep.Out = st
		} else {
			rep.In = st
		}
	}
	// Every incoming envelope the log holds entries of keeps its checkpoint:
	// the time checks below take the signed time from it, and only the last
	// one must cover the log, so deleting the others would otherwise leave
	// those checks nothing to go on (and a retention, a withdrawal's keep
	// or a purge could be moved unnoticed).
	missing := []uint64{}
	for seq := range inSeqs {
		if _, ok := signedAt[seq]; !ok {
			missing = append(missing, seq)
		}
	}
	slices.Sort(missing)
	for _, seq := range missing {
		rep.Problems = append(rep.Problems, fmt.Sprintf("in log: envelope %d has logged entries but no stored checkpoint (checkpoint deleted): its items' times cannot be checked", seq))
	}
	// The link's sequences, which the replay check and the next
	// envelope's number rest on, are those of the last checkpoints.
	if l, err := s.Store.Link(ctx, peer); err == nil {
		for _, x := range []struct {
			dir  Direction
			seq  uint64
			last *Checkpoint
		}{{Out, l.OutSeq, rep.Out.Checkpoint}, {In, l.InSeq, rep.In.Checkpoint}} {
			var want uint64
			if x.last != nil {
				want = x.last.Seq
			}
			if x.seq != want {
				rep.Problems = append(rep.Problems, fmt.Sprintf("%s: the link's last envelope is %d, but its last checkpoint is of envelope %d (the sequence was changed)", x.dir, x.seq, want))
			}
		}
	} else if !errors.Is(err, ErrNotFound) {
		return rep, err
	}
	// The assistance requests and their steps against the messages logged.
	if err := s.verifyAssistance(ctx, p, logs, &rep); err != nil {
		return rep, err
	}
	// Every received item against the hash its log entry recorded.
	items, err := s.Store.Received(ctx, ReceivedFilter{Peer: peer})
	if err != nil {
		return rep, err
	}
	// Walk the log as well as the table: every item the log says arrived
	// is held, withdrawn or purged (a tombstone) here, and a withdrawal
	// mark needs a logged withdrawal.
	here := map[string]bool{}
	for _, it := range items {
		here[it.Item.Key] = true
	}
	for k, seq := range arrived {
		if !here[k] {
			rep.Problems = append(rep.Problems, fmt.Sprintf("received item %s: envelope %d brought it, yet it is neither held, withdrawn nor purged here (deleted, or its key or peer changed)", k, seq))
		}
	}
	var pubs []ed25519.PublicKey
	var pubKeys []string
	for _, k := range p.Keys {
		if pub, err := ParsePublicKey(k.Key); err == nil {
			pubs = append(pubs, pub)
			pubKeys = append(pubKeys, k.Key)
		}
	}
	// The keys that signed the packages of each incoming envelope's
	// items still held here, by envelope.
	packedBy := map[uint64]map[string]bool{}
	v1, unbound, unproved := 0, 0, 0
	slack := receiptSlack(s.Window)
	now := s.now()
	for _, it := range items {
		rep.Items++
		// The proof of origin the node shows (received --json, the web
		// page): the package's signature by one of the peer's keys, and
		// the item's place in it.
		if it.Proof == nil {
			unproved++
		} else {
			var err error
			for i, pub := range pubs {
				if err = it.VerifyOrigin(pub); err == nil {
					if packedBy[it.Seq] == nil {
						packedBy[it.Seq] = map[string]bool{}
					}
					packedBy[it.Seq][pubKeys[i]] = true
					break
				}
			}
			if err != nil || len(pubs) == 0 {
				rep.Problems = append(rep.Problems, fmt.Sprintf("received item %s: its proof of origin (package, root, signing time, signature, inclusion proof) does not verify under %s's keys: %v",
					it.Item.Key, peer, err))
			}
		}
		if it.FiledKey != it.Item.Key || it.FiledKind != it.Item.Kind {
			rep.Problems = append(rep.Problems, fmt.Sprintf("received item %s (%s): filed as %s (%s) — its key or kind was changed at rest, and it is found and withdrawn by the wrong ones",
				it.Item.Key, it.Item.Kind, it.FiledKey, it.FiledKind))
		}
		if a := arrived[it.Item.Key]; a > it.Seq {
			// Every logged arrival replaces the row: one held at an
			// earlier envelope was put back at rest (a superseded version,
			// whose hash the log also holds).
			rep.Problems = append(rep.Problems, fmt.Sprintf("received item %s: held as envelope %d brought it, but envelope %d brought a later version", it.Item.Key, it.Seq, a))
		}
		if !it.Withdrawn.IsZero() && withdrawnAt[it.Item.Key] <= it.Seq {
			rep.Problems = append(rep.Problems, fmt.Sprintf("received item %s: shown as withdrawn, but no logged withdrawal followed envelope %d that brought it", it.Item.Key, it.Seq))
		}
		if !logged[fmt.Sprintf("%s\x00%s\x00%d", it.Item.Key, it.Item.Marked(&it.Terms), it.Seq)] {
			if !logged[fmt.Sprintf("%s\x00%s\x00%d", it.Item.Key, it.Item.MarkedV1(&it.Terms), it.Seq)] {
				rep.Problems = append(rep.Problems, fmt.Sprintf("received item %s: its hash %.16s…, markings (kind, TLP, origins, personal data), campaign %q, updated time %s or terms are not those logged when envelope %d brought it",
					it.Item.Key, it.Item.Hash, it.Item.Campaign, it.Item.Updated.UTC().Format(time.RFC3339), it.Seq))
				continue
			}
			v1++
		}
		if w := withdrawnAt[it.Item.Key]; w > it.Seq && it.Withdrawn.IsZero() && it.Purged.IsZero() {
			rep.Problems = append(rep.Problems, fmt.Sprintf("received item %s: withdrawn by envelope %d, yet held as standing", it.Item.Key, w))
		}
		// The first logged withdrawal after the envelope that brought it
		// is the one that set its time (a later one finds it withdrawn).
		var wseq uint64
		for _, w := range withdrawals[it.Item.Key] {
			if w > it.Seq && (wseq == 0 || w < wseq) {
				wseq = w
			}
		}
		keep, keepLogged := keepAt[wseq]
		wsigned, wok := signedAt[wseq]
		if wseq > 0 && !keepLogged {
			unbound++
		}
		if wseq > 0 && keepLogged && wok && it.Purged.IsZero() {
			// Kept after the withdrawal at most what its terms said, from
			// the withdrawal envelope's signed time — not from the
			// withdrawal or receipt columns, which anyone with the
			// database can move.
			limit := wsigned.Add(slack).AddDate(0, 0, keep)
			if it.ExpiresAt.IsZero() || it.ExpiresAt.After(limit.Add(time.Second)) {
				rep.Problems = append(rep.Problems, fmt.Sprintf("received item %s: kept %s, past the %d days its terms allow after its withdrawal by envelope %d (%s)",
					it.Item.Key, orNever(it.ExpiresAt), keep, wseq, limit.UTC().Format(time.RFC3339)))
			}
		}
		if !it.Purged.IsZero() {
			// A purge mark is only what the retention or a withdrawal let
			// go, at or after the earliest time they allowed (counted
			// from signed times, less the clock difference) and not in the
			// future: else it is a deletion passed off as a purge.
			var earliest time.Time
			due := false
			if d := it.Terms.RetentionDays; d > 0 {
				due = true
				if t, ok := signedAt[it.Seq]; ok {
					earliest = t.Add(-slack).AddDate(0, 0, d)
				}
			}
			if wseq > 0 {
				due = true
				if wok {
					e := wsigned.Add(-slack)
					if keepLogged {
						e = e.AddDate(0, 0, keep)
					}
					if earliest.IsZero() || e.Before(earliest) {
						earliest = e
					}
				}
			}
			switch {
			case !due:
				rep.Problems = append(rep.Problems, fmt.Sprintf("received item %s: marked purged at %s, though it has no retention limit and no logged withdrawal: deleted, not purged",
					it.Item.Key, it.Purged.UTC().Format(time.RFC3339)))
			case !earliest.IsZero() && it.Purged.Before(earliest.Add(-time.Second)):
				rep.Problems = append(rep.Problems, fmt.Sprintf("received item %s: marked purged at %s, before its terms let it go (%s at the earliest): deleted early, not purged",
					it.Item.Key, it.Purged.UTC().Format(time.RFC3339), earliest.UTC().Format(time.RFC3339)))
			case it.Purged.After(now.Add(slack)):
				rep.Problems = append(rep.Problems, fmt.Sprintf("received item %s: marked purged at %s, a time still to come", it.Item.Key, it.Purged.UTC().Format(time.RFC3339)))
			}
		}
		if d := it.Terms.RetentionDays; d > 0 && it.Purged.IsZero() {
			// The receipt time is a column anyone with the database can
			// move (with the expiry, to keep an item longer); the
			// envelope's checkpoint time is signed by both nodes, and the
			// receipt came within the accepted clock difference of it.
			limit := it.ReceivedAt.AddDate(0, 0, d)
			if t, ok := signedAt[it.Seq]; ok {
				if bound := t.Add(receiptSlack(s.Window)).AddDate(0, 0, d); bound.Before(limit) {
					limit = bound
				}
			}
			if it.ExpiresAt.IsZero() || it.ExpiresAt.After(limit.Add(time.Second)) {
				rep.Problems = append(rep.Problems, fmt.Sprintf("received item %s: kept %s, past the %d days its terms allow (%s)", it.Item.Key,
					orNever(it.ExpiresAt), d, limit.UTC().Format(time.RFC3339)))
			}
		}
		if it.Status() == "purged" && len(it.Item.Body) > 0 {
			rep.Problems = append(rep.Problems, fmt.Sprintf("received item %s: purged, yet it has content again", it.Item.Key))
			continue
		}
		if it.Status() != "purged" && HashBody(it.Item.Body) != it.Item.Hash {
			rep.Problems = append(rep.Problems, fmt.Sprintf("received item %s: its content no longer matches the hash logged when it arrived (changed since)", it.Item.Key))
		}
	}
	// A node signs an envelope's packages and its checkpoint with one
	// key, at once: a checkpoint signed by another key than the packages
	// of the items it brought was re-signed at rest (under a key added to
	// the registry, to move its signed time).
	for _, cp := range inCps {
		if by := packedBy[cp.Seq]; len(by) > 0 && !by[cp.From] {
			var ks []string
			for k := range by {
				ks = append(ks, short(k))
			}
			slices.Sort(ks)
			rep.Problems = append(rep.Problems, fmt.Sprintf("in checkpoint %d: signed as %s's by key %s, but the items envelope %d brought were signed by %s's key %s: the checkpoint was re-signed at rest",
				cp.Seq, peer, short(cp.From), cp.Seq, peer, strings.Join(ks, ", ")))
		}
	}
	if unproved > 0 {
		rep.Notes = append(rep.Notes, fmt.Sprintf("%d received items were stored before their inclusion proofs were kept: their package signature is not checked", unproved))
	}
	if unbound > 0 {
		rep.Notes = append(rep.Notes, fmt.Sprintf("%d received items were withdrawn by envelopes logged before their terms were: the time they are kept after the withdrawal is not checked", unbound))
	}
	if v1 > 0 {
		rep.Notes = append(rep.Notes, fmt.Sprintf("%d received items were logged before an item's campaign and updated time were in its hash: they are checked without them", v1))
	}
	return rep, nil
}

// receiptSlack is how long after an envelope's signed time it can have
// been received: the accepted clock difference (10 minutes by default),
// and a minute more.
func receiptSlack(window time.Duration) time.Duration {
	return max(window, 10*time.Minute) + time.Minute
}
