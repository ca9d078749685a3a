package nodetest

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/accord-antispam/accord/internal/federation"
	"github.com/accord-antispam/accord/internal/federation/fedhttp"
)

const (
	frDE6 = `id = "FR-DE"
version = 6
audience = ["de"]
share = ["indicators", "campaigns", "reports"]
tlp_max = "amber"
origins = ["*"]
`
	frDE7 = `id = "FR-DE"
version = 7
audience = ["de"]
share = ["indicators"]
tlp_max = "green"
origins = ["US"]
`
)

func postRaw(t *testing.T, url string, b []byte) (int, string) {
	t.Helper()
	res, err := http.Post(url+fedhttp.InboxPath, "application/json", strings.NewReader(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var e struct{ Error struct{ Code string } }
	json.NewDecoder(res.Body).Decode(&e)
	return res.StatusCode, e.Error.Code
}

// TestRefusedEnvelopeReplayedAfterNarrowing is the attack review's
// replay: DE suspends FR; FR's round under v6 is refused and a proxy keeps
// the bytes; FR narrows to v7; DE resumes FR; the captured envelope was
// accepted (the AMBER campaign and reports outside v7 with it), and FR's
// next round recorded it as delivered without a word. Now DE refuses an
// envelope sealed before it last set FR's status, refuses one decided
// under an older version of an agreement it already received a newer
// version of, and FR, finding that DE holds an envelope decided under a
// version no longer in force, says so and withdraws what v7 does not allow.
func TestRefusedEnvelopeReplayedAfterNarrowing(t *testing.T) {
	ctx := context.Background()
	c := &clock{t: time.Date(2026, 11, 3, 10, 5, 0, 0, time.UTC)}
	fr, de := newNode(t, c, "fr", "FR"), newNode(t, c, "de", "DE")
	fr.know(t, de, "DE", frDE6)
	de.know(t, fr, "FR", back)
	fr.file(t, spam("12.0.0.1", "deals@pharma-mailer.example", "Cheap meds", pharma, 1), "a@example.fr")

	// 1. Sealed while suspended, replayed after the resume.
	if err := de.store.SetPeerStatus(ctx, "fr", federation.StatusSuspended, c.Now()); err != nil {
		t.Fatal(err)
	}
	var captured []byte
	fr.svc.Transport = &fedhttp.Transport{Client: &http.Client{Transport: &captureTransport{next: http.DefaultTransport, got: &captured}}}
	c.Add(time.Second)
	if _, err := fr.svc.Sync(ctx, "de"); err == nil {
		t.Fatal("a suspended peer accepted the envelope")
	}
	setAgreement(t, fr, "de", frDE7)
	c.Add(time.Second)
	if err := de.store.SetPeerStatus(ctx, "fr", federation.StatusActive, c.Now()); err != nil {
		t.Fatal(err)
	}
	if st, code := postRaw(t, de.url, captured); st == http.StatusOK {
		t.Errorf("the envelope refused while FR was suspended was accepted when replayed after the resume (%d %s)", st, code)
	}
	if got := held(t, de, "fr"); len(got) != 0 {
		t.Fatalf("DE holds %v from the replay", got)
	}

	// 2. FR's round under v7 goes through.
	fr.svc.Transport = &fedhttp.Transport{Client: &http.Client{Transport: fr.rt}}
	if _, err := fr.svc.Sync(ctx, "de"); err != nil {
		t.Fatal(err)
	}
	// An envelope decided under v6, sealed now by FR's own key: refused.
	link, _ := de.store.Link(ctx, "fr")
	if link.InVersion != 7 || link.InAgreement != "FR-DE" {
		t.Fatalf("DE's link records terms %s v%d", link.InAgreement, link.InVersion)
	}
	pl, _ := json.Marshal(federation.Payload{Terms: &federation.Terms{Agreement: "FR-DE", Version: 6}})
	old, err := federation.Seal(fr.svc.Key, federation.Envelope{Type: federation.TypeSync, To: de.pub, Seq: link.InSeq + 1, Time: c.Now()}, pl)
	if err != nil {
		t.Fatal(err)
	}
	if st, code := postRaw(t, de.url, old); st != http.StatusConflict || code != string(federation.CodeSuperseded) {
		t.Errorf("an envelope under v6 after v7 came: %d %s", st, code)
	}

	// 3. FR's answer is lost under v6; FR narrows; DE held it all along.
	setAgreement(t, fr, "de", strings.Replace(frDE6, "version = 6", "version = 8", 1))
	fr.file(t, spam("12.0.0.2", "deals@pharma-mailer.example", "Cheap meds", pharma, 2), "b@example.fr")
	fr.rt.mu.Lock()
	fr.rt.loseAnswer = true
	fr.rt.mu.Unlock()
	if _, err := fr.svc.Sync(ctx, "de"); err == nil {
		t.Fatal("the lost answer went unnoticed")
	}
	setAgreement(t, fr, "de", strings.Replace(frDE7, "version = 7", "version = 9", 1))
	res, err := fr.svc.Sync(ctx, "de")
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Superseded) != 1 || !strings.Contains(res.String(), "decided under agreement version 8") || !strings.Contains(res.String(), "version 9 is in force") {
		t.Errorf("the late delivery under v8 is not flagged: %s", res)
	}
	if res.Withdrawn == 0 {
		t.Errorf("nothing withdrawn after the superseded delivery: %s", res)
	}
	for _, k := range held(t, de, "fr") {
		if !strings.HasPrefix(k, "ind:") {
			t.Errorf("DE still holds %s, which v9 does not allow", k)
		}
	}
}

// TestRefusedCopyNotLetInWhateverTheSenderClock is the attack review's
// finding 10: the suspend/resume guard compared the envelope's own time,
// the sender's clock, with the resume. FR's clock runs 5 minutes ahead
// (within the ±10 minutes accepted): its envelope, refused while DE had
// it suspended, was "sealed after" a resume that came 2 seconds later,
// and a copy was let in. DE now sets aside the sequence of a sync
// envelope it refuses from a suspended peer (addressed to it, fresh and
// whole): the copy is refused after the resume whatever its time says,
// and FR's next round seals its items again under the next sequence.
func TestRefusedCopyNotLetInWhateverTheSenderClock(t *testing.T) {
	ctx := context.Background()
	c := &clock{t: time.Date(2026, 11, 3, 10, 5, 0, 0, time.UTC)}
	ahead := &clock{t: c.t.Add(5 * time.Minute)}
	fr, de := newNode(t, ahead, "fr", "FR"), newNode(t, c, "de", "DE")
	fr.know(t, de, "DE", frDE6)
	de.know(t, fr, "FR", back)
	fr.file(t, spam("12.0.0.1", "deals@pharma-mailer.example", "Cheap meds", pharma, 1), "a@example.fr")
	if err := de.store.SetPeerStatus(ctx, "fr", federation.StatusSuspended, c.Now()); err != nil {
		t.Fatal(err)
	}
	var captured []byte
	fr.svc.Transport = &fedhttp.Transport{Client: &http.Client{Transport: &captureTransport{next: http.DefaultTransport, got: &captured}}}
	c.Add(time.Second)
	ahead.Add(time.Second)
	if _, err := fr.svc.Sync(ctx, "de"); err == nil {
		t.Fatal("a suspended peer accepted the envelope")
	}
	c.Add(2 * time.Second)
	ahead.Add(2 * time.Second)
	if err := de.store.SetPeerStatus(ctx, "fr", federation.StatusActive, c.Now()); err != nil {
		t.Fatal(err)
	}
	if st, code := postRaw(t, de.url, captured); st == http.StatusOK {
		t.Errorf("the envelope refused while FR was suspended was let in after the resume, its clock ahead (%d %s)", st, code)
	}
	if got := held(t, de, "fr"); len(got) != 0 {
		t.Fatalf("DE holds %v from the copy", got)
	}
	// FR's next round: asked, DE does not hold it; its items go again.
	fr.svc.Transport = &fedhttp.Transport{Client: &http.Client{Transport: fr.rt}}
	res, err := fr.svc.Sync(ctx, "de")
	if err != nil || res.Items == 0 || res.Dropped == 0 {
		t.Fatalf("FR's round after the resume: %v %v", res, err)
	}
	if got := held(t, de, "fr"); len(got) != res.Items {
		t.Errorf("DE holds %d items, FR sent %d", len(got), res.Items)
	}
	a, _ := fr.svc.VerifyCustody(ctx, "de")
	b, _ := de.svc.VerifyCustody(ctx, "fr")
	if len(a.Problems)+len(b.Problems) > 0 || a.Out.Root != b.In.Root {
		t.Errorf("custody after the round: %v %v", a.Problems, b.Problems)
	}
}

// TestAnotherNodesEnvelopeTellsNothingOfPeers is the fifth attack
// review's finding 8: FR's envelope for DE, captured and posted to US,
// was answered 403 wrong-recipient ("sealed for another key of this
// node") where US had FR as an active peer, and 403 refused where it
// had not or had suspended it — anyone holding one of FR's envelopes
// could map any node's FR peering. Now an envelope sealed for a key
// that was never this node's is refused alike, before the sender is
// looked up; only one sealed for a key this node rotated out is told
// wrong-recipient, with a sentence that says so.
func TestAnotherNodesEnvelopeTellsNothingOfPeers(t *testing.T) {
	ctx := context.Background()
	c := &clock{t: time.Date(2026, 11, 3, 10, 5, 0, 0, time.UTC)}
	fr, de, us, y := newNode(t, c, "fr", "FR"), newNode(t, c, "de", "DE"), newNode(t, c, "us", "US"), newNode(t, c, "y", "FR")
	fr.know(t, de, "DE", frDE6)
	de.know(t, fr, "FR", back)
	us.know(t, fr, "FR", back)
	fr.file(t, spam("12.0.0.1", "deals@pharma-mailer.example", "Cheap meds", pharma, 1), "a@example.fr")
	var captured []byte
	fr.svc.Transport = &fedhttp.Transport{Client: &http.Client{Transport: &captureTransport{next: http.DefaultTransport, got: &captured}}}
	if _, err := fr.svc.Sync(ctx, "de"); err != nil {
		t.Fatal(err)
	}
	post := func(url string, b []byte) (int, string) {
		t.Helper()
		res, err := http.Post(url+fedhttp.InboxPath, "application/json", strings.NewReader(string(b)))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(body)
	}
	st, stranger := post(y.url, captured)
	if st != http.StatusForbidden || !strings.Contains(stranger, `"refused"`) {
		t.Fatalf("FR's envelope for DE at a node that does not know FR: %d %s", st, stranger)
	}
	if st, got := post(us.url, captured); st != http.StatusForbidden || got != stranger {
		t.Errorf("at US, where FR is an active peer: %d %s; at a node that does not know FR: %s", st, got, stranger)
	}
	if err := us.store.SetPeerStatus(ctx, "fr", federation.StatusSuspended, c.Now()); err != nil {
		t.Fatal(err)
	}
	if st, got := post(us.url, captured); st != http.StatusForbidden || got != stranger {
		t.Errorf("at US, where FR is suspended: %d %s; at a node that does not know FR: %s", st, got, stranger)
	}

	// Sealed for a key DE rotated out: wrong-recipient, said plainly.
	_, newPriv, _ := ed25519.GenerateKey(nil)
	de.svc.Key = newPriv
	if err := de.svc.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	pl, _ := json.Marshal(federation.Payload{})
	old, err := federation.Seal(fr.svc.Key, federation.Envelope{Type: federation.TypeSync, To: de.pub, Seq: 9, Time: c.Now()}, pl)
	if err != nil {
		t.Fatal(err)
	}
	st, got := post(de.url, old)
	if st != http.StatusForbidden || !strings.Contains(got, `"wrong-recipient"`) || !strings.Contains(got, "a key this node rotated out") {
		t.Errorf("an envelope for DE's retired key: %d %s", st, got)
	}
}

// TestReplayedStatusQueryRefused: a status query copied on its way and
// sent again within the time window got a fresh signed answer (third
// attack review) — the copier read the link's state, and each copy made
// the peer read both logs and compute their proofs. A query is single
// use now: its copy is refused as a replay, and the asker's own next
// query (a new nonce) is answered.
func TestReplayedStatusQueryRefused(t *testing.T) {
	ctx := context.Background()
	c := &clock{t: time.Date(2026, 11, 3, 10, 5, 0, 0, time.UTC)}
	fr, us := newNode(t, c, "fr", "FR"), newNode(t, c, "us", "US")
	fr.know(t, us, "US", frUS)
	us.know(t, fr, "FR", back)
	fr.file(t, spam("12.0.0.1", "deals@pharma-mailer.example", "Cheap meds", pharma, 1), "a@example.fr")
	if _, err := fr.svc.Sync(ctx, "us"); err != nil {
		t.Fatal(err)
	}
	var captured []byte
	fr.svc.Transport = &fedhttp.Transport{Client: &http.Client{Transport: &captureTransport{next: http.DefaultTransport, got: &captured}}}
	if cmp, err := fr.svc.CompareCustody(ctx, "us"); err != nil || len(cmp.Problems) > 0 {
		t.Fatalf("compare: %v %v", err, cmp.Problems)
	}
	c.Add(time.Minute) // well within the window the query's time allows
	if st, code := postRaw(t, us.url, captured); st != http.StatusConflict || code != string(federation.CodeReplay) {
		t.Errorf("the copied status query: %d %s, want 409 replay", st, code)
	}
	if cmp, err := fr.svc.CompareCustody(ctx, "us"); err != nil || len(cmp.Problems) > 0 {
		t.Errorf("FR's next query: %v %v", err, cmp.Problems)
	}
}
