package label

import (
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/accord-antispam/accord/internal/strictjson"
)

// StatusFormat names the status list's format.
const StatusFormat = "accord-label-status/1"

// StatusList is the issuer's signed, dated list of revocations: labels by
// id, and senders whose labels issued up to a time are all revoked (a
// suspended sender). Signature is Ed25519 over the compacted payload, as
// for consent proofs.
type StatusList struct {
	Payload   json.RawMessage `json:"payload"`
	Signature string          `json:"signature"`
}

// Status is what a status list says.
type Status struct {
	Format     string             `json:"format"`
	Issuer     string             `json:"issuer"` // Base64 Ed25519 public key.
	IssuedAt   time.Time          `json:"issued_at"`
	NextUpdate time.Time          `json:"next_update"` // After this the list is stale.
	Labels     []RevokedLabel     `json:"revoked_labels"`
	Senders    []RevokedSender    `json:"revoked_senders"`
	key        ed25519.PublicKey  `json:"-"`
	byID       map[string]bool    `json:"-"`
	bySender   map[string][]int64 `json:"-"`
}

// RevokedLabel is one revoked label.
type RevokedLabel struct {
	ID     string    `json:"id"`
	At     time.Time `json:"at"`
	Reason string    `json:"reason,omitempty"`
}

// RevokedSender revokes every label of a sender issued up to At.
type RevokedSender struct {
	Sender string    `json:"sender"`
	At     time.Time `json:"at"`
	Reason string    `json:"reason,omitempty"`
}

// SignStatus signs a status list.
func SignStatus(s Status, key ed25519.PrivateKey) (*StatusList, error) {
	s.Format = StatusFormat
	s.Issuer = base64.StdEncoding.EncodeToString(key.Public().(ed25519.PublicKey))
	if s.Labels == nil {
		s.Labels = []RevokedLabel{}
	}
	if s.Senders == nil {
		s.Senders = []RevokedSender{}
	}
	b, err := json.Marshal(s)
	if err != nil {
		return nil, err
	}
	return &StatusList{Payload: b, Signature: base64.StdEncoding.EncodeToString(ed25519.Sign(key, b))}, nil
}

// maxStatus bounds a status list.
const maxStatus = 32 << 20

// ReadStatus reads and verifies a status list: it must be signed by key
// (the issuer's, from the node or the partner agreement, never from the
// list itself).
func ReadStatus(r io.Reader, key ed25519.PublicKey) (*Status, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxStatus+1))
	if err != nil {
		return nil, fmt.Errorf("read status list: %w", err)
	}
	if len(b) > maxStatus {
		return nil, fmt.Errorf("status list larger than %d MiB", maxStatus>>20)
	}
	if err := strictjson.Check(b); err != nil {
		return nil, fmt.Errorf("not a label status list: %w", err)
	}
	var sl StatusList
	top := json.NewDecoder(bytes.NewReader(b))
	top.DisallowUnknownFields()
	if err := top.Decode(&sl); err != nil {
		return nil, fmt.Errorf("not a label status list: %w", err)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, sl.Payload); err != nil {
		return nil, fmt.Errorf("not a label status list: %w", err)
	}
	sig, err := base64.StdEncoding.DecodeString(sl.Signature)
	if err != nil || !ed25519.Verify(key, compact.Bytes(), sig) {
		return nil, fmt.Errorf("the status list is not signed by the issuer's key")
	}
	var s Status
	dec := json.NewDecoder(bytes.NewReader(sl.Payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil || s.Format != StatusFormat {
		return nil, fmt.Errorf("not a label status list (format %q)", s.Format)
	}
	if s.Issuer != base64.StdEncoding.EncodeToString(key) {
		return nil, fmt.Errorf("the status list names another issuer")
	}
	s.index(key)
	return &s, nil
}

func (s *Status) index(key ed25519.PublicKey) {
	s.key = key
	s.byID = map[string]bool{}
	s.bySender = map[string][]int64{}
	for _, l := range s.Labels {
		s.byID[l.ID] = true
	}
	for _, x := range s.Senders {
		s.bySender[x.Sender] = append(s.bySender[x.Sender], x.At.Unix())
	}
}

// Revoked says whether the list revokes the label, and why.
func (s *Status) Revoked(l *Label) (bool, string) {
	if s.byID == nil {
		s.index(s.key)
	}
	if s.byID[l.ID] {
		for _, x := range s.Labels {
			if x.ID == l.ID {
				return true, "label revoked on " + x.At.Format("2006-01-02") + ": " + x.Reason
			}
		}
	}
	for _, at := range s.bySender[l.Sender] {
		if l.Issued.Unix() <= at {
			return true, "every label of sender " + l.Sender + " issued by " + time.Unix(at, 0).UTC().Format(time.RFC3339) + " is revoked"
		}
	}
	return false, ""
}

// MaxStatusAge is how old a status list may be, whatever its next_update
// says: an issuer that promises a far next update cannot freeze its
// revocations for verifiers.
const MaxStatusAge = 24 * time.Hour

// Stale reports whether the list is past its next update, or older than
// MaxStatusAge: it no longer says what is revoked now.
func (s *Status) Stale(now time.Time) bool {
	return now.After(s.NextUpdate) || now.Sub(s.IssuedAt) > MaxStatusAge
}

// Supersedes reports whether got may replace held: a verifier never goes
// back to an older list (a replayed one from before a revocation).
func (got *Status) Supersedes(held *Status) bool {
	return held == nil || !got.IssuedAt.Before(held.IssuedAt)
}
