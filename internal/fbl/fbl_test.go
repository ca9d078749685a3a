package fbl

import (
	"context"
	"testing"
	"time"

	"github.com/accord-antispam/accord/internal/intake"
)

// countingStore is a custody log of received reports and no sender, that
// counts what the processor reads and writes.
type countingStore struct {
	head, cursor  int64
	hasCursor     bool
	reads, writes int
	received      []Received
}

func (s *countingStore) ReceivedAfter(_ context.Context, seq int64, limit int) ([]Received, error) {
	var out []Received
	for _, r := range s.received {
		if r.Seq > seq && len(out) < limit {
			out = append(out, r)
		}
	}
	return out, nil
}
func (s *countingStore) CustodySeq(context.Context) (int64, error) { return s.head, nil }
func (s *countingStore) FeedbackCursor(context.Context) (int64, bool, error) {
	return s.cursor, s.hasCursor, nil
}
func (s *countingStore) SetFeedbackCursor(_ context.Context, seq int64) error {
	s.cursor, s.hasCursor = seq, true
	s.writes++
	return nil
}
func (s *countingStore) FeedbackState(context.Context) (int64, bool, error) {
	return s.head, false, nil
}
func (s *countingStore) ReportHead(context.Context, string, int) (*intake.Report, error) {
	s.reads++
	return nil, intake.ErrNotFound
}

func (s *countingStore) receive(n int) {
	for range n {
		s.head++
		s.received = append(s.received, Received{Seq: s.head, ReportID: "r"})
	}
}

// With no sender registered the loop reads no report, and writes its
// cursor down at most every cursorEvery, not after every commit; what it
// has not written down is read again after a restart, never skipped.
func TestNoSenderNoReads(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 3, 10, 0, 0, 0, time.UTC)
	st := &countingStore{}
	st.receive(5)
	p := New()
	p.Store, p.Now = st, func() time.Time { return now }
	if _, err := p.Process(ctx); err != nil {
		t.Fatal(err)
	}
	// The first run starts at the log's end, written down.
	if st.cursor != 5 || st.writes != 1 {
		t.Fatalf("first run: cursor %d, %d writes", st.cursor, st.writes)
	}
	for i := range 50 {
		st.receive(3)
		now = now.Add(100 * time.Millisecond)
		if _, err := p.Process(ctx); err != nil {
			t.Fatal(err)
		}
		if i == 0 && st.writes != 1 {
			t.Fatalf("the cursor was written after one commit")
		}
	}
	// 5 s of commits: not written yet; at 10 s it is.
	if st.reads != 0 || st.writes != 1 || st.cursor != 5 {
		t.Fatalf("after 50 commits: %d reports read, %d cursor writes, cursor %d", st.reads, st.writes, st.cursor)
	}
	now = now.Add(cursorEvery)
	st.receive(1)
	if _, err := p.Process(ctx); err != nil {
		t.Fatal(err)
	}
	if st.writes != 2 || st.cursor != st.head {
		t.Fatalf("after %v: %d cursor writes, cursor %d of %d", cursorEvery, st.writes, st.cursor, st.head)
	}
	// A restart starts from what was written down.
	st.receive(2)
	p2 := New()
	p2.Store, p2.Now = st, func() time.Time { return now }
	if c, err := p2.cursor(ctx); err != nil || c != st.head-2 {
		t.Fatalf("after a restart: cursor %d %v, want %d", c, err, st.head-2)
	}
}
