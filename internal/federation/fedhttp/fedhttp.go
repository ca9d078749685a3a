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
	"net/http"
	"strings"
	"time"

	"github.com/accord-antispam/accord/internal/federation"
)

// InboxPath is where peers deliver envelopes.
const InboxPath = "/federation/v1/inbox"

// Limits of the inbox.
const (
	DefaultMaxBytes      = 32 << 20 // An envelope's body.
	DefaultMaxConcurrent = 4        // Envelopes handled at once; more get 503 at once.
)

// Inbox serves the federation inbox.
type Inbox struct {
	Fed           *federation.Service
	MaxBytes      int64
	MaxConcurrent int
	Log           *slog.Logger

	slots chan struct{}
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
	return &Inbox{Fed: fed, MaxBytes: maxBytes, MaxConcurrent: maxConcurrent, Log: log, slots: make(chan struct{}, maxConcurrent)}
}

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
	case federation.CodeReplay:
		return http.StatusConflict
	case federation.CodeBadPackage, federation.CodeBadAssistance, federation.CodeCustody:
		return http.StatusUnprocessableEntity
	case federation.CodeBusy:
		return http.StatusServiceUnavailable
	case federation.CodeTooLarge:
		return http.StatusRequestEntityTooLarge
	}
	return http.StatusInternalServerError
}

func writeRefusal(w http.ResponseWriter, c federation.Code, ans *federation.Answer) {
	var b errorBody
	b.Error.Code, b.Error.Message, b.Answer = c, c.Public(), ans
	w.Header().Set("Content-Type", "application/json")
	if c == federation.CodeBusy {
		w.Header().Set("Retry-After", "5")
	}
	w.WriteHeader(status(c))
	json.NewEncoder(w).Encode(b)
}

// ServeHTTP bounds the request before any work — a free slot among
// MaxConcurrent, then a body of at most MaxBytes — and hands the envelope
// to the federation, whose refusal becomes a status and a code.
func (in *Inbox) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusMethodNotAllowed)
		io.WriteString(w, `{"error":{"code":"method","message":"POST an envelope"}}`+"\n")
		return
	}
	select {
	case in.slots <- struct{}{}:
		defer func() { <-in.slots }()
	default:
		in.Log.Warn("federation: inbox busy; envelope turned away", "remote", r.RemoteAddr)
		writeRefusal(w, federation.CodeBusy, nil)
		return
	}
	if r.ContentLength > in.MaxBytes {
		in.Log.Warn("federation: envelope refused", "code", federation.CodeTooLarge, "bytes", r.ContentLength, "remote", r.RemoteAddr)
		writeRefusal(w, federation.CodeTooLarge, nil)
		return
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, in.MaxBytes))
	if err != nil {
		code := federation.CodeMalformed
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			code = federation.CodeTooLarge
		}
		in.Log.Warn("federation: envelope refused", "code", code, "err", err, "remote", r.RemoteAddr)
		writeRefusal(w, code, nil)
		return
	}
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
