package federation

import (
	"crypto"
	_ "crypto/sha256" // the hash of the Merkle trees
	"encoding/hex"
	"fmt"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
)

// The Merkle trees (RFC 6962) of Accord: the per-link custody logs and the
// packages whose per-item hashes a node signs, so a subset filtered by an
// agreement still verifies.
var hasher = rfc6962.New(crypto.SHA256)

// LeafHash hashes a leaf's data.
func LeafHash(data []byte) []byte { return hasher.HashLeaf(data) }

// Root is the Merkle tree hash of the leaf hashes.
func Root(leaves [][]byte) []byte { return NewTree(leaves).Root() }

// Tree computes roots and proofs over fixed leaves, remembering the hash
// of every subtree it has computed, so proofs for many leaves cost
// O(n) in all instead of O(n) each.
type Tree struct {
	leaves [][]byte
	memo   map[[2]uint64][]byte
}

// NewTree holds the leaf hashes.
func NewTree(leaves [][]byte) *Tree { return &Tree{leaves: leaves, memo: map[[2]uint64][]byte{}} }

// Root is the tree's hash.
func (t *Tree) Root() []byte {
	if len(t.leaves) == 0 {
		return hasher.EmptyRoot()
	}
	return t.subtree(0, uint64(len(t.leaves)))
}

// subtree is the RFC 6962 MTH of leaves[begin:end].
func (t *Tree) subtree(begin, end uint64) []byte {
	if end-begin == 1 {
		return t.leaves[begin]
	}
	if h, ok := t.memo[[2]uint64{begin, end}]; ok {
		return h
	}
	k := uint64(1)
	for k<<1 < end-begin {
		k <<= 1
	}
	h := hasher.HashChildren(t.subtree(begin, begin+k), t.subtree(begin+k, end))
	t.memo[[2]uint64{begin, end}] = h
	return h
}

// InclusionProof proves that leaves[index] is in the tree of all leaves.
func InclusionProof(leaves [][]byte, index uint64) ([][]byte, error) {
	return NewTree(leaves).InclusionProof(index)
}

// InclusionProof proves that leaf index is in the tree.
func (t *Tree) InclusionProof(index uint64) ([][]byte, error) {
	size := uint64(len(t.leaves))
	nodes, err := proof.Inclusion(index, size)
	if err != nil {
		return nil, err
	}
	hashes := make([][]byte, len(nodes.IDs))
	for i, id := range nodes.IDs {
		b, e := id.Coverage()
		if e > size {
			return nil, fmt.Errorf("merkle: proof node beyond the tree")
		}
		hashes[i] = t.subtree(b, e)
	}
	return nodes.Rehash(hashes, hasher.HashChildren)
}

// VerifyInclusion checks an inclusion proof against a root.
func VerifyInclusion(index, size uint64, leaf []byte, proofHashes [][]byte, root []byte) error {
	return proof.VerifyInclusion(hasher, index, size, leaf, proofHashes, root)
}

// VerifyConsistency checks that the tree of size2 extends the tree of
// size1 (the log only grows).
func VerifyConsistency(size1, size2 uint64, proofHashes [][]byte, root1, root2 []byte) error {
	return proof.VerifyConsistency(hasher, size1, size2, proofHashes, root1, root2)
}

// ConsistencyProof proves that the first size1 leaves are a prefix of all.
func ConsistencyProof(leaves [][]byte, size1 uint64) ([][]byte, error) {
	size2 := uint64(len(leaves))
	nodes, err := proof.Consistency(size1, size2)
	if err != nil {
		return nil, err
	}
	t := NewTree(leaves)
	hashes := make([][]byte, len(nodes.IDs))
	for i, id := range nodes.IDs {
		b, e := id.Coverage()
		hashes[i] = t.subtree(b, e)
	}
	return nodes.Rehash(hashes, hasher.HashChildren)
}

func hexs(b []byte) string { return hex.EncodeToString(b) }
