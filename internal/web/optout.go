package web

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/accord-antispam/accord/internal/consent"
)

// The recipients' pages: one-click opt-out (RFC 8058) at /u/TOKEN and
// confirmed opt-in at /c/TOKEN. A GET only ever shows a page with a
// button: link scanners fetch every link in a message, and must neither
// unsubscribe nor confirm anybody. A POST acts at once, and acting twice is
// acting once. No cookie, no login, no redirect (RFC 8058 3.1, 3.2).
//
// The pages speak the recipient's language (?lang=, else Accept-Language;
// no cookie is set, the choice travels in the forms' query).
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
	Query    string // "?lang=xx" when the language was chosen with the switcher: the forms keep it
}

// recipientPage starts a recipient's page: the language from ?lang= or
// the browser's Accept-Language, and the switcher. Unlike the other public
// pages it sets no cookie (RFC 8058: the opt-out needs none, and a
// recipient's visit leaves nothing behind); a chosen language is kept in
// the forms' address instead.
func (s *Server) recipientPage(w http.ResponseWriter, r *http.Request) (pageData, string) {
	w.Header().Add("Vary", "Accept-Language")
	lang, query := s.cat.Match(r.Header.Get("Accept-Language")), ""
	if q := r.URL.Query().Get("lang"); q != "" && s.cat.Has(q) {
		lang, query = q, "?lang="+url.QueryEscape(q)
	}
	w.Header().Set("Content-Language", lang)
	var langs []langChoice
	for _, l := range s.cat.Languages() {
		u := url.URL{Path: r.URL.Path, RawQuery: url.Values{"lang": {l}}.Encode()}
		langs = append(langs, langChoice{Code: l, Name: s.cat.T(l, "language_name", nil), URL: u.String(), Current: l == lang})
	}
	return pageData{Lang: lang, Langs: langs}, query
}

// recipientMessage is a recipient's page that says one thing.
func (s *Server) recipientMessage(w http.ResponseWriter, r *http.Request, status int, titleID, msgID string) {
	d, _ := s.recipientPage(w, r)
	d.Title, d.Message = s.tr(d.Lang, titleID), s.tr(d.Lang, msgID)
	s.page(w, status, "message", d)
}

// limitPublic answers 429 to a client over its bucket.
func (s *Server) limitPublic(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if ok, wait := s.optoutLimit.Allow(s.lim.clientKey(r)); !ok {
			w.Header().Set("Retry-After", retryAfter(wait))
			s.recipientMessage(w, r, http.StatusTooManyRequests, "wait_title", "public_busy")
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
		h(w, r)
	}
}

// optoutPage shows the opt-out page; titleID names its title in the
// catalogues.
func (s *Server) optoutPage(w http.ResponseWriter, r *http.Request, status int, titleID string, d optoutData) {
	pd, query := s.recipientPage(w, r)
	d.Query = query
	pd.Title, pd.OptOut = s.tr(pd.Lang, titleID), &d
	s.page(w, status, "optout", pd)
}

// confirmPageOf shows the confirmation page.
func (s *Server) confirmPageOf(w http.ResponseWriter, r *http.Request, status int, titleID string, d optoutData) {
	pd, query := s.recipientPage(w, r)
	d.Query = query
	pd.Title, pd.OptOut = s.tr(pd.Lang, titleID), &d
	s.page(w, status, "confirm", pd)
}

func (s *Server) unsubscribePage(w http.ResponseWriter, r *http.Request) {
	tok := r.PathValue("token")
	v, err := s.cfg.Consent.OpenUnsubscribe(r.Context(), tok)
	if err != nil {
		s.optoutError(w, r, err)
		return
	}
	d := optoutData{Sender: v.Sender, List: v.List, Campaign: v.Campaign, Token: tok}
	switch {
	case v.Already:
		d.Done = "already"
	case v.Stale:
		d.Done = "stale"
	}
	s.optoutPage(w, r, http.StatusOK, "optout_title_ask", d)
}

func (s *Server) optoutError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, consent.ErrBadToken), errors.Is(err, consent.ErrNotFound):
		s.optoutPage(w, r, http.StatusNotFound, "optout_title_invalid", optoutData{Done: "invalid"})
	default:
		s.log.Error("opt-out page", "err", err)
		s.recipientMessage(w, r, http.StatusServiceUnavailable, "try_later_title", "public_try_again")
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
		s.recipientMessage(w, r, http.StatusBadRequest, "optout_not_request_title", "optout_not_request")
		return
	}
	all := r.PostFormValue("scope") == "all"
	res, err := s.cfg.Consent.Unsubscribe(r.Context(), tok, consent.ViaOneClick, all,
		consent.Client{IP: s.lim.clientIP(r), UserAgent: r.UserAgent(), Method: r.Method})
	d := optoutData{Sender: res.Sender, List: res.List, Campaign: res.Campaign, Token: tok, All: all}
	switch {
	case errors.Is(err, consent.ErrStale):
		d.Done = "stale"
		s.optoutPage(w, r, http.StatusGone, "optout_title_old", d)
		return
	case err != nil:
		s.optoutError(w, r, err)
		return
	case res.Already:
		d.Done = "already"
	default:
		d.Done = "unsubscribed"
	}
	s.optoutPage(w, r, http.StatusOK, "optout_title_done", d)
}

func (s *Server) confirmPage(w http.ResponseWriter, r *http.Request) {
	tok := r.PathValue("token")
	v, err := s.cfg.Consent.OpenConfirmation(r.Context(), tok, consent.Client{IP: s.lim.clientIP(r), UserAgent: r.UserAgent(), Method: r.Method})
	s.confirmAnswer(w, r, tok, v, err)
}

// confirm is the page's button: its POST carries the button's field
// (confirm=yes). A POST without it — a scanner or another site's form
// posting anything, or nothing — confirms nothing.
func (s *Server) confirm(w http.ResponseWriter, r *http.Request) {
	tok := r.PathValue("token")
	r.ParseMultipartForm(16 << 10)
	if r.PostFormValue("confirm") != "yes" {
		s.recipientMessage(w, r, http.StatusBadRequest, "confirm_not_request_title", "confirm_not_request")
		return
	}
	v, err := s.cfg.Consent.Confirm(r.Context(), tok, consent.Client{IP: s.lim.clientIP(r), UserAgent: r.UserAgent(), Method: r.Method})
	s.confirmAnswer(w, r, tok, v, err)
}

func (s *Server) confirmAnswer(w http.ResponseWriter, r *http.Request, tok string, v consent.ConfirmView, err error) {
	d := optoutData{Sender: v.Sender, List: v.Record.List, Token: tok}
	var inv *consent.InvalidError
	switch {
	case errors.Is(err, consent.ErrExpired):
		d.Done = "expired"
		s.confirmPageOf(w, r, http.StatusGone, "confirm_title_expired", d)
		return
	case errors.As(err, &inv):
		d.Done = "closed"
		s.confirmPageOf(w, r, http.StatusGone, "confirm_title_closed", d)
		return
	case errors.Is(err, consent.ErrBadToken), errors.Is(err, consent.ErrNotFound):
		s.confirmPageOf(w, r, http.StatusNotFound, "optout_title_invalid", optoutData{Done: "invalid"})
		return
	case err != nil:
		s.optoutError(w, r, err)
		return
	}
	title := "confirm_title_ask"
	if v.Record.Status == consent.RecordActive && v.Record.Confirmed {
		d.Done, title = "confirmed", "confirm_title_done"
	}
	s.confirmPageOf(w, r, http.StatusOK, title, d)
}
