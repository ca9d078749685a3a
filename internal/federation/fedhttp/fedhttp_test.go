package fedhttp_test

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
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
	return inboxWith(t, maxBytes, conc, nil)
}

// inboxWith is inbox with its bounds changed by set before it serves.
func inboxWith(t *testing.T, maxBytes int64, conc int, set func(*fedhttp.Inbox)) (url string, us, fr, de key, svc *federation.Service) {
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
	in := fedhttp.NewInbox(svc, maxBytes, conc, nil)
	if set != nil {
		set(in)
	}
	srv := httptest.NewServer(in)
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
	pw, wg := trickle(t, url)
	pw.Close()
	wg.Wait()
}

// trickle starts a chunked POST whose body has only begun.
func trickle(t *testing.T, url string) (*io.PipeWriter, *sync.WaitGroup) {
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
	return pw, &wg
}

// slowConn is the attack review's slowloris sender: a POST that declares
// 100,000 bytes and then sends one every half second. It returns the
// first line of the answer, or "" when none came in 10 s.
func slowConn(t *testing.T, addr string, answer chan<- string) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Error(err)
		answer <- ""
		return
	}
	defer c.Close()
	fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: inbox\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{", fedhttp.InboxPath)
	got := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(c).ReadString('\n')
		got <- strings.TrimSpace(line)
	}()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case l := <-got:
			answer <- l
			return
		case <-deadline:
			answer <- ""
			return
		case <-time.After(500 * time.Millisecond):
			c.Write([]byte(" "))
		}
	}
}

// TestSlowSendersDoNotLockPeersOut: four connections trickling a body a
// byte at a time (the attack review's slowloris) used to take every slot
// of the inbox until the server's request timeout, and every peer's
// envelope got 503. Now a client address reads at most PerClient bodies
// at once (the others are busy at once), a body that does not keep the
// pace is cut with 408 too-slow, and a peer from another address is
// served meanwhile.
func TestSlowSendersDoNotLockPeersOut(t *testing.T) {
	url, us, fr, _, _ := inboxWith(t, 1<<20, 4, func(in *fedhttp.Inbox) {
		in.ReadGrace, in.MinRate = time.Second, 1<<20
	})
	addr := strings.TrimPrefix(strings.TrimSuffix(url, fedhttp.InboxPath), "http://")
	answers := make(chan string, 4)
	for i := 0; i < 4; i++ {
		go slowConn(t, addr, answers)
	}
	time.Sleep(300 * time.Millisecond) // the four are connected and trickling
	// A peer from another address, while they trickle.
	peer := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DialContext: (&net.Dialer{
		LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}).DialContext}}
	res, err := peer.Post(url, "application/json", strings.NewReader(string(seal(t, fr, us.b64(), 1, `{}`))))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode == http.StatusServiceUnavailable || strings.Contains(string(b), `"busy"`) {
		t.Errorf("a peer is locked out by slow senders: %d %s", res.StatusCode, b)
	}
	var busy, slow int
	for i := 0; i < 4; i++ {
		switch l := <-answers; {
		case strings.Contains(l, " 503 "):
			busy++
		case strings.Contains(l, " 408 "):
			slow++
		default:
			t.Errorf("a slow sender was answered %q", l)
		}
	}
	if busy != 2 || slow != 2 {
		t.Errorf("%d slow senders turned away as busy and %d cut as too slow, want 2 and 2", busy, slow)
	}
}

// slowAdmitted sends body with its admission adm over a raw connection at
// rate bytes a second — well above the inbox's floor — and returns the
// answer's status line, and how long it took to come.
func slowAdmitted(t *testing.T, addr, adm string, body []byte, rate int, answer chan<- string) {
	start := time.Now()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Error(err)
		answer <- ""
		return
	}
	defer c.Close()
	fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: inbox\r\nContent-Type: application/json\r\n%s: %s\r\nContent-Length: %d\r\n\r\n",
		fedhttp.InboxPath, fedhttp.AdmissionHeader, adm, len(body))
	got := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(c).ReadString('\n')
		got <- strings.TrimSpace(line)
	}()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case l := <-got:
			answer <- fmt.Sprintf("%s after %.0fs", l, time.Since(start).Seconds())
			return
		case <-tick.C:
			n := min(len(body), rate/10)
			if n > 0 {
				c.Write(body[:n])
				body = body[n:]
			}
		}
	}
}

// TestOnePeerCannotHoldEveryPeersPlace is the attack review's finding:
// with inbox_concurrency = 1 the peers' pool had two places, and one
// peer's two admitted bodies, sent slowly but above the floor, held both
// for as long as they lasted (a 32 MiB body at the floor: 34 minutes) —
// another peer's admitted envelope waited, then got 503 busy. Each peer
// now reads its first body in a place of its own, and no body is read
// longer than MaxRead: the slow ones are cut with 408 too-slow.
func TestOnePeerCannotHoldEveryPeersPlace(t *testing.T) {
	url, us, fr, de, svc := inboxWith(t, 1<<20, 1, func(in *fedhttp.Inbox) {
		in.ReadGrace, in.MinRate, in.SlotWait, in.MaxRead = time.Second, 1024, time.Second, 3*time.Second
	})
	ctx := context.Background()
	if err := svc.Store.SetPeerStatus(ctx, "de", federation.StatusActive, time.Now()); err != nil {
		t.Fatal(err)
	}
	addr := strings.TrimPrefix(strings.TrimSuffix(url, fedhttp.InboxPath), "http://")
	answers := make(chan string, 2)
	for i := 0; i < 2; i++ { // FR's two places (PerClient), at 20 KB/s for over 30 s
		body := seal(t, fr, us.b64(), uint64(i+1), strings.Repeat("x", 500000))
		go slowAdmitted(t, addr, federation.SignAdmission(fr.priv, us.b64(), body, time.Now()), body, 20000, answers)
	}
	time.Sleep(500 * time.Millisecond)
	// DE's admitted envelope is read at once, and answered (refused or
	// not: not busy).
	body := seal(t, de, us.b64(), 1, `{}`)
	req, _ := http.NewRequest("POST", url, strings.NewReader(string(body)))
	req.Header.Set(fedhttp.AdmissionHeader, federation.SignAdmission(de.priv, us.b64(), body, time.Now()))
	start := time.Now()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode == http.StatusServiceUnavailable || strings.Contains(string(b), `"busy"`) {
		t.Errorf("DE's admitted envelope, while FR's two slow bodies are read: %d %s after %s", res.StatusCode, b, time.Since(start))
	}
	for i := 0; i < 2; i++ {
		select {
		case l := <-answers:
			if !strings.Contains(l, " 408 ") {
				t.Errorf("FR's slow admitted body: %q, want 408 too-slow after MaxRead", l)
			}
		case <-time.After(15 * time.Second):
			t.Fatal("FR's slow admitted body is still being read 15 s later (MaxRead is 3 s)")
		}
	}
}

// lockedBuffer is a log sink the server's goroutines share.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestRefusalsOfStrangersDoNotFloodTheLog: every refused admission wrote a
// WARN line, and then its envelope another — 150 fuzzed requests from
// anyone gave 300 lines. Lines about requests no peer admitted are now
// bounded a minute, the count of those left out said in the next; a
// peer's are all written.
func TestRefusalsOfStrangersDoNotFloodTheLog(t *testing.T) {
	var logs lockedBuffer
	url, us, fr, _, _ := inboxWith(t, 1<<20, 4, func(in *fedhttp.Inbox) {
		in.Log = slog.New(slog.NewTextHandler(&logs, nil))
	})
	for i := 0; i < 150; i++ {
		req, _ := http.NewRequest("POST", url, strings.NewReader(`{}`))
		req.Header.Set(fedhttp.AdmissionHeader, fmt.Sprintf("not.an-admission-%d", i))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusBadRequest {
			t.Fatalf("request %d: %d", i, res.StatusCode)
		}
	}
	if n := strings.Count(logs.String(), "\n"); n == 0 || n > 30 {
		t.Errorf("150 refused requests from a stranger wrote %d log lines:\n%.2000s", n, logs.String())
	}
	// A peer's admitted envelope, refused, is still logged.
	body := seal(t, fr, us.b64(), 1, `{}`)
	req, _ := http.NewRequest("POST", url, strings.NewReader(`{"other":1}`))
	req.Header.Set(fedhttp.AdmissionHeader, federation.SignAdmission(fr.priv, us.b64(), body, time.Now()))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if !strings.Contains(logs.String(), "code=tampered") {
		t.Errorf("a peer's refused envelope was not logged:\n%.2000s", logs.String())
	}
}
