// Package web is the node's HTTP face: the consumer's report form, result
// page and advice on their rights; the analysts' desk (reports, campaigns,
// evidence); and the JSON API with its OpenAPI description.
//
// Message content is always inert: a reported message is shown as escaped
// text, never rendered as HTML, and every page carries a Content Security
// Policy that forbids scripts, remote images and framing. Every form that
// changes state carries a CSRF token; the API authenticates with bearer
// tokens instead of cookies, so it needs none.
package web

import (
	"context"
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/accord-antispam/accord/internal/access"
	"github.com/accord-antispam/accord/internal/cases"
	"github.com/accord-antispam/accord/internal/consent"
	"github.com/accord-antispam/accord/internal/federation"
	"github.com/accord-antispam/accord/internal/filter"
	"github.com/accord-antispam/accord/internal/i18n"
	"github.com/accord-antispam/accord/internal/intake"
	"github.com/accord-antispam/accord/internal/lint"
	"github.com/accord-antispam/accord/internal/metrics"
	"github.com/accord-antispam/accord/internal/ratelimit"
)

//go:embed templates/*.html static/* openapi.yaml
var assets embed.FS

// Config tunes the server.
type Config struct {
	Name            string // Shown in page titles ("Accord complaint desk").
	PublicURL       string // How people reach the node (https://desk.example.org): the base of every link it gives out.
	NodeKey         string // The node's public key (base64), published with its fingerprint at /node and /api/v1/node.
	Jurisdiction    string
	ExportOriginal  bool          // Evidence bundles include the original message and complaint.
	MaxUpload       int64         // Largest report body (bytes).
	SessionLifetime time.Duration // Web login sessions.
	SecureCookies   bool          // Set when served over HTTPS.
	// Federation, when set, adds the cooperation pages for authority users.
	Federation *federation.Service
	// StatsMinCell is the smallest count a published statistic shows
	// (default 5); StatsNoise the largest perturbation of one (default 2;
	// negative: none).
	StatsMinCell int
	StatsNoise   int
	// Privacy is the notice at /privacy; Retention how long each kind of
	// data is kept (shown to reporters); Mailbox the complaints address.
	Privacy   PrivacyNotice
	Retention intake.Retention
	Mailbox   string
	// Metrics, when set, counts requests and serves /metrics.
	Metrics *metrics.Metrics
	// Cases works campaigns as cases; nil: over the desk's store, referring
	// through Federation when set.
	Cases *cases.Service
	// Consent, when set, adds the senders' API and the recipients'
	// opt-out and confirmation pages.
	Consent *consent.Service
	// Certifier, with Consent, adds the pre-send check and labels over
	// the API and serves the label status list.
	Certifier *lint.Certifier
	// Filter, when set, adds the mailbox owners' filter pages, the
	// quarantine's digest links and the filter's API.
	Filter *filter.Service
	// PublicRate bounds requests per minute from one address to the
	// recipients' pages (default 60).
	PublicRate int
	Now        func() time.Time // nil: time.Now.
	// Catalogue holds the public pages' words in every language; nil:
	// the embedded catalogues.
	Catalogue *i18n.Catalogue
	// Limits bound the intake (rates, analysis budget); nil: DefaultLimits.
	Limits *Limits
}

// Server serves the web UI and the API.
type Server struct {
	desk   *intake.Desk
	store  intake.Store
	access access.Store
	cfg    Config
	log    *slog.Logger
	now    func() time.Time
	// tmpls are the pages in each language of cat.
	tmpls map[string]*template.Template
	cat   *i18n.Catalogue
	// dummyHash is the bcrypt hash of a random password nobody knows,
	// checked when a login names no user.
	dummyHash   string
	optoutLimit *ratelimit.Limiter
	// auditLimit bounds the refusals written to the audit log per client.
	auditLimit *ratelimit.Limiter
	// statusLimit bounds, per report, the status link's downloads and
	// erasures: each writes to the custody log.
	statusLimit *ratelimit.Limiter
	lim         *limiters
	uses        tokenUses
}

// New builds the server.
func New(desk *intake.Desk, acc access.Store, cfg Config, log *slog.Logger) (*Server, error) {
	if cfg.Name == "" {
		cfg.Name = "Accord complaint desk"
	}
	if cfg.Mailbox == "" {
		cfg.Mailbox = "report@localhost"
	}
	if cfg.StatsMinCell <= 0 {
		cfg.StatsMinCell = 5
	}
	switch {
	case cfg.StatsNoise == 0:
		cfg.StatsNoise = 2
	case cfg.StatsNoise < 0:
		cfg.StatsNoise = 0
	}
	if cfg.Cases == nil {
		cs, ok := desk.Store().(cases.Store)
		if !ok {
			return nil, errors.New("web: the desk's store keeps no cases")
		}
		cfg.Cases = &cases.Service{Store: cs, Campaigns: desk.Store(), Now: cfg.Now}
		if cfg.Federation != nil {
			cfg.Cases.Referrer = FedReferrer{Fed: cfg.Federation}
		}
	}
	if cfg.MaxUpload <= 0 {
		cfg.MaxUpload = 25 << 20
	}
	if cfg.SessionLifetime <= 0 {
		cfg.SessionLifetime = 12 * time.Hour
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.Catalogue == nil {
		cat, err := i18n.Load()
		if err != nil {
			return nil, err
		}
		cfg.Catalogue = cat
	}
	t, err := template.New("").Funcs(funcs).Funcs(langFuncs(cfg.Catalogue, i18n.Default)).ParseFS(assets, "templates/*.html")
	if err != nil {
		return nil, err
	}
	tmpls, err := translations(t, cfg.Catalogue)
	if err != nil {
		return nil, err
	}
	dummy, err := access.HashPassword(access.Secret(nil, 16))
	if err != nil {
		return nil, err
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	if cfg.PublicRate <= 0 {
		cfg.PublicRate = 60
	}
	lim := DefaultLimits()
	if cfg.Limits != nil {
		lim = *cfg.Limits
	}
	return &Server{desk: desk, store: desk.Store(), access: acc, cfg: cfg, log: log, now: now, tmpls: tmpls, cat: cfg.Catalogue, dummyHash: dummy,
		optoutLimit: ratelimit.PerMinute(cfg.PublicRate, now), lim: newLimiters(lim, now), auditLimit: ratelimit.PerMinute(5, now),
		statusLimit: ratelimit.PerMinute(statusPerReport, now)}, nil
}

// Handler returns the routes. The permission each needs is on its line.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	static, _ := fs.Sub(assets, "static")
	mux.Handle("GET /static/", http.StripPrefix("/static/", noListing(http.FileServerFS(static))))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })

	// Consumers (anyone).
	mux.HandleFunc("GET /{$}", s.formPage)
	mux.HandleFunc("POST /report", s.formSubmit)
	mux.HandleFunc("GET /r/{id}", s.statusPage)
	mux.HandleFunc("GET /rights", s.rightsPage)
	mux.HandleFunc("GET /node", s.nodePage)
	mux.HandleFunc("GET /privacy", s.privacyPage)
	mux.HandleFunc("GET /r/{id}/export", s.statusExport)
	mux.HandleFunc("POST /r/{id}/erase", s.statusErase)
	mux.HandleFunc("GET /login", s.loginPage)
	mux.HandleFunc("POST /login", s.loginSubmit)
	mux.HandleFunc("POST /logout", s.logout)

	// Analysts (session).
	mux.HandleFunc("GET /desk", s.needUser(access.Analyst, s.deskPage))
	mux.HandleFunc("GET /desk/reports/{id}", s.needUser(access.Analyst, s.audited(access.AuditView, "report", s.reportPage)))
	mux.HandleFunc("POST /desk/reports/{id}/evidence", s.needUser(access.Analyst, s.audited(access.AuditExport, "report", s.evidenceDownload)))
	mux.HandleFunc("GET /desk/campaigns/{id}", s.needUser(access.Analyst, s.audited(access.AuditView, "campaign", s.campaignPage)))
	mux.HandleFunc("GET /desk/stats", s.needUser(access.Analyst, s.statsPage))
	mux.HandleFunc("GET /desk/stats/data", s.needUser(access.Analyst, s.statsDataJSON))
	mux.HandleFunc("GET /desk/stats/export.csv", s.needUser(access.Analyst, s.audited(access.AuditExport, "statistics", s.statsExport("csv"))))
	mux.HandleFunc("GET /desk/stats/export.json", s.needUser(access.Analyst, s.audited(access.AuditExport, "statistics", s.statsExport("json"))))
	mux.HandleFunc("GET /desk/reports", s.needUser(access.Analyst, s.deskReportsPage))
	mux.HandleFunc("GET /desk/campaigns", s.needUser(access.Analyst, s.deskCampaignsPage))
	mux.HandleFunc("GET /desk/cases/{id}", s.needUser(access.Analyst, s.audited(access.AuditView, "campaign", s.casePage)))
	mux.HandleFunc("POST /desk/cases/{id}", s.needUser(access.Authority, s.caseAction))
	mux.HandleFunc("POST /desk/cases/{id}/refer", s.needUser(access.Authority, s.caseRefer))
	mux.HandleFunc("POST /desk/cases/{id}/merge", s.needUser(access.Authority, s.caseMerge))
	mux.HandleFunc("POST /desk/cases/{id}/evidence", s.needUser(access.Analyst, s.audited(access.AuditExport, "campaign", s.caseEvidence)))

	// Authorities (session): cooperation with partner nodes.
	if s.cfg.Federation != nil {
		mux.HandleFunc("GET /fed", s.needUser(access.Authority, s.fedPage))
		mux.HandleFunc("GET /fed/peers/{name}", s.needUser(access.Authority, s.fedPeerPage))
		mux.HandleFunc("GET /fed/received", s.needUser(access.Authority, s.fedReceivedPage))
		mux.HandleFunc("GET /fed/requests/{id}", s.needUser(access.Authority, s.fedRequestPage))
		mux.HandleFunc("POST /fed/requests/{id}", s.needUser(access.Authority, s.fedRequestAction))
	}

	// API (bearer tokens; a report's status token for its own report).
	mux.HandleFunc("GET /api/openapi.yaml", s.openAPI)
	mux.HandleFunc("GET /api/v1/node", s.apiNode)
	mux.HandleFunc("POST /api/v1/reports", s.needToken(access.Reporter, s.apiSubmit))
	mux.HandleFunc("GET /api/v1/reports/{id}", s.audited(access.AuditView, "report", s.apiReport))
	mux.HandleFunc("GET /api/v1/reports/{id}/evidence", s.needToken(access.Analyst, s.audited(access.AuditExport, "report", s.apiEvidence)))
	mux.HandleFunc("GET /api/v1/stats", s.needToken(access.Analyst, s.apiStats))
	mux.HandleFunc("GET /api/v1/campaigns", s.needToken(access.Analyst, s.apiCampaigns))
	mux.HandleFunc("GET /api/v1/campaigns/{id}", s.needToken(access.Analyst, s.audited(access.AuditView, "campaign", s.apiCampaign)))
	s.filterRoutes(mux)
	mux.HandleFunc("GET /api/v1/reports", s.needToken(access.Analyst, s.apiReports))
	mux.HandleFunc("GET /api/v1/statistics", s.needToken(access.Analyst, s.audited(access.AuditExport, "statistics", s.statsExport(""))))
	if s.cfg.Metrics != nil {
		mux.HandleFunc("GET /metrics", s.metricsHandler)
	}
	mux.HandleFunc("GET /api/v1/campaigns/{id}/case", s.needToken(access.Analyst, s.audited(access.AuditView, "campaign", s.apiCase)))
	mux.HandleFunc("POST /api/v1/campaigns/{id}/case", s.needToken(access.Authority, s.apiCaseChange))
	mux.HandleFunc("POST /api/v1/campaigns/{id}/referral", s.needToken(access.Authority, s.apiCaseRefer))
	mux.HandleFunc("POST /api/v1/campaigns/{id}/merge", s.needToken(access.Authority, s.apiCampaignMerge))
	mux.HandleFunc("GET /api/v1/campaigns/{id}/evidence", s.needToken(access.Analyst, s.audited(access.AuditExport, "campaign", s.caseEvidence)))

	if s.cfg.Consent != nil {
		// Recipients (anyone holding a link; rate-limited per address).
		mux.HandleFunc("GET /u/{token}", s.limitPublic(s.unsubscribePage))
		mux.HandleFunc("POST /u/{token}", s.limitPublic(s.unsubscribe))
		mux.HandleFunc("GET /c/{token}", s.limitPublic(s.confirmPage))
		mux.HandleFunc("POST /c/{token}", s.limitPublic(s.confirm))
		// Senders (a sender's token: its own data only).
		mux.HandleFunc("GET /api/v1/sender", s.needSender(s.apiSenderSelf))
		mux.HandleFunc("POST /api/v1/sender/campaigns", s.needSender(s.apiCampaignSent))
		mux.HandleFunc("POST /api/v1/consents", s.needSender(s.apiConsentRecord))
		mux.HandleFunc("GET /api/v1/consents", s.needSender(s.apiConsents))
		mux.HandleFunc("POST /api/v1/consents/withdraw", s.needSender(s.apiWithdraw))
		mux.HandleFunc("GET /api/v1/consents/proof", s.needSender(s.apiProof))
		mux.HandleFunc("POST /api/v1/unsubscribe-links", s.needSender(s.apiLinks))
		mux.HandleFunc("GET /api/v1/suppressions", s.needSender(s.apiSuppressions))
		// Analysts and authorities: every sender's standing and proofs.
		mux.HandleFunc("GET /api/v1/senders", s.needToken(access.Analyst, s.apiSenders))
		mux.HandleFunc("GET /api/v1/senders/{id}", s.needToken(access.Analyst, s.apiSender))
		mux.HandleFunc("GET /api/v1/senders/{id}/proof", s.needToken(access.Analyst, s.apiSenderProof))
		mux.HandleFunc("GET /desk/senders", s.needUser(access.Analyst, s.sendersDeskPage))
		mux.HandleFunc("GET /desk/senders/{id}", s.needUser(access.Analyst, s.senderDeskPage))
		if s.cfg.Certifier != nil {
			mux.HandleFunc("POST /api/v1/lint", s.needSender(s.apiLint))
			mux.HandleFunc("POST /api/v1/labels", s.needSender(s.apiLabel))
			mux.HandleFunc("GET "+StatusPath, s.limitPublic(s.labelStatus))
		}
	}
	s.apiMethods(mux)
	return s.secure(mux)
}

// secure sets the headers every response carries and recovers from panics
// in handlers (a bug must not take the node down).
func (s *Server) secure(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		// same-origin, not no-referrer: with no-referrer browsers send
		// "Origin: null" on form posts, which the CSRF check must refuse.
		// Status links carry their token, so nothing leaks to other sites.
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cache-Control", "no-store")
		if m := s.cfg.Metrics; m != nil {
			start, sw := time.Now(), &codeWriter{ResponseWriter: w, code: http.StatusOK}
			w = sw
			// r.Pattern is the route the mux chose: bounded labels, no ids.
			defer func() { m.HTTP(r.Pattern, sw.code, time.Since(start)) }()
		}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.log.Error("handler panic", "path", r.URL.Path, "panic", p)
				if s.cfg.Metrics != nil {
					s.cfg.Metrics.Error("handler_panic")
				}
				http.Error(w, "internal error", http.StatusInternalServerError)
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// principal resolves who is asking: a bearer token, a session cookie, or
// nobody.
func (s *Server) principal(r *http.Request) (access.Principal, *access.Session) {
	if tok, ok := access.Bearer(r.Header.Get("Authorization")); ok {
		t, err := s.access.TokenByHash(r.Context(), access.Hash(tok))
		if err == nil {
			return access.Principal{Kind: "token", ID: t.ID, Role: t.Role}, nil
		}
		return access.Principal{Kind: "invalid"}, nil
	}
	if c, err := r.Cookie(sessionCookie); err == nil {
		se, err := s.access.SessionByHash(r.Context(), access.Hash(c.Value))
		if err == nil && s.now().Before(se.ExpiresAt) {
			u, err := s.access.UserByName(r.Context(), se.User)
			if err == nil && !u.Disabled() {
				return access.Principal{Kind: "user", ID: u.Name, Role: u.Role}, &se
			}
		}
	}
	return access.Principal{Kind: "anonymous"}, nil
}

type ctxKey int

const principalKey ctxKey = 0

func withPrincipal(ctx context.Context, p access.Principal) context.Context {
	return context.WithValue(ctx, principalKey, p)
}

func principalOf(ctx context.Context) access.Principal {
	p, _ := ctx.Value(principalKey).(access.Principal)
	return p
}

// claimedTokenID is the id a bearer token of the form acc_ID_SECRET
// names, "" when it has none of the shape tokens are made with.
func claimedTokenID(r *http.Request) string {
	auth, ok := access.Bearer(r.Header.Get("Authorization"))
	if !ok {
		return ""
	}
	rest, ok := strings.CutPrefix(auth, "acc_")
	id, _, ok2 := strings.Cut(rest, "_")
	if !ok || !ok2 || len(id) == 0 || len(id) > 16 {
		return ""
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= '2' && c <= '7') {
			return ""
		}
	}
	return id
}

func (s *Server) needToken(role access.Role, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, _ := s.principal(r)
		switch {
		case p.Kind == "invalid":
			target, detail := "", r.Method+" "+r.URL.Path
			if id := claimedTokenID(r); id != "" {
				// The id a token names is not secret (token list shows it):
				// the operator sees which revoked integration still sends.
				target, detail = "token:"+id, detail+" (a revoked or wrong token naming this id)"
			}
			s.auditRefused(r, "anonymous", access.AuditTokenRefused, target, detail)
			w.Header().Set("WWW-Authenticate", `Bearer realm="accord", error="invalid_token"`)
			apiError(w, http.StatusUnauthorized, "bad-token", "the bearer token is not valid")
			return
		case p.Kind != "token":
			w.Header().Set("WWW-Authenticate", `Bearer realm="accord"`)
			apiError(w, http.StatusUnauthorized, "auth-required", "this call needs an API token: Authorization: Bearer TOKEN")
			return
		case !p.Role.AtLeast(role):
			apiError(w, http.StatusForbidden, "forbidden", "this token's role ("+string(p.Role)+") may not do this")
			return
		}
		s.tokenUsed(r, p)
		h(w, r.WithContext(withPrincipal(r.Context(), p)))
	}
}

func (s *Server) needUser(role access.Role, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, se := s.principal(r)
		if p.Kind != "user" {
			http.Redirect(w, r, "/login", http.StatusSeeOther)
			return
		}
		if !p.Role.AtLeast(role) {
			s.page(w, http.StatusForbidden, "message", pageData{Title: "Not allowed", Message: "Your account may not see this page."})
			return
		}
		if r.Method == http.MethodPost && !s.checkCSRF(r, se.CSRF) {
			s.page(w, http.StatusForbidden, "message", pageData{Title: "Expired form", Message: "This form has expired or did not come from this site. Go back, reload and try again."})
			return
		}
		ctx := withPrincipal(r.Context(), p)
		ctx = context.WithValue(ctx, sessionKey, se)
		h(w, r.WithContext(ctx))
	}
}

const sessionKey ctxKey = 1

func sessionOf(ctx context.Context) *access.Session {
	se, _ := ctx.Value(sessionKey).(*access.Session)
	return se
}

var errTooLarge = errors.New("too large")

// codeWriter remembers the status code written, for the metrics.
type codeWriter struct {
	http.ResponseWriter
	code  int
	wrote bool
}

func (w *codeWriter) WriteHeader(code int) {
	if !w.wrote {
		w.code, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *codeWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

func (w *codeWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
