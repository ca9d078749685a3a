// Package lease gives one process at a time, among the instances sharing
// a store, the right to run a loop that must not run twice at once or
// that is wasted when it does (the feedback loop follows the whole custody
// log: every instance running it read every report). A lease is a row in
// the store with its holder and the instant it runs out; the holder
// renews it well before then, and when the holder dies without giving it
// back (kill -9, a lost machine) another instance takes it once it has run
// out.
//
// Instances compare their own clocks with the instant stored, so their
// clocks must agree to well within the lease's length (NTP does).
package lease

import (
	"context"
	"sync"
	"time"
)

// Store keeps leases.
type Store interface {
	// TakeLease gives the lease name to holder until now+ttl if nobody
	// holds it, holder already does, or its holder's time ran out before
	// now; it says whether holder has it.
	TakeLease(ctx context.Context, name, holder string, now time.Time, ttl time.Duration) (bool, error)
	// DropLease gives the lease back, if holder has it.
	DropLease(ctx context.Context, name, holder string) error
}

// DefaultTTL is how long a lease lasts unless renewed.
const DefaultTTL = 15 * time.Second

// Holder is one instance's claim on a named lease. Held takes or renews it
// when due; the zero value is not usable: fill in Store, Name and ID.
type Holder struct {
	Store Store
	Name  string           // The lease ("feedback").
	ID    string           // This instance, unique among those sharing the store.
	TTL   time.Duration    // DefaultTTL when 0.
	Now   func() time.Time // nil: time.Now.

	mu    sync.Mutex
	taken time.Time // when the lease was last taken or renewed by this holder
	held  bool
}

func (h *Holder) ttl() time.Duration {
	if h.TTL <= 0 {
		return DefaultTTL
	}
	return h.TTL
}

func (h *Holder) now() time.Time {
	if h.Now == nil {
		return time.Now()
	}
	return h.Now()
}

// Held says whether this instance holds the lease now. It asks the store
// when a third of the lease has passed since it was last taken (or when
// it is not held), so a holder that keeps calling renews it long before
// anyone else may take it; a renewal that fails leaves the lease held for
// two thirds of its length at most, so the holder stops before another
// instance can start.
func (h *Holder) Held(ctx context.Context) (bool, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	now, ttl := h.now(), h.ttl()
	if h.held && now.Sub(h.taken) < ttl/3 && !now.Before(h.taken) {
		return true, nil
	}
	ok, err := h.Store.TakeLease(ctx, h.Name, h.ID, now, ttl)
	if err != nil {
		if h.held && now.Sub(h.taken) >= ttl*2/3 {
			h.held = false
		}
		return h.held, err
	}
	h.held = ok
	if ok {
		h.taken = now
	}
	return ok, nil
}

// Drop gives the lease back (on shutdown), so another instance takes it at
// once instead of when it runs out.
func (h *Holder) Drop(ctx context.Context) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.held {
		return nil
	}
	h.held = false
	return h.Store.DropLease(ctx, h.Name, h.ID)
}
