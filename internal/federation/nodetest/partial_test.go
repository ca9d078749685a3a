package nodetest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/accord-antispam/accord/internal/federation"
	"github.com/accord-antispam/accord/internal/federation/fedhttp"
)

// cutAfter lets n requests through, then fails every other one.
type cutAfter struct {
	after int32
	done  atomic.Int32
}

func (c *cutAfter) RoundTrip(r *http.Request) (*http.Response, error) {
	if c.done.Add(1) > c.after {
		return nil, errors.New("connection refused (the test cut the link)")
	}
	return http.DefaultTransport.RoundTrip(r)
}

// TestFailedRoundCountsWhatArrived: a round that fails at its second
// envelope says how many envelopes, items and withdrawals arrived before
// the failure — they are recorded on both sides — not only the failure
// (tenth review, finding 7: "us: FAILED: deliver envelope 2 to us: HTTP
// 502" while envelope 1's 101 items were stored).
func TestFailedRoundCountsWhatArrived(t *testing.T) {
	ctx := context.Background()
	c := &clock{t: time.Date(2026, 11, 3, 10, 5, 0, 0, time.UTC)}
	fr, us := newNode(t, c, "fr", "FR"), newNode(t, c, "us", "US")
	fr.know(t, us, "US", frUS)
	us.know(t, fr, "FR", back)
	for i := range 4 {
		fr.file(t, spam(fmt.Sprintf("12.0.0.%d", i+1), "deals@pharma-mailer.example", "Cheap meds", pharma, i), fmt.Sprintf("a%d@example.fr", i))
	}
	fr.svc.MaxItems = 3
	fr.svc.Transport = &fedhttp.Transport{Client: &http.Client{Transport: &cutAfter{after: 1}, Timeout: 30 * time.Second}}
	_, err := fr.svc.Sync(ctx, "us")
	var partial *federation.PartialError
	if !errors.As(err, &partial) || partial.Done.Envelopes != 1 || partial.Done.Items != 3 {
		t.Fatalf("a round cut at its second envelope: %v", err)
	}
	if !strings.Contains(err.Error(), "1 envelope arrived and are recorded: 3 items") {
		t.Errorf("the failure's summary: %v", err)
	}
	if got, _ := us.store.Received(ctx, federation.ReceivedFilter{Peer: "fr"}); len(got) != partial.Done.Items {
		t.Errorf("US holds %d items, the summary says %d arrived", len(got), partial.Done.Items)
	}
}
