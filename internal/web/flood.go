package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/semaphore"
)

// Flood control for the intake: rate limits per client IP and per token
// (429 with Retry-After), bodies spooled to disk past a small size, and a
// byte budget on what is analysed at once, so that a crowd of large
// uploads costs disk, not memory.

// Limits bound the intake. Rates are per minute; 0 turns a limit off.
type Limits struct {
	FormPerIP    int // Web form posts per client IP (default 30).
	APIPerToken  int // API submissions per token (default 600).
	APIPerIP     int // API submissions per client IP, whatever the token (default 1200).
	LoginPerIP   int // Sign-in attempts per client IP (default 30).
	LoginPerUser int // Sign-in attempts per account name (default 10).
	// InFlightBytes is how many bytes of reports are analysed at once
	// across the server (default 48 MiB); more wait their turn.
	InFlightBytes int64
	// TrustedProxies are the load balancers whose X-Forwarded-For is
	// believed; the client IP is the last address before them.
	TrustedProxies []netip.Prefix
}

// spoolMemory is the body size kept in memory; larger bodies go to a
// temporary file while they arrive.
const spoolMemory = 256 << 10

// rateLimiter is a token bucket per key: rate per minute, burst of the rate.
type rateLimiter struct {
	mu    sync.Mutex
	rate  float64
	burst float64
	b     map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newRateLimiter(perMinute int) *rateLimiter {
	if perMinute <= 0 {
		return nil
	}
	return &rateLimiter{rate: float64(perMinute) / 60, burst: float64(perMinute), b: map[string]*bucket{}}
}

// allow takes a token for key; when none is left it says how long until
// one is.
func (l *rateLimiter) allow(key string, now time.Time) (bool, time.Duration) {
	if l == nil {
		return true, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.b) > 100000 {
		for k, v := range l.b {
			if now.Sub(v.last) > time.Minute {
				delete(l.b, k)
			}
		}
	}
	b := l.b[key]
	if b == nil {
		b = &bucket{tokens: l.burst, last: now}
		l.b[key] = b
	}
	b.tokens = min(l.burst, b.tokens+now.Sub(b.last).Seconds()*l.rate)
	b.last = now
	if b.tokens < 1 {
		return false, time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
	}
	b.tokens--
	return true, 0
}

// limiters are the server's buckets.
type limiters struct {
	formIP, apiToken, apiIP, loginIP, loginUser *rateLimiter
	budget                                      *semaphore.Weighted
	budgetSize                                  int64
	proxies                                     []netip.Prefix
}

func newLimiters(l Limits) *limiters {
	if l.InFlightBytes <= 0 {
		l.InFlightBytes = 48 << 20
	}
	return &limiters{formIP: newRateLimiter(l.FormPerIP), apiToken: newRateLimiter(l.APIPerToken), apiIP: newRateLimiter(l.APIPerIP),
		loginIP: newRateLimiter(l.LoginPerIP), loginUser: newRateLimiter(l.LoginPerUser),
		budget: semaphore.NewWeighted(l.InFlightBytes), budgetSize: l.InFlightBytes, proxies: l.TrustedProxies}
}

// DefaultLimits are the limits of a node with no configuration.
func DefaultLimits() Limits {
	return Limits{FormPerIP: 30, APIPerToken: 600, APIPerIP: 1200, LoginPerIP: 30, LoginPerUser: 10, InFlightBytes: 48 << 20}
}

// clientIP is the address of the client: the connection's peer, or, when
// that peer is a trusted proxy, the last address of X-Forwarded-For that
// is not one.
func (l *limiters) clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	if !l.trusted(addr) {
		return addr.String()
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		if !l.trusted(a) {
			return a.Unmap().String()
		}
	}
	return addr.String()
}

func (l *limiters) trusted(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range l.proxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// retryAfter is a wait in whole seconds, at least one.
func retryAfter(wait time.Duration) string {
	return strconv.Itoa(max(1, int(math.Ceil(wait.Seconds()))))
}

// tooMany writes 429 with Retry-After in whole seconds.
func tooMany(w http.ResponseWriter, wait time.Duration, api bool, s *Server, r *http.Request) {
	secs := max(1, int(math.Ceil(wait.Seconds())))
	w.Header().Set("Retry-After", retryAfter(wait))
	msg := fmt.Sprintf("too many reports from you just now; try again in %d seconds", secs)
	if api {
		apiError(w, http.StatusTooManyRequests, "rate-limited", msg)
		return
	}
	s.publicMessage(w, r, http.StatusTooManyRequests, "wait_title", "wait_form")
}

// spooled is a request body read to its end, in memory or in a
// temporary file.
type spooled struct {
	mem  []byte
	file *os.File
	size int64
}

// spool reads r to its end, refusing more than limit bytes with
// errTooLarge (never a truncated body): past spoolMemory the bytes go to a
// temporary file, so a slow or large upload holds disk, not memory.
func spool(r io.Reader, limit int64) (*spooled, error) {
	head := make([]byte, 0, 32<<10)
	buf := make([]byte, 32<<10)
	var sp spooled
	for {
		n, err := r.Read(buf)
		if n > 0 {
			sp.size += int64(n)
			if sp.size > limit {
				sp.close()
				return nil, errTooLarge
			}
			if sp.file == nil && len(head)+n <= spoolMemory {
				head = append(head, buf[:n]...)
			} else {
				if sp.file == nil {
					f, ferr := os.CreateTemp("", "accord-upload-")
					if ferr != nil {
						return nil, ferr
					}
					os.Remove(f.Name()) // gone when closed, whatever happens
					sp.file = f
					if _, werr := f.Write(head); werr != nil {
						sp.close()
						return nil, werr
					}
					head = nil
				}
				if _, werr := sp.file.Write(buf[:n]); werr != nil {
					sp.close()
					return nil, werr
				}
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			sp.close()
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return nil, errTooLarge
			}
			return nil, err
		}
	}
	sp.mem = head
	return &sp, nil
}

// bytes returns the whole body in memory (call within the budget).
func (sp *spooled) bytes() ([]byte, error) {
	if sp.file == nil {
		return sp.mem, nil
	}
	b := make([]byte, sp.size)
	if _, err := sp.file.ReadAt(b, 0); err != nil && err != io.EOF {
		return nil, err
	}
	return b, nil
}

func (sp *spooled) close() {
	if sp != nil && sp.file != nil {
		sp.file.Close()
		sp.file = nil
	}
}

// admit waits for n bytes of the analysis budget; the caller releases.
func (l *limiters) admit(ctx context.Context, n int64) (func(), error) {
	n = min(max(n, 1), l.budgetSize)
	if err := l.budget.Acquire(ctx, n); err != nil {
		return nil, err
	}
	return func() { l.budget.Release(n) }, nil
}

// checkXARFJSON says what is wrong with a JSON body that should be an
// X-ARF report ("" when it is one).
func checkXARFJSON(b []byte) string {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		if !json.Valid(b) {
			return "the body is not valid JSON: " + err.Error()
		}
		return "the body is JSON but not an object: send an X-ARF report"
	}
	if len(m) == 0 {
		return "the JSON object is empty: send an X-ARF report"
	}
	if _, v4 := m["xarf_version"]; !v4 {
		if _, v3 := m["Version"]; !v3 {
			return "the JSON is not an X-ARF report (no xarf_version, nor Version for v3)"
		}
	}
	return ""
}

// hasOwnReportHeader reports whether a multipart/report body starts with
// its own header declaring it (a whole ARF mail), rather than with the
// preamble or first boundary.
func hasOwnReportHeader(b []byte) bool {
	end := len(b)
	if end > 64<<10 {
		end = 64 << 10
	}
	head := b[:end]
	for len(head) > 0 {
		line := head
		if i := bytes.IndexByte(head, '\n'); i >= 0 {
			line, head = head[:i], head[i+1:]
		} else {
			head = nil
		}
		l := strings.TrimRight(string(line), "\r")
		if l == "" {
			return false // end of the header block without the field
		}
		if l[0] == ' ' || l[0] == '\t' {
			continue
		}
		name, value, ok := strings.Cut(l, ":")
		if !ok || strings.ContainsAny(name, " \t") {
			return false // not a header line: the body starts with content
		}
		if strings.EqualFold(name, "Content-Type") && strings.Contains(strings.ToLower(value), "multipart/report") {
			return true
		}
	}
	return false
}

// oneHeaderLine keeps a value on one line.
func oneHeaderLine(s string) string {
	return strings.NewReplacer("\r", " ", "\n", " ").Replace(s)
}

// readBody reads a small request body (JSON calls) up to limit bytes, in
// memory; report bodies go through spool instead.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return nil, errTooLarge
	}
	return b, err
}
