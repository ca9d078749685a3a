package web

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/accord-antispam/accord/internal/access"
)

// The audit log of access to the desk: sign-ins (failed and throttled
// too), token use, views and exports. Writing it never blocks what it
// records for long, and a failure to write is logged, not shown.

// tokenUseEvery is how often one token's use is written down: a scanner
// that posts all day makes one audit line per interval, not one per post.
const tokenUseEvery = 10 * time.Minute

type tokenUses struct {
	mu   sync.Mutex
	last map[string]time.Time
}

func (s *Server) audit(r *http.Request, actor, action, target, detail string) {
	a, ok := s.access.(access.Auditor)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 5*time.Second)
	defer cancel()
	ev := access.Event{At: s.now().UTC(), Actor: field(actor), Action: action, Target: field(target), IP: s.lim.clientIP(r), Detail: field(detail)}
	if err := a.AppendAudit(ctx, ev); err != nil {
		s.log.Error("audit", "action", action, "err", err)
	}
}

// maxAuditField bounds what one field of an audit event keeps: a user
// name or path a client sends can be as long as a request allows.
const maxAuditField = 256

// field is a client-given value as the audit log keeps it: at most
// maxAuditField bytes of valid UTF-8 (readers escape control characters
// when they show it).
func field(s string) string {
	if len(s) > maxAuditField {
		s = s[:maxAuditField]
		for len(s) > 0 && !utf8.ValidString(s) {
			s = s[:len(s)-1]
		}
		s += "…"
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// auditRefused writes down a refusal (a throttled sign-in, an invalid
// token) at most a few times a minute per client: a flood of refusals is
// one client's flood, and must not become a flood of the audit log.
func (s *Server) auditRefused(r *http.Request, actor, action, target, detail string) {
	if ok, _ := s.auditLimit.Allow(s.lim.clientKey(r)); ok {
		s.audit(r, actor, action, target, detail)
	}
}

// auditView records that the principal of r saw or exported target.
func (s *Server) auditView(r *http.Request, action, target string) {
	s.audit(r, principalOf(r.Context()).Label(), action, target, r.Method+" "+r.URL.Path)
}

// tokenUsed records a token's use, at most once per tokenUseEvery.
func (s *Server) tokenUsed(r *http.Request, t access.Principal) {
	now := s.now()
	s.uses.mu.Lock()
	if s.uses.last == nil {
		s.uses.last = map[string]time.Time{}
	}
	last, seen := s.uses.last[t.ID]
	if seen && now.Sub(last) < tokenUseEvery {
		s.uses.mu.Unlock()
		return
	}
	s.uses.last[t.ID] = now
	s.uses.mu.Unlock()
	if acc, ok := s.access.(access.Accounts); ok {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 5*time.Second)
		acc.TokenUsed(ctx, t.ID, now.UTC())
		cancel()
	}
	s.audit(r, t.Label(), access.AuditTokenUsed, "token:"+t.ID, r.Method+" "+r.URL.Path)
}

// audited records action on the route's {id} (of kind: "report",
// "campaign") once the handler has answered with success.
func (s *Server) audited(action, kind string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		h(sw, r)
		if sw.status >= 400 {
			return
		}
		p := principalOf(r.Context())
		if p.Kind == "" {
			p, _ = s.principal(r)
		}
		target := kind
		if id := r.PathValue("id"); id != "" {
			target += ":" + id
		}
		s.audit(r, p.Label(), action, target, r.Method+" "+r.URL.Path)
	}
}

type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
