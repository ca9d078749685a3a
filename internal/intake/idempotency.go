package intake

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
)

// Idempotency is what the desk keeps of a submission made with an
// idempotency key (the API's Idempotency-Key header), written in the
// transaction that stores the complaint: a client that lost the answer
// and sends the same request again with the same key gets the first
// answer back, and nothing is stored twice.
//
// The key is the client's secret as much as the status tokens are: the
// store indexes only a hash of it (Lookup), and keeps the answer (the
// reports' ids and status tokens) sealed under a key derived from it, so
// the database alone gives no status link away — the tokens stay known
// only by their hash, as for every other report.
type Idempotency struct {
	Lookup      string    // Hex SHA-256 of the scope (the submitting principal) and the key.
	Request     string    // Hex SHA-256 of the request: body, declared type and answers.
	ComplaintID string    // The complaint the first request stored.
	Sealed      []byte    // The receipt, AES-256-GCM under a key derived from the scope and key.
	CreatedAt   time.Time // When the first request was stored.
	// Campaigns are the current campaigns of the complaint's reports,
	// by report id, as the store read them with the record.
	Campaigns map[string]string
}

// MaxIdempotencyKey is the longest idempotency key accepted, in bytes.
const MaxIdempotencyKey = 255

// IdempotencyConflictError is a submission whose idempotency key the
// same principal already used for another request: nothing is stored,
// and the first request's answer is not given.
type IdempotencyConflictError struct {
	ComplaintID string // What the key was first used for.
}

func (e *IdempotencyConflictError) Error() string {
	return "intake: this idempotency key was already used for another request (complaint " + e.ComplaintID + "); use a new key for a new report"
}

// idempotencyKey is an idempotency key in the scope of one principal,
// with the request it came with.
type idempotencyKey struct {
	lookup  string
	request string
	seal    [32]byte
}

func newIdempotencyKey(s Submission) idempotencyKey {
	scope := s.SubmittedBy
	if scope == "" {
		scope = string(s.Channel)
	}
	var k idempotencyKey
	l := sha256.Sum256(lengthPrefixed("accord idempotency lookup v1", scope, s.IdempotencyKey))
	k.lookup = hex.EncodeToString(l[:])
	k.seal = sha256.Sum256(lengthPrefixed("accord idempotency seal v1", scope, s.IdempotencyKey))
	r := sha256.Sum256(lengthPrefixed("accord idempotency request v1", string(s.Channel), s.Declared, s.As,
		s.Context.Consent.String(), s.Context.ExistingCustomer.String(), string(s.Raw)))
	k.request = hex.EncodeToString(r[:])
	return k
}

// lengthPrefixed joins parts so that no two lists of parts give the same
// bytes.
func lengthPrefixed(parts ...string) []byte {
	var out []byte
	for _, p := range parts {
		out = binary.BigEndian.AppendUint64(out, uint64(len(p)))
		out = append(out, p...)
	}
	return out
}

// sealed is the receipt as kept.
type sealed struct {
	ComplaintID string      `json:"complaint_id"`
	Reports     []Receipted `json:"reports"`
}

func (k idempotencyKey) sealReceipt(rand io.Reader, rec Receipt) ([]byte, error) {
	plain, err := json.Marshal(sealed{ComplaintID: rec.ComplaintID, Reports: rec.Reports})
	if err != nil {
		return nil, err
	}
	aead, err := k.aead()
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := io.ReadFull(rand, nonce); err != nil {
		return nil, fmt.Errorf("seal the answer: %w", err)
	}
	return aead.Seal(nonce, nonce, plain, []byte(k.lookup)), nil
}

func (k idempotencyKey) openReceipt(b []byte) (Receipt, error) {
	aead, err := k.aead()
	if err != nil {
		return Receipt{}, err
	}
	if len(b) < aead.NonceSize() {
		return Receipt{}, errors.New("the kept answer is truncated")
	}
	plain, err := aead.Open(nil, b[:aead.NonceSize()], b[aead.NonceSize():], []byte(k.lookup))
	if err != nil {
		return Receipt{}, fmt.Errorf("open the kept answer: %w", err)
	}
	var s sealed
	if err := json.Unmarshal(plain, &s); err != nil {
		return Receipt{}, fmt.Errorf("read the kept answer: %w", err)
	}
	return Receipt{ComplaintID: s.ComplaintID, Reports: s.Reports, Replayed: true}, nil
}

func (k idempotencyKey) aead() (cipher.AEAD, error) {
	c, err := aes.NewCipher(k.seal[:])
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(c)
}

// replay answers a request whose key is already known: the first answer
// (its reports' current campaigns) for the same request, an
// IdempotencyConflictError for another. done is false when the key is
// not known yet.
func (d *Desk) replay(ctx context.Context, k idempotencyKey) (rec Receipt, done bool, err error) {
	kept, err := d.store.Idempotent(ctx, k.lookup)
	if errors.Is(err, ErrNotFound) {
		return Receipt{}, false, nil
	}
	if err != nil {
		return Receipt{}, true, fmt.Errorf("read the idempotency key: %w", err)
	}
	if kept.Request != k.request {
		return Receipt{}, true, &IdempotencyConflictError{ComplaintID: kept.ComplaintID}
	}
	rec, err = k.openReceipt(kept.Sealed)
	if err != nil {
		return Receipt{}, true, err
	}
	for i, r := range rec.Reports {
		if c, ok := kept.Campaigns[r.ID]; ok {
			rec.Reports[i].CampaignID = c
		}
	}
	return rec, true, nil
}
