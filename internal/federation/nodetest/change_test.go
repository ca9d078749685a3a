package nodetest

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/accord-antispam/accord/internal/federation"
)

const (
	// frUSv3 shares everything of US, Canadian and Korean origin.
	frUSv3 = `id = "FR-US-2026"
version = 3
audience = ["us"]
share = ["indicators", "campaigns", "reports"]
tlp_max = "amber"
origins = ["US", "CA", "KR"]
retention_days = 365
`
	// frUSv4 narrows it to indicators of US origin at TLP:GREEN.
	frUSv4 = `id = "FR-US-2026"
version = 4
audience = ["us"]
share = ["indicators"]
tlp_max = "green"
origins = ["US"]
retention_days = 365
keep_withdrawn_days = 0
`
)

// held lists the keys a node holds from a peer (not withdrawn or purged).
func held(t *testing.T, n *node, peer string) []string {
	t.Helper()
	items, err := n.store.Received(context.Background(), federation.ReceivedFilter{Peer: peer})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, it := range items {
		if it.Status() == "held" {
			out = append(out, it.Item.Key)
		}
	}
	slices.Sort(out)
	return out
}

func setAgreement(t *testing.T, n *node, peer, text string) {
	t.Helper()
	a, err := federation.ParseAgreement([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	if err := n.store.SetAgreement(context.Background(), peer, a, n.svc.Now()); err != nil {
		t.Fatal(err)
	}
}

// Suspend → narrow → resume: the envelope left pending under v3 is never
// sent; what arrives is exactly what v4 allows, what v3 had sent and v4
// no longer allows is withdrawn and purged at US, and the summaries count
// what really left.
func TestSuspendNarrowResume(t *testing.T) {
	ctx := context.Background()
	c := &clock{t: time.Date(2026, 11, 3, 10, 5, 0, 0, time.UTC)}
	fr, us := newNode(t, c, "fr", "FR"), newNode(t, c, "us", "US")
	fr.know(t, us, "US", frUSv3)
	us.know(t, fr, "FR", back)
	for i := 0; i < 3; i++ {
		fr.file(t, spam(fmt.Sprintf("12.0.0.%d", i+1), "deals@pharma-mailer.example", "Cheap meds", pharma, i), "a@example.fr")
	}
	// A first round under v3 goes through.
	if res, err := fr.svc.Sync(ctx, "us"); err != nil || res.Items == 0 {
		t.Fatalf("first round: %v %v", res, err)
	}
	firstHeld := held(t, us, "fr")
	// US suspends FR; FR's next round fails and leaves an envelope pending.
	if err := us.svc.SetPeerStatus(ctx, "fr", federation.StatusSuspended); err != nil {
		t.Fatal(err)
	}
	fr.file(t, spam("12.0.0.9", "deals@pharma-mailer.example", "Cheap meds", pharma, 9), "b@example.fr")
	fr.file(t, spam("1.208.0.1", "x@kr-spam.example", "Cheap meds", pharma, 10), "b@example.fr") // Korean origin
	if _, err := fr.svc.Sync(ctx, "us"); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("sync to a peer that suspended us: %v", err)
	}
	pi, _ := fr.svc.PendingOf(ctx, "us")
	if pi == nil || pi.Agreement != 3 || pi.Items == 0 {
		t.Fatalf("no envelope pending under v3: %+v", pi)
	}
	// FR narrows to v4; US resumes FR.
	setAgreement(t, fr, "us", frUSv4)
	if err := us.svc.SetPeerStatus(ctx, "fr", federation.StatusActive); err != nil {
		t.Fatal(err)
	}
	want := allowed(t, fr, "us")
	res, err := fr.svc.Sync(ctx, "us")
	if err != nil {
		t.Fatal(err)
	}
	if res.Dropped != pi.Items || res.Resumed != 0 {
		t.Errorf("the pending envelope was not decided again: %v", res)
	}
	got := held(t, us, "fr")
	if !slices.Equal(got, want) {
		t.Errorf("US holds %v\nv4 allows %v", got, want)
	}
	for _, k := range got {
		if !strings.HasPrefix(k, "ind:") || strings.Contains(k, "1.208.0.1") {
			t.Errorf("outside v4: %s", k)
		}
	}
	// Everything v3 sent that v4 does not allow was withdrawn.
	var withdrawn int
	items, _ := us.store.Received(ctx, federation.ReceivedFilter{Peer: "fr"})
	for _, it := range items {
		if !it.Withdrawn.IsZero() {
			withdrawn++
			if !slices.Contains(firstHeld, it.Item.Key) || it.Why == "" {
				t.Errorf("%s withdrawn: %q", it.Item.Key, it.Why)
			}
			// keep_withdrawn_days = 0: purged when the withdrawal is
			// stored, not at the next scheduled purge (tenth review,
			// finding 2).
			if it.Status() != "purged" || len(it.Item.Body) != 0 {
				t.Errorf("%s withdrawn under keep_withdrawn_days = 0 is %s, body %d bytes", it.Item.Key, it.Status(), len(it.Item.Body))
			}
		}
	}
	if withdrawn == 0 || res.Withdrawn != withdrawn {
		t.Errorf("withdrawn at US %d, summary %v", withdrawn, res)
	}
	// The summary counts what really went: the items now held that were
	// not held before.
	newly := 0
	for _, k := range got {
		if !slices.Contains(firstHeld, k) {
			newly++
		}
	}
	if res.Items < newly || res.Items > len(got) {
		t.Errorf("summary says %d items sent, %d new items are held: %v", res.Items, newly, res)
	}
	// Nothing is left for the scheduled purge.
	if n, err := us.store.PurgeExpired(ctx, c.Now()); err != nil || n != 0 {
		t.Errorf("the scheduled purge found %d more: %v", n, err)
	}
	// Both custody logs agree.
	a, _ := fr.svc.VerifyCustody(ctx, "us")
	b, _ := us.svc.VerifyCustody(ctx, "fr")
	if len(a.Problems)+len(b.Problems) > 0 || a.Out.Root != b.In.Root {
		t.Errorf("custody: %v %v", a.Problems, b.Problems)
	}
	// Widening again sends the withdrawn items anew.
	setAgreement(t, fr, "us", strings.Replace(frUSv3, "version = 3", "version = 5", 1))
	if res, err := fr.svc.Sync(ctx, "us"); err != nil || res.Items < withdrawn {
		t.Errorf("after widening: %v %v", res, err)
	}
}

// US rotates its key while FR has an envelope pending, sealed for the old
// key: once FR records the new key, the next round heals by itself.
func TestRotationWithPendingHeals(t *testing.T) {
	ctx := context.Background()
	c := &clock{t: time.Date(2026, 11, 3, 10, 5, 0, 0, time.UTC)}
	fr, us := newNode(t, c, "fr", "FR"), newNode(t, c, "us", "US")
	fr.know(t, us, "US", frUS)
	us.know(t, fr, "FR", back)
	fr.file(t, spam("12.0.0.1", "deals@pharma-mailer.example", "Cheap meds", pharma, 1), "a@example.fr")
	if _, err := fr.svc.Sync(ctx, "us"); err != nil {
		t.Fatal(err)
	}
	// US rotates.
	pub, priv, _ := ed25519.GenerateKey(nil)
	us.svc.Key = priv
	if err := us.svc.Rotate(ctx); err != nil {
		t.Fatal(err)
	}
	fr.file(t, spam("12.0.0.2", "deals@pharma-mailer.example", "Cheap meds", pharma, 2), "b@example.fr")
	if _, err := fr.svc.Sync(ctx, "us"); err == nil || !strings.Contains(err.Error(), "wrong-recipient") {
		t.Fatalf("sealed for the old key: %v", err)
	}
	if pi, _ := fr.svc.PendingOf(ctx, "us"); pi == nil {
		t.Fatal("nothing pending")
	}
	// Still pending while FR has the old key: nothing is resent blindly.
	if _, err := fr.svc.Sync(ctx, "us"); err == nil {
		t.Fatal("a round succeeded with the old key")
	}
	if err := fr.store.AddPeerKey(ctx, "us", base64.StdEncoding.EncodeToString(pub), c.Now()); err != nil {
		t.Fatal(err)
	}
	res, err := fr.svc.Sync(ctx, "us")
	if err != nil || res.Dropped == 0 || res.Items == 0 {
		t.Fatalf("after FR records the new key: %v %v", res, err)
	}
	if pi, _ := fr.svc.PendingOf(ctx, "us"); pi != nil {
		t.Errorf("still pending: %+v", pi)
	}
	a, _ := fr.svc.VerifyCustody(ctx, "us")
	b, _ := us.svc.VerifyCustody(ctx, "fr")
	if len(a.Problems)+len(b.Problems) > 0 || a.Out.Root != b.In.Root {
		t.Errorf("custody: %v %v", a.Problems, b.Problems)
	}
}
