package lease

import (
	"context"
	"errors"
	"testing"
	"time"
)

// memStore is one lease in memory, with a switch to make the store fail.
type memStore struct {
	holder string
	until  time.Time
	asked  int
	down   bool
}

func (m *memStore) TakeLease(_ context.Context, _, holder string, now time.Time, ttl time.Duration) (bool, error) {
	m.asked++
	if m.down {
		return false, errors.New("database unreachable")
	}
	if m.holder == "" || m.holder == holder || m.until.Before(now) {
		m.holder, m.until = holder, now.Add(ttl)
		return true, nil
	}
	return false, nil
}

func (m *memStore) DropLease(_ context.Context, _, holder string) error {
	if m.holder == holder {
		m.holder = ""
	}
	return nil
}

// A holder asks the store a third of the way into its lease, not at every
// call; when the store cannot be reached it stops holding two thirds of
// the way in, before the lease runs out and another may take it.
func TestHolderRenewsEarlyAndStopsBeforeOthersStart(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 3, 10, 0, 0, 0, time.UTC)
	st := &memStore{}
	a := &Holder{Store: st, Name: "loop", ID: "a", TTL: 15 * time.Second, Now: func() time.Time { return now }}
	b := &Holder{Store: st, Name: "loop", ID: "b", TTL: 15 * time.Second, Now: func() time.Time { return now }}
	held := func(h *Holder) bool {
		t.Helper()
		ok, _ := h.Held(ctx)
		return ok
	}
	if !held(a) || held(b) {
		t.Fatal("not exactly one holder")
	}
	asked := st.asked
	now = now.Add(4 * time.Second)
	if !held(a) || st.asked != asked {
		t.Fatalf("a asked the store within the first third of its lease (%d times)", st.asked-asked)
	}
	now = now.Add(2 * time.Second) // 6 s: past a third, renewed
	if !held(a) || st.asked != asked+1 || !st.until.Equal(now.Add(15*time.Second)) {
		t.Fatalf("a did not renew past a third of its lease: until %v", st.until)
	}
	// The store goes down: a holds on until two thirds (10 s after its
	// last renewal at 6 s), then stops, 5 s before b could take over.
	st.down = true
	now = now.Add(9 * time.Second)
	if !held(a) {
		t.Fatal("a stopped before two thirds of its lease when a renewal failed")
	}
	now = now.Add(time.Second)
	if held(a) {
		t.Fatal("a still holds past two thirds of a lease it could not renew")
	}
	st.down = false
	if held(b) {
		t.Fatal("b took the lease before it ran out")
	}
	now = now.Add(5*time.Second + time.Millisecond)
	if !held(b) || held(a) {
		t.Fatal("b did not take over a lease that ran out, or a took it back")
	}
	// b gives it back: a takes it at once.
	if err := b.Drop(ctx); err != nil {
		t.Fatal(err)
	}
	if !held(a) {
		t.Fatal("a could not take a lease given back")
	}
}
