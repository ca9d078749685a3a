// Package connlimit bounds the connections a listener keeps: at most Max
// at once, at most PerIP from one client (an IPv6 client counted by its
// /64), and, when asked, each for at most MaxLife. A connection over a
// bound is answered by Refuse (a 421 for SMTP, a 503 for HTTP) and closed
// at once, so one client holding slow connections cannot take the slots,
// the file descriptors or the memory everybody shares.
package connlimit

import (
	"log/slog"
	"net"
	"net/netip"
	"sync"
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
}

// Listener is a net.Listener that keeps to its Limits.
type Listener struct {
	net.Listener
	lim  Limits
	mu   sync.Mutex
	n    int
	byIP map[string]int
}

// Wrap bounds l.
func Wrap(l net.Listener, lim Limits) *Listener {
	if lim.Log == nil {
		lim.Log = slog.New(slog.DiscardHandler)
	}
	return &Listener{Listener: l, lim: lim, byIP: map[string]int{}}
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
		why := l.take(key, exempt)
		if why == "" {
			bc := &conn{Conn: c, release: func() { l.give(key, exempt) }}
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

// take counts a new connection, or says which bound it is over.
func (l *Listener) take(key string, exempt bool) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lim.Max > 0 && l.n >= l.lim.Max {
		return OverMax
	}
	if !exempt && l.lim.PerIP > 0 && l.byIP[key] >= l.lim.PerIP {
		return OverPerIP
	}
	l.n++
	if !exempt {
		l.byIP[key]++
	}
	return ""
}

func (l *Listener) give(key string, exempt bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.n--
	if !exempt {
		if l.byIP[key] <= 1 {
			delete(l.byIP, key)
		} else {
			l.byIP[key]--
		}
	}
}

// conn releases its slot once, and clamps every deadline to its end.
type conn struct {
	net.Conn
	end     time.Time
	once    sync.Once
	release func()
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
	c.once.Do(c.release)
	return c.Conn.Close()
}
