package nodetest

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/accord-antispam/accord/internal/federation/fedhttp"
)

// hookTransport calls before(n) ahead of the n-th request (from 1) and,
// while drop is set, keeps the body of the request and answers nothing,
// as a proxy that swallows an envelope would.
type hookTransport struct {
	mu     sync.Mutex
	n      int
	before func(n int)
	drop   bool
	kept   []byte
}

func (h *hookTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	h.mu.Lock()
	h.n++
	n, before, drop := h.n, h.before, h.drop
	h.mu.Unlock()
	if before != nil {
		before(n)
	}
	if drop {
		b, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.kept = b
		h.mu.Unlock()
		return nil, errors.New("502 from the proxy (the test kept the envelope)")
	}
	return http.DefaultTransport.RoundTrip(r)
}

// compareBoth runs custody compare on both ends of a link and fails on
// any problem.
func compareBoth(t *testing.T, a, b *node) {
	t.Helper()
	ctx := context.Background()
	for _, pair := range [][2]*node{{a, b}, {b, a}} {
		c, err := pair[0].svc.CompareCustody(ctx, pair[1].name)
		if err != nil {
			t.Fatalf("%s custody compare %s: %v", pair[0].name, pair[1].name, err)
		}
		if len(c.Problems) > 0 {
			t.Errorf("%s custody compare %s: %v", pair[0].name, pair[1].name, c.Problems)
		}
		v, err := pair[0].svc.VerifyCustody(ctx, pair[1].name)
		if err != nil || len(v.Problems) > 0 {
			t.Errorf("%s custody verify %s: %v %v", pair[0].name, pair[1].name, v.Problems, err)
		}
	}
}

// outsideV7 lists what DE holds from FR that v7 (indicators only) does
// not allow.
func outsideV7(t *testing.T, de *node) []string {
	var out []string
	for _, k := range held(t, de, "fr") {
		if !strings.HasPrefix(k, "ind:") {
			out = append(out, k)
		}
	}
	return out
}

// TestResealedEnvelopeRace is the attack review's race: FR's envelope 3
// under v6 is swallowed by a proxy; FR narrows to v7; at the next round
// FR asks DE whether it holds envelope 3 ("not held"), and just before
// FR's re-decided envelope arrives the proxy delivers the old copy. It
// was accepted (DE kept the campaign and reports v7 forbids), FR's new
// envelope 3 got 409 replay for good and custody compare blamed FR. Now
// the re-decided envelope takes a new sequence, DE — told by the status
// query — refuses the old copy in every order, and the link goes on.
func TestResealedEnvelopeRace(t *testing.T) {
	ctx := context.Background()
	c := &clock{t: time.Date(2026, 11, 3, 10, 5, 0, 0, time.UTC)}
	fr, de := newNode(t, c, "fr", "FR"), newNode(t, c, "de", "DE")
	fr.know(t, de, "DE", frDE6)
	de.know(t, fr, "FR", back)
	fr.file(t, spam("12.0.0.1", "deals@pharma-mailer.example", "Cheap meds", pharma, 1), "a@example.fr")
	if _, err := fr.svc.Sync(ctx, "de"); err != nil {
		t.Fatal(err)
	}
	fr.file(t, spam("12.0.0.2", "deals@pharma-mailer.example", "Cheap meds", pharma, 2), "b@example.fr")

	h := &hookTransport{drop: true}
	fr.svc.Transport = &fedhttp.Transport{Client: &http.Client{Transport: h}}
	if _, err := fr.svc.Sync(ctx, "de"); err == nil {
		t.Fatal("the swallowed envelope went unnoticed")
	}
	old := h.kept
	if pi, _ := fr.svc.PendingOf(ctx, "de"); pi == nil || pi.Seq != 2 {
		t.Fatalf("pending: %+v", pi)
	}
	setAgreement(t, fr, "de", frDE7)
	c.Add(time.Second)

	// The old copy arrives between DE's "not held" and FR's new envelope.
	var raced []int
	h.mu.Lock()
	h.drop, h.n = false, 0
	h.before = func(n int) {
		if n == 2 {
			st, _ := postRaw(t, de.url, old)
			raced = append(raced, st)
		}
	}
	h.mu.Unlock()
	res, err := fr.svc.Sync(ctx, "de")
	if err != nil {
		t.Fatalf("the round after the race: %v", err)
	}
	if len(raced) != 1 || raced[0] == http.StatusOK {
		t.Errorf("the old envelope, arriving after DE said it did not hold it, was accepted: %v", raced)
	}
	if res.Dropped == 0 || res.Envelopes == 0 {
		t.Errorf("round: %s", res)
	}
	if got := outsideV7(t, de); len(got) > 0 {
		t.Errorf("DE holds what v7 forbids: %v", got)
	}
	link, _ := fr.store.Link(ctx, "de")
	if link.OutSeq != 3 || link.OutVoid != 2 {
		t.Errorf("FR's link: %+v (the new envelope must not reuse sequence 2)", link)
	}
	// Later still: refused too, and the link is not wedged.
	h.mu.Lock()
	h.before = nil
	h.mu.Unlock()
	if st, _ := postRaw(t, de.url, old); st == http.StatusOK {
		t.Error("the old envelope was accepted after the new one")
	}
	fr.file(t, spam("12.0.0.3", "deals@pharma-mailer.example", "Cheap meds", pharma, 3), "c@example.fr")
	if res, err := fr.svc.Sync(ctx, "de"); err != nil || res.Envelopes != 1 {
		t.Fatalf("the next round: %v %v", res, err)
	}
	compareBoth(t, fr, de)
	if got := outsideV7(t, de); len(got) > 0 {
		t.Errorf("DE holds what v7 forbids: %v", got)
	}
}

// TestForcedDropThenLateArrival: FR's envelope is swallowed, the operator
// drops it with --force (DE cannot be asked), then the old copy reaches
// DE after all. The next round finds that DE holds it, records it (custody
// stays one on both sides), withdraws what the agreement in force does not
// allow, and the link goes on; custody compare in between says the peer
// holds an envelope set aside, not that FR lost its log.
func TestForcedDropThenLateArrival(t *testing.T) {
	ctx := context.Background()
	c := &clock{t: time.Date(2026, 11, 3, 10, 5, 0, 0, time.UTC)}
	fr, de := newNode(t, c, "fr", "FR"), newNode(t, c, "de", "DE")
	fr.know(t, de, "DE", frDE6)
	de.know(t, fr, "FR", back)
	fr.file(t, spam("12.0.0.1", "deals@pharma-mailer.example", "Cheap meds", pharma, 1), "a@example.fr")
	h := &hookTransport{drop: true}
	fr.svc.Transport = &fedhttp.Transport{Client: &http.Client{Transport: h}}
	if _, err := fr.svc.Sync(ctx, "de"); err == nil {
		t.Fatal("the swallowed envelope went unnoticed")
	}
	if err := fr.svc.DropPending(ctx, "de", true); err != nil {
		t.Fatal(err)
	}
	if pi, _ := fr.svc.PendingOf(ctx, "de"); pi != nil {
		t.Fatalf("still pending after --drop --force: %+v", pi)
	}
	setAgreement(t, fr, "de", frDE7)
	c.Add(time.Second)
	if st, code := postRaw(t, de.url, h.kept); st != http.StatusOK {
		t.Fatalf("the late copy: %d %s", st, code)
	}
	h.mu.Lock()
	h.drop = false
	h.mu.Unlock()
	cmp, err := fr.svc.CompareCustody(ctx, "de")
	if err != nil || len(cmp.Problems) > 0 || !strings.Contains(strings.Join(cmp.Notes, "\n"), "set aside") {
		t.Errorf("compare before the next round: %v %v %v", cmp.Problems, cmp.Notes, err)
	}
	res, err := fr.svc.Sync(ctx, "de")
	if err != nil {
		t.Fatalf("the round after the late arrival: %v", err)
	}
	if len(res.Superseded) != 1 || res.Withdrawn == 0 {
		t.Errorf("the late copy is not recorded as superseded and withdrawn: %s", res)
	}
	if got := outsideV7(t, de); len(got) > 0 {
		t.Errorf("DE holds what v7 forbids: %v", got)
	}
	fr.file(t, spam("12.0.0.3", "deals@pharma-mailer.example", "Cheap meds", pharma, 3), "c@example.fr")
	if res, err := fr.svc.Sync(ctx, "de"); err != nil || res.Envelopes != 1 {
		t.Fatalf("the next round: %v %v", res, err)
	}
	compareBoth(t, fr, de)
}
