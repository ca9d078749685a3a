// Package connlimit bounds the connections a listener keeps: at most Max
// at once, at most PerIP from one client (an IPv6 client counted by its
// /64), and, when asked, each for at most MaxLife. A connection over a
// bound is answered by Refuse (a 421 for SMTP, a 503 for HTTP) and closed
// at once, so one client holding slow connections cannot take the slots,
// the file descriptors or the memory everybody shares.
//
// With Evict, a new connection at a bound instead takes the place of the
// one that has waited longest on its client: where the bound is shared by
// clients that cannot be told apart (a filter door on loopback serves the
// MTA and every local user from 127.0.0.1), refusing the new connection
// let whoever held idle ones first lock the MTA out.
package connlimit

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/accord-antispam/accord/internal/ratelimit"
)

// Limits are a listener's bounds. Zero values mean no bound.
type Limits struct {
	Max     int           // Connections at once.
	PerIP   int           // Connections at once from one client address (IPv6: one /64).
	MaxLife time.Duration // Each connection's whole life: every deadline is clamped to it.
	// Exempt are peers not bound per address (the load balancers in
	// front, which carry everybody's connections).
	Exempt []netip.Prefix
	// Refuse writes the refusal to a connection over a bound (within a
	// second) before it is closed; nil closes it silently.
	Refuse func(c net.Conn, why string)
	Log    *slog.Logger
	// Evict: at a bound, close the connection (of the same address, at
	// the per-address bound) that has been waiting longest on its client
	// — blocked reading, nothing received for at least EvictAfter
	// (default 1 s), not marked Busy — and take the new one, rather than
	// refusing the new one. Refuse applies only when none qualifies.
	Evict      bool
	EvictAfter time.Duration
}

// Listener is a net.Listener that keeps to its Limits.
type Listener struct {
	net.Listener
	lim  Limits
	mu   sync.Mutex
	n    int
	byIP map[string]int
	open map[*conn]struct{} // with Evict: the connections counted
}

// Wrap bounds l.
func Wrap(l net.Listener, lim Limits) *Listener {
	if lim.Log == nil {
		lim.Log = slog.New(slog.DiscardHandler)
	}
	if lim.EvictAfter <= 0 {
		lim.EvictAfter = time.Second
	}
	return &Listener{Listener: l, lim: lim, byIP: map[string]int{}, open: map[*conn]struct{}{}}
}

// Open reports the connections open now, in all and from one address.
func (l *Listener) Open(ip string) (all, fromIP int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n, l.byIP[ratelimit.Key(ip)]
}

// Accept returns the next connection within the bounds; those over a
// bound are refused and closed here.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		key, exempt := l.key(c)
		bc := &conn{Conn: c, l: l, key: key, exempt: exempt}
		bc.lastRecv.Store(time.Now().UnixNano())
		why, victim := l.take(bc)
		if victim != nil {
			l.lim.Log.Warn("connection closed to make room", "remote", victim.RemoteAddr().String(),
				"waited", time.Duration(time.Now().UnixNano()-victim.lastRecv.Load()).Round(time.Millisecond).String())
			victim.Conn.Close()
		}
		if why == "" {
			if l.lim.MaxLife > 0 {
				bc.end = time.Now().Add(l.lim.MaxLife)
				c.SetDeadline(bc.end)
			}
			return bc, nil
		}
		l.lim.Log.Warn("connection refused", "remote", c.RemoteAddr().String(), "why", why)
		if l.lim.Refuse != nil {
			c.SetWriteDeadline(time.Now().Add(time.Second))
			l.lim.Refuse(c, why)
		}
		c.Close()
	}
}

func (l *Listener) key(c net.Conn) (string, bool) {
	ap, err := netip.ParseAddrPort(c.RemoteAddr().String())
	if err != nil {
		return c.RemoteAddr().String(), false
	}
	a := ap.Addr().Unmap()
	for _, p := range l.lim.Exempt {
		if p.Contains(a) {
			return "", true
		}
	}
	return ratelimit.Key(a.String()), false
}

// Why a connection is refused, as passed to Limits.Refuse.
const (
	OverMax   = "too many connections"
	OverPerIP = "too many connections from one address"
)

// take counts a new connection, or says which bound it is over. With
// Evict, a connection at a bound may take the slot of a victim (already
// uncounted; the caller closes it).
func (l *Listener) take(c *conn) (why string, victim *conn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	overIP := !c.exempt && l.lim.PerIP > 0 && l.byIP[c.key] >= l.lim.PerIP
	if l.lim.Max > 0 && l.n >= l.lim.Max {
		why = OverMax
	} else if overIP {
		why = OverPerIP
	}
	if why != "" {
		if !l.lim.Evict {
			return why, nil
		}
		if victim = l.idlest(c.key, overIP); victim == nil {
			return why, nil
		}
		l.giveLocked(victim)
	}
	l.n++
	if !c.exempt {
		l.byIP[c.key]++
	}
	if l.lim.Evict {
		l.open[c] = struct{}{}
	}
	return "", victim
}

// idlest is the connection that has waited longest on its client, from
// the address key when sameKey, or nil when none has waited EvictAfter.
func (l *Listener) idlest(key string, sameKey bool) *conn {
	var best *conn
	var bestRecv int64
	before := time.Now().Add(-l.lim.EvictAfter).UnixNano()
	for o := range l.open {
		if sameKey && (o.exempt || o.key != key) {
			continue
		}
		if o.reading.Load() == 0 || o.busy.Load() > 0 {
			continue
		}
		r := o.lastRecv.Load()
		if r > before {
			continue
		}
		if best == nil || r < bestRecv {
			best, bestRecv = o, r
		}
	}
	return best
}

// giveLocked uncounts c, once.
func (l *Listener) giveLocked(c *conn) {
	if !c.released.CompareAndSwap(false, true) {
		return
	}
	delete(l.open, c)
	l.n--
	if !c.exempt {
		if l.byIP[c.key] <= 1 {
			delete(l.byIP, c.key)
		} else {
			l.byIP[c.key]--
		}
	}
}

// conn releases its slot once, clamps every deadline to its end, and
// notes when it last received a byte and whether it is waiting for one.
type conn struct {
	net.Conn
	l        *Listener
	key      string
	exempt   bool
	end      time.Time
	released atomic.Bool
	reading  atomic.Int32
	busy     atomic.Int32
	lastRecv atomic.Int64 // UnixNano
}

func (c *conn) Read(p []byte) (int, error) {
	c.reading.Add(1)
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.lastRecv.Store(time.Now().UnixNano())
	}
	c.reading.Add(-1)
	return n, err
}

// Busy marks c (a connection from a Listener) as working for its client
// until done is called: a door's scan, during which a reader in the
// background (net/http's) does not make it idle. Other connections are
// left alone.
func Busy(c net.Conn) (done func()) {
	bc, ok := c.(*conn)
	if !ok {
		return func() {}
	}
	bc.busy.Add(1)
	var once sync.Once
	return func() { once.Do(func() { bc.busy.Add(-1) }) }
}

type connKey struct{}

// WithConn keeps c in ctx (an http.Server's ConnContext), for BusyCtx.
func WithConn(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, connKey{}, c)
}

// BusyCtx is Busy for the connection kept in ctx by WithConn.
func BusyCtx(ctx context.Context) (done func()) {
	c, _ := ctx.Value(connKey{}).(net.Conn)
	return Busy(c)
}

func (c *conn) clamp(t time.Time) time.Time {
	if c.end.IsZero() {
		return t
	}
	if t.IsZero() || t.After(c.end) {
		return c.end
	}
	return t
}

func (c *conn) SetDeadline(t time.Time) error      { return c.Conn.SetDeadline(c.clamp(t)) }
func (c *conn) SetReadDeadline(t time.Time) error  { return c.Conn.SetReadDeadline(c.clamp(t)) }
func (c *conn) SetWriteDeadline(t time.Time) error { return c.Conn.SetWriteDeadline(c.clamp(t)) }

func (c *conn) Close() error {
	if !c.released.Load() {
		c.l.mu.Lock()
		c.l.giveLocked(c)
		c.l.mu.Unlock()
	}
	return c.Conn.Close()
}
