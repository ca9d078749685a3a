package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/accord-antispam/accord/internal/consent"
	"github.com/accord-antispam/accord/internal/federation"
	"github.com/accord-antispam/accord/internal/label"
	"github.com/accord-antispam/accord/internal/lint"
	"github.com/accord-antispam/accord/internal/store/sqlite"
)

// A partner's labels count only while the agreement with it says
// trust_labels, and its revocations come from its own signed status list.
func TestPartnersLabelsFollowTheAgreement(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "accord.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	own := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{1}, 32))
	frKey := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{2}, 32))
	deKey := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{3}, 32))
	now := time.Now().UTC()
	// The French node serves its status list: label "fr-2" revoked.
	frStatus, _ := label.SignStatus(label.Status{IssuedAt: now, NextUpdate: now.Add(time.Hour), Labels: []label.RevokedLabel{{ID: "fr-2", At: now}}}, frKey)
	var frMu sync.Mutex
	fr := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/labels/v1/status" {
			http.NotFound(w, r)
			return
		}
		frMu.Lock()
		defer frMu.Unlock()
		json.NewEncoder(w).Encode(frStatus)
	}))
	defer fr.Close()
	agreement := func(trust bool, version int) *federation.Agreement {
		src := "id = \"MOU\"\nversion = " + strconv.Itoa(version) + "\naudience = [\"x\"]\nshare = [\"indicators\"]\norigins = [\"*\"]\n"
		if trust {
			src += "trust_labels = true\n"
		}
		a, err := federation.ParseAgreement([]byte(src))
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	b64 := func(k ed25519.PrivateKey) string {
		return base64.StdEncoding.EncodeToString(k.Public().(ed25519.PublicKey))
	}
	for _, p := range []federation.Peer{
		{Name: "fr", URL: fr.URL, Jurisdiction: "FR", Status: federation.StatusActive, Added: now,
			Keys: []federation.PeerKey{{Key: b64(frKey), Status: federation.KeyActive, Added: now}}, Agreement: agreement(true, 1)},
		{Name: "de", URL: "http://127.0.0.1:1", Jurisdiction: "DE", Status: federation.StatusActive, Added: now,
			Keys: []federation.PeerKey{{Key: b64(deKey), Status: federation.KeyActive, Added: now}}, Agreement: agreement(false, 1)},
	} {
		if err := st.AddPeer(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	svc, _ := consent.New(st, consent.Options{Keys: consent.Keys{Recipients: bytes.Repeat([]byte{1}, 32), TokenCipher: bytes.Repeat([]byte{2}, 32),
		TokenMAC: bytes.Repeat([]byte{3}, 32)}, Signer: own})
	cert := &lint.Certifier{Consent: svc, Labels: st, Key: own}
	trust := &labelTrust{verifier: label.NewVerifier(nil), own: label.Issuer{Name: "this node", Key: own.Public().(ed25519.PublicKey)},
		cert: cert, fed: st, client: http.DefaultClient, log: slog.New(slog.DiscardHandler)}
	trust.refresh(ctx)

	body := "From: news@shop.example\r\nSubject: s\r\n\r\nhello\r\n"
	check := func(key ed25519.PrivateKey, id string) string {
		l := &label.Label{ID: id, Sender: "shop.example", Domain: "shop.example", Canon: "relaxed", BodyHash: label.BodyHash(label.Body([]byte(body)), "relaxed"),
			HeadHash: label.HeaderHash([]byte(body)), Issued: now.Add(-time.Minute), Expires: now.Add(time.Hour)}
		l.Sign(key)
		r := trust.verifier.Verify(label.Input{Raw: []byte(body), Values: []string{l.Value()}, FromDomain: "shop.example",
			DKIM: []label.DKIM{{Domain: "shop.example", Result: "pass"}}})
		return r.Status
	}
	for _, tc := range []struct {
		key        ed25519.PrivateKey
		id, status string
	}{{own, "own-1", label.Valid}, {frKey, "fr-1", label.Valid}, {frKey, "fr-2", label.Revoked}, {deKey, "de-1", label.Untrusted}} {
		if got := check(tc.key, tc.id); got != tc.status {
			t.Errorf("label %s: %s, want %s", tc.id, got, tc.status)
		}
	}
	// A replay of France's list from before it revoked fr-2 (signed by
	// France, but older than the list held) does not unrevoke it.
	old, _ := label.SignStatus(label.Status{IssuedAt: now.Add(-10 * time.Minute), NextUpdate: now.Add(time.Hour)}, frKey)
	frMu.Lock()
	frStatus = old
	frMu.Unlock()
	trust.refresh(ctx)
	if got := check(frKey, "fr-2"); got != label.Revoked {
		t.Errorf("after an older list was served: %s", got)
	}
	// The agreement with France no longer says trust_labels.
	if err := st.SetAgreement(ctx, "fr", agreement(false, 2), now); err != nil {
		t.Fatal(err)
	}
	trust.refresh(ctx)
	if got := check(frKey, "fr-1"); got != label.Untrusted {
		t.Errorf("after the agreement changed: %s", got)
	}
	// Germany's agreement now trusts labels, but its node is unreachable:
	// with no status list of Germany's, its labels' revocation is unknown,
	// never valid.
	if err := st.SetAgreement(ctx, "de", agreement(true, 2), now); err != nil {
		t.Fatal(err)
	}
	trust.refresh(ctx)
	if got := check(deKey, "de-1"); got != label.RevocationUnknown {
		t.Errorf("trusted, unreachable partner: %s", got)
	}
}
