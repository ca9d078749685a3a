package nodetest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/accord-antispam/accord/internal/federation"
	"github.com/accord-antispam/accord/internal/federation/fedhttp"
	"github.com/accord-antispam/accord/internal/store/sqlite"
)

// slowConn writes at most rate bytes a second: a sender's slow uplink.
// Each chunk waits until the time the rate gives it since the first
// write, not a fixed pause after the last: on a loaded machine, pauses
// that overrun would add up and make the link slower than rate.
type slowConn struct {
	net.Conn
	rate  int
	start time.Time
	sent  int
}

func (c *slowConn) Write(b []byte) (int, error) {
	// A connection idle between requests earns no credit: a second behind
	// the rate is an idle link, not a slow machine, and starts again.
	if due := c.start.Add(time.Duration(c.sent) * time.Second / time.Duration(c.rate)); c.start.IsZero() || time.Since(due) > time.Second {
		c.start, c.sent = time.Now(), 0
	}
	n := 0
	for len(b) > 0 {
		k := min(len(b), c.rate/20)
		c.sent += k
		time.Sleep(time.Until(c.start.Add(time.Duration(c.sent) * time.Second / time.Duration(c.rate))))
		m, err := c.Conn.Write(b[:k])
		n += m
		if err != nil {
			return n, err
		}
		b = b[k:]
	}
	return n, nil
}

// slowLink is a client whose uploads go at rate bytes a second.
func slowLink(rate int) *http.Client {
	return &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &slowConn{Conn: c, rate: rate}, nil
	}}}
}

// TestSlowLinkShrinksEnvelopes is the fourth attack review's finding: the
// inbox reads one body for at most MaxRead, so an envelope larger than
// MaxRead × the sender's upload rate can never arrive — and the sender
// was not told (the server's write timeout, counted from the request's
// start, had passed when the refusal was written), so it sent the same
// envelope again at every round. Now the refusal arrives and says what
// arrived and the limit; the sender's error says what to do, and its next
// envelopes to that peer carry less, so everything arrives.
func TestSlowLinkShrinksEnvelopes(t *testing.T) {
	ctx := context.Background()
	c := &clock{t: time.Date(2026, 11, 3, 10, 5, 0, 0, time.UTC)}
	fr := newNode(t, c, "fr", "FR")
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "us.db"))
	if err != nil {
		t.Fatal(err)
	}
	us := newNodeServer(t, c, "us", "US", st, 0, func(in *fedhttp.Inbox) {
		in.ReadGrace, in.MinRate, in.MaxRead = time.Second, 1024, 3*time.Second
	}, func(hs *http.Server) {
		hs.WriteTimeout = 2 * time.Second // serve's request_timeout, scaled down: shorter than MaxRead
	})
	fr.know(t, us, "US", strings.Replace(frUS, `origins = ["US"]`, `origins = ["*"]`, 1))
	us.know(t, fr, "FR", back)
	// 12 reports of about 12 KB: an envelope of about 300 KB, where the
	// link carries 64 KB/s for 3 s.
	pad := strings.Repeat("Cheap meds without prescription, order today and save. ", 220)
	for i := 0; i < 12; i++ {
		fr.file(t, spam(fmt.Sprintf("12.0.1.%d", i+1), "deals@pharma-mailer.example", "Cheap meds", pad+pharma, i), fmt.Sprintf("alice%d@example.fr", i))
	}
	want := allowed(t, fr, "us")
	fr.svc.Transport = &fedhttp.Transport{Client: slowLink(64 << 10)}

	_, err = fr.svc.Sync(ctx, "us")
	var slow *federation.SlowError
	if !errors.As(err, &slow) || !slow.ByPeer || slow.MaxRead != 3*time.Second || slow.Sent <= 0 || slow.Sent >= slow.Size {
		t.Fatalf("the first sync over the slow link: %v (%+v), want the peer's too-slow refusal with what arrived and its limit", err, slow)
	}
	t.Logf("first sync: %v", err)
	for _, w := range []string{"us cut the envelope", "as too slow at its inbox's limit of 3s", "envelope_bytes", "inbox_max_read"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("the error does not say %q: %v", w, err)
		}
	}
	// The next rounds carry less: everything arrives.
	sent := 0
	for round := 0; round < 3 && err != nil; round++ {
		var res federation.SyncResult
		res, err = fr.svc.Sync(ctx, "us")
		sent += res.Items
		if err != nil {
			t.Logf("round %d: %v", round+2, err)
		}
	}
	if err != nil {
		t.Fatalf("still failing: %v", err)
	}
	got, _ := us.store.Received(ctx, federation.ReceivedFilter{Peer: "fr"})
	if len(got) != len(want) || sent != len(want) {
		t.Errorf("US holds %d items (%d sent after the cut), want %d", len(got), sent, len(want))
	}
}
