package federation

import (
	"bytes"
	"context"
	"fmt"
)

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
