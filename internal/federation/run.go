package federation

import (
	"context"
	"fmt"
	"time"
)

// Schedule says how often a node's federation work runs in serve.
type Schedule struct {
	// Sync is the interval between rounds pushing to every active peer;
	// zero turns periodic sync off (peers are still served, and purges
	// still run).
	Sync time.Duration
	// Retry is the first wait before a failed peer is tried again
	// (30 s), doubling on each failure up to Sync.
	Retry time.Duration
	// Purge is the interval between purges of received items whose
	// retention ended (1 hour), whatever Sync is.
	Purge time.Duration
	// Refresh, when set, runs after every round that collected, with the
	// shared set the round collected (the TAXII collections are brought
	// up to date with it, so pages never collect anything themselves). A
	// round collects nothing while no peer is active: there is then no
	// collection to keep.
	Refresh func(context.Context, *Shared) error
}

// RoundResult is one round over all peers.
type RoundResult struct {
	Peers  map[string]SyncResult
	Failed map[string]error
}

// Round pushes to every active peer with a URL (or, with only, to those
// peers), collecting the shared set once for all of them. With no active
// peer at all — none to push to, no TAXII collection to keep — nothing
// is collected, and the set returned is nil.
func (s *Service) Round(ctx context.Context, only ...string) (*Shared, RoundResult, error) {
	rr := RoundResult{Peers: map[string]SyncResult{}, Failed: map[string]error{}}
	peers, err := s.Store.Peers(ctx)
	if err != nil {
		return nil, rr, err
	}
	want := map[string]bool{}
	for _, n := range only {
		want[n] = true
	}
	active := false
	var push []string
	for _, p := range peers {
		if p.Status != StatusActive {
			continue
		}
		active = true
		if p.URL != "" && (len(want) == 0 || want[p.Name]) {
			push = append(push, p.Name)
		}
	}
	if !active {
		return nil, rr, nil
	}
	sh, err := s.Collect(ctx)
	if err != nil {
		return nil, rr, err
	}
	for _, name := range push {
		res, err := s.SyncShared(ctx, sh, name)
		if err != nil {
			rr.Failed[name] = err
			continue
		}
		rr.Peers[name] = res
	}
	return sh, rr, nil
}

// Run does the node's federation work until ctx ends: a round every
// Sync interval, a failed peer retried sooner with a growing wait, and
// received items purged every Purge interval on their own schedule.
func (s *Service) Run(ctx context.Context, sch Schedule) {
	if sch.Purge <= 0 {
		sch.Purge = time.Hour
	}
	if sch.Retry <= 0 {
		sch.Retry = 30 * time.Second
	}
	now := time.Now()
	nextPurge := now
	var nextRound time.Time
	if sch.Sync > 0 {
		nextRound = now.Add(sch.Sync)
	}
	retryAt := map[string]time.Time{}
	wait := map[string]time.Duration{}
	for {
		wake := nextPurge
		if !nextRound.IsZero() && nextRound.Before(wake) {
			wake = nextRound
		}
		for _, t := range retryAt {
			if t.Before(wake) {
				wake = t
			}
		}
		timer := time.NewTimer(time.Until(wake))
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
		}
		now = time.Now()
		if !now.Before(nextPurge) {
			if n, err := s.Store.PurgeExpired(ctx, s.now()); err != nil {
				s.log().Error("federation: purge", "err", err)
			} else if n > 0 {
				s.log().Info("federation: received items purged at the end of their retention", "items", n)
			}
			nextPurge = now.Add(sch.Purge)
		}
		var due []string
		full := !nextRound.IsZero() && !now.Before(nextRound)
		if !full {
			for p, t := range retryAt {
				if !now.Before(t) {
					due = append(due, p)
				}
			}
			if len(due) == 0 {
				continue
			}
		}
		sh, rr, err := s.Round(ctx, due...)
		if full {
			nextRound = now.Add(sch.Sync)
		}
		if err != nil {
			s.log().Error("federation: round", "err", err)
			continue
		}
		for p, res := range rr.Peers {
			delete(retryAt, p)
			delete(wait, p)
			if res.Envelopes > 0 || res.Dropped > 0 || res.Resumed > 0 {
				s.log().Info("federation: synced", "peer", p, "result", res.String())
			}
		}
		for p, err := range rr.Failed {
			w := wait[p]
			if w == 0 {
				w = sch.Retry
			} else if w *= 2; sch.Sync > 0 && w > sch.Sync {
				w = sch.Sync
			}
			wait[p], retryAt[p] = w, time.Now().Add(w)
			s.log().Warn("federation: sync failed; will retry", "peer", p, "in", w.String(), "err", err)
		}
		if sch.Refresh != nil && sh != nil {
			if err := sch.Refresh(ctx, sh); err != nil {
				s.log().Error("federation: refresh the TAXII collections", "err", fmt.Sprint(err))
			}
		}
	}
}
