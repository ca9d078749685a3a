// Package fedhttp is the federation's HTTP edge: the inbox where peers
// deliver envelopes, and the transport that delivers this node's. The
// federation itself knows no HTTP; here its typed refusals become status
// codes and one fixed public sentence each, and the details stay in the
// log.
package fedhttp

import (
	"bytes"
	"context"
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
	"time"

	"github.com/accord-antispam/accord/internal/federation"
)

// InboxPath is where peers deliver envelopes.
const InboxPath = "/federation/v1/inbox"

// Limits of the inbox.
const (
	DefaultMaxBytes      = 32 << 20         // An envelope's body.
	DefaultMaxConcurrent = 4                // Envelopes verified and stored at once.
	DefaultPerClient     = 2                // Bodies read at once from one client address.
	DefaultReadGrace     = 10 * time.Second // Time any body gets before its pace is judged.
	DefaultMinRate       = 16 << 10         // Bytes a second a body must keep up after the grace.
	DefaultSlotWait      = 10 * time.Second // How long an envelope waits for a slot before 503.
)

// Inbox serves the federation inbox. A body is read before any slot for
// the work is taken, and a slow sender cannot hold even the read for
// long: bodies read at once are bounded (2×MaxConcurrent, PerClient from
// one address — the connection's address, so behind a proxy all peers
// share it), each must keep MinRate bytes a second after ReadGrace (a
// read deadline that moves only as bytes arrive), and a slot, for reading
// or for the work, is waited for at most SlotWait before "busy". Four
// connections trickling a byte every ten seconds, which used to lock every
// peer out until the server's request timeout, now take two read places
// for ReadGrace and a few seconds more.
type Inbox struct {
	Fed           *federation.Service
	MaxBytes      int64
	MaxConcurrent int
	Log           *slog.Logger

	PerClient int
	ReadGrace time.Duration
	MinRate   int64
	SlotWait  time.Duration

	slots   chan struct{} // Verification and storage.
	reading chan struct{} // Bodies being read.

	mu       sync.Mutex
	byClient map[string]int
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
		PerClient: DefaultPerClient, ReadGrace: DefaultReadGrace, MinRate: DefaultMinRate, SlotWait: DefaultSlotWait,
		slots: make(chan struct{}, maxConcurrent), reading: make(chan struct{}, 2*maxConcurrent), byClient: map[string]int{}}
}

// client takes one of a client address's read places; release gives it
// back. ok is false when the address already has PerClient.
func (in *Inbox) client(r *http.Request) (release func(), ok bool) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.byClient[host] >= in.PerClient {
		return nil, false
	}
	in.byClient[host]++
	return func() {
		in.mu.Lock()
		defer in.mu.Unlock()
		if in.byClient[host]--; in.byClient[host] <= 0 {
			delete(in.byClient, host)
		}
	}, true
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
// one 64 KiB read of slack), or the read fails.
type pacedReader struct {
	r     io.Reader
	rc    *http.ResponseController
	start time.Time
	n     int64
	grace time.Duration
	rate  int64
}

// Close leaves the request body to the server, which closes it.
func (p *pacedReader) Close() error { return nil }

func (p *pacedReader) Read(b []byte) (int, error) {
	d := p.start.Add(p.grace + time.Duration(float64(p.n+64<<10)/float64(p.rate)*float64(time.Second)))
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
	var b errorBody
	b.Error.Code, b.Error.Message, b.Answer = c, c.Public(), ans
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
// MaxBytes refused at once, a read place for the client and overall, a
// body of at most MaxBytes read at a minimum pace, then a slot among
// MaxConcurrent — and hands the envelope to the federation, whose refusal
// becomes a status and a code.
func (in *Inbox) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusMethodNotAllowed)
		io.WriteString(w, `{"error":{"code":"method","message":"POST an envelope"}}`+"\n")
		return
	}
	if r.ContentLength > in.MaxBytes {
		in.Log.Warn("federation: envelope refused", "code", federation.CodeTooLarge, "bytes", r.ContentLength, "remote", r.RemoteAddr)
		writeRefusal(w, federation.CodeTooLarge, nil)
		return
	}
	release, ok := in.client(r)
	if !ok {
		in.Log.Warn("federation: inbox busy for this client; envelope turned away", "remote", r.RemoteAddr)
		writeRefusal(w, federation.CodeBusy, nil)
		return
	}
	defer release()
	if !in.take(r.Context(), in.reading) {
		in.Log.Warn("federation: inbox busy; envelope turned away", "remote", r.RemoteAddr)
		writeRefusal(w, federation.CodeBusy, nil)
		return
	}
	rc := http.NewResponseController(w)
	raw, err := io.ReadAll(http.MaxBytesReader(w, &pacedReader{r: r.Body, rc: rc, start: time.Now(), grace: in.ReadGrace, rate: in.MinRate}, in.MaxBytes))
	<-in.reading
	if err != nil {
		code := federation.CodeMalformed
		var mb *http.MaxBytesError
		var ne net.Error
		switch {
		case errors.As(err, &mb):
			code = federation.CodeTooLarge
		case errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout():
			code, err = federation.CodeSlow, fmt.Errorf("%w: %v", errSlow, err)
		}
		in.Log.Warn("federation: envelope refused", "code", code, "err", err, "remote", r.RemoteAddr)
		writeRefusal(w, code, nil)
		return
	}
	rc.SetReadDeadline(time.Time{})
	if !in.take(r.Context(), in.slots) {
		in.Log.Warn("federation: inbox busy; envelope turned away", "remote", r.RemoteAddr)
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
		in.Log.Log(r.Context(), lvl, "federation: envelope refused", "code", re.Code, "err", re.Err, "remote", r.RemoteAddr)
		writeRefusal(w, re.Code, re.Answer)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(body)
}

// Transport delivers envelopes over HTTP.
type Transport struct {
	Client *http.Client
}

// maxAnswer bounds what is read back from a peer.
const maxAnswer = 4 << 20

// Post implements federation.Transport.
func (t *Transport) Post(ctx context.Context, base string, sealed []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(base, "/")+InboxPath, bytes.NewReader(sealed))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	c := t.Client
	if c == nil {
		c = &http.Client{Timeout: time.Minute}
	}
	res, err := c.Do(req)
	if err != nil {
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
	return nil, &federation.RemoteError{Peer: base, Code: e.Error.Code, Answer: e.Answer}
}
