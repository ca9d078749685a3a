package fedhttp_test

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/accord-antispam/accord/internal/federation"
	"github.com/accord-antispam/accord/internal/federation/fedhttp"
	"github.com/accord-antispam/accord/internal/store/sqlite"
)

type key struct {
	pub  ed25519.PublicKey
	priv ed25519.PrivateKey
}

func newKey() key         { p, s, _ := ed25519.GenerateKey(nil); return key{p, s} }
func (k key) b64() string { return base64.StdEncoding.EncodeToString(k.pub) }
func seal(t *testing.T, from key, to string, seq uint64, payload string) []byte {
	t.Helper()
	b, err := federation.Seal(from.priv, federation.Envelope{Type: federation.TypeSync, To: to, Seq: seq, Time: time.Now()}, []byte(payload))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// inbox runs US's inbox with FR as an active peer and DE as a suspended
// one.
func inbox(t *testing.T, maxBytes int64, conc int) (url string, us, fr, de key, svc *federation.Service) {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "us.db"))
	if err != nil {
		t.Fatal(err)
	}
	us, fr, de = newKey(), newKey(), newKey()
	svc = &federation.Service{Store: st, Source: st, Key: us.priv, Jurisdiction: "US"}
	if err := svc.Init(ctx); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for _, p := range []struct {
		name string
		k    key
		s    federation.Status
	}{{"fr", fr, federation.StatusActive}, {"de", de, federation.StatusSuspended}} {
		if err := st.AddPeer(ctx, federation.Peer{Name: p.name, Jurisdiction: "FR", Status: p.s, Added: now,
			Keys: []federation.PeerKey{{Key: p.k.b64(), Status: federation.KeyActive, Added: now}}}); err != nil {
			t.Fatal(err)
		}
	}
	srv := httptest.NewServer(fedhttp.NewInbox(svc, maxBytes, conc, nil))
	t.Cleanup(func() { srv.Close(); st.Close() })
	return srv.URL + fedhttp.InboxPath, us, fr, de, svc
}

type reply struct {
	status int
	code   string
	msg    string
	raw    string
}

func post(t *testing.T, url string, body []byte) reply {
	t.Helper()
	res, err := http.Post(url, "application/json", strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var e struct {
		Error struct{ Code, Message string }
	}
	json.Unmarshal(b, &e)
	return reply{res.StatusCode, e.Error.Code, e.Error.Message, string(b)}
}

// Before its signature is checked, an envelope learns nothing: an unknown
// key, a forged signature with a peer's key, a suspended peer and a
// revoked key all get the same answer, with no peer name or state.
func TestInboxRevealsNothingBeforeTheSignature(t *testing.T) {
	url, us, fr, de, svc := inbox(t, 0, 0)
	mallory := newKey()
	forged := seal(t, mallory, us.b64(), 1, `{}`)
	var s federation.Sealed
	json.Unmarshal(forged, &s)
	eb, _ := base64.StdEncoding.DecodeString(s.Envelope)
	eb = []byte(strings.Replace(string(eb), mallory.b64(), fr.b64(), 1)) // claims to be FR, signed by mallory
	s.Envelope = base64.StdEncoding.EncodeToString(eb)
	claimsFR, _ := json.Marshal(s)
	cases := map[string][]byte{
		"unknown key":    seal(t, mallory, us.b64(), 1, `{}`),
		"forged as FR":   claimsFR,
		"suspended peer": seal(t, de, us.b64(), 1, `{}`),
	}
	var first reply
	for name, body := range cases {
		r := post(t, url, body)
		if r.status != http.StatusForbidden || r.code != "refused" {
			t.Errorf("%s: %d %s", name, r.status, r.raw)
		}
		for _, leak := range []string{"fr", "de", "suspended", "unknown", "signature", "peer"} {
			if strings.Contains(strings.ToLower(r.msg), leak) {
				t.Errorf("%s: the answer says %q: %s", name, leak, r.raw)
			}
		}
		if first.raw == "" {
			first = r
		} else if r.raw != first.raw {
			t.Errorf("%s answers differently from another refusal:\n%s\n%s", name, r.raw, first.raw)
		}
	}
	if err := svc.Store.SetKeyStatus(context.Background(), "fr", fr.b64(), federation.KeyRevoked, time.Now()); err != nil {
		t.Fatal(err)
	}
	if r := post(t, url, seal(t, fr, us.b64(), 1, `{}`)); r.raw != first.raw {
		t.Errorf("revoked key: %s", r.raw)
	}
	// Internal failures say nothing of their cause.
	svc.Store.SetKeyStatus(context.Background(), "fr", fr.b64(), federation.KeyActive, time.Now())
	if r := post(t, url, seal(t, fr, us.b64(), 1, `not json`)); r.code != "malformed" || strings.Contains(r.msg, "invalid character") {
		t.Errorf("a bad payload: %s", r.raw)
	}
}

// The body cap holds before anything is read past it, and the inbox
// handles at most its concurrency at once, telling the rest to come back.
func TestInboxBounds(t *testing.T) {
	url, us, fr, _, _ := inbox(t, 1<<20, 1)
	big := seal(t, fr, us.b64(), 1, strings.Repeat("x", 2<<20))
	if r := post(t, url, big); r.status != http.StatusRequestEntityTooLarge || r.code != "too-large" {
		t.Errorf("2 MiB into a 1 MiB inbox: %d %s", r.status, r.raw)
	}
	// Chunked (no Content-Length): still cut at the cap.
	req, _ := http.NewRequest("POST", url, io.MultiReader(strings.NewReader(string(big))))
	req.ContentLength = -1
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("chunked over the cap: %d", res.StatusCode)
	}
	// One slot: while a slow sender holds it, another is turned away.
	pr, pw := io.Pipe()
	slow, _ := http.NewRequest("POST", url, pr)
	slow.ContentLength = -1
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if res, err := http.DefaultClient.Do(slow); err == nil {
			res.Body.Close()
		}
	}()
	pw.Write([]byte(`{"envelope":`))
	var busy reply
	for i := 0; i < 50; i++ {
		time.Sleep(20 * time.Millisecond)
		if busy = post(t, url, seal(t, fr, us.b64(), 1, `{}`)); busy.status == http.StatusServiceUnavailable {
			break
		}
	}
	if busy.status != http.StatusServiceUnavailable || busy.code != "busy" {
		t.Errorf("a second envelope while the slot is held: %d %s", busy.status, busy.raw)
	}
	pw.Close()
	wg.Wait()
}
