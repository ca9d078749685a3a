package federation

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

type keyPair struct {
	pub  ed25519.PublicKey
	priv ed25519.PrivateKey
}

func newKey(t testing.TB) keyPair {
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	return keyPair{pub, priv}
}

func (k keyPair) b64() string { return base64.StdEncoding.EncodeToString(k.pub) }

// registry is a verifier over an in-memory peer list.
func verifier(self keyPair, peers []*Peer, last map[string]uint64, at time.Time) *Verifier {
	return &Verifier{
		Self: self.pub,
		PeerOf: func(key string) (*Peer, error) {
			for _, p := range peers {
				for _, k := range p.Keys {
					if k.Key == key {
						return p, nil
					}
				}
			}
			return nil, ErrUnknownKey
		},
		LastSeq: func(peer string) (uint64, error) { return last[peer], nil },
		Now:     func() time.Time { return at },
	}
}

func TestEnvelopeAttacks(t *testing.T) {
	fr, us, mallory := newKey(t), newKey(t), newKey(t)
	frPeer := &Peer{Name: "fr", Status: StatusActive, Keys: []PeerKey{{Key: fr.b64(), Status: KeyActive}}}
	at := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	seal := func(k keyPair, to keyPair, seq uint64, tm time.Time, payload string) []byte {
		b, err := Seal(k.priv, Envelope{Type: "sync", To: to.b64(), Seq: seq, Time: tm}, []byte(payload))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	good := seal(fr, us, 5, at, `{"x":1}`)
	v := verifier(us, []*Peer{frPeer}, map[string]uint64{"fr": 4}, at)
	op, err := v.Open(good)
	if err != nil || op.Peer.Name != "fr" || string(op.Payload) != `{"x":1}` {
		t.Fatalf("a good envelope: %v", err)
	}

	usOld := newKey(t)
	former := verifier(us, []*Peer{frPeer}, map[string]uint64{"fr": 4}, at)
	former.Former = func(key string) (bool, error) { return key == usOld.b64(), nil }
	tamper := func(raw []byte, f func(*Sealed)) []byte {
		var s Sealed
		json.Unmarshal(raw, &s)
		f(&s)
		b, _ := json.Marshal(s)
		return b
	}
	for _, tc := range []struct {
		name string
		raw  []byte
		v    *Verifier
		want error
	}{
		{"tampered payload", tamper(good, func(s *Sealed) { s.Payload = base64.StdEncoding.EncodeToString([]byte(`{"x":2}`)) }), v, ErrTampered},
		{"replayed envelope", good, verifier(us, []*Peer{frPeer}, map[string]uint64{"fr": 5}, at), ErrReplay},
		{"older sequence", seal(fr, us, 3, at, "{}"), v, ErrReplay},
		// Another node's envelope, posted here: refused before the
		// sender is looked up (the same whether fr is a peer or not, or
		// suspended), so a copy is no oracle on this node's peers.
		{"another node's envelope", seal(fr, mallory, 5, at, "{}"), v, ErrNotAddressed},
		{"another node's envelope, sender suspended here", seal(fr, mallory, 5, at, "{}"),
			verifier(us, []*Peer{{Name: "fr", Status: StatusSuspended, Keys: []PeerKey{{Key: fr.b64(), Status: KeyActive}}}}, nil, at), ErrNotAddressed},
		{"another node's envelope, sender unknown here", seal(fr, mallory, 5, at, "{}"), verifier(us, nil, nil, at), ErrNotAddressed},
		// Sealed for a key this node rotated out: its sender must seal
		// again, and is told so whoever it is.
		{"this node's retired key", seal(fr, usOld, 5, at, "{}"), former, ErrWrongRecipient},
		{"this node's retired key, sender unknown here", seal(mallory, usOld, 5, at, "{}"), former, ErrWrongRecipient},
		{"a key that was never this node's, with a key history", seal(fr, mallory, 5, at, "{}"), former, ErrNotAddressed},
		{"unknown key", seal(mallory, us, 5, at, "{}"), v, ErrUnknownKey},
		{"forged sender", tamper(seal(mallory, us, 5, at, "{}"), func(s *Sealed) {
			eb, _ := base64.StdEncoding.DecodeString(s.Envelope)
			eb = bytes.Replace(eb, []byte(mallory.b64()), []byte(fr.b64()), 1)
			s.Envelope = base64.StdEncoding.EncodeToString(eb)
		}), v, ErrBadSignature},
		{"edited header", tamper(good, func(s *Sealed) {
			eb, _ := base64.StdEncoding.DecodeString(s.Envelope)
			eb = bytes.Replace(eb, []byte(`"seq":5`), []byte(`"seq":9`), 1)
			s.Envelope = base64.StdEncoding.EncodeToString(eb)
		}), v, ErrBadSignature},
		{"stale", seal(fr, us, 5, at.Add(-time.Hour), "{}"), v, ErrStale},
		{"from the future", seal(fr, us, 5, at.Add(time.Hour), "{}"), v, ErrStale},
		{"revoked key", good, verifier(us, []*Peer{{Name: "fr", Status: StatusActive, Keys: []PeerKey{{Key: fr.b64(), Status: KeyRevoked}}}}, nil, at), ErrRevokedKey},
		{"rotated-out key", good, verifier(us, []*Peer{{Name: "fr", Status: StatusActive, Keys: []PeerKey{{Key: fr.b64(), Status: KeyRetired}}}}, nil, at), ErrRetiredKey},
		{"suspended peer", good, verifier(us, []*Peer{{Name: "fr", Status: StatusSuspended, Keys: []PeerKey{{Key: fr.b64(), Status: KeyActive}}}}, nil, at), ErrPeerInactive},
		{"garbage", []byte("not json"), v, ErrMalformed},
		{"bad base64", []byte(`{"envelope":"!!","signature":"","payload":""}`), v, ErrMalformed},
	} {
		_, err := tc.v.Open(tc.raw)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
}

func FuzzOpen(f *testing.F) {
	fr, us := newKey(f), newKey(f)
	at := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	good, _ := Seal(fr.priv, Envelope{Type: "sync", To: us.b64(), Seq: 1, Time: at}, []byte(`{}`))
	f.Add(good)
	f.Add([]byte(`{"envelope":"e30=","signature":"","payload":""}`))
	peer := &Peer{Name: "fr", Status: StatusActive, Keys: []PeerKey{{Key: fr.b64(), Status: KeyActive}}}
	v := verifier(us, []*Peer{peer}, map[string]uint64{}, at)
	f.Fuzz(func(t *testing.T, raw []byte) {
		op, err := v.Open(raw)
		if err == nil && !bytes.Equal(raw, good) {
			// Anything else that opens must still be fr's signed envelope
			// for us (JSON may be re-spaced, not re-signed).
			if op.Envelope.From != fr.b64() || op.Envelope.To != us.b64() {
				t.Fatalf("opened an envelope not from fr to us: %+v", op.Envelope)
			}
		}
	})
}

func TestMerkleProofs(t *testing.T) {
	for n := 1; n <= 33; n++ {
		leaves := make([][]byte, n)
		for i := range leaves {
			leaves[i] = LeafHash([]byte(fmt.Sprint(i)))
		}
		root := Root(leaves)
		for i := 0; i < n; i++ {
			p, err := InclusionProof(leaves, uint64(i))
			if err != nil {
				t.Fatal(err)
			}
			if err := VerifyInclusion(uint64(i), uint64(n), leaves[i], p, root); err != nil {
				t.Fatalf("n=%d i=%d: %v", n, i, err)
			}
			if i > 0 && VerifyInclusion(uint64(i), uint64(n), leaves[i-1], p, root) == nil {
				t.Fatalf("n=%d i=%d: a proof verified another leaf", n, i)
			}
		}
		for m := 1; m <= n; m++ {
			p, err := ConsistencyProof(leaves, uint64(m))
			if err != nil {
				t.Fatal(err)
			}
			if err := VerifyConsistency(uint64(m), uint64(n), p, Root(leaves[:m]), root); err != nil {
				t.Fatalf("consistency %d→%d: %v", m, n, err)
			}
		}
	}
}

func TestPackageSubsetVerifies(t *testing.T) {
	k := newKey(t)
	var all []Item
	for i := 0; i < 7; i++ {
		body := []byte(fmt.Sprintf(`{"n":%d}`, i))
		all = append(all, Item{Key: fmt.Sprintf("rep:%d", i), Kind: KindReports, Body: body, Hash: HashBody(body)})
	}
	pk, err := BuildPackage(k.priv, "campaign:c1", all, map[string]bool{"rep:2": true, "rep:5": true}, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(pk.Items) != 2 || pk.Size != 7 {
		t.Fatalf("package %+v", pk)
	}
	if err := VerifyPackage(k.pub, &pk); err != nil {
		t.Fatalf("the filtered subset does not verify: %v", err)
	}
	bad := pk
	bad.Items = append([]PackagedItem(nil), pk.Items...)
	bad.Items[0].Item.Body = []byte(`{"n":99}`)
	if VerifyPackage(k.pub, &bad) == nil {
		t.Error("a changed body verified")
	}
	bad.Items[0].Item.Hash = HashBody(bad.Items[0].Item.Body)
	if VerifyPackage(k.pub, &bad) == nil {
		t.Error("a changed item with a matching hash verified")
	}
	other := pk
	other.Size = 8
	if VerifyPackage(k.pub, &other) == nil {
		t.Error("a package with a changed size verified")
	}
	if VerifyPackage(newKey(t).pub, &pk) == nil {
		t.Error("a package verified under another key")
	}
}

// TestAdmissionBodyHashLowerCase: the body hash is the lower-case hex
// SignAdmission writes; the same statement with the hash in upper case,
// validly signed, is malformed (it was admitted, then always refused as
// tampered, and counted as a second single-use admission).
func TestAdmissionBodyHashLowerCase(t *testing.T) {
	fr, us := newKey(t), newKey(t)
	at := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	sum := sha256.Sum256([]byte("body"))
	lower := hex.EncodeToString(sum[:])
	sign := func(h string) string {
		st := admissionStatement(fr.b64(), us.b64(), at, h)
		return base64.RawURLEncoding.EncodeToString(st) + "." + base64.RawURLEncoding.EncodeToString(ed25519.Sign(fr.priv, st))
	}
	if a, err := CheckAdmission(sign(lower), us.b64(), at, 10*time.Minute); err != nil || a.BodySHA256 != lower {
		t.Fatalf("lower case: %v %+v", err, a)
	}
	if _, err := CheckAdmission(sign(strings.ToUpper(lower)), us.b64(), at, 10*time.Minute); !errors.Is(err, ErrAdmission) {
		t.Fatalf("upper case admitted: %v", err)
	}
}

// FuzzCheckAdmission: whatever the header holds, only an admission fr
// signed for us at a time within the window is accepted, and it names
// fr's key and the body hash fr signed.
func FuzzCheckAdmission(f *testing.F) {
	fr, us := newKey(f), newKey(f)
	at := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	body := []byte(`{"envelope":""}`)
	good := SignAdmission(fr.priv, us.b64(), body, at)
	f.Add(good)
	f.Add("not.an admission")
	f.Add(strings.Repeat("A", 2000))
	sum := sha256.Sum256(body)
	f.Fuzz(func(t *testing.T, v string) {
		a, err := CheckAdmission(v, us.b64(), at, 10*time.Minute)
		if err == nil && (a.From != fr.b64() || a.BodySHA256 != hex.EncodeToString(sum[:])) {
			t.Fatalf("admitted what fr did not sign: %+v", a)
		}
	})
}

// TestMarkedOriginsUnambiguous: the marked hash joined origins with
// commas, so ["US","CA"] and ["US,CA"] (or [] and [""]) hashed alike and
// an item's origins could be rewritten at rest unnoticed. They differ
// now, and an item whose origins are country codes hashes exactly as the
// accord-marked/2 text did, so hashes already logged still verify.
func TestMarkedOriginsUnambiguous(t *testing.T) {
	at := time.Date(2026, 11, 3, 10, 0, 0, 0, time.UTC)
	it := Item{Key: "rep:r-1", Kind: KindReports, TLP: TLPAmber, Origins: []string{"US", "CA"}, Campaign: "c-1", Updated: at, Hash: HashBody([]byte(`{}`))}
	terms := &Terms{Agreement: "US-FR", Version: 1, RetentionDays: 365}
	tb, _ := json.Marshal(terms)
	v2 := HashBody([]byte("accord-marked/2\nrep:r-1\nreports\namber\nUS,CA\n0\n0\nc-1\n2026-11-03T10:00:00Z\n" + it.Hash + "\n" + HashBody(tb) + "\n"))
	if got := it.Marked(terms); got != v2 {
		t.Errorf("an item of two country codes no longer hashes as logged: %s, want %s", got, v2)
	}
	for _, pair := range [][2][]string{
		{{"US", "CA"}, {"US,CA"}},
		{nil, {""}},
		{{"US"}, {"US", ""}},
		{{"US", "CA", "DE"}, {"US,CA", "DE"}},
	} {
		a, b := it, it
		a.Origins, b.Origins = pair[0], pair[1]
		if a.Marked(terms) == b.Marked(terms) || a.MarkedV1(terms) == b.MarkedV1(terms) || a.Marked(nil) == b.Marked(nil) {
			t.Errorf("origins %q and %q hash alike", pair[0], pair[1])
		}
	}
}
