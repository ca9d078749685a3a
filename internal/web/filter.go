package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/accord-antispam/accord/internal/access"
	"github.com/accord-antispam/accord/internal/filter"
	"github.com/accord-antispam/accord/internal/intake"
)

// The filter's pages and API. A mailbox owner (an account of role
// "mailbox", named by its address) signs in and manages their own policy
// and quarantine: threshold, what happens to spam, allow and block lists,
// release, delete, report to the authority. Administrators use the API and
// the command line; their reads of someone's held message are audited.
// A digest's release link (signed, no sign-in) shows a confirmation page
// on GET and releases only on POST, so link scanners release nothing.

type filterPage struct {
	Effective filter.Effective
	Own       filter.Policy
	HasOwn    bool
	Held      []filter.Held
	Item      *filter.Held
	Source    string
	Token     string
	Notice    string
}

func (s *Server) filterRoutes(mux *http.ServeMux) {
	if s.cfg.Filter == nil {
		return
	}
	mux.HandleFunc("GET /mail", s.needMailbox(s.mailPage))
	mux.HandleFunc("POST /mail/policy", s.needMailbox(s.mailPolicy))
	mux.HandleFunc("GET /mail/q/{id}", s.needMailbox(s.mailHeld))
	mux.HandleFunc("POST /mail/q/{id}/{action}", s.needMailbox(s.mailHeldAction))
	mux.HandleFunc("GET /q/release", s.digestConfirm)
	mux.HandleFunc("POST /q/release", s.digestRelease)

	mux.HandleFunc("GET /api/v1/filter/policies", s.needToken(access.Admin, s.apiPolicies))
	mux.HandleFunc("GET /api/v1/filter/policies/{scope}", s.needToken(access.Admin, s.apiPolicy))
	mux.HandleFunc("PUT /api/v1/filter/policies/{scope}", s.needToken(access.Admin, s.apiPutPolicy))
	mux.HandleFunc("DELETE /api/v1/filter/policies/{scope}", s.needToken(access.Admin, s.apiDeletePolicy))
	mux.HandleFunc("GET /api/v1/filter/quarantine", s.needToken(access.Admin, s.apiHeldList))
	mux.HandleFunc("GET /api/v1/filter/quarantine/{id}", s.needToken(access.Admin, s.apiHeld))
	mux.HandleFunc("POST /api/v1/filter/quarantine/{id}/{action}", s.needToken(access.Admin, s.apiHeldAction))
}

// needMailbox lets in a signed-in mailbox owner (their own mail only).
func (s *Server) needMailbox(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p, se := s.principal(r)
		if p.Kind != "user" {
			http.Redirect(w, r, "/login", http.StatusSeeOther)
			return
		}
		if p.Role != access.Mailbox {
			s.page(w, http.StatusForbidden, "message", pageData{Title: "Not allowed", Message: "These pages are for mailbox owners."})
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

func mailbox(r *http.Request) filter.Actor {
	p := principalOf(r.Context())
	return filter.Actor{Label: p.Label(), Mailbox: strings.ToLower(p.ID)}
}

func (s *Server) mailData(r *http.Request, title string) pageData {
	p := principalOf(r.Context())
	return pageData{Title: title, User: p.ID, CSRF: sessionOf(r.Context()).CSRF, Mailbox: true}
}

func (s *Server) mailPage(w http.ResponseWriter, r *http.Request) {
	a := mailbox(r)
	f := s.cfg.Filter
	fp := &filterPage{Effective: f.Effective(a.Mailbox), Notice: doneNotice[r.URL.Query().Get("done")]}
	if p, err := f.Policy(r.Context(), filter.ScopeRecipient, a.Mailbox); err == nil {
		fp.Own, fp.HasOwn = p, true
	}
	held, err := f.List(r.Context(), a, filter.HeldFilter{State: filter.StateHeld, Limit: 500})
	if err != nil {
		s.log.Error("list quarantine", "err", err)
	}
	fp.Held = held
	d := s.mailData(r, "Your mail filter")
	d.Filter = fp
	s.page(w, http.StatusOK, "mail", d)
}

func (s *Server) mailPolicy(w http.ResponseWriter, r *http.Request) {
	a := mailbox(r)
	f := s.cfg.Filter
	p, err := f.Policy(r.Context(), filter.ScopeRecipient, a.Mailbox)
	if errors.Is(err, filter.ErrNotFound) {
		p = filter.Policy{Kind: filter.ScopeRecipient, Key: a.Mailbox}
	} else if err != nil {
		s.page(w, http.StatusInternalServerError, "message", s.withMessage(r, "Error", "Your settings could not be read."))
		return
	}
	// Filtering is the owner's own setting only once they change it: a
	// save that leaves the box as shown keeps following the domain's
	// choice (it pinned it, so the provider's later change no longer
	// reached them).
	if on, was := r.FormValue("enabled") == "on", r.FormValue("enabled_was"); was == "" || on != (was == "on") {
		p.Enabled = boolPtr(on)
	}
	if v := strings.TrimSpace(r.FormValue("spam")); v != "" {
		x, err := strconv.ParseFloat(v, 64)
		if err != nil {
			s.mailError(w, r, "The spam threshold must be a number, such as 4.5.")
			return
		}
		p.Spam = &x
	} else {
		p.Spam = nil // back to the provider's value
	}
	if v := r.FormValue("action"); v != "" && v != "inherit" {
		p.Action = &v
	} else {
		p.Action = nil
	}
	p.Allow = splitLines(r.FormValue("allow"))
	p.Block = splitLines(r.FormValue("block"))
	if _, err := f.PutPolicy(r.Context(), p, a.Label); err != nil {
		s.mailError(w, r, "Not saved: "+err.Error())
		return
	}
	http.Redirect(w, r, "/mail?done=saved", http.StatusSeeOther)
}

func (s *Server) mailError(w http.ResponseWriter, r *http.Request, msg string) {
	a := mailbox(r)
	f := s.cfg.Filter
	fp := &filterPage{Effective: f.Effective(a.Mailbox)}
	if p, err := f.Policy(r.Context(), filter.ScopeRecipient, a.Mailbox); err == nil {
		fp.Own, fp.HasOwn = p, true
	}
	fp.Held, _ = f.List(r.Context(), a, filter.HeldFilter{State: filter.StateHeld, Limit: 500})
	d := s.mailData(r, "Your mail filter")
	d.Error, d.Filter = msg, fp
	s.page(w, http.StatusBadRequest, "mail", d)
}

func (s *Server) withMessage(r *http.Request, title, msg string) pageData {
	d := s.mailData(r, title)
	d.Message = msg
	return d
}

func (s *Server) mailHeld(w http.ResponseWriter, r *http.Request) {
	h, err := s.cfg.Filter.Show(r.Context(), mailbox(r), r.PathValue("id"))
	if err != nil {
		s.page(w, http.StatusNotFound, "message", s.withMessage(r, "Not found", "There is no such message in your quarantine."))
		return
	}
	d := s.mailData(r, "Held message")
	d.Filter = &filterPage{Item: &h, Source: clipSource(h.Raw, 256<<10)}
	s.page(w, http.StatusOK, "mailheld", d)
}

func (s *Server) mailHeldAction(w http.ResponseWriter, r *http.Request) {
	a := mailbox(r)
	f := s.cfg.Filter
	id := r.PathValue("id")
	var err error
	done := ""
	switch r.PathValue("action") {
	case "release":
		done, err = f.Release(r.Context(), a, id)
	case "delete":
		err, done = f.Delete(r.Context(), a, id), "deleted"
	case "report":
		// Report to the authority: the held message becomes a complaint at
		// the node's desk, from this mailbox owner.
		var h filter.Held
		if h, err = f.Show(r.Context(), a, id); err == nil && h.State != filter.StateHeld {
			err = fmt.Errorf("%w: it is %s", filter.ErrNotHeld, h.State)
		} else if err == nil {
			var rec intake.Receipt
			// The filter door's session: the client the node's MTA saw,
			// which the held bytes do not show.
			env, _ := h.Origin()
			rec, err = s.desk.Submit(r.Context(), intake.Submission{Channel: intake.ChannelWeb, Raw: h.Raw, Reporter: a.Mailbox, ReporterAuth: "account",
				SubmittedBy: "filter:" + a.Label, Session: env})
			if err == nil {
				err = f.Reported(r.Context(), a, id, "complaint "+rec.ComplaintID)
			}
			done = "reported"
		}
	default:
		http.NotFound(w, r)
		return
	}
	switch {
	case errors.Is(err, filter.ErrNotFound):
		s.page(w, http.StatusNotFound, "message", s.withMessage(r, "Not found", "There is no such message in your quarantine, or it was already released or deleted."))
	case errors.Is(err, filter.ErrNotHeld):
		s.page(w, http.StatusConflict, "message", s.withMessage(r, "Already done", "This message is no longer held: it was already released, or is on its way to you."))
	case errors.Is(err, filter.ErrNoOutbound):
		s.page(w, http.StatusServiceUnavailable, "message", s.withMessage(r, "Cannot release", "This node sends no mail yet (no outbound relay is configured); ask your provider."))
	case err != nil:
		s.log.Error("quarantine action", "action", r.PathValue("action"), "err", err)
		s.page(w, http.StatusInternalServerError, "message", s.withMessage(r, "Failed", "That did not work; try again later."))
	default:
		http.Redirect(w, r, "/mail?done="+done, http.StatusSeeOther)
	}
}

// digestConfirm shows what a release link would release; it changes
// nothing (scanners follow links with GET).
func (s *Server) digestConfirm(w http.ResponseWriter, r *http.Request) {
	tok := r.URL.Query().Get("t")
	id, err := s.cfg.Filter.CheckToken(tok)
	d := pageData{Title: "Release a held message"}
	if err != nil {
		d.Message = "This release link is not valid or has expired."
		s.page(w, http.StatusNotFound, "message", d)
		return
	}
	h, err := s.cfg.Filter.Store().HeldMessage(r.Context(), id)
	if err != nil || h.State != filter.StateHeld {
		d.Message = "This message is no longer in the quarantine."
		s.page(w, http.StatusNotFound, "message", d)
		return
	}
	h.Raw = nil
	d.Filter = &filterPage{Item: &h, Token: tok}
	s.page(w, http.StatusOK, "digestrelease", d)
}

func (s *Server) digestRelease(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	if err := r.ParseMultipartForm(8 << 10); errors.Is(err, http.ErrNotMultipart) {
		r.ParseForm()
	}
	d := pageData{Title: "Release a held message"}
	if !sameOrigin(r) {
		d.Message = "This form did not come from this site."
		s.page(w, http.StatusForbidden, "message", d)
		return
	}
	h, err := s.cfg.Filter.ReleaseByToken(r.Context(), r.PostFormValue("t"))
	switch {
	case errors.Is(err, filter.ErrBadToken):
		d.Message = "This release link is not valid or has expired."
		s.page(w, http.StatusNotFound, "message", d)
	case errors.Is(err, filter.ErrNoOutbound):
		d.Message = "This node sends no mail yet; ask your provider."
		s.page(w, http.StatusServiceUnavailable, "message", d)
	case err != nil:
		d.Message = "The message could not be released (it may have been released already)."
		s.page(w, http.StatusConflict, "message", d)
	case h.State == filter.StateQueued:
		d.Message = "Queued for delivery: the message waits in the node's outbound mail and reaches " + h.Recipient + " as soon as the provider's relay takes it. The filter has learned it was wanted."
		s.page(w, http.StatusOK, "message", d)
	default:
		d.Message = "Released: the message was delivered to " + h.Recipient + "'s mail server, and the filter has learned it was wanted."
		s.page(w, http.StatusOK, "message", d)
	}
}

// API.

func (s *Server) apiScope(w http.ResponseWriter, r *http.Request) (kind, key string, ok bool) {
	sc := r.PathValue("scope")
	switch {
	case sc == "default":
		return filter.ScopeDefault, "", true
	case strings.Contains(sc, "@"):
		return filter.ScopeRecipient, sc, true
	case sc != "":
		return filter.ScopeDomain, sc, true
	}
	apiError(w, http.StatusBadRequest, "bad-scope", "the scope is default, a domain or an address")
	return "", "", false
}

type policyJSON struct {
	Scope     string         `json:"scope"`
	Policy    filter.Policy  `json:"policy"`
	Effective *effectiveJSON `json:"effective,omitempty"`
}

type effectiveJSON struct {
	Enabled        bool                `json:"enabled"`
	Unsure         float64             `json:"unsure"`
	Spam           float64             `json:"spam"`
	Action         string              `json:"action"`
	Quarantine     float64             `json:"quarantine"`
	TrustMarketing bool                `json:"trust_marketing"`
	Lists          []filter.ScopedList `json:"lists"`
	From           map[string]string   `json:"from"`
}

func effJSON(e filter.Effective) *effectiveJSON {
	return &effectiveJSON{e.Enabled, e.Unsure, e.Spam, e.Action, e.Quarantine, e.TrustMarketing, e.Lists, e.From}
}

func (s *Server) apiPolicies(w http.ResponseWriter, r *http.Request) {
	ps, err := s.cfg.Filter.Policies(r.Context())
	if err != nil {
		apiError(w, http.StatusInternalServerError, "store", err.Error())
		return
	}
	out := []policyJSON{}
	for _, p := range ps {
		out = append(out, policyJSON{Scope: p.Scope(), Policy: p})
	}
	writeJSON(w, http.StatusOK, map[string]any{"policies": out})
}

func (s *Server) apiPolicy(w http.ResponseWriter, r *http.Request) {
	kind, key, ok := s.apiScope(w, r)
	if !ok {
		return
	}
	f := s.cfg.Filter
	p, err := f.Policy(r.Context(), kind, key)
	if err != nil && !errors.Is(err, filter.ErrNotFound) {
		apiError(w, http.StatusBadRequest, "bad-scope", err.Error())
		return
	}
	if errors.Is(err, filter.ErrNotFound) {
		p = filter.Policy{Kind: kind, Key: key}
		p.Validate()
	}
	rc := ""
	switch kind {
	case filter.ScopeRecipient:
		rc = p.Key
	case filter.ScopeDomain:
		rc = "postmaster@" + p.Key
	}
	writeJSON(w, http.StatusOK, policyJSON{Scope: p.Scope(), Policy: p, Effective: effJSON(f.Effective(rc))})
}

func (s *Server) apiPutPolicy(w http.ResponseWriter, r *http.Request) {
	kind, key, ok := s.apiScope(w, r)
	if !ok {
		return
	}
	var p filter.Policy
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		apiError(w, http.StatusBadRequest, "bad-body", "a policy as JSON: "+err.Error())
		return
	}
	p.Kind, p.Key = kind, key
	p, err := s.cfg.Filter.PutPolicy(r.Context(), p, principalOf(r.Context()).Label())
	if errors.Is(err, filter.ErrPolicy) {
		apiError(w, http.StatusUnprocessableEntity, "bad-policy", err.Error())
		return
	}
	if err != nil {
		apiError(w, http.StatusInternalServerError, "store", err.Error())
		return
	}
	writeJSON(w, http.StatusOK, policyJSON{Scope: p.Scope(), Policy: p})
}

func (s *Server) apiDeletePolicy(w http.ResponseWriter, r *http.Request) {
	kind, key, ok := s.apiScope(w, r)
	if !ok {
		return
	}
	err := s.cfg.Filter.DeletePolicy(r.Context(), kind, key, principalOf(r.Context()).Label())
	switch {
	case errors.Is(err, filter.ErrNotFound):
		apiError(w, http.StatusNotFound, "not-found", "no policy for this scope")
	case err != nil:
		apiError(w, http.StatusBadRequest, "bad-scope", err.Error())
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

func admin(r *http.Request) filter.Actor {
	return filter.Actor{Label: principalOf(r.Context()).Label(), Admin: true}
}

func (s *Server) apiHeldList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, _ := strconv.Atoi(q.Get("limit"))
	hs, err := s.cfg.Filter.List(r.Context(), admin(r), filter.HeldFilter{Recipient: strings.ToLower(q.Get("recipient")), State: q.Get("state"), Limit: limit})
	if errors.Is(err, filter.ErrLimit) {
		apiError(w, http.StatusBadRequest, "bad-limit", fmt.Sprintf("limit is at most %d", filter.MaxHeldLimit))
		return
	}
	if err != nil {
		apiError(w, http.StatusInternalServerError, "store", err.Error())
		return
	}
	out := make([]heldListed, 0, len(hs))
	for _, h := range hs {
		out = append(out, heldListed{h.ID, h.Recipient, h.MailFrom, h.ReceivedAt, h.ExpiresAt, h.Score, h.Symbols, h.Reference, h.Size, h.State, h.ActedAt, h.ActedBy})
	}
	writeJSON(w, http.StatusOK, map[string]any{"messages": out})
}

// heldListed is a held message in the administrator's list: its envelope
// and decision, under the names GET /api/v1/filter/quarantine/{id} gives
// them, without the Subject and From its sender wrote (filter.List: a
// list is not audited; one message's read is).
type heldListed struct {
	ID         string
	Recipient  string
	MailFrom   string
	ReceivedAt time.Time
	ExpiresAt  time.Time
	Score      float64
	Symbols    []filter.Symbol
	Reference  string
	Size       int
	State      string
	ActedAt    time.Time
	ActedBy    string
}

func (s *Server) apiHeld(w http.ResponseWriter, r *http.Request) {
	h, err := s.cfg.Filter.Show(r.Context(), admin(r), r.PathValue("id"))
	if errors.Is(err, filter.ErrNotFound) {
		apiError(w, http.StatusNotFound, "not-found", "no such held message")
		return
	}
	if err != nil {
		apiError(w, http.StatusInternalServerError, "store", err.Error())
		return
	}
	writeJSON(w, http.StatusOK, h)
}

func (s *Server) apiHeldAction(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var err error
	state := ""
	switch r.PathValue("action") {
	case "release":
		state, err = s.cfg.Filter.Release(r.Context(), admin(r), id)
	case "delete":
		err, state = s.cfg.Filter.Delete(r.Context(), admin(r), id), filter.StateDeleted
	default:
		apiError(w, http.StatusNotFound, "not-found", "actions are release and delete")
		return
	}
	switch {
	case errors.Is(err, filter.ErrNotFound):
		apiError(w, http.StatusNotFound, "not-found", "no such held message, or not held any more")
	case errors.Is(err, filter.ErrNotHeld):
		apiError(w, http.StatusConflict, "not-held", err.Error())
	case errors.Is(err, filter.ErrNoOutbound):
		apiError(w, http.StatusServiceUnavailable, "no-outbound", err.Error())
	case err != nil:
		apiError(w, http.StatusConflict, "failed", err.Error())
	default:
		writeJSON(w, http.StatusOK, map[string]string{"id": id, "state": state})
	}
}

// doneNotice is what the mailbox page says after an action ("Done: …").
var doneNotice = map[string]string{
	"saved":    "saved",
	"deleted":  "deleted",
	"reported": "reported to the authority, and removed from your quarantine",
	"released": "released (delivered to your mail server)",
	"queued":   "queued for delivery — the message waits in the node's outbound mail and reaches your inbox as soon as your provider's relay takes it",
}

func boolPtr(b bool) *bool { return &b }

func splitLines(s string) []string {
	var out []string
	for _, x := range strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == ',' || r == '\r' || r == ' ' }) {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}
