// Package federation lets authorities' nodes cooperate across borders:
// each node knows its partners (peers) by their Ed25519 keys, shares with
// each exactly what the agreement (MoU) with that peer allows — decided for
// every item by one policy function, default deny — exchanges signed,
// replay-protected envelopes that are verified before anything is stored,
// tracks mutual assistance requests with their deadlines, and keeps, per
// link, an append-only Merkle custody log whose checkpoints both sides sign.
package federation

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"filippo.io/edwards25519"

	"github.com/accord-antispam/accord/internal/nodekey"
)

// Status of a peer.
type Status string

// Peer states: only an active peer receives or sends anything.
const (
	StatusActive    Status = "active"
	StatusSuspended Status = "suspended"
	StatusRemoved   Status = "removed"
)

// KeyStatus of one of a peer's keys.
type KeyStatus string

// Key states: an active key signs new envelopes; a retired key (rotated
// out) still verifies old checkpoints; a revoked key verifies nothing new
// and its envelopes are refused.
const (
	KeyActive  KeyStatus = "active"
	KeyRetired KeyStatus = "retired"
	KeyRevoked KeyStatus = "revoked"
)

// Peer is a partner node.
type Peer struct {
	Name         string
	URL          string // Base URL of its node, e.g. https://accord.example.gov.
	Jurisdiction string // ISO 3166 alpha-2, or EU.
	Status       Status
	StatusAt     time.Time // When the status was last set (zero: since it was added).
	Added        time.Time
	Keys         []PeerKey
	Agreement    *Agreement // The version in force, nil when none.
	Collection   string     // Its TAXII collection's id (a UUID made once).
}

// PeerKey is one of a peer's public keys with its history.
type PeerKey struct {
	Key       string // Base64 Ed25519 public key.
	Status    KeyStatus
	Added     time.Time
	Changed   time.Time
	RetiredAt time.Time // When a newer key replaced it; zero while active.
	RevokedAt time.Time // From when it is not to be trusted; zero unless revoked.
}

// ValidUntil is the end of the key's validity: its retirement or its
// revocation, whichever came first (zero: still valid).
func (k PeerKey) ValidUntil() time.Time {
	switch {
	case k.RetiredAt.IsZero():
		return k.RevokedAt
	case k.RevokedAt.IsZero() || k.RetiredAt.Before(k.RevokedAt):
		return k.RetiredAt
	}
	return k.RevokedAt
}

// ActiveKey returns the key new envelopes must be signed with.
func (p *Peer) ActiveKey() (string, bool) {
	for _, k := range p.Keys {
		if k.Status == KeyActive {
			return k.Key, true
		}
	}
	return "", false
}

// State is what the policy reads.
func (p *Peer) State() PeerState { return PeerState{Name: p.Name, Status: p.Status} }

// ParsePublicKey checks a base64 Ed25519 public key.
func ParsePublicKey(s string) (ed25519.PublicKey, error) {
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("federation: %q is not a base64 Ed25519 public key", s)
	}
	if err := checkPoint(b); err != nil {
		return nil, fmt.Errorf("federation: %q: %w", s, err)
	}
	return ed25519.PublicKey(b), nil
}

// ErrWeakKey: a public key no honest key pair has — not a point of the
// curve, a non-canonical encoding, or a point with a small-order part
// (the all-zero key, the identity, the other six small-order points). A
// signature under a small-order key verifies for many or all messages
// without any private key, so anyone could write as that peer.
var ErrWeakKey = errors.New("federation: not a usable Ed25519 public key")

// lMinus1 is the group order minus one, little-endian: [L-1]P + P is the
// identity exactly when P lies in the prime-order subgroup.
var lMinus1 = func() *edwards25519.Scalar {
	b := []byte{0xec, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10}
	s, err := new(edwards25519.Scalar).SetCanonicalBytes(b)
	if err != nil {
		panic(err)
	}
	return s
}()

// checkPoint refuses what ErrWeakKey names, as libsodium's
// crypto_core_ed25519_is_valid_point does: a key made by ed25519.GenerateKey
// is always a canonical point of the prime-order subgroup.
func checkPoint(b []byte) error {
	p, err := new(edwards25519.Point).SetBytes(b)
	if err != nil {
		return fmt.Errorf("%w: not a point of the curve", ErrWeakKey)
	}
	if !bytes.Equal(p.Bytes(), b) {
		return fmt.Errorf("%w: not the canonical encoding of its point", ErrWeakKey)
	}
	id := edwards25519.NewIdentityPoint()
	if new(edwards25519.Point).MultByCofactor(p).Equal(id) == 1 {
		return fmt.Errorf("%w: a point of small order (a signature under it can be forged without a private key)", ErrWeakKey)
	}
	q := new(edwards25519.Point).ScalarMult(lMinus1, p)
	if q.Add(q, p).Equal(id) != 1 {
		return fmt.Errorf("%w: a point outside the prime-order subgroup", ErrWeakKey)
	}
	return nil
}

// Fingerprint is a key's fingerprint to compare over the phone, in the
// one format the node shows everywhere (nodekey.Fingerprint).
func Fingerprint(pub ed25519.PublicKey) string { return nodekey.FingerprintOf(pub) }

// ValidName: peer names are short identifiers used in commands and URLs.
func ValidName(s string) bool {
	if len(s) == 0 || len(s) > 40 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}
