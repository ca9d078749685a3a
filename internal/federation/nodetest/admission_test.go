package nodetest

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/accord-antispam/accord/internal/federation"
	"github.com/accord-antispam/accord/internal/federation/fedhttp"
	"github.com/accord-antispam/accord/internal/store/sqlite"
)

// slowBody is the attack review's slow sender: from address from, a POST
// that declares a large body and sends it just faster than the inbox's
// floor, so its read is never cut; it holds its place until stop.
func slowBody(t *testing.T, addr, from string, rate int, stop <-chan struct{}, wg *sync.WaitGroup) {
	defer wg.Done()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Error(err)
		return
	}
	defer c.Close()
	fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: inbox\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n{\"envelope\":\"", fedhttp.InboxPath)
	chunk := bytes.Repeat([]byte("A"), rate/10)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
			if _, err := c.Write(chunk); err != nil {
				return
			}
		}
	}
}

// postFrom posts body to the inbox at url from address from, with an
// admission header when adm is not "".
func postFrom(t *testing.T, url, from string, body []byte, adm string) (int, string) {
	t.Helper()
	cl := &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{DialContext: (&net.Dialer{
		LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}).DialContext}}
	defer cl.CloseIdleConnections()
	req, _ := http.NewRequest("POST", url+fedhttp.InboxPath, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if adm != "" {
		req.Header.Set(fedhttp.AdmissionHeader, adm)
	}
	res, err := cl.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// TestPeersReadInTheirOwnPool is the attack review's finding: eight
// connections from four addresses, each sending its body just above the
// inbox's minimum pace, held every reading place, and every peer's sync
// and status query got 503 busy. A peer's envelope now comes with a
// signed admission, checked before the body is read, and reads in the
// peers' pool: FR's sync goes through while the general pool is full. An
// unsigned body, a stranger's admission, a forged one, a copied one, a
// stale one and one for another node all read in the general pool (busy),
// and an admission for another body is refused once the body is read.
func TestPeersReadInTheirOwnPool(t *testing.T) {
	ctx := context.Background()
	c := &clock{t: time.Now().UTC()}
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "us.db"))
	if err != nil {
		t.Fatal(err)
	}
	const rate = 2048 // Bytes a second each slow sender keeps up: above the floor below.
	fr := newNode(t, c, "fr", "FR")
	us := newNodeWith(t, c, "us", "US", st, 0, func(in *fedhttp.Inbox) {
		in.ReadGrace, in.MinRate, in.SlotWait = time.Second, 1024, time.Second
	})
	fr.know(t, us, "US", frUS)
	us.know(t, fr, "FR", back)
	fr.file(t, spam("12.0.0.1", "deals@pharma-mailer.example", "Cheap meds", pharma, 1), "a@example.fr")

	addr := strings.TrimPrefix(us.url, "http://")
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ { // 2×the default concurrency: the whole general pool, two per address
		wg.Add(1)
		go slowBody(t, addr, fmt.Sprintf("127.0.0.%d", 2+i/2), rate, stop, &wg)
	}
	defer func() { close(stop); wg.Wait() }()
	time.Sleep(500 * time.Millisecond)

	n := 0
	status := func(to string, at time.Time) []byte {
		n++
		q, _ := json.Marshal(federation.StatusQuery{Nonce: fmt.Sprint(n)})
		b, err := federation.Seal(fr.svc.Key, federation.Envelope{Type: federation.TypeStatus, To: to, Time: at}, q)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	// The general pool is held: an unsigned status query waits, then is busy.
	plain := status(us.pub, c.Now())
	if code, body := postFrom(t, us.url, "127.0.0.10", plain, ""); code != http.StatusServiceUnavailable {
		t.Fatalf("the slow senders do not hold the general pool: an unsigned envelope got %d %s", code, body)
	}

	// FR's sync, as the node sends it, goes through.
	res, err := fr.svc.Sync(ctx, "us")
	if err != nil || res.Items == 0 {
		t.Fatalf("FR's sync while slow senders hold the general pool: %+v %v", res, err)
	}
	if got, _ := us.store.Received(ctx, federation.ReceivedFilter{Peer: "fr"}); len(got) != res.Items {
		t.Errorf("US holds %d items, FR sent %d", len(got), res.Items)
	}

	// What gets no reserved place.
	_, mallory, _ := ed25519.GenerateKey(nil)
	copied := status(us.pub, c.Now())
	admitted := federation.SignAdmission(fr.svc.Key, us.pub, copied, c.Now())
	if code, body := postFrom(t, us.url, "127.0.0.10", copied, admitted); code != http.StatusOK {
		t.Fatalf("FR's admitted status query: %d %s", code, body)
	}
	forged := federation.SignAdmission(mallory, us.pub, plain, c.Now())
	if st, sig, ok := strings.Cut(forged, "."); ok { // FR's key named, mallory's signature
		stmt, _ := base64.RawURLEncoding.DecodeString(st)
		stmt = bytes.Replace(stmt, []byte(base64.StdEncoding.EncodeToString(mallory.Public().(ed25519.PublicKey))), []byte(fr.pub), 1)
		forged = base64.RawURLEncoding.EncodeToString(stmt) + "." + sig
	}
	for what, adm := range map[string]string{
		"a stranger's admission": federation.SignAdmission(mallory, us.pub, plain, c.Now()),
		"a forged admission":     forged,
		"a copied admission":     admitted,
		"a stale admission":      federation.SignAdmission(fr.svc.Key, us.pub, plain, c.Now().Add(-20*time.Minute)),
		"one for another node":   federation.SignAdmission(fr.svc.Key, fr.pub, plain, c.Now()),
		"a malformed admission":  "not.an admission",
		"an oversized admission": strings.Repeat("A", 2000),
	} {
		body := plain
		if what == "a copied admission" {
			body = copied
		}
		if code, raw := postFrom(t, us.url, "127.0.0.11", body, adm); code != http.StatusServiceUnavailable {
			t.Errorf("%s got a reserved place: %d %s", what, code, raw)
		}
	}
	// An admission names its body: another body under it is refused.
	other := status(us.pub, c.Now())
	if code, raw := postFrom(t, us.url, "127.0.0.12", other, federation.SignAdmission(fr.svc.Key, us.pub, plain, c.Now())); code != http.StatusBadRequest || !strings.Contains(raw, "tampered") {
		t.Errorf("a body that is not the one its admission names: %d %s", code, raw)
	}
}
