package consent

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// A token that opens must be the one sealing its references gives: no
// second spelling of a token exists.
func FuzzOpenToken(f *testing.F) {
	s, _ := newSealer(testKeys())
	good, _ := s.seal(TokenRef{Recipient: 7, List: 2, Campaign: 3, Issued: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)})
	for _, seed := range []string{good, strings.ToUpper(good), good[:44] + "b", "", strings.Repeat("a", TokenLen), "unsubscribe+" + good} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		r, err := s.open(tok)
		if err != nil {
			return
		}
		again, err := s.seal(r)
		if err != nil || again != strings.ToLower(tok) {
			t.Fatalf("opened %q as %+v, which seals to %q (%v)", tok, r, again, err)
		}
	})
}

func FuzzConfirmToken(f *testing.F) {
	mac := bytes.Repeat([]byte{5}, 32)
	f.Add(confirmToken(mac, "abc"))
	f.Add("abc.")
	f.Add(".")
	f.Fuzz(func(t *testing.T, tok string) {
		id, err := openConfirmToken(mac, tok)
		if err == nil && !strings.EqualFold(confirmToken(mac, id), tok) {
			t.Fatalf("%q opened as %q", tok, id)
		}
	})
}

// VerifyProof reads untrusted files: it must not panic, and a proof it
// accepts must still be accepted once re-encoded.
func FuzzVerifyProof(f *testing.F) {
	_, key, _ := ed25519.GenerateKey(bytes.NewReader(bytes.Repeat([]byte{1}, 64)))
	prev := GenesisHash("s.example")
	e := Event{Seq: 1, Sender: "s.example", At: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), Kind: EventRecorded, Recipient: "h", Record: "r", PrevHash: prev}
	e.Hash = ChainHash(prev, e)
	p, _ := SignProof(ProofPayload{Format: ProofFormat, Node: ProofNode{Key: pubB64(key)}, Sender: ProofSender{ID: "s.example"}, RecipientHash: "h",
		Records: []ProofRecord{{ID: "r", Status: RecordActive}}, Events: []Event{e}, Head: ProofHead{Seq: 1}}, key)
	doc, _ := json.Marshal(p)
	f.Add(doc)
	f.Add([]byte(`{"payload":{"format":"accord-consent-proof/1"},"signature":""}`))
	f.Add([]byte(`{"payload":null}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := VerifyProof(bytes.NewReader(b))
		if err != nil || !c.OK() {
			return
		}
		var pr Proof
		if json.Unmarshal(b, &pr) != nil {
			t.Fatal("accepted a document that does not parse")
		}
		re, _ := json.MarshalIndent(pr, "", " ")
		if c2, err := VerifyProof(bytes.NewReader(re)); err != nil || !c2.OK() {
			t.Fatalf("accepted once, refused re-indented: %v %v", err, c2.Problems)
		}
	})
}
