package nodetest

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/accord-antispam/accord/internal/federation"
	"github.com/accord-antispam/accord/internal/intake"
)

// countingSource is a node's store as its federation reads it, counting
// the reads: index walks, and reports read in full (message included).
type countingSource struct {
	federation.Source
	mu      sync.Mutex
	indexes int
	read    []string // Ids of the reports read in full, in order.
	bytes   int
}

func (c *countingSource) SharedIndex(ctx context.Context, fn func(federation.ReportRef) error) error {
	c.mu.Lock()
	c.indexes++
	c.mu.Unlock()
	return c.Source.SharedIndex(ctx, fn)
}

func (c *countingSource) SharedReports(ctx context.Context, ids []string, fn func(*intake.Report, string) error) error {
	return c.Source.SharedReports(ctx, ids, func(r *intake.Report, reporter string) error {
		c.mu.Lock()
		c.read, c.bytes = append(c.read, r.ID), c.bytes+len(r.Raw)
		c.mu.Unlock()
		return fn(r, reporter)
	})
}

// since returns the index walks and the reports read in full since the
// last call.
func (c *countingSource) since() (int, []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n, read := c.indexes, c.read
	c.indexes, c.read = 0, nil
	sort.Strings(read)
	return n, read
}

// TestRoundReadsOnlyWhatChanged: a round with no active peer reads nothing;
// the first round with one reads every report once; a round with nothing
// new reads no message; a new report is read alone (once to derive its
// items, once to make its evidence for the envelope); an erasure reads
// nothing (the erased report is gone from the set). What the peer receives is
// what a collection from nothing makes, and its evidence bodies match
// the hashes decided on.
func TestRoundReadsOnlyWhatChanged(t *testing.T) {
	ctx := context.Background()
	c := &clock{t: time.Date(2026, 11, 3, 10, 5, 0, 0, time.UTC)}
	fr, us := newNode(t, c, "fr", "FR"), newNode(t, c, "us", "US")
	src := &countingSource{Source: fr.store}
	fr.svc.Source = src
	var ids []string
	var first intake.Receipted
	for i := 0; i < 3; i++ {
		rec := fr.file(t, spam(fmt.Sprintf("12.0.0.%d", i+1), "deals@pharma-mailer.example", "Cheap meds", pharma, i), fmt.Sprintf("alice%d@example.fr", i))
		if i == 0 {
			first = rec
		}
		ids = append(ids, rec.ID)
	}
	sort.Strings(ids)

	// No peer at all; then a suspended one: nothing is collected.
	sh, rr, err := fr.svc.Round(ctx)
	if n, read := src.since(); err != nil || sh != nil || len(rr.Peers)+len(rr.Failed) != 0 || n != 0 || len(read) != 0 {
		t.Fatalf("a round with no peer: set %v, %+v, %v; %d index walks, %v read", sh != nil, rr, err, n, read)
	}
	fr.know(t, us, "US", frUS)
	us.know(t, fr, "FR", back)
	if err := fr.store.SetPeerStatus(ctx, "us", federation.StatusSuspended, c.Now()); err != nil {
		t.Fatal(err)
	}
	sh, _, err = fr.svc.Round(ctx)
	if n, read := src.since(); err != nil || sh != nil || n != 0 || len(read) != 0 {
		t.Fatalf("a round with only a suspended peer: set %v, %v; %d index walks, %v read", sh != nil, err, n, read)
	}
	if err := fr.store.SetPeerStatus(ctx, "us", federation.StatusActive, c.Now()); err != nil {
		t.Fatal(err)
	}

	// First round: every report derived once, then the evidence the
	// envelope carries made from its report.
	_, rr, err = fr.svc.Round(ctx)
	if err != nil || len(rr.Failed) > 0 || rr.Peers["us"].Items == 0 {
		t.Fatalf("first round: %+v %v", rr, err)
	}
	n, read := src.since()
	if want := slices.Sorted(slices.Values(append(slices.Clone(ids), ids...))); n != 1 || !slices.Equal(read, want) {
		t.Errorf("first round: %d index walks, read %v; want 1 walk and each report twice (derived, then its evidence made): %v", n, read, want)
	}
	checkEvidence(t, us, 3)

	// Nothing new: the index only.
	_, rr, err = fr.svc.Round(ctx)
	if n, read := src.since(); err != nil || rr.Peers["us"].Envelopes != 0 || n != 1 || len(read) != 0 {
		t.Errorf("a round with nothing new: %+v %v; %d index walks, read %v", rr, err, n, read)
	}

	// One new report: read alone.
	late := fr.file(t, spam("12.0.0.9", "deals@pharma-mailer.example", "Cheap meds", pharma, 9), "late@example.fr")
	_, rr, err = fr.svc.Round(ctx)
	if n, read := src.since(); err != nil || rr.Peers["us"].Items == 0 || n != 1 || !slices.Equal(read, []string{late.ID, late.ID}) {
		t.Errorf("a round after one new report: %+v %v; %d index walks, read %v", rr, err, n, read)
	}
	checkEvidence(t, us, 4)

	// An erasure: that report is gone from the set (nothing read, its
	// items withdrawn), and what goes is what a fresh collection says.
	if _, err := fr.desk.Erase(ctx, first.ID, first.StatusToken); err != nil {
		t.Fatal(err)
	}
	sh, rr, err = fr.svc.Round(ctx)
	if n, read := src.since(); err != nil || len(rr.Failed) > 0 || n != 1 || len(read) != 0 || rr.Peers["us"].Withdrawn == 0 {
		t.Errorf("a round after an erasure: %+v %v; %d index walks, read %v", rr, err, n, read)
	}
	fresh, err := federation.Collect(ctx, fr.store, "FR")
	if err != nil {
		t.Fatal(err)
	}
	if a, b := hashes(sh), hashes(fresh); !slices.Equal(a, b) {
		t.Errorf("the set kept from round to round differs from a fresh collection:\n%v\n%v", a, b)
	}
}

// hashes lists a shared set's items as key=hash, in order.
func hashes(sh *federation.Shared) []string {
	var out []string
	for _, g := range sh.ItemsFor(nil) {
		for _, it := range g.Items {
			out = append(out, g.ID+" "+it.Key+"="+it.Hash+" "+it.Unshareable)
		}
	}
	return out
}

// checkEvidence: us holds n evidence items from fr, each body a redacted
// message whose hash is the item's and which names no reporter.
func checkEvidence(t *testing.T, us *node, n int) {
	t.Helper()
	got, err := us.store.Received(context.Background(), federation.ReceivedFilter{Peer: "fr"})
	if err != nil {
		t.Fatal(err)
	}
	k := 0
	for _, it := range got {
		if it.Item.Kind != federation.KindEvidence {
			continue
		}
		k++
		var ev struct {
			Redacted       string `json:"redacted"`
			RedactedSHA256 string `json:"redacted_sha256"`
		}
		if err := json.Unmarshal(it.Item.Body, &ev); err != nil || federation.HashBody(it.Item.Body) != it.Item.Hash {
			t.Errorf("%s: a body that is not the one hashed: %v", it.Item.Key, err)
			continue
		}
		red, _ := base64.StdEncoding.DecodeString(ev.Redacted)
		if len(red) == 0 || federation.HashBody(red) != ev.RedactedSHA256 || !strings.Contains(string(red), "Cheap meds") || strings.Contains(string(red), "@example.fr") {
			t.Errorf("%s: not the redacted message: %q", it.Item.Key, red)
		}
	}
	if k != n {
		t.Errorf("us holds %d evidence items, want %d", k, n)
	}
}
