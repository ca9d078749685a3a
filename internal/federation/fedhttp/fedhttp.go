// Package fedhttp is the federation's HTTP edge: the inbox where peers
// deliver envelopes, and the transport that delivers this node's. The
// federation itself knows no HTTP; here its typed refusals become status
// codes and one fixed public sentence each, and the details stay in the
// log.
package fedhttp

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/accord-antispam/accord/internal/federation"
)

// InboxPath is where peers deliver envelopes.
const InboxPath = "/federation/v1/inbox"

// AdmissionHeader carries the sender's signed admission of the body
// (federation.Admission): checked before the body is read, it gives a
// known peer one of the places reserved for peers.
const AdmissionHeader = "Accord-Admission"

// Limits of the inbox.
const (
	DefaultMaxBytes      = 32 << 20         // An envelope's body.
	DefaultMaxConcurrent = 4                // Envelopes verified and stored at once.
	DefaultPerClient     = 2                // Bodies read at once from one client address.
	DefaultReadGrace     = 10 * time.Second // Time any body gets before its pace is judged.
	DefaultMinRate       = 16 << 10         // Bytes a second a body must keep up after the grace.
	DefaultSlotWait      = 10 * time.Second // How long an envelope waits for a slot before 503.
	// DefaultMaxRead is the longest a body is read, whatever its pace; a
	// larger MaxBytes gets longer, at maxReadRate.
	DefaultMaxRead = 2 * time.Minute
	maxReadRate    = 256 << 10
	// answerTime is what the inbox has to answer once a body is read
	// (a slot waited for, the envelope verified and stored).
	answerTime = 2 * time.Minute
)

// maxReadFor is the longest a body of at most maxBytes is read: two
// minutes, or the time maxBytes takes at 256 KiB a second.
func maxReadFor(maxBytes int64) time.Duration {
	return max(DefaultMaxRead, time.Duration(maxBytes/maxReadRate)*time.Second)
}

// Inbox serves the federation inbox. A body is read before any slot for
// the work is taken, and a slow sender cannot hold even the read for
// long: bodies read at once are bounded, each must keep MinRate bytes a
// second after ReadGrace (a read deadline that moves only as bytes
// arrive), and a place, for reading or for the work, is waited for at
// most SlotWait before "busy". Four connections trickling a byte every
// ten seconds, which used to lock every peer out until the server's
// request timeout, now take two read places for ReadGrace and a few
// seconds more.
//
// Reading places come in two pools. A request whose Accord-Admission
// header is a fresh admission signed by an active peer's current key
// (checked before anything is read) reads among the peers' places: each
// active peer has one of its own, and may take one more (PerClient in
// all) among 2×MaxConcurrent shared by the peers — so a peer sending
// slowly holds its own places, never another peer's. Any other body —
// unsigned, forged, a copied admission — reads in the general pool:
// 2×MaxConcurrent places, PerClient from one address (the connection's,
// so behind a proxy all share it). Connections from a few addresses
// sending just above MinRate can hold the general pool for as long as
// their bodies last; they cannot delay a peer. And no body, however
// well paced, is read longer than MaxRead.
type Inbox struct {
	Fed           *federation.Service
	MaxBytes      int64
	MaxConcurrent int
	Log           *slog.Logger

	PerClient int
	ReadGrace time.Duration
	MinRate   int64
	SlotWait  time.Duration
	// MaxRead is the longest one body is read, whatever its pace: at
	// MinRate alone, a 32 MiB body would hold its place for 34 minutes.
	MaxRead time.Duration

	slots   chan struct{} // Verification and storage.
	reading chan struct{} // Bodies being read: the general pool.
	peers   chan struct{} // Bodies being read from admitted peers, past each one's own place.

	mu       sync.Mutex
	byClient map[string]int // Client address → bodies read in the general pool.
	byPeer   map[string]int // Peer → bodies read in the peers' pool.

	quiet logLimit // The lines about requests no peer admitted.
}

// Lines the inbox writes about requests no peer admitted — anyone's —
// at most warnBurst a minute: the rest are counted, and the next line
// written says how many were left out.
const warnBurst = 20

// logLimit counts the lines written in the current minute.
type logLimit struct {
	mu      sync.Mutex
	start   time.Time
	n       int
	dropped int
}

// allow says whether a line may be written now, and how many were left
// out before it.
func (l *logLimit) allow(now time.Time) (bool, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.start) >= time.Minute {
		l.start, l.n = now, 0
	}
	if l.n >= warnBurst {
		l.dropped++
		return false, 0
	}
	l.n++
	d := l.dropped
	l.dropped = 0
	return true, d
}

// warn logs a refusal: always for an admitted peer's request, within
// the limit for anyone else's, which an outsider can send by the
// thousand.
func (in *Inbox) warn(ctx context.Context, admitted bool, level slog.Level, msg string, args ...any) {
	if !admitted {
		ok, dropped := in.quiet.allow(time.Now())
		if !ok {
			return
		}
		if dropped > 0 {
			args = append(args, "unadmitted_lines_left_out", dropped)
		}
	}
	in.Log.Log(ctx, level, msg, args...)
}

// NewInbox makes the inbox handler with its bounds.
func NewInbox(fed *federation.Service, maxBytes int64, maxConcurrent int, log *slog.Logger) *Inbox {
	if maxBytes <= 0 {
		maxBytes = DefaultMaxBytes
	}
	if maxConcurrent <= 0 {
		maxConcurrent = DefaultMaxConcurrent
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Inbox{Fed: fed, MaxBytes: maxBytes, MaxConcurrent: maxConcurrent, Log: log,
		PerClient: DefaultPerClient, ReadGrace: DefaultReadGrace, MinRate: DefaultMinRate, SlotWait: DefaultSlotWait, MaxRead: maxReadFor(maxBytes),
		slots: make(chan struct{}, maxConcurrent), reading: make(chan struct{}, 2*maxConcurrent), peers: make(chan struct{}, 2*maxConcurrent),
		byClient: map[string]int{}, byPeer: map[string]int{}}
}

// hold takes one of who's read places in counts (a client address's or a
// peer's); release gives it back. ok is false when who already has
// PerClient; first says who had none (a peer reads its first body in a
// place of its own).
func (in *Inbox) hold(counts map[string]int, who string) (release func(), first, ok bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if counts[who] >= in.PerClient {
		return nil, false, false
	}
	first = counts[who] == 0
	counts[who]++
	return func() {
		in.mu.Lock()
		defer in.mu.Unlock()
		if counts[who]--; counts[who] <= 0 {
			delete(counts, who)
		}
	}, first, true
}

// take waits at most SlotWait for a place in sem.
func (in *Inbox) take(ctx context.Context, sem chan struct{}) bool {
	select {
	case sem <- struct{}{}:
		return true
	default:
	}
	t := time.NewTimer(in.SlotWait)
	defer t.Stop()
	select {
	case sem <- struct{}{}:
		return true
	case <-t.C:
	case <-ctx.Done():
	}
	return false
}

// pacedReader moves the connection's read deadline as bytes arrive: a
// body has ReadGrace, then must have come at MinRate bytes a second (with
// one 64 KiB read of slack), and all of it by end, or the read fails.
type pacedReader struct {
	r     io.Reader
	rc    *http.ResponseController
	start time.Time
	end   time.Time
	n     int64
	grace time.Duration
	rate  int64
}

// Close leaves the request body to the server, which closes it.
func (p *pacedReader) Close() error { return nil }

func (p *pacedReader) Read(b []byte) (int, error) {
	d := p.start.Add(p.grace + time.Duration(float64(p.n+64<<10)/float64(p.rate)*float64(time.Second)))
	if !p.end.IsZero() && p.end.Before(d) {
		d = p.end
	}
	if err := p.rc.SetReadDeadline(d); err != nil {
		return 0, fmt.Errorf("set the read deadline: %w", err)
	}
	n, err := p.r.Read(b)
	p.n += int64(n)
	return n, err
}

// errSlow marks a body that did not keep its pace.
var errSlow = errors.New("the body came too slowly")

type errorBody struct {
	Error struct {
		Code    federation.Code `json:"code"`
		Message string          `json:"message"`
	} `json:"error"`
	Answer *federation.Answer `json:"answer,omitempty"`
	Slow   *slowBody          `json:"slow,omitempty"`
}

// slowBody tells the sender of a body cut as too slow what arrived and
// the limits it met, so that it can seal envelopes the link carries in
// time (nothing about the node's peers: its inbox's own bounds).
type slowBody struct {
	Received       int64   `json:"received_bytes"`
	Seconds        float64 `json:"seconds"`
	MaxReadSeconds float64 `json:"max_read_seconds"`
	MinRate        int64   `json:"min_bytes_per_second"`
}

// status maps a refusal code to its HTTP status.
func status(c federation.Code) int {
	switch c {
	case federation.CodeMalformed, federation.CodeStale, federation.CodeTampered:
		return http.StatusBadRequest
	case federation.CodeRefused, federation.CodeWrongRecipient:
		return http.StatusForbidden
	case federation.CodeReplay, federation.CodeSuperseded:
		return http.StatusConflict
	case federation.CodeBadPackage, federation.CodeBadAssistance, federation.CodeCustody:
		return http.StatusUnprocessableEntity
	case federation.CodeBusy:
		return http.StatusServiceUnavailable
	case federation.CodeTooLarge:
		return http.StatusRequestEntityTooLarge
	case federation.CodeSlow:
		return http.StatusRequestTimeout
	}
	return http.StatusInternalServerError
}

func writeRefusal(w http.ResponseWriter, c federation.Code, ans *federation.Answer) {
	writeRefusalBody(w, c, ans, nil)
}

func writeRefusalBody(w http.ResponseWriter, c federation.Code, ans *federation.Answer, slow *slowBody) {
	var b errorBody
	b.Error.Code, b.Error.Message, b.Answer, b.Slow = c, c.Public(), ans, slow
	w.Header().Set("Content-Type", "application/json")
	if c == federation.CodeBusy || c == federation.CodeTooLarge || c == federation.CodeSlow {
		// The body may be unread: answering on a closing connection keeps
		// the server from reading it first (at the sender's pace).
		w.Header().Set("Connection", "close")
	}
	if c == federation.CodeBusy {
		w.Header().Set("Retry-After", "5")
	}
	w.WriteHeader(status(c))
	json.NewEncoder(w).Encode(b)
}

// ServeHTTP bounds the request before any work — a declared size over
// MaxBytes refused at once, the admission checked, a read place in the
// peers' pool (admitted) or the general one, a body of at most MaxBytes
// read at a minimum pace (and, when admitted, the one its admission
// names), then a slot among MaxConcurrent — and hands the envelope to
// the federation, whose refusal becomes a status and a code.
func (in *Inbox) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusMethodNotAllowed)
		io.WriteString(w, `{"error":{"code":"method","message":"POST an envelope"}}`+"\n")
		return
	}
	if r.ContentLength > in.MaxBytes {
		in.warn(r.Context(), false, slog.LevelWarn, "federation: envelope refused", "code", federation.CodeTooLarge, "bytes", r.ContentLength, "remote", r.RemoteAddr)
		writeRefusal(w, federation.CodeTooLarge, nil)
		return
	}
	var adm *federation.Admitted
	if h := r.Header.Get(AdmissionHeader); h != "" {
		a, err := in.Fed.Admit(r.Context(), h)
		if err != nil {
			in.warn(r.Context(), false, slog.LevelWarn, "federation: admission refused; the body reads in the general pool", "err", err, "remote", r.RemoteAddr)
		}
		adm = a
	}
	counts, pool, who := in.byClient, in.reading, r.RemoteAddr
	if adm != nil {
		counts, pool, who = in.byPeer, in.peers, adm.Peer
	} else if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		who = host
	}
	release, first, ok := in.hold(counts, who)
	if !ok {
		in.warn(r.Context(), adm != nil, slog.LevelWarn, "federation: inbox busy for this client; envelope turned away", "remote", r.RemoteAddr, "admitted", adm != nil)
		writeRefusal(w, federation.CodeBusy, nil)
		return
	}
	defer release()
	// An admitted peer's first body reads in its own place (the admission
	// named an active peer, so these are as many as the peers); the rest
	// wait for a place in their pool.
	if adm != nil && first {
		pool = nil
	}
	if pool != nil && !in.take(r.Context(), pool) {
		in.warn(r.Context(), adm != nil, slog.LevelWarn, "federation: inbox busy; envelope turned away", "remote", r.RemoteAddr, "admitted", adm != nil)
		writeRefusal(w, federation.CodeBusy, nil)
		return
	}
	rc := http.NewResponseController(w)
	start := time.Now()
	pr := &pacedReader{r: r.Body, rc: rc, start: start, grace: in.ReadGrace, rate: in.MinRate}
	if in.MaxRead > 0 {
		pr.end = start.Add(in.MaxRead)
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, pr, in.MaxBytes))
	if pool != nil {
		<-pool
	}
	// The server's write timeout ran from the request's start: a body read
	// for longer (MaxRead may be) would leave no time to answer — the
	// sender of a slow body never heard why it was cut, nor a good one
	// that it was stored. The answer gets its own time from here.
	rc.SetWriteDeadline(time.Now().Add(answerTime))
	if err == nil && adm != nil {
		if sum := sha256.Sum256(raw); hex.EncodeToString(sum[:]) != adm.BodySHA256 {
			in.Log.Warn("federation: envelope refused", "code", federation.CodeTampered, "err", "the body is not the one "+adm.Peer+"'s admission names", "remote", r.RemoteAddr)
			writeRefusal(w, federation.CodeTampered, nil)
			return
		}
	}
	if err != nil {
		code := federation.CodeMalformed
		var mb *http.MaxBytesError
		var ne net.Error
		var slow *slowBody
		switch {
		case errors.As(err, &mb):
			code = federation.CodeTooLarge
		case errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout():
			code, err = federation.CodeSlow, fmt.Errorf("%w: %v", errSlow, err)
			// The sender is told what arrived and the limits: an envelope
			// the link cannot carry within MaxRead never arrives, however
			// often it is sent, and only the sender can make it smaller.
			slow = &slowBody{Received: pr.n, Seconds: time.Since(start).Seconds(), MaxReadSeconds: in.MaxRead.Seconds(), MinRate: in.MinRate}
		}
		in.warn(r.Context(), adm != nil, slog.LevelWarn, "federation: envelope refused", "code", code, "err", err, "remote", r.RemoteAddr,
			"received", pr.n, "seconds", time.Since(start).Seconds())
		writeRefusalBody(w, code, nil, slow)
		return
	}
	rc.SetReadDeadline(time.Time{})
	if !in.take(r.Context(), in.slots) {
		in.warn(r.Context(), adm != nil, slog.LevelWarn, "federation: inbox busy; envelope turned away", "remote", r.RemoteAddr)
		writeRefusal(w, federation.CodeBusy, nil)
		return
	}
	defer func() { <-in.slots }()
	body, err := in.Fed.Receive(r.Context(), raw)
	if err != nil {
		var re *federation.Refusal
		if !errors.As(err, &re) {
			re = &federation.Refusal{Code: federation.CodeInternal, Err: err}
		}
		lvl := slog.LevelWarn
		if re.Code == federation.CodeInternal {
			lvl = slog.LevelError
		}
		in.warn(r.Context(), adm != nil || lvl > slog.LevelWarn, lvl, "federation: envelope refused", "code", re.Code, "err", re.Err, "remote", r.RemoteAddr)
		writeRefusal(w, re.Code, re.Answer)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(body)
}

// Transport delivers envelopes over HTTP. A post may take the time its
// body needs at the inbox's minimum pace (DefaultMinRate after
// DefaultReadGrace), plus AnswerTimeout for the answer: a flat timeout
// would cut a large envelope on a slow link before the peer could say
// why.
type Transport struct {
	Client        *http.Client  // nil: a client with no timeout of its own.
	AnswerTimeout time.Duration // For the peer to answer once it has the body (1 minute).
}

// maxAnswer bounds what is read back from a peer.
const maxAnswer = 4 << 20

// countingReader counts the bytes the client has taken of a body.
type countingReader struct {
	r *bytes.Reader
	n atomic.Int64
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n.Add(int64(n))
	return n, err
}

// Post implements federation.Transport. A body the peer cuts as too
// slow, or that this node could not send before its own deadline, is a
// *federation.SlowError.
func (t *Transport) Post(ctx context.Context, base string, sealed []byte, admission string) ([]byte, error) {
	answer := t.AnswerTimeout
	if answer <= 0 {
		answer = time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, answer+DefaultReadGrace+time.Duration(len(sealed))*time.Second/DefaultMinRate)
	defer cancel()
	body := &countingReader{r: bytes.NewReader(sealed)}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(base, "/")+InboxPath, body)
	if err != nil {
		return nil, err
	}
	req.ContentLength = int64(len(sealed))
	req.Header.Set("Content-Type", "application/json")
	if admission != "" {
		req.Header.Set(AdmissionHeader, admission)
	}
	c := t.Client
	if c == nil {
		c = &http.Client{}
	}
	start := time.Now()
	res, err := c.Do(req)
	if err != nil {
		// Cut while the body was still going (a bounded proxy, or the
		// peer's answer lost to its closing): too slow, from this side.
		if sent := body.n.Load(); sent < int64(len(sealed)) && (errors.Is(err, context.DeadlineExceeded) || isTimeout(err) || time.Since(start) > DefaultReadGrace) {
			return nil, &federation.SlowError{Peer: base, Size: int64(len(sealed)), Sent: sent, Took: time.Since(start), Cause: err}
		}
		return nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, maxAnswer))
	if err != nil {
		return nil, fmt.Errorf("read the answer: %w", err)
	}
	if res.StatusCode == http.StatusOK {
		return b, nil
	}
	var e errorBody
	if json.Unmarshal(b, &e) != nil || e.Error.Code == "" {
		return nil, fmt.Errorf("HTTP %d from %s", res.StatusCode, base)
	}
	if e.Error.Code == federation.CodeSlow {
		se := &federation.SlowError{Peer: base, Size: int64(len(sealed)), Sent: body.n.Load(), Took: time.Since(start), ByPeer: true}
		if sl := e.Slow; sl != nil {
			se.Sent, se.Took = sl.Received, time.Duration(sl.Seconds*float64(time.Second))
			se.MaxRead, se.MinRate = time.Duration(sl.MaxReadSeconds*float64(time.Second)), sl.MinRate
		}
		return nil, se
	}
	return nil, &federation.RemoteError{Peer: base, Code: e.Error.Code, Answer: e.Answer}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
