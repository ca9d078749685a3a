package web

import (
	"errors"
	"net/http"

	"github.com/accord-antispam/accord/internal/consent"
)

// The recipients' pages: one-click opt-out (RFC 8058) at /u/TOKEN and
// confirmed opt-in at /c/TOKEN. A GET only ever shows a page with a
// button: link scanners fetch every link in a message, and must neither
// unsubscribe nor confirm anybody. A POST acts at once, and acting twice is
// acting once. No cookie, no login, no redirect (RFC 8058 3.1, 3.2).
//
// These are public: each client address (behind the trusted proxies, as
// for the intake) gets a bucket of requests per minute, and a forged token
// costs one MAC, no database read.

type optoutData struct {
	Sender   consent.Sender
	List     string
	Campaign string
	Token    string
	Done     string // "unsubscribed", "already", "confirmed", "stale", "expired", "invalid"
	All      bool
}

// limitPublic answers 429 to a client over its bucket.
func (s *Server) limitPublic(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if ok, wait := s.optoutLimit.Allow(s.lim.clientKey(r)); !ok {
			w.Header().Set("Retry-After", retryAfter(wait))
			s.page(w, http.StatusTooManyRequests, "message", pageData{Title: "Too many requests",
				Message: "Too many requests from your address just now. Wait a minute and try again."})
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
		h(w, r)
	}
}

func (s *Server) optoutPage(w http.ResponseWriter, status int, title string, d optoutData) {
	s.page(w, status, "optout", pageData{Title: title, OptOut: &d})
}

func (s *Server) unsubscribePage(w http.ResponseWriter, r *http.Request) {
	tok := r.PathValue("token")
	v, err := s.cfg.Consent.OpenUnsubscribe(r.Context(), tok)
	if err != nil {
		s.optoutError(w, err)
		return
	}
	d := optoutData{Sender: v.Sender, List: v.List, Campaign: v.Campaign, Token: tok}
	switch {
	case v.Already:
		d.Done = "already"
	case v.Stale:
		d.Done = "stale"
	}
	s.optoutPage(w, http.StatusOK, "Unsubscribe", d)
}

func (s *Server) optoutError(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, consent.ErrBadToken), errors.Is(err, consent.ErrNotFound):
		s.optoutPage(w, http.StatusNotFound, "Link not valid", optoutData{Done: "invalid"})
	default:
		s.log.Error("opt-out page", "err", err)
		s.page(w, http.StatusServiceUnavailable, "message", pageData{Title: "Try again", Message: "Your request could not be handled just now; nothing was changed. Please try again in a minute."})
	}
}

// unsubscribe is the POST: RFC 8058's one-click (body
// "List-Unsubscribe=One-Click" from a mail client, form-urlencoded or
// multipart) and the page's buttons alike, which post the same. A POST
// without it (a scanner, another site's form posting anything) changes
// nothing.
func (s *Server) unsubscribe(w http.ResponseWriter, r *http.Request) {
	tok := r.PathValue("token")
	r.ParseMultipartForm(16 << 10)
	if r.PostFormValue("List-Unsubscribe") != "One-Click" {
		s.page(w, http.StatusBadRequest, "message", pageData{Title: "Not an unsubscribe request",
			Message: "This request did not say List-Unsubscribe=One-Click, so nothing was changed. Open the link and use the button to unsubscribe."})
		return
	}
	all := r.PostFormValue("scope") == "all"
	res, err := s.cfg.Consent.Unsubscribe(r.Context(), tok, consent.ViaOneClick, all,
		consent.Client{IP: s.lim.clientIP(r), UserAgent: r.UserAgent(), Method: r.Method})
	d := optoutData{Sender: res.Sender, List: res.List, Campaign: res.Campaign, Token: tok, All: all}
	switch {
	case errors.Is(err, consent.ErrStale):
		d.Done = "stale"
		s.optoutPage(w, http.StatusGone, "Old link", d)
		return
	case err != nil:
		s.optoutError(w, err)
		return
	case res.Already:
		d.Done = "already"
	default:
		d.Done = "unsubscribed"
	}
	s.optoutPage(w, http.StatusOK, "Unsubscribed", d)
}

func (s *Server) confirmPage(w http.ResponseWriter, r *http.Request) {
	tok := r.PathValue("token")
	v, err := s.cfg.Consent.OpenConfirmation(r.Context(), tok, consent.Client{IP: s.lim.clientIP(r), UserAgent: r.UserAgent(), Method: r.Method})
	s.confirmAnswer(w, tok, v, err, false)
}

// confirm is the page's button: its POST carries the button's field
// (confirm=yes). A POST without it — a scanner or another site's form
// posting anything, or nothing — confirms nothing.
func (s *Server) confirm(w http.ResponseWriter, r *http.Request) {
	tok := r.PathValue("token")
	r.ParseMultipartForm(16 << 10)
	if r.PostFormValue("confirm") != "yes" {
		s.page(w, http.StatusBadRequest, "message", pageData{Title: "Not a confirmation",
			Message: "This request did not come from the page's button, so nothing was confirmed. Open the link from the message and press the button."})
		return
	}
	v, err := s.cfg.Consent.Confirm(r.Context(), tok, consent.Client{IP: s.lim.clientIP(r), UserAgent: r.UserAgent(), Method: r.Method})
	s.confirmAnswer(w, tok, v, err, true)
}

func (s *Server) confirmAnswer(w http.ResponseWriter, tok string, v consent.ConfirmView, err error, posted bool) {
	d := optoutData{Sender: v.Sender, List: v.Record.List, Token: tok}
	var inv *consent.InvalidError
	switch {
	case errors.Is(err, consent.ErrExpired):
		d.Done = "expired"
		s.page(w, http.StatusGone, "confirm", pageData{Title: "Link expired", OptOut: &d})
		return
	case errors.As(err, &inv):
		d.Done = "closed"
		s.page(w, http.StatusGone, "confirm", pageData{Title: "No longer open", OptOut: &d})
		return
	case errors.Is(err, consent.ErrBadToken), errors.Is(err, consent.ErrNotFound):
		s.page(w, http.StatusNotFound, "confirm", pageData{Title: "Link not valid", OptOut: &optoutData{Done: "invalid"}})
		return
	case err != nil:
		s.optoutError(w, err)
		return
	}
	if v.Record.Status == consent.RecordActive && v.Record.Confirmed {
		d.Done = "confirmed"
	}
	title := "Confirm your subscription"
	if d.Done == "confirmed" {
		title = "Subscription confirmed"
	}
	s.page(w, http.StatusOK, "confirm", pageData{Title: title, OptOut: &d})
}
