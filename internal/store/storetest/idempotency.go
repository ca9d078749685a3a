package storetest

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/accord-antispam/accord/internal/intake"
)

// idempotency: a submission sent again with its idempotency key (a
// client that lost the answer) gets the first receipt and stores
// nothing, even when the copies arrive at once and land in one group
// commit or in commits racing each other; the same key with another
// request is refused, and keys are per principal.
func idempotency(t *testing.T, s Store) {
	ctx := context.Background()
	d := desk(t, s)
	sub := func(by, key string, msg []byte) intake.Submission {
		return intake.Submission{Channel: intake.ChannelAPI, Raw: msg, SubmittedBy: by, Declared: "message/rfc822", IdempotencyKey: key}
	}
	first, err := d.Submit(ctx, sub("token:a", "k-1", spam(1)))
	if err != nil {
		t.Fatal(err)
	}
	if first.Replayed {
		t.Error("a first submission says it was replayed")
	}
	again, err := d.Submit(ctx, sub("token:a", "k-1", spam(1)))
	if err != nil {
		t.Fatal(err)
	}
	if !again.Replayed || again.ComplaintID != first.ComplaintID || len(again.Reports) != 1 || again.Reports[0] != first.Reports[0] {
		t.Errorf("the retry got %+v, the first answer was %+v", again, first)
	}
	if n, _ := s.CountReports(ctx); n != 1 {
		t.Errorf("%d reports after a retry, want 1", n)
	}
	var reused *intake.IdempotencyConflictError
	if _, err := d.Submit(ctx, sub("token:a", "k-1", spam(2))); !errors.As(err, &reused) || reused.ComplaintID != first.ComplaintID {
		t.Errorf("the same key with another body: %v", err)
	}
	noAnswers := sub("token:a", "k-1", spam(1))
	noAnswers.Declared = "text/plain"
	if _, err := d.Submit(ctx, noAnswers); !errors.As(err, &reused) {
		t.Errorf("the same key and body declared as another type: %v", err)
	}
	other, err := d.Submit(ctx, sub("token:b", "k-1", spam(1)))
	if err != nil || other.Replayed || other.Reports[0].ID == first.Reports[0].ID {
		t.Errorf("another token's key is its own: %+v %v", other, err)
	}
	if n, _ := s.CountReports(ctx); n != 2 {
		t.Errorf("%d reports, want 2", n)
	}
	// Eight copies of one request at once, and beside them eight
	// requests of their own: every copy answers with one report.
	var wg sync.WaitGroup
	recs := make([]intake.Receipt, 8)
	errs := make([]error, 16)
	for i := range 8 {
		wg.Add(2)
		go func() {
			defer wg.Done()
			recs[i], errs[i] = d.Submit(ctx, sub("token:a", "k-race", spam(3)))
		}()
		go func() {
			defer wg.Done()
			_, errs[8+i] = d.Submit(ctx, sub("token:a", "k-own-"+string(rune('a'+i)), spam(10+i)))
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	replayed := 0
	for _, r := range recs {
		if r.Reports[0].ID != recs[0].Reports[0].ID || r.Reports[0].StatusToken != recs[0].Reports[0].StatusToken {
			t.Errorf("copies of one request got different receipts: %+v and %+v", r, recs[0])
		}
		if r.Replayed {
			replayed++
		}
	}
	if replayed != 7 {
		t.Errorf("%d of 8 copies replayed, want 7", replayed)
	}
	if n, _ := s.CountReports(ctx); n != 2+1+8 {
		t.Errorf("%d reports, want 11", n)
	}
	if _, err := d.StatusView(ctx, recs[3].Reports[0].ID, recs[3].Reports[0].StatusToken); err != nil {
		t.Errorf("a replayed status link does not open: %v", err)
	}
	if _, bad, err := s.VerifyCustodyLog(ctx); err != nil || len(bad) > 0 {
		t.Errorf("custody log: %v %v", bad, err)
	}
}
