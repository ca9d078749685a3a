package nodetest

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/accord-antispam/accord/internal/federation"
	"github.com/accord-antispam/accord/internal/store/sqlite"
)

// TestTAXIIReadsCannotWedgeTheLink is the attack review's wedge: US's
// TAXII client makes 100 reads with 60 KB query strings, and US's inbox
// takes 1 MiB envelopes. All the reads used to ride in FR's next envelope
// (6 MB), refused as too large at every round, with every withdrawal
// behind it. Now each read is cut to 512 bytes with the whole request's
// hash, the 64th and later are summarised in one entry, and the envelope
// goes through: every read is logged, in both custody logs.
func TestTAXIIReadsCannotWedgeTheLink(t *testing.T) {
	ctx := context.Background()
	c := &clock{t: time.Date(2026, 11, 3, 10, 5, 0, 0, time.UTC)}
	fr := newNode(t, c, "fr", "FR")
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "us.db"))
	if err != nil {
		t.Fatal(err)
	}
	us := newNodeInbox(t, c, "us", "US", st, 1<<20)
	fr.know(t, us, "US", frUS)
	us.know(t, fr, "FR", back)
	long := strings.Repeat("x", 60000)
	for i := 0; i < 100; i++ {
		if err := fr.store.RecordRead(ctx, "us", federation.Read{At: c.Now().Add(time.Duration(i) * time.Millisecond),
			Request: fmt.Sprintf("/taxii2/api/collections/c/objects/?limit=1&match[type]=nothing%d%s", i, long), Hash: "00"}); err != nil {
			t.Fatal(err)
		}
	}
	res, err := fr.svc.Sync(ctx, "us")
	if err != nil {
		t.Fatalf("the reads wedge the link: %v", err)
	}
	if res.Reads != 100 {
		t.Errorf("sync logged %d reads, want 100", res.Reads)
	}
	if left, _ := fr.store.UnloggedReads(ctx, "us"); len(left) != 0 {
		t.Errorf("%d reads still wait", len(left))
	}
	in, err := us.store.Log(ctx, "fr", federation.In)
	if err != nil {
		t.Fatal(err)
	}
	reads, summary := 0, false
	for _, e := range in {
		if e.What != "read" {
			continue
		}
		reads++
		if len(e.Key) > 600 {
			t.Errorf("a logged read is %d bytes long", len(e.Key))
		}
		if strings.Contains(e.Key, "37 reads from") {
			summary = true
		}
	}
	if reads != federation.MaxReadsLogged || !summary {
		t.Errorf("US logged %d reads (summary %v), want %d with the last 37 summarised", reads, summary, federation.MaxReadsLogged)
	}
}
