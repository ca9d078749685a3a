package analysis

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/accord-antispam/accord/internal/label"
)

// A labelled newsletter: the label is recognised with DKIM verified
// through the resolver, and a copy of the label on another message is
// refused. Both verdicts match the documented schema.
func TestVerdictLabel(t *testing.T) {
	raw, z := signedNewsletter(t)
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	l := &label.Label{ID: "l1", Sender: "shop.example", Domain: "shop.example", Canon: "simple",
		BodyHash: label.BodyHash(label.Body([]byte(raw)), "simple"), HeadHash: label.HeaderHash([]byte(raw)), Issued: time.Now().Add(-time.Hour), Expires: time.Now().Add(time.Hour)}
	l.Sign(key)
	a := analyzer(t, z)
	a.Labels = label.NewVerifier(nil, label.Issuer{Name: "this node", Key: key.Public().(ed25519.PublicKey), Status: freshStatus(t, key)})
	v := analyze(t, a, l.Field()+raw, Context{})
	if v.Label == nil || v.Label.Status != label.Valid || !v.Label.DKIMVerified {
		t.Fatalf("label = %+v", v.Label)
	}
	s := verdictSchema(t)
	validate(t, s, v)
	// Copied onto the same sender's next message (another body).
	other := strings.Replace(raw, "\r\n\r\n", "\r\n\r\nP.S. one more thing\r\n", 1)
	v = analyze(t, a, l.Field()+other, Context{})
	if v.Label == nil || v.Label.Status != label.Invalid {
		t.Fatalf("copied label = %+v", v.Label)
	}
	validate(t, s, v)
	a.Labels = nil
	if v := analyze(t, a, l.Field()+raw, Context{}); v.Label != nil {
		t.Errorf("labels checked without a verifier: %+v", v.Label)
	}
}

// freshStatus is the issuer's status list, just signed, revoking nothing:
// a label is valid only against a fresh one.
func freshStatus(t testing.TB, key ed25519.PrivateKey) *label.Status {
	t.Helper()
	now := time.Now()
	sl, err := label.SignStatus(label.Status{IssuedAt: now, NextUpdate: now.Add(time.Hour)}, key)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(sl)
	st, err := label.ReadStatus(bytes.NewReader(b), key.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	return st
}
