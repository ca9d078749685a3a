package storetest

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// sharedThrottle: a bucket of 3 a minute allows 3 takes, refuses the
// fourth with the wait until a token is back (20 s), allows one after
// it; another key has its own bucket; takes at once never spend one
// token twice.
func sharedThrottle(t *testing.T, s Store) {
	ctx := context.Background()
	now := clock
	for i := range 3 {
		if ok, _, err := s.TakeToken(ctx, "login-user:ana", 3, time.Minute, now); err != nil || !ok {
			t.Fatalf("take %d: %v %v", i, ok, err)
		}
	}
	ok, wait, err := s.TakeToken(ctx, "login-user:ana", 3, time.Minute, now)
	if err != nil || ok || wait < 19*time.Second || wait > 21*time.Second {
		t.Fatalf("fourth take: %v, wait %v, %v; want refused for 20 s", ok, wait, err)
	}
	if ok, _, _ := s.TakeToken(ctx, "login-user:bob", 3, time.Minute, now); !ok {
		t.Fatal("another key shares ana's bucket")
	}
	if ok, _, _ := s.TakeToken(ctx, "login-user:ana", 3, time.Minute, now.Add(10*time.Second)); ok {
		t.Fatal("a token came back after 10 s of a 20 s wait")
	}
	if ok, _, _ := s.TakeToken(ctx, "login-user:ana", 3, time.Minute, now.Add(21*time.Second)); !ok {
		t.Fatal("no token after the wait")
	}
	var wg sync.WaitGroup
	var allowed atomic.Int64
	for range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, _, err := s.TakeToken(ctx, "login-ip:192.0.2.1", 5, time.Minute, now)
			if err != nil {
				t.Error(err)
			}
			if ok {
				allowed.Add(1)
			}
		}()
	}
	wg.Wait()
	if allowed.Load() != 5 {
		t.Errorf("%d of 12 takes at once allowed from a bucket of 5", allowed.Load())
	}
}
