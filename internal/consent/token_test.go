package consent

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func testKeys() Keys {
	return Keys{Recipients: bytes.Repeat([]byte{1}, 32), TokenCipher: bytes.Repeat([]byte{2}, 32), TokenMAC: bytes.Repeat([]byte{3}, 32)}
}

func TestTokenRoundTrip(t *testing.T) {
	s, err := newSealer(testKeys())
	if err != nil {
		t.Fatal(err)
	}
	day := time.Date(2026, 12, 1, 13, 45, 0, 0, time.UTC)
	for _, r := range []TokenRef{
		{Recipient: 1, List: 1, Issued: day},
		{Recipient: maxRecipient, List: maxList, Campaign: maxCampaign, Issued: day},
		{Recipient: 123456789, List: 42, Campaign: 7, Issued: tokenEpoch},
	} {
		tok, err := s.seal(r)
		if err != nil {
			t.Fatal(err)
		}
		if len(tok) != TokenLen || strings.ToLower(tok) != tok {
			t.Fatalf("token %q: length %d", tok, len(tok))
		}
		// The local part of "unsubscribe+TOKEN@host" fits RFC 5321's 64 octets.
		if n := len("unsubscribe+" + tok); n > 64 {
			t.Fatalf("mailto local part is %d octets", n)
		}
		got, err := s.open(strings.ToUpper(tok)) // mail systems may change case
		if err != nil {
			t.Fatal(err)
		}
		r.Issued = r.Issued.Truncate(24 * time.Hour)
		if got != r {
			t.Errorf("open = %+v, want %+v", got, r)
		}
		// The token is opaque: the references do not show through.
		if strings.Contains(tok, "123456789") {
			t.Errorf("token shows its contents: %s", tok)
		}
	}
	for _, bad := range []TokenRef{{Recipient: 0, List: 1, Issued: day}, {Recipient: 1, List: 0, Issued: day},
		{Recipient: maxRecipient + 1, List: 1, Issued: day}, {Recipient: 1, List: maxList + 1, Issued: day}, {Recipient: 1, List: 1, Issued: tokenEpoch.Add(-time.Hour)}} {
		if _, err := s.seal(bad); err == nil {
			t.Errorf("sealed out-of-range %+v", bad)
		}
	}
}

// Every single-character change of a token, and tokens under another
// node's keys, are refused.
func TestTokenForgery(t *testing.T) {
	s, _ := newSealer(testKeys())
	tok, _ := s.seal(TokenRef{Recipient: 99, List: 3, Campaign: 5, Issued: time.Now()})
	alphabet := "abcdefghijklmnopqrstuvwxyz234567"
	for i := 0; i < len(tok); i++ {
		for _, c := range alphabet {
			if byte(c) == tok[i] {
				continue
			}
			forged := tok[:i] + string(c) + tok[i+1:]
			if _, err := s.open(forged); err == nil {
				t.Fatalf("forged token %s (position %d) accepted", forged, i)
			}
		}
	}
	other := testKeys()
	other.TokenMAC = bytes.Repeat([]byte{9}, 32)
	o, _ := newSealer(other)
	if _, err := o.open(tok); err != ErrBadToken {
		t.Errorf("another node's keys opened the token: %v", err)
	}
	for _, junk := range []string{"", "x", tok[:44], tok + "a", strings.Repeat("a", TokenLen), strings.Repeat("!", TokenLen)} {
		if _, err := s.open(junk); err != ErrBadToken {
			t.Errorf("open(%q) = %v", junk, err)
		}
	}
}

func TestConfirmToken(t *testing.T) {
	mac := bytes.Repeat([]byte{7}, 32)
	tok := confirmToken(mac, "rec1")
	if id, err := openConfirmToken(mac, tok); err != nil || id != "rec1" {
		t.Fatalf("open = %q %v", id, err)
	}
	for _, bad := range []string{"rec2." + strings.SplitN(tok, ".", 2)[1], "rec1", "rec1.", tok + "x", "." + tok} {
		if _, err := openConfirmToken(mac, bad); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

func TestRecipientHash(t *testing.T) {
	k := testKeys()
	n1, err := NormalizeAddress(" Alice <Alice@Example.ORG> ")
	if err != nil || n1 != "alice@example.org" {
		t.Fatalf("normalize = %q %v", n1, err)
	}
	h1 := RecipientHash(k.RecipientKey("shop.example"), n1)
	if h1 != RecipientHash(k.RecipientKey("shop.example"), "alice@example.org") || len(h1) != 32 {
		t.Fatal("hash not stable")
	}
	if h1 == RecipientHash(k.RecipientKey("other.example"), n1) {
		t.Error("two senders share a recipient hash: their records could be joined")
	}
	if strings.Contains(h1, "alice") {
		t.Error("hash shows the address")
	}
	for _, bad := range []string{"", "alice", "alice@", "@example.org", "alice@localhost", strings.Repeat("a", 400) + "@x.org",
		"a7@[127.0.0.1]", "a7@[IPv6:::1]", "Bob <bob@[192.0.2.1]>"} {
		if _, err := NormalizeAddress(bad); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

func TestChain(t *testing.T) {
	var evs []Event
	prev := GenesisHash("shop.example")
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	for i := 1; i <= 4; i++ {
		e := Event{Seq: int64(i), Sender: "shop.example", At: at.Add(time.Duration(i) * time.Second), Kind: EventRecorded,
			Recipient: "r1", List: "news", Record: "x", Detail: map[string]string{"ip": "192.0.2.1", "a\nb": "c\x00d"}, PrevHash: prev}
		e.Hash = ChainHash(prev, e)
		prev = e.Hash
		evs = append(evs, e)
	}
	if p := VerifyEvents("shop.example", evs, true); len(p) != 0 {
		t.Fatal(p)
	}
	// Length prefixes: moving a byte between fields changes the hash.
	a := Event{Seq: 1, Sender: "s", Kind: "ab", Recipient: "c"}
	b := Event{Seq: 1, Sender: "s", Kind: "a", Recipient: "bc"}
	if ChainHash("p", a) == ChainHash("p", b) {
		t.Error("field boundaries are ambiguous")
	}
	for name, mut := range map[string]func([]Event) []Event{
		"edited detail": func(e []Event) []Event { e[1].Detail = map[string]string{"ip": "203.0.113.9"}; return e },
		"edited time":   func(e []Event) []Event { e[2].At = e[2].At.Add(-time.Hour); return e },
		"dropped event": func(e []Event) []Event { return append(e[:1], e[2:]...) },
		"reordered":     func(e []Event) []Event { e[1], e[2] = e[2], e[1]; return e },
		"other sender":  func(e []Event) []Event { e[0].Sender = "evil.example"; return e },
		"rehashed alone": func(e []Event) []Event {
			e[1].Kind = EventWithdrawn
			e[1].Hash = ChainHash(e[1].PrevHash, e[1])
			return e
		},
	} {
		c := append([]Event(nil), evs...)
		if p := VerifyEvents("shop.example", mut(c), true); len(p) == 0 {
			t.Errorf("%s: not detected", name)
		}
	}
}

func TestProofSignature(t *testing.T) {
	_, key, _ := ed25519.GenerateKey(nil)
	prev := GenesisHash("shop.example")
	e := Event{Seq: 1, Sender: "shop.example", At: time.Now().UTC(), Kind: EventRecorded, Recipient: "h", List: "news", Record: "r1", PrevHash: prev}
	e.Hash = ChainHash(prev, e)
	p := ProofPayload{Format: ProofFormat, Node: ProofNode{Key: pubB64(key)}, Sender: ProofSender{ID: "shop.example"}, Recipient: "a@b.example",
		RecipientHash: "h", Records: []ProofRecord{{ID: "r1", List: "news", Basis: BasisConsent, Status: RecordActive}},
		Suppressions: []ProofSuppress{}, Events: []Event{e}, Head: ProofHead{Seq: 1, Hash: e.Hash}}
	pr, err := SignProof(p, key)
	if err != nil {
		t.Fatal(err)
	}
	doc, _ := json.MarshalIndent(pr, "", "   ") // re-indented: still verifies
	c, err := VerifyProof(bytes.NewReader(doc))
	if err != nil || !c.OK() {
		t.Fatalf("verify: %v %v", err, c.Problems)
	}
	// An edit after signing: the record now claims confirmation.
	edited := bytes.Replace(doc, []byte(`"confirmed": false`), []byte(`"confirmed": true`), 1)
	if bytes.Equal(edited, doc) {
		t.Fatal("edit did not apply")
	}
	if c, err := VerifyProof(bytes.NewReader(edited)); err != nil || c.OK() {
		t.Errorf("edited proof verified: %v", err)
	}
	// A forged payload before the genuine one: Go keeps the last member,
	// a person or another reader the first. Refused, as is a member the
	// signature does not cover.
	forged := bytes.Replace(doc, []byte(`"confirmed": false`), []byte(`"confirmed": true`), 1)
	i := bytes.Index(forged, []byte(`"signature"`))
	dup := append([]byte(`{"payload": `+string(bytes.TrimSpace(forged[bytes.Index(forged, []byte(`"payload":`))+len(`"payload":`):i]))), '\n')
	dup = append(dup, doc[1:]...)
	if c, err := VerifyProof(bytes.NewReader(dup)); err == nil {
		t.Errorf("a proof with two payloads verified: %v", c.Problems)
	}
	extra := bytes.Replace(doc, []byte(`"signature"`), []byte(`"note": "confirmed by the recipient", "signature"`), 1)
	if c, err := VerifyProof(bytes.NewReader(extra)); err == nil {
		t.Errorf("a proof with an unsigned member verified: %v", c.Problems)
	}
}

func pubB64(k ed25519.PrivateKey) string {
	b, _ := json.Marshal(k.Public().(ed25519.PublicKey))
	return strings.Trim(string(b), `"`)
}
