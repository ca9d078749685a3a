package filter

import (
	"context"
	"sync"
	"testing"
	"time"
)

// The doors' byte budget is counted, bounded and returned: reservations
// beyond it wait up to ScanWait and then fail (the door answers busy),
// whatever the number of callers; a body larger than the whole budget
// takes all of it rather than never fitting.
func TestBodyBudget(t *testing.T) {
	s, _ := newService(t, Deps{}, Config{MaxScan: 1000, MaxScans: 2, ScanWait: 50 * time.Millisecond})
	if s.Config().BodyBudget != 4000 {
		t.Fatalf("default budget %d, want 2 × MaxScans × MaxScan = 4000", s.Config().BodyBudget)
	}
	ctx := context.Background()
	if !s.Reserve(ctx, 3000) || !s.TryReserve(1000) {
		t.Fatal("within the budget: refused")
	}
	if s.TryReserve(1) || s.Reserve(ctx, 1) {
		t.Fatal("over the budget: granted")
	}
	s.Unreserve(1000)
	if !s.Reserve(ctx, 1000) {
		t.Fatal("returned bytes not reusable")
	}
	s.Unreserve(1000)
	s.Unreserve(3000)
	if !s.Reserve(ctx, 1<<30) {
		t.Fatal("a body larger than the whole budget never fits")
	}
	s.Unreserve(1 << 30)

	// Many callers at once: never more than the budget reserved.
	s, _ = newService(t, Deps{}, Config{MaxScan: 1000, MaxScans: 2, ScanWait: 50 * time.Millisecond})
	var wg sync.WaitGroup
	for range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if s.Reserve(ctx, 900) {
				time.Sleep(5 * time.Millisecond)
				s.Unreserve(900)
			}
		}()
	}
	wg.Wait()
	now, peak := s.BodyBytes()
	if now != 0 || peak > 4000 || peak < 2*900 {
		t.Errorf("after 50 callers: %d reserved, peak %d (budget 4000)", now, peak)
	}
}

func BenchmarkReserve(b *testing.B) {
	s, _ := newService(b, Deps{}, Config{})
	ctx := context.Background()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if s.Reserve(ctx, 64<<10) {
				s.Unreserve(64 << 10)
			}
		}
	})
}
