package web

import (
	"bytes"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"html/template"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/accord-antispam/accord/internal/access"
	"github.com/accord-antispam/accord/internal/analysis"
	"github.com/accord-antispam/accord/internal/consent"
	"github.com/accord-antispam/accord/internal/federation"
	"github.com/accord-antispam/accord/internal/i18n"
	"github.com/accord-antispam/accord/internal/intake"
	"github.com/accord-antispam/accord/internal/rules"
	"github.com/accord-antispam/accord/internal/spool"
)

const (
	sessionCookie = "accord_session"
	csrfCookie    = "accord_csrf"
)

type pageData struct {
	Title     string
	Name      string
	User      string
	CSRF      string
	Message   string
	Error     string
	Report    *intake.Report
	V         *analysis.Verdict
	StatusURL string
	Raw       string
	Reports   []intake.ReportSummary
	Campaigns []intake.CampaignSummary
	Campaign  *intake.CampaignDetail
	Bars      []bar
	BarsH     int
	Form      map[string]string
	Authority bool     // The signed-in user may see the cooperation pages.
	Fed       *fedPage // The cooperation pages' data.
	OptOut    *optoutData
	Node      *nodeInfo
	// SenderComplaints are the registered senders a report is about.
	SenderComplaints []consent.Complaint
	Senders          *sendersPage
	Filter           *filterPage // The mail filter's pages.
	Mailbox          bool        // The signed-in user is a mailbox owner.
	Browse           *browseData // The desk's filtered lists.
	Case             *caseData   // A campaign's case.
	Stats            *statsData  // The statistics dashboard.
	Privacy          *privacyData
	// FedBack is what the report's complaint did at registered senders,
	// for its reporter's status page (statusFedBack).
	FedBack        []fedBack
	MailboxAddress string // The complaints address.
	// Lang is the page's language (public pages: the person's; the
	// desk's: English); Langs the switcher's links, on public pages.
	Lang  string
	Langs []langChoice
}

type bar struct {
	Label string
	N     int
	Y     int
	W     int
}

var funcs = template.FuncMap{
	"overdue": func(r federation.Request, now time.Time) bool { return r.Overdue(now) },
	"short": func(s string) string {
		if len(s) > 16 {
			return s[:16] + "…"
		}
		return s
	},
	// senderName is how a recipient knows a sender: its name and domain.
	"senderName": func(s consent.Sender) string {
		if s.Name != "" {
			return s.Name + ", " + s.ID
		}
		return s.ID
	},
	"upper":   strings.ToUpper,
	"percent": func(f float64) string { return fmt.Sprintf("%.3f%%", f*100) },
	"date":    func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") },
	"tri":     func(t rules.Tri) string { return t.String() },
	"deref":   func(f *float64) float64 { return *f },
	"derefs":  func(s *string) string { return *s },
	"day":     func(t time.Time) string { return t.UTC().Format("2006-01-02") },
	// dayBefore is the last day of a range that ends at midnight.
	"dayBefore": func(t time.Time) string { return t.UTC().Add(-time.Nanosecond).Format("2006-01-02") },
	"hours": func(h float64) string {
		if h < 48 {
			return fmt.Sprintf("%.1f hours", h)
		}
		return fmt.Sprintf("%.1f days", h/24)
	},
	"pct": func(f float64) float64 { return f * 100 },
	"score": func(v *analysis.Verdict) string {
		if v == nil || v.Spam == nil {
			return "not scored"
		}
		return fmt.Sprintf("%.3f (%s)", v.Spam.Score, v.Spam.Class)
	},
	"breaches": func(v *analysis.Verdict) []rules.Assessment {
		var out []rules.Assessment
		if v == nil {
			return nil
		}
		for _, j := range v.Legal {
			for _, a := range j.Rules {
				if a.Status == rules.StatusBreach || a.Status == rules.StatusNeedsContext {
					out = append(out, a)
				}
			}
		}
		return out
	},
	"clip": func(s string, n int) string {
		if len(s) <= n {
			return s
		}
		return s[:n] + "…"
	},
}

func (s *Server) page(w http.ResponseWriter, status int, name string, d pageData) {
	d.Name = s.cfg.Name
	tmpl := s.tmpls[d.Lang]
	if tmpl == nil {
		tmpl = s.tmpls[i18n.Default]
	}
	var buf bytes.Buffer
	if err := tmpl.ExecuteTemplate(&buf, name+".html", d); err != nil {
		s.log.Error("render page", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// formToken returns the anonymous form's CSRF token (double-submit cookie).
func (s *Server) formToken(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(csrfCookie); err == nil && len(c.Value) >= 20 {
		return c.Value
	}
	t := access.Secret(nil, 20)
	http.SetCookie(w, &http.Cookie{Name: csrfCookie, Value: t, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: s.cfg.SecureCookies})
	return t
}

// sameOrigin rejects cross-site posts where the browser says where they
// come from.
func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" || o == "null" {
		return o == ""
	}
	u, err := url.Parse(o)
	return err == nil && u.Host == r.Host
}

func (s *Server) checkCSRF(r *http.Request, want string) bool {
	got := r.FormValue("csrf")
	return want != "" && sameOrigin(r) && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

func (s *Server) formPage(w http.ResponseWriter, r *http.Request) {
	d := s.public(w, r)
	d.Title, d.CSRF = s.tr(d.Lang, "form_title"), s.formToken(w, r)
	s.page(w, http.StatusOK, "form", d)
}

func (s *Server) formSubmit(w http.ResponseWriter, r *http.Request) {
	if ok, wait := s.lim.formIP.Allow(s.lim.clientKey(r)); !ok {
		tooMany(w, wait, false, s, r)
		return
	}
	// The form's answers come back in the language the form was in.
	pd := s.public(w, r)
	lang := pd.Lang
	form := func(status int, csrf string, answers map[string]string, msg string) {
		d := pd
		d.Title, d.CSRF, d.Form, d.Error = s.tr(lang, "form_title"), csrf, answers, msg
		s.page(w, status, "form", d)
	}
	mb := s.cfg.MaxUpload >> 20
	r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxUpload+1<<20)
	// A file part goes to disk past spool.Memory (it comes into memory
	// within the analysis budget, below): buffered up to 4 MiB, eight
	// uploads at once held 64 MiB before any budget was asked. The other
	// fields (the pasted text) are held up to 10 MiB more.
	if err := r.ParseMultipartForm(spool.Memory); err != nil && !errors.Is(err, http.ErrNotMultipart) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			form(http.StatusRequestEntityTooLarge, s.formToken(w, r), nil, s.tr(lang, "form_err_too_large", "MB", mb))
			return
		}
		if errors.Is(err, multipart.ErrMessageTooLarge) {
			form(http.StatusRequestEntityTooLarge, s.formToken(w, r), nil, s.tr(lang, "form_err_paste_too_large", "MB", 10))
			return
		}
		if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "multipart/form-data" {
			// A multipart that ends before its close delimiter is an
			// upload cut on its way: say so, rather than "expired form"
			// for the fields it never delivered.
			form(http.StatusBadRequest, s.formToken(w, r), nil, s.tr(lang, "form_err_incomplete"))
			return
		}
		r.ParseForm()
	}
	c, err := r.Cookie(csrfCookie)
	if err != nil || !s.checkCSRF(r, c.Value) {
		d := pd
		d.Title, d.Message = s.tr(lang, "expired_title"), s.tr(lang, "expired_form")
		s.page(w, http.StatusForbidden, "message", d)
		return
	}
	answers := map[string]string{"consent": r.FormValue("consent"), "customer": r.FormValue("customer"), "as": r.FormValue("as")}
	// "What is it?" has three answers; anything else is a client's error,
	// refused as the API refuses it, never read as "I don't know".
	as, err := intake.ParseAs(r.FormValue("as"))
	if err != nil {
		answers["as"] = ""
		form(http.StatusBadRequest, c.Value, answers, s.tr(lang, "form_err_as"))
		return
	}
	var raw []byte
	if f, fh, err := r.FormFile("file"); err == nil {
		// Never a truncated message kept as evidence: a file over the
		// limit is refused whole. Multipart parsing keeps large files on
		// disk; they come into memory within the analysis budget.
		if fh.Size > s.cfg.MaxUpload {
			f.Close()
			form(http.StatusRequestEntityTooLarge, c.Value, answers, s.tr(lang, "form_err_too_large", "MB", mb))
			return
		}
		release, err := s.lim.budget.AdmitBody(r.Context(), fh.Size)
		if err != nil {
			// The client went away while waiting; if it still reads, it
			// gets an answer, not an empty 200.
			f.Close()
			form(http.StatusServiceUnavailable, c.Value, answers, s.tr(lang, "form_err_unavailable"))
			return
		}
		defer release()
		// Read in one piece of the size the form declared (io.ReadAll
		// would double its buffer up to twice the file), and make sure
		// nothing follows.
		raw = make([]byte, fh.Size)
		_, err = io.ReadFull(f, raw)
		if err == nil {
			var one [1]byte
			if n, _ := f.Read(one[:]); n > 0 {
				err = errors.New("the file is longer than its declared size")
			}
		}
		f.Close()
		if err != nil {
			form(http.StatusRequestEntityTooLarge, c.Value, answers, s.tr(lang, "form_err_too_large", "MB", mb))
			return
		}
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		raw = []byte(strings.ReplaceAll(r.FormValue("source"), "\r\n", "\n"))
		if int64(len(raw)) > s.cfg.MaxUpload {
			form(http.StatusRequestEntityTooLarge, c.Value, answers, s.tr(lang, "form_err_paste_too_large", "MB", mb))
			return
		}
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		form(http.StatusBadRequest, c.Value, answers, s.tr(lang, "form_err_empty"))
		return
	}
	consent, _ := triParam(r.FormValue("consent"))
	customer, _ := triParam(r.FormValue("customer"))
	rec, err := s.desk.Submit(r.Context(), intake.Submission{Channel: intake.ChannelWeb, Raw: raw, SubmittedBy: "web",
		Context: analysis.Context{Consent: consent, ExistingCustomer: customer}, As: as})
	var rej *intake.RejectError
	switch {
	case errors.As(err, &rej):
		form(http.StatusUnprocessableEntity, c.Value, answers, s.tr(lang, "form_err_rejected", "Reason", rej.Reason))
		return
	case err != nil:
		s.log.Error("web report", "err", err)
		form(http.StatusServiceUnavailable, c.Value, answers, s.tr(lang, "form_err_unavailable"))
		return
	}
	x := rec.Reports[0]
	http.Redirect(w, r, "/r/"+x.ID+"?t="+url.QueryEscape(x.StatusToken)+"&new=1", http.StatusSeeOther)
}

func (s *Server) statusPage(w http.ResponseWriter, r *http.Request) {
	id, t := r.PathValue("id"), r.URL.Query().Get("t")
	d := s.public(w, r)
	rep, err := s.desk.StatusView(r.Context(), id, t)
	if err != nil {
		d.Title, d.Message = s.tr(d.Lang, "not_found_title"), s.tr(d.Lang, "not_found_report")
		s.page(w, http.StatusNotFound, "message", d)
		return
	}
	d.Title, d.Report, d.V, d.StatusURL, d.Raw = s.tr(d.Lang, "status_title"), rep, rep.Verdict, s.statusURL(r, id, t), clipSource(rep.Raw, 64<<10)
	if r.URL.Query().Get("new") == "1" {
		d.Message = s.tr(d.Lang, "status_thanks")
	}
	d.Privacy, d.CSRF = s.holds(r, rep, t), s.formToken(w, r)
	d.FedBack = s.statusFedBack(r.Context(), rep.ID)
	if r.URL.Query().Get("erased") == "1" {
		d.Privacy.Erased = true
	}
	s.page(w, http.StatusOK, "status", d)
}

// fedBack is what a complaint did at one registered sender, as its
// reporter may be told: only what happened.
type fedBack struct {
	Sender string
	// Unsubscribed: the complainant was suppressed from all the sender's
	// lists (a counted complaint with a known complainant).
	Unsubscribed bool
	// Forwarded: the redacted report was queued to the sender's feedback
	// address.
	Forwarded bool
}

// statusFedBack reads what a report's complaint did at registered
// senders (docs/consent.md, "Complaints fed back"). Nothing is said of a
// complaint that did neither — one recorded for the authority only — nor
// before the feedback loop has handled the report.
func (s *Server) statusFedBack(ctx context.Context, reportID string) []fedBack {
	if s.cfg.Consent == nil {
		return nil
	}
	cs, err := s.cfg.Consent.Store().ComplaintsByReport(ctx, reportID)
	if err != nil {
		s.log.Error("status page: complaints fed back", "report", reportID, "err", err)
		return nil
	}
	var out []fedBack
	for _, c := range cs {
		f := fedBack{Sender: c.Sender, Unsubscribed: c.Counted() && c.Recipient != "", Forwarded: c.Forwarded != ""}
		if f.Unsubscribed || f.Forwarded {
			out = append(out, f)
		}
	}
	return out
}

func (s *Server) rightsPage(w http.ResponseWriter, r *http.Request) {
	d := s.public(w, r)
	d.Title, d.MailboxAddress = s.tr(d.Lang, "rights_title"), s.cfg.Mailbox
	s.page(w, http.StatusOK, "rights", d)
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	s.page(w, http.StatusOK, "login", pageData{Title: "Sign in", CSRF: s.formToken(w, r)})
}

func (s *Server) loginSubmit(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseMultipartForm(64 << 10); errors.Is(err, http.ErrNotMultipart) {
		r.ParseForm()
	}
	c, err := r.Cookie(csrfCookie)
	if err != nil || !s.checkCSRF(r, c.Value) {
		s.page(w, http.StatusForbidden, "message", pageData{Title: "Expired form", Message: "This form has expired. Reload the page and sign in again."})
		return
	}
	name := r.FormValue("user")
	if len(name) > 200 {
		name = name[:200]
	}
	// Throttled per client IP and per account name, before any password
	// check: guessing costs the guesser time, not the node bcrypt work.
	ipKey := s.lim.clientKey(r)
	okIP, waitIP := s.lim.loginIP.Allow(ipKey)
	// An account is one whatever the case its name is typed in (it
	// signs in so), so its attempts count together.
	userKey := strings.ToLower(name)
	okUser, waitUser := s.lim.loginUser.Allow(userKey)
	if okIP && okUser {
		// The same limits counted by every instance on the database.
		okIP, waitIP = s.takeShared(r.Context(), "login-ip:"+ipKey, s.lim.loginPerIP)
		okUser, waitUser = s.takeShared(r.Context(), "login-user:"+userKey, s.lim.loginPerUser)
	}
	if !okIP || !okUser {
		s.auditRefused(r, "anonymous", access.AuditSignInThrottled, "user:"+name, "")
		w.Header().Set("Retry-After", retryAfter(max(waitIP, waitUser)))
		s.page(w, http.StatusTooManyRequests, "login", pageData{Title: "Sign in", CSRF: c.Value, Error: "Too many sign-in attempts. Wait a minute and try again."})
		return
	}
	u, err := s.access.UserByName(r.Context(), name)
	if err != nil {
		// Spend a bcrypt check anyway: the answer time must not tell
		// which user names exist.
		u.PasswordHash = s.dummyHash
	}
	if !access.CheckPassword(u.PasswordHash, r.FormValue("password")) || err != nil || u.Disabled() {
		why := "wrong password"
		switch {
		case err != nil:
			why = "no such user"
		case u.Disabled():
			why = "account disabled"
		}
		s.audit(r, "anonymous", access.AuditSignInFailed, "user:"+name, why)
		s.page(w, http.StatusUnauthorized, "login", pageData{Title: "Sign in", CSRF: c.Value, Error: "Wrong user name or password."})
		return
	}
	cookie := access.Secret(nil, 24)
	se := access.Session{Hash: access.Hash(cookie), User: u.Name, CSRF: access.Secret(nil, 20), ExpiresAt: s.now().Add(s.cfg.SessionLifetime)}
	if err := s.access.CreateSession(r.Context(), se); err != nil {
		s.log.Error("create session", "err", err)
		s.page(w, http.StatusInternalServerError, "login", pageData{Title: "Sign in", CSRF: c.Value, Error: "Signing in failed; try again."})
		return
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: cookie, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode,
		Secure: s.cfg.SecureCookies, MaxAge: int(s.cfg.SessionLifetime / time.Second)})
	s.log.Info("signed in", "user", s.logLabel("user:"+u.Name)) // the audit log names the account; the service log does not
	s.audit(r, "user:"+u.Name, access.AuditSignIn, "user:"+u.Name, "")
	dest := "/desk"
	if u.Role == access.Mailbox {
		dest = "/mail" // a mailbox owner manages their filter
	}
	http.Redirect(w, r, dest, http.StatusSeeOther)
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	p, se := s.principal(r)
	if p.Kind == "user" && s.checkCSRF(r, se.CSRF) {
		s.access.DeleteSession(r.Context(), se.Hash)
		s.audit(r, p.Label(), access.AuditSignOut, p.Label(), "")
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (s *Server) deskPage(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r.Context())
	reps, err := s.store.Reports(r.Context(), intake.ReportFilter{Limit: 50})
	if err != nil {
		s.log.Error("list reports", "err", err)
	}
	camps, err := s.store.Campaigns(r.Context(), intake.CampaignFilter{Limit: 50})
	if err != nil {
		s.log.Error("list campaigns", "err", err)
	}
	s.page(w, http.StatusOK, "desk", pageData{Title: "Desk", User: p.ID, CSRF: sessionOf(r.Context()).CSRF, Reports: reps, Campaigns: camps,
		Authority: s.cfg.Federation != nil && p.Role.AtLeast(access.Authority)})
}

func (s *Server) reportPage(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r.Context())
	rep, err := s.desk.View(r.Context(), r.PathValue("id"), p.Label())
	if err != nil {
		s.page(w, http.StatusNotFound, "message", pageData{Title: "Not found", User: p.ID, Message: "There is no such report."})
		return
	}
	raw := clipSource(rep.Raw, 256<<10)
	s.page(w, http.StatusOK, "report", pageData{Title: "Report " + rep.ID, User: p.ID, CSRF: sessionOf(r.Context()).CSRF, Report: rep, V: rep.Verdict, Raw: raw,
		SenderComplaints: s.senderComplaints(r, rep.ID)})
}

// clipSource returns a message's source for display, cut at limit bytes.
// html/template escapes it; the page's CSP forbids whatever escaped.
func clipSource(raw []byte, limit int) string {
	if len(raw) <= limit {
		return string(raw)
	}
	return string(raw[:limit]) + fmt.Sprintf("\n[… cut at %d KiB; the whole message is kept as evidence]", limit>>10)
}

func (s *Server) evidenceDownload(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r.Context())
	id := r.PathValue("id")
	var buf bytes.Buffer
	if err := s.desk.Export(r.Context(), id, &buf, intake.ExportOptions{Actor: p.Label(), IncludeOriginal: s.cfg.ExportOriginal}); err != nil {
		s.page(w, http.StatusNotFound, "message", pageData{Title: "Not found", User: p.ID, Message: "The evidence could not be exported."})
		return
	}
	w.Header().Set("Content-Type", "application/zip")
	w.Header().Set("Content-Disposition", `attachment; filename="evidence-`+id+`.zip"`)
	w.Write(buf.Bytes())
}

func (s *Server) campaignPage(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r.Context())
	c, err := s.store.Campaign(r.Context(), r.PathValue("id"))
	var merged *intake.MergedError
	if errors.As(err, &merged) {
		// Merged into another: its id still answers, with the other.
		http.Redirect(w, r, "/desk/campaigns/"+url.PathEscape(merged.Into)+"?merged="+url.QueryEscape(merged.ID), http.StatusSeeOther)
		return
	}
	if err != nil {
		s.page(w, http.StatusNotFound, "message", pageData{Title: "Not found", User: p.ID, Message: "There is no such campaign."})
		return
	}
	// Reports per day as bars (SVG attributes, so the strict CSP holds).
	maxN := 1
	for _, d := range c.PerDay {
		maxN = max(maxN, d.N)
	}
	var bars []bar
	days := append([]intake.Count(nil), c.PerDay...)
	sort.Slice(days, func(i, j int) bool { return days[i].Value < days[j].Value })
	for i, d := range days {
		bars = append(bars, bar{Label: d.Value, N: d.N, Y: i * 22, W: 20 + d.N*380/maxN})
	}
	s.page(w, http.StatusOK, "campaign", pageData{Title: "Campaign " + c.ID, User: p.ID, CSRF: sessionOf(r.Context()).CSRF, Campaign: c, Bars: bars, BarsH: 22*len(bars) + 4})
}

// takeShared takes a token from the shared bucket key (n a minute) when
// the access store keeps them; if the database cannot answer, the
// process's own bucket, already taken, decides alone.
func (s *Server) takeShared(ctx context.Context, key string, n int) (bool, time.Duration) {
	t, ok := s.access.(SharedThrottle)
	if !ok || n <= 0 {
		return true, 0
	}
	allowed, wait, err := t.TakeToken(ctx, key, n, time.Minute, s.now())
	if err != nil {
		s.log.Error("shared sign-in throttle", "err", err)
		return true, 0
	}
	return allowed, wait
}

// logLabel is an actor's label ("user:ana@example.org", "token:ab12")
// as the service log shows it: an account by the desk's keyed pseudonym
// of its name (intake.Desk.Pseudonym), never the name — a mailbox
// owner's account is their address, and logs carry no addresses. The
// audit log, which is confidential, names the account.
func (s *Server) logLabel(label string) string {
	if name, ok := strings.CutPrefix(label, "user:"); ok {
		return "user:" + s.desk.Pseudonym(name)
	}
	return label
}
