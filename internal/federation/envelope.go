package federation

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Envelope is the signed header of every message between nodes. The
// signature covers the envelope's exact bytes (no canonical JSON needed),
// and the envelope names the payload by its hash.
type Envelope struct {
	V             int       `json:"v"`    // 1
	Type          string    `json:"type"` // TypeSync, TypeStatus or TypeStatusAnswer
	From          string    `json:"from"` // Sender's public key (base64).
	To            string    `json:"to"`   // Recipient's public key (base64).
	Seq           uint64    `json:"seq"`  // Per link, strictly increasing.
	Time          time.Time `json:"time"`
	PayloadSHA256 string    `json:"payload_sha256"`
}

// Envelope types.
const (
	// TypeSync carries items, withdrawals, assistance messages and reads,
	// and closes with a custody checkpoint; its sequence is the link's.
	TypeSync = "sync"
	// TypeStatus asks a peer for its latest countersigned checkpoints of
	// the link (sequence 0: it changes nothing and is not logged).
	TypeStatus = "status"
	// TypeStatusAnswer is the signed answer to a status query.
	TypeStatusAnswer = "status-answer"
)

// Sealed is an envelope on the wire.
type Sealed struct {
	Envelope  string `json:"envelope"`  // Base64 of the envelope's JSON bytes.
	Signature string `json:"signature"` // Base64 Ed25519 signature of those bytes.
	Payload   string `json:"payload"`   // Base64 of the payload bytes.
}

// Seal signs an envelope for payload with the sender's key.
func Seal(priv ed25519.PrivateKey, e Envelope, payload []byte) ([]byte, error) {
	sum := sha256.Sum256(payload)
	e.V = 1
	e.From = base64.StdEncoding.EncodeToString(priv.Public().(ed25519.PublicKey))
	e.PayloadSHA256 = hex.EncodeToString(sum[:])
	eb, err := json.Marshal(e)
	if err != nil {
		return nil, err
	}
	return json.Marshal(Sealed{
		Envelope:  base64.StdEncoding.EncodeToString(eb),
		Signature: base64.StdEncoding.EncodeToString(ed25519.Sign(priv, eb)),
		Payload:   base64.StdEncoding.EncodeToString(payload),
	})
}

// Rejections, each a distinct error so the sender (and the tests) can tell
// why nothing was stored.
var (
	ErrMalformed    = errors.New("federation: malformed envelope")
	ErrUnknownKey   = errors.New("federation: unknown sender key")
	ErrRevokedKey   = errors.New("federation: the sender's key is revoked")
	ErrRetiredKey   = errors.New("federation: the sender's key was rotated out")
	ErrPeerInactive = errors.New("federation: the sender is not an active peer")
	ErrBadSignature = errors.New("federation: bad signature")
	// ErrWrongRecipient: the envelope is sealed for a key this node
	// rotated out; its sender must seal it for the node's current key.
	ErrWrongRecipient = errors.New("federation: the envelope is sealed for a key this node rotated out")
	// ErrNotAddressed: the envelope is sealed for a key that was never
	// this node's (another node's envelope, posted here): refused as an
	// outsider's is, so a copy tells nothing of this node's peers.
	ErrNotAddressed = errors.New("federation: the envelope is for another node")
	ErrStale        = errors.New("federation: the envelope's time is outside the accepted window")
	ErrReplay       = errors.New("federation: replayed envelope (sequence already received)")
	ErrTampered     = errors.New("federation: the payload does not match the envelope's hash")
	// ErrVoided: the sender set the envelope aside, after this node told it
	// that it did not hold it, and sealed its contents again under a later
	// sequence: a copy arriving late is refused.
	ErrVoided = errors.New("federation: the sender set this envelope aside")
)

// Opened is a verified envelope.
type Opened struct {
	Envelope Envelope
	Peer     *Peer
	Payload  []byte
}

// Verifier checks incoming envelopes against the registry. Lookups go
// through functions so the checks stay independent of storage.
type Verifier struct {
	Self    ed25519.PublicKey
	PeerOf  func(key string) (*Peer, error) // nil, ErrUnknownKey when not a peer's key.
	LastSeq func(peer string) (uint64, error)
	Now     func() time.Time
	Window  time.Duration // Accepted clock difference (default 10 minutes).
	// Former reports whether key is one of this node's own keys since
	// rotated out (nil: none is).
	Former func(key string) (bool, error)
}

// Open verifies a sealed envelope, in an order that reveals nothing to a
// sender that cannot sign: the envelope must parse and its signature
// verify under the key it names before that key is looked up; then it
// must be sealed for this node's key — one sealed for a key this node
// rotated out is ErrWrongRecipient, so its sender can seal it again;
// one sealed for any other key is ErrNotAddressed, decided before any
// peer is looked up, so another node's envelope posted here says nothing
// of this node's peers; then the key must be a peer's, neither retired
// nor revoked, the peer active (all refused alike to an outsider); then
// the envelope must be fresh, its payload the one it names, and — for a
// sync — not a replay.
// With ErrReplay, and with ErrPeerInactive for a sync envelope that is
// otherwise for this node, fresh and whole, the opened envelope comes
// back with the error.
func (v *Verifier) Open(raw []byte) (*Opened, error) {
	var s Sealed
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	eb, err1 := base64.StdEncoding.DecodeString(s.Envelope)
	sig, err2 := base64.StdEncoding.DecodeString(s.Signature)
	payload, err3 := base64.StdEncoding.DecodeString(s.Payload)
	if err := errors.Join(err1, err2, err3); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	var e Envelope
	if err := json.Unmarshal(eb, &e); err != nil || e.V != 1 {
		return nil, fmt.Errorf("%w: envelope header", ErrMalformed)
	}
	pub, err := ParsePublicKey(e.From)
	if err != nil {
		return nil, fmt.Errorf("%w: sender key", ErrMalformed)
	}
	if !ed25519.Verify(pub, eb, sig) {
		return nil, ErrBadSignature
	}
	if e.To != base64.StdEncoding.EncodeToString(v.Self) {
		if v.Former != nil {
			former, err := v.Former(e.To)
			if err != nil {
				return nil, err
			}
			if former {
				return nil, fmt.Errorf("%w (addressed to %.12s…)", ErrWrongRecipient, e.To)
			}
		}
		return nil, fmt.Errorf("%w (addressed to %.12s…)", ErrNotAddressed, e.To)
	}
	p, err := v.PeerOf(e.From)
	if err != nil {
		return nil, err
	}
	now := v.Now()
	for _, k := range p.Keys {
		if k.Key != e.From {
			continue
		}
		switch {
		case k.Status == KeyRevoked:
			return nil, fmt.Errorf("%w (%s's key revoked %s)", ErrRevokedKey, p.Name, k.Changed.UTC().Format(time.RFC3339))
		case k.Status == KeyRetired:
			return nil, fmt.Errorf("%w (%s's key retired %s)", ErrRetiredKey, p.Name, k.Changed.UTC().Format(time.RFC3339))
		}
	}
	var inactive error
	switch {
	case p.Status != StatusActive:
		inactive = fmt.Errorf("%w (%s is %s)", ErrPeerInactive, p.Name, p.Status)
	case e.Type == TypeSync && !p.StatusAt.IsZero() && e.Time.Before(p.StatusAt):
		// Sealed before the peer was last suspended or resumed: refused
		// then, or decided under a state that no longer holds — a
		// captured copy is not let in after a resume.
		inactive = fmt.Errorf("%w (%s's envelope was sealed at %s, before its status was last set at %s)", ErrPeerInactive, p.Name,
			e.Time.UTC().Format(time.RFC3339Nano), p.StatusAt.UTC().Format(time.RFC3339Nano))
	}
	window := v.Window
	if window <= 0 {
		window = 10 * time.Minute
	}
	sum := sha256.Sum256(payload)
	fresh := now.Sub(e.Time) <= window && e.Time.Sub(now) <= window
	whole := hex.EncodeToString(sum[:]) == e.PayloadSHA256
	op := &Opened{Envelope: e, Peer: p, Payload: payload}
	if inactive != nil {
		if e.Type == TypeSync && fresh && whole {
			// The peer's own sync envelope for this node, refused: the
			// caller sets its sequence aside (Service.Receive), so a copy
			// is refused after a resume whatever time its sender's clock
			// gave it.
			return op, inactive
		}
		return nil, inactive
	}
	if !fresh {
		return nil, fmt.Errorf("%w (envelope time %s)", ErrStale, e.Time.UTC().Format(time.RFC3339))
	}
	if !whole {
		return nil, ErrTampered
	}
	switch e.Type {
	case TypeSync:
		last, err := v.LastSeq(p.Name)
		if err != nil {
			return nil, err
		}
		if e.Seq <= last {
			return op, fmt.Errorf("%w (%d, last %d)", ErrReplay, e.Seq, last)
		}
	case TypeStatus, TypeStatusAnswer:
	default:
		return nil, fmt.Errorf("%w: unknown envelope type %q", ErrMalformed, e.Type)
	}
	return op, nil
}
