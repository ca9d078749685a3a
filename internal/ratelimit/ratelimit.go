// Package ratelimit counts what clients do against a rate: a token bucket
// per key (a client address, a token, a sender), on a clock the caller
// gives, so a test decides what time it is instead of racing the machine's
// clock. A client address is counted by what one party holds: an IPv4
// address whole, an IPv6 address by its /64 (one end site has a /64 or
// more, so counting per /128 would give it 2^64 buckets).
package ratelimit

import (
	"net/netip"
	"sync"
	"time"
)

// Limiter is a token bucket per key: n tokens per period, and a burst of
// n. A nil *Limiter allows everything (a limit turned off).
type Limiter struct {
	mu     sync.Mutex
	rate   float64 // tokens per second
	burst  float64
	period time.Duration
	now    func() time.Time
	b      map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

// maxKeys is how many keys a limiter remembers before it forgets the
// idle ones: a flood of distinct keys costs bounded memory.
const maxKeys = 100000

// PerMinute is a limiter of n per minute; nil when n <= 0 (no limit).
// now is the clock (nil: time.Now).
func PerMinute(n int, now func() time.Time) *Limiter { return New(n, time.Minute, now) }

// New is a limiter of n per period; nil when n <= 0 (no limit).
func New(n int, period time.Duration, now func() time.Time) *Limiter {
	if n <= 0 || period <= 0 {
		return nil
	}
	if now == nil {
		now = time.Now
	}
	return &Limiter{rate: float64(n) / period.Seconds(), burst: float64(n), period: period, now: now, b: map[string]*bucket{}}
}

// Allow takes a token for key; when none is left it says how long until
// one is, and takes nothing.
func (l *Limiter) Allow(key string) (bool, time.Duration) {
	if l == nil {
		return true, 0
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.b) >= maxKeys {
		for k, v := range l.b {
			if now.Sub(v.last) > l.period {
				delete(l.b, k)
			}
		}
	}
	b := l.b[key]
	if b == nil {
		b = &bucket{tokens: l.burst, last: now}
		l.b[key] = b
	}
	if d := now.Sub(b.last); d > 0 {
		b.tokens = min(l.burst, b.tokens+d.Seconds()*l.rate)
		b.last = now
	}
	if b.tokens < 1 {
		return false, time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
	}
	b.tokens--
	return true, 0
}

// Key is the key of a client address: an IPv4 address (or an IPv4-mapped
// IPv6 one) as itself, an IPv6 address as its /64 prefix. What is not an
// address is returned unchanged.
func Key(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	a = a.Unmap().WithZone("")
	if a.Is4() {
		return a.String()
	}
	p, _ := a.Prefix(64)
	return p.String()
}
