package web

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/accord-antispam/accord/internal/access"
	"github.com/accord-antispam/accord/internal/cases"
	"github.com/accord-antispam/accord/internal/federation"
	"github.com/accord-antispam/accord/internal/intake"
)

// The case of a campaign: its status, assignee, notes and decisions; its
// evidence as one signed bundle; its referral to a partner authority.
// Analysts read cases; authorities work them.

// FedReferrer sends a case's referral as the federation's assistance
// request.
type FedReferrer struct{ Fed *federation.Service }

// Refer implements cases.Referrer.
func (f FedReferrer) Refer(ctx context.Context, r cases.Referral, campaignID, by string) (string, error) {
	t := federation.RequestType(r.Type)
	if !federation.ValidType(t) {
		return "", errors.Join(cases.ErrInvalid, errors.New("the request type is information, enforcement or alert"))
	}
	req, err := f.Fed.NewRequest(ctx, r.Peer, t, r.Subject, r.Body, campaignID, r.LegalBasis, by)
	if err != nil {
		return "", err
	}
	return req.ID, nil
}

// caseData is what the case page shows.
type caseData struct {
	Case     *cases.Case
	Campaign *intake.CampaignDetail
	Next     []cases.Status
	CanWork  bool              // An authority: may change the case.
	Peers    []federation.Peer // Active partners to refer to (authorities on a federated node).
	Types    []federation.RequestType
	Requests []federation.Request // Assistance requests about this campaign.
	Actor    func(string) string  // Names an event's actor for people (access.Namer).
}

// actorNamer is access.Namer over the node's tokens. Listing them can
// fail; the page then shows the stored actors, which are still true.
func (s *Server) actorNamer(ctx context.Context) func(string) string {
	acc, ok := s.access.(access.Accounts)
	if !ok {
		return access.Namer(nil)
	}
	toks, err := acc.Tokens(ctx)
	if err != nil {
		s.log.Error("list tokens to name actors", "err", err)
	}
	return access.Namer(toks)
}

func (s *Server) authority(r access.Role) bool { return r.AtLeast(access.Authority) }

func (s *Server) casePage(w http.ResponseWriter, r *http.Request) {
	s.renderCase(w, r, http.StatusOK, "", "")
}

func (s *Server) renderCase(w http.ResponseWriter, r *http.Request, status int, msg, errMsg string) {
	p := principalOf(r.Context())
	id := r.PathValue("id")
	d := pageData{Title: "Case " + id, User: p.ID, CSRF: sessionOf(r.Context()).CSRF, Authority: s.authority(p.Role) && s.cfg.Federation != nil,
		Message: msg, Error: errMsg}
	c, err := s.cfg.Cases.Get(r.Context(), id)
	var merged *cases.MergedError
	if errors.As(err, &merged) {
		if r.Method == http.MethodGet {
			// Its id still answers: the case is the survivor's now.
			http.Redirect(w, r, "/desk/cases/"+url.PathEscape(merged.Into)+"?merged="+url.QueryEscape(merged.Campaign), http.StatusSeeOther)
			return
		}
		s.page(w, http.StatusConflict, "message", pageData{Title: "Case " + id, User: p.ID,
			Message: "Nothing was changed: campaign " + merged.Campaign + " was merged into " + merged.Into + ", whose case it is now (/desk/cases/" + merged.Into + ")."})
		return
	}
	if errors.Is(err, cases.ErrNotFound) {
		s.page(w, http.StatusNotFound, "message", pageData{Title: "Not found", User: p.ID, Message: "There is no such campaign."})
		return
	}
	if err != nil {
		s.log.Error("read case", "id", id, "err", err)
		s.page(w, http.StatusInternalServerError, "message", pageData{Title: "Case " + id, User: p.ID, Message: "The case could not be read."})
		return
	}
	camp, err := s.store.Campaign(r.Context(), id)
	if err != nil {
		s.log.Error("read campaign", "id", id, "err", err)
		s.page(w, http.StatusInternalServerError, "message", pageData{Title: "Case " + id, User: p.ID, Message: "The campaign could not be read."})
		return
	}
	cd := &caseData{Case: c, Campaign: camp, Next: cases.Allowed(c.Status), CanWork: s.authority(p.Role), Actor: s.actorNamer(r.Context())}
	if cd.CanWork && s.cfg.Federation != nil && s.cfg.Cases.Referrer != nil {
		peers, err := s.cfg.Federation.Store.Peers(r.Context())
		if err != nil {
			s.log.Error("list peers", "err", err)
		}
		for _, pr := range peers {
			if pr.Status == federation.StatusActive {
				cd.Peers = append(cd.Peers, pr)
			}
		}
		cd.Types = []federation.RequestType{federation.TypeInformation, federation.TypeEnforcement, federation.TypeAlert}
		all, err := s.cfg.Federation.Store.Requests(r.Context(), "")
		if err != nil {
			s.log.Error("list requests", "err", err)
		}
		for _, q := range all {
			if q.Campaign == id {
				cd.Requests = append(cd.Requests, q)
			}
		}
	}
	d.Case = cd
	s.page(w, status, "case", d)
}

// caseError maps the cases package's errors to a status and words.
func caseError(err error) (int, string, string) {
	var merged *cases.MergedError
	switch {
	case errors.As(err, &merged):
		return http.StatusConflict, "merged", "campaign " + merged.Campaign + " was merged into " + merged.Into + ": its case is that campaign's; nothing was changed"
	case errors.Is(err, cases.ErrNotFound):
		return http.StatusNotFound, "not-found", "there is no such campaign"
	case errors.Is(err, cases.ErrConflict):
		return http.StatusConflict, "conflict", "the case changed since you loaded it; reload it and try again"
	case errors.Is(err, cases.ErrInvalid):
		return http.StatusBadRequest, "bad-change", strings.TrimPrefix(err.Error(), cases.ErrInvalid.Error()+": ")
	case errors.Is(err, cases.ErrNoReferrer):
		return http.StatusConflict, "no-federation", "this node has no partner authorities to refer to"
	case errors.Is(err, errUnknownUser):
		return http.StatusBadRequest, "bad-change", err.Error()
	}
	return http.StatusInternalServerError, "store-failed", "the case could not be changed"
}

var errUnknownUser = errors.New("no desk user has that name")

// caseChange is one change to a case, from the desk's form or the API.
type caseChange struct {
	Action   string `json:"action"` // status, assign, note, decision.
	Status   string `json:"status"`
	Text     string `json:"text"`
	Assignee string `json:"assignee"`
	Version  *int   `json:"version"` // The version the change was made on; absent: whatever it is now.
}

func (s *Server) applyCase(ctx context.Context, id string, ch caseChange, actor string) (*cases.Case, error) {
	seen := -1
	if ch.Version != nil {
		seen = *ch.Version
	}
	svc := s.cfg.Cases
	switch ch.Action {
	case "status":
		st, err := cases.ParseStatus(ch.Status)
		if err != nil {
			return nil, err
		}
		return svc.SetStatus(ctx, id, seen, st, ch.Text, actor)
	case "assign":
		if name := strings.TrimSpace(ch.Assignee); name != "" {
			u, err := s.access.UserByName(ctx, name)
			if err != nil || !u.Role.AtLeast(access.Analyst) {
				return nil, errUnknownUser
			}
		}
		return svc.Assign(ctx, id, seen, ch.Assignee, actor)
	case "note":
		return svc.Note(ctx, id, seen, ch.Text, actor)
	case "decision":
		return svc.Decide(ctx, id, seen, ch.Text, actor)
	}
	return nil, errors.Join(cases.ErrInvalid, errors.New("the action is status, assign, note or decision"))
}

func (s *Server) caseAction(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r.Context())
	ch := caseChange{Action: r.FormValue("action"), Status: r.FormValue("status"), Text: r.FormValue("text"), Assignee: r.FormValue("assignee")}
	if v, err := strconv.Atoi(r.FormValue("version")); err == nil {
		ch.Version = &v
	}
	if _, err := s.applyCase(r.Context(), r.PathValue("id"), ch, p.Label()); err != nil {
		status, _, msg := caseError(err)
		if status == http.StatusInternalServerError {
			s.log.Error("change case", "id", r.PathValue("id"), "err", err)
		}
		s.renderCase(w, r, status, "", strings.ToUpper(msg[:1])+msg[1:]+".")
		return
	}
	http.Redirect(w, r, "/desk/cases/"+r.PathValue("id"), http.StatusSeeOther)
}

// caseMerge merges the campaign of the form's "from" into this case's, on
// the person's decision (a proposed link).
func (s *Server) caseMerge(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r.Context())
	if _, err := s.cfg.Cases.Merge(r.Context(), r.FormValue("from"), r.PathValue("id"), r.FormValue("reason"), p.Label()); err != nil {
		status, _, msg := caseError(err)
		if status == http.StatusInternalServerError {
			s.log.Error("merge campaigns", "id", r.PathValue("id"), "from", r.FormValue("from"), "err", err)
		}
		s.renderCase(w, r, status, "", strings.ToUpper(msg[:1])+msg[1:]+".")
		return
	}
	http.Redirect(w, r, "/desk/cases/"+r.PathValue("id"), http.StatusSeeOther)
}

func (s *Server) caseRefer(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r.Context())
	seen := -1
	if v, err := strconv.Atoi(r.FormValue("version")); err == nil {
		seen = v
	}
	ref := cases.Referral{Peer: r.FormValue("peer"), Type: r.FormValue("type"), Subject: r.FormValue("subject"), Body: r.FormValue("body")}
	_, reqID, err := s.cfg.Cases.Refer(r.Context(), r.PathValue("id"), seen, ref, p.Label())
	if err != nil && reqID == "" {
		status, _, msg := caseError(err)
		if status == http.StatusInternalServerError {
			msg = "the referral could not be sent: " + err.Error()
			s.log.Error("refer case", "id", r.PathValue("id"), "err", err)
		}
		s.renderCase(w, r, status, "", strings.ToUpper(msg[:1])+msg[1:]+".")
		return
	}
	if err != nil {
		s.log.Error("refer case", "id", r.PathValue("id"), "request", reqID, "err", err)
	}
	s.renderCase(w, r, http.StatusOK, "Referred: assistance request "+reqID+" is queued for "+ref.Peer+".", "")
}

// caseJSON is the API's view of a case.
type caseJSON struct {
	CampaignID string          `json:"campaign_id"`
	Status     cases.Status    `json:"status"`
	Assignee   string          `json:"assignee"`
	Opened     *time.Time      `json:"opened"`
	Updated    *time.Time      `json:"updated"`
	Closed     *time.Time      `json:"closed"`
	Version    int             `json:"version"`
	Next       []cases.Status  `json:"next_statuses"`
	Events     []caseEventJSON `json:"events"`
	// Links proposed by reports between this campaign and another that
	// intake did not merge because one was worked on (GET only).
	Links []caseLinkJSON `json:"proposed_links,omitempty"`
}

type caseLinkJSON struct {
	Campaign string    `json:"campaign_id"` // The worked campaign.
	Other    string    `json:"other_id"`    // The one the report joined.
	Report   string    `json:"report_id"`
	At       time.Time `json:"at"`
	Why      string    `json:"reason"`
}

type caseEventJSON struct {
	N      int          `json:"n"`
	At     time.Time    `json:"at"`
	Actor  string       `json:"actor"`
	Name   string       `json:"actor_name"` // Actor for people: a token's label added.
	Kind   cases.Kind   `json:"kind"`
	Status cases.Status `json:"status"`
	Text   string       `json:"text,omitempty"`
	Ref    string       `json:"ref,omitempty"`
}

func toCaseJSON(c *cases.Case, name func(string) string) caseJSON {
	t := func(x time.Time) *time.Time {
		if x.IsZero() {
			return nil
		}
		return &x
	}
	out := caseJSON{CampaignID: c.CampaignID, Status: c.Status, Assignee: c.Assignee, Opened: t(c.Opened), Updated: t(c.Updated), Closed: t(c.Closed),
		Version: c.Version, Next: cases.Allowed(c.Status), Events: []caseEventJSON{}}
	for _, e := range c.Events {
		out.Events = append(out.Events, caseEventJSON{e.N, e.At, e.Actor, name(e.Actor), e.Kind, e.Status, e.Text, e.Ref})
	}
	for _, l := range c.Links {
		out.Links = append(out.Links, caseLinkJSON{l.Campaign, l.Other, l.ReportID, l.At, l.Why})
	}
	return out
}

// apiCampaignMerge merges campaign {id} into the campaign "into" of the
// JSON body, for the reason given: the merge intake no longer makes for a
// campaign someone worked on (cases.Link). It answers the merged case.
func (s *Server) apiCampaignMerge(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r.Context())
	body, err := readBody(w, r, 64<<10)
	var in struct {
		Into   string `json:"into"`
		Reason string `json:"reason"`
	}
	if err != nil || json.Unmarshal(body, &in) != nil || in.Into == "" {
		apiError(w, http.StatusBadRequest, "bad-body", `send JSON such as {"into": "c-…", "reason": "one run: same sender and landing page"}`)
		return
	}
	c, err := s.cfg.Cases.Merge(r.Context(), r.PathValue("id"), in.Into, in.Reason, p.Label())
	if err != nil {
		status, code, msg := caseError(err)
		if status == http.StatusInternalServerError {
			s.log.Error("merge campaigns", "id", r.PathValue("id"), "into", in.Into, "err", err)
		}
		apiError(w, status, code, msg)
		return
	}
	writeJSON(w, http.StatusOK, toCaseJSON(c, s.actorNamer(r.Context())))
}

// apiCaseError answers a case request that failed with err. For a
// campaign merged into another a read (GET) is redirected like the
// campaign itself (308, "merged", the survivor's same path in Location),
// and a change is refused (409 "merged": the change was made on a case
// that has moved; it is not replayed on the survivor's, whose version
// differs); both name the survivor in merged_into.
func apiCaseError(w http.ResponseWriter, r *http.Request, err error) {
	status, code, msg := caseError(err)
	var merged *cases.MergedError
	if !errors.As(err, &merged) {
		apiError(w, status, code, msg)
		return
	}
	if r.Method == http.MethodGet {
		status = http.StatusPermanentRedirect
		w.Header().Set("Location", "/api/v1/campaigns/"+url.PathEscape(merged.Into)+strings.TrimPrefix(r.URL.Path, "/api/v1/campaigns/"+r.PathValue("id")))
	}
	writeJSON(w, status, map[string]any{"error": map[string]string{"code": code, "message": msg}, "merged_into": merged.Into})
}

func (s *Server) apiCase(w http.ResponseWriter, r *http.Request) {
	c, err := s.cfg.Cases.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		apiCaseError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toCaseJSON(c, s.actorNamer(r.Context())))
}

func (s *Server) apiCaseChange(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r.Context())
	body, err := readBody(w, r, 64<<10)
	var ch caseChange
	if err != nil || json.Unmarshal(body, &ch) != nil || ch.Action == "" {
		apiError(w, http.StatusBadRequest, "bad-body", `send JSON such as {"action": "status", "status": "triage", "text": "why", "version": 0}`)
		return
	}
	c, err := s.applyCase(r.Context(), r.PathValue("id"), ch, p.Label())
	if err != nil {
		if status, _, _ := caseError(err); status == http.StatusInternalServerError {
			s.log.Error("change case", "id", r.PathValue("id"), "err", err)
		}
		apiCaseError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, toCaseJSON(c, s.actorNamer(r.Context())))
}

func (s *Server) apiCaseRefer(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r.Context())
	body, err := readBody(w, r, 64<<10)
	var in struct {
		cases.Referral
		Version *int `json:"version"`
	}
	if err != nil || json.Unmarshal(body, &in) != nil {
		apiError(w, http.StatusBadRequest, "bad-body", `send JSON such as {"peer": "de-bnetza", "type": "information", "subject": "…", "body": "…"}`)
		return
	}
	seen := -1
	if in.Version != nil {
		seen = *in.Version
	}
	c, reqID, err := s.cfg.Cases.Refer(r.Context(), r.PathValue("id"), seen, in.Referral, p.Label())
	if err != nil && reqID == "" {
		status, code, msg := caseError(err)
		if status == http.StatusInternalServerError {
			status, code, msg = http.StatusBadGateway, "referral-failed", err.Error()
		}
		if code == "merged" {
			apiCaseError(w, r, err)
			return
		}
		apiError(w, status, code, msg)
		return
	}
	if err != nil {
		s.log.Error("refer case", "id", r.PathValue("id"), "request", reqID, "err", err)
		writeJSON(w, http.StatusAccepted, map[string]any{"request_id": reqID, "warning": err.Error()})
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"request_id": reqID, "case": toCaseJSON(c, s.actorNamer(r.Context()))})
}

// caseBundle writes the case's evidence as one bundle: every report of
// the campaign with its custody log, campaign.json, and the case's
// history as case.json, under one manifest signed by the node. The
// export is then recorded in the case with the bundle's SHA-256.
func (s *Server) caseBundle(w http.ResponseWriter, r *http.Request) bool {
	p := principalOf(r.Context())
	id := r.PathValue("id")
	c, err := s.cfg.Cases.Get(r.Context(), id)
	var merged *cases.MergedError
	if errors.As(err, &merged) && strings.HasPrefix(r.URL.Path, "/desk/") {
		// The desk's export button of a case that has moved: to the
		// survivor's case, whose bundle holds this campaign's reports.
		http.Redirect(w, r, "/desk/cases/"+url.PathEscape(merged.Into)+"?merged="+url.QueryEscape(merged.Campaign), http.StatusSeeOther)
		return false
	}
	if err != nil {
		apiCaseError(w, r, err)
		return false
	}
	cj, _ := json.MarshalIndent(toCaseJSON(c, s.actorNamer(r.Context())), "", "  ")
	var buf bytes.Buffer
	err = s.desk.ExportCampaign(r.Context(), id, &buf, intake.ExportOptions{Actor: p.Label(), IncludeOriginal: s.cfg.ExportOriginal,
		Attach: map[string][]byte{"case.json": cj}})
	if err != nil {
		s.log.Error("export case", "id", id, "err", err)
		apiError(w, http.StatusInternalServerError, "export-failed", "the evidence bundle could not be made")
		return false
	}
	sum := sha256.Sum256(buf.Bytes())
	if _, err := s.cfg.Cases.RecordExport(r.Context(), id, hex.EncodeToString(sum[:]), p.Label()); err != nil {
		s.log.Error("record case export", "id", id, "err", err)
	}
	w.Header().Set("Content-Type", "application/zip")
	w.Header().Set("Content-Disposition", `attachment; filename="case-`+id+`.zip"`)
	w.Write(buf.Bytes())
	return true
}

func (s *Server) caseEvidence(w http.ResponseWriter, r *http.Request) { s.caseBundle(w, r) }
