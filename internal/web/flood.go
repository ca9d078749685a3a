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
	"strconv"
	"strings"
	"time"

	"github.com/accord-antispam/accord/internal/ratelimit"
	"github.com/accord-antispam/accord/internal/spool"
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
	// Budget, when set, is the node's budget shared with the mailbox
	// (InFlightBytes is then ignored).
	Budget *spool.Budget
	// TrustedProxies are the load balancers whose X-Forwarded-For is
	// believed; the client IP is the last address before them.
	TrustedProxies []netip.Prefix
}

// limiters are the server's buckets.
type limiters struct {
	formIP, apiToken, apiIP, loginIP, loginUser *ratelimit.Limiter
	budget                                      *spool.Budget
	proxies                                     []netip.Prefix
	loginPerIP, loginPerUser                    int
}

// SharedThrottle is a token bucket every instance on one database counts
// together; the access store provides it when it can (the SQL stores).
// Sign-in attempts are then throttled across the instances behind a load
// balancer, not per process: a guesser spreading attempts over N
// instances would otherwise get N times the limit.
type SharedThrottle interface {
	TakeToken(ctx context.Context, key string, n int, period time.Duration, now time.Time) (bool, time.Duration, error)
}

func newLimiters(l Limits, now func() time.Time) *limiters {
	b := l.Budget
	if b == nil {
		b = spool.NewBudget(l.InFlightBytes)
	}
	return &limiters{formIP: ratelimit.PerMinute(l.FormPerIP, now), apiToken: ratelimit.PerMinute(l.APIPerToken, now),
		apiIP: ratelimit.PerMinute(l.APIPerIP, now), loginIP: ratelimit.PerMinute(l.LoginPerIP, now), loginUser: ratelimit.PerMinute(l.LoginPerUser, now),
		budget: b, proxies: l.TrustedProxies, loginPerIP: l.LoginPerIP, loginPerUser: l.LoginPerUser}
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

// clientKey is the key the client's rates are counted by: its address,
// or its /64 for IPv6.
func (l *limiters) clientKey(r *http.Request) string { return ratelimit.Key(l.clientIP(r)) }

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
	v, v4 := m["xarf_version"]
	if !v4 {
		if v, v3 := m["Version"]; !v3 {
			return "the JSON is not an X-ARF report (no xarf_version, nor Version for v3)"
		} else if !nonEmptyString(v) {
			return `X-ARF v3's Version must be a string such as "3"`
		}
		return ""
	}
	if !nonEmptyString(v) {
		return `xarf_version must be a string such as "4"`
	}
	return ""
}

func nonEmptyString(raw json.RawMessage) bool {
	var s string
	return json.Unmarshal(raw, &s) == nil && strings.TrimSpace(s) != ""
}

// hasDelimiter reports whether a multipart body has a delimiter line of
// its boundary ("--" boundary, then only "--" or white space): the bare
// bytes are not enough, since "--X" is in every line "--XY".
func hasDelimiter(body []byte, boundary string) bool {
	d := []byte("--" + boundary)
	for len(body) > 0 {
		line := body
		if i := bytes.IndexByte(body, '\n'); i >= 0 {
			line, body = body[:i], body[i+1:]
		} else {
			body = nil
		}
		if rest, ok := bytes.CutPrefix(line, d); ok {
			rest = bytes.TrimPrefix(rest, []byte("--"))
			if len(bytes.Trim(rest, " \t\r")) == 0 {
				return true
			}
		}
	}
	return false
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
