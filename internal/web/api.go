package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/accord-antispam/accord/internal/access"
	"github.com/accord-antispam/accord/internal/analysis"
	"github.com/accord-antispam/accord/internal/intake"
	"github.com/accord-antispam/accord/internal/rules"
	"github.com/accord-antispam/accord/internal/spool"
)

// apiError writes the JSON error every API failure returns: a stable code
// for programs and a message for people.
func apiError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": code, "message": msg}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}

func triParam(v string) (rules.Tri, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "", "unknown":
		return rules.Unknown, nil
	case "yes", "true", "1":
		return rules.True, nil
	case "no", "false", "0":
		return rules.False, nil
	}
	return rules.Unknown, fmt.Errorf("%q is not yes, no or unknown", v)
}

func (s *Server) apiSubmit(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r.Context())
	if ok, wait := s.lim.apiIP.Allow(s.lim.clientKey(r)); !ok {
		tooMany(w, wait, true, s, r)
		return
	}
	if ok, wait := s.lim.apiToken.Allow(p.ID); !ok {
		tooMany(w, wait, true, s, r)
		return
	}
	if ce := strings.TrimSpace(r.Header.Get("Content-Encoding")); ce != "" && !strings.EqualFold(ce, "identity") {
		apiError(w, http.StatusUnsupportedMediaType, "unsupported-media-type", "Content-Encoding "+oneHeaderLine(ce)+" is not accepted: send the report uncompressed")
		return
	}
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch {
	case err != nil && r.Header.Get("Content-Type") != "":
		apiError(w, http.StatusBadRequest, "bad-content-type", "the Content-Type header cannot be read: "+err.Error())
		return
	case mt == "message/rfc822", mt == "multipart/report", mt == "application/json", mt == "text/plain", mt == "application/octet-stream":
	default:
		apiError(w, http.StatusUnsupportedMediaType, "unsupported-media-type", "send the message as message/rfc822, an ARF report as multipart/report, X-ARF as application/json, or pasted headers and text as text/plain")
		return
	}
	consent, err1 := triParam(r.URL.Query().Get("consent"))
	customer, err2 := triParam(r.URL.Query().Get("customer"))
	if err := errors.Join(err1, err2); err != nil {
		apiError(w, http.StatusBadRequest, "bad-parameter", "consent and customer take yes, no or unknown: "+err.Error())
		return
	}
	idemKey, err := idempotencyKey(r.Header.Values("Idempotency-Key"))
	if err != nil {
		apiError(w, http.StatusBadRequest, "bad-idempotency-key", err.Error())
		return
	}
	as, err := intake.ParseAs(r.URL.Query().Get("as"))
	if err != nil {
		apiError(w, http.StatusBadRequest, "bad-parameter", "as takes forwarded (you forwarded the spam: it is attached or quoted) or received (the spam as you received it): "+oneHeaderLine(r.URL.Query().Get("as"))+" is neither")
		return
	}
	if r.ContentLength > s.cfg.MaxUpload {
		// Said before a byte is read: a client that asked "Expect:
		// 100-continue" gets its answer instead of a go-ahead, and one
		// that sends anyway is not read for nothing.
		w.Header().Set("Connection", "close")
		apiError(w, http.StatusRequestEntityTooLarge, "too-large", fmt.Sprintf("the report is larger than %d bytes; nothing was kept", s.cfg.MaxUpload))
		return
	}
	sp, err := spool.Read(http.MaxBytesReader(w, r.Body, s.cfg.MaxUpload+1), s.cfg.MaxUpload)
	if errors.Is(err, spool.ErrTooLarge) {
		apiError(w, http.StatusRequestEntityTooLarge, "too-large", fmt.Sprintf("the report is larger than %d bytes; nothing was kept", s.cfg.MaxUpload))
		return
	}
	if err != nil {
		apiError(w, http.StatusBadRequest, "bad-body", "could not read the request body; nothing was kept")
		return
	}
	defer sp.Close()
	if sp.Size() == 0 {
		apiError(w, http.StatusBadRequest, "bad-body", "the request body is empty")
		return
	}
	release, err := s.lim.budget.AdmitBody(r.Context(), sp.Size())
	if err != nil {
		// The client went away while waiting; if it still reads, it gets
		// an answer, not an empty 200.
		apiError(w, http.StatusServiceUnavailable, "store-failed", "the report could not be stored just now; nothing was kept, try again")
		return
	}
	defer release()
	body, err := sp.Bytes()
	if err != nil {
		apiError(w, http.StatusInternalServerError, "store-failed", "the report could not be read back; nothing was kept, try again")
		return
	}
	switch mt {
	case "application/json":
		if msg := checkXARFJSON(body); msg != "" {
			apiError(w, http.StatusBadRequest, "bad-body", msg)
			return
		}
	case "multipart/report":
		// Either a whole ARF mail (its own header names its boundary), or
		// the report as HTTP sends it: the body is the multipart itself
		// and the request's Content-Type carries the boundary.
		if !hasOwnReportHeader(body) {
			if params["boundary"] == "" {
				apiError(w, http.StatusBadRequest, "bad-body", "a multipart/report needs its boundary: Content-Type: multipart/report; report-type=feedback-report; boundary=…")
				return
			}
			if !hasDelimiter(body, params["boundary"]) {
				apiError(w, http.StatusBadRequest, "bad-body", "the body does not contain the boundary its Content-Type names")
				return
			}
			body = append([]byte("Content-Type: "+oneHeaderLine(r.Header.Get("Content-Type"))+"\r\nMIME-Version: 1.0\r\n\r\n"), body...)
		}
	}
	rec, err := s.desk.Submit(r.Context(), intake.Submission{Channel: intake.ChannelAPI, Raw: body, SubmittedBy: p.Label(),
		Context: analysis.Context{Consent: consent, ExistingCustomer: customer}, Declared: mt, As: as, IdempotencyKey: idemKey})
	var rej *intake.RejectError
	var reused *intake.IdempotencyConflictError
	var xt *intake.XARFTypeError
	var rt *intake.ReportTypeError
	switch {
	case errors.As(err, &xt):
		apiError(w, http.StatusUnprocessableEntity, "unsupported-report-type", xt.Error())
		return
	case errors.As(err, &rt):
		apiError(w, http.StatusUnprocessableEntity, "unsupported-report-type", rt.Error())
		return
	case errors.As(err, &rej) && errors.Is(err, intake.ErrBadEvidence):
		apiError(w, http.StatusUnprocessableEntity, "bad-evidence", rej.Reason)
		return
	case errors.As(err, &reused):
		apiError(w, http.StatusUnprocessableEntity, "idempotency-key-reused", "this Idempotency-Key was already used with another request (body, Content-Type or parameters); nothing was kept — send a new report with a new key")
		return
	case errors.As(err, &rej):
		apiError(w, http.StatusUnprocessableEntity, "no-message", rej.Reason)
		return
	case errors.Is(err, intake.ErrClosed):
		apiError(w, http.StatusServiceUnavailable, "shutting-down", "the node is shutting down; try again in a moment")
		return
	case err != nil:
		s.log.Error("submit report", "err", err)
		apiError(w, http.StatusInternalServerError, "store-failed", "the report could not be stored; nothing was kept, try again")
		return
	}
	first := rec.Reports[0]
	out := map[string]any{
		"id":          first.ID,
		"campaign_id": first.CampaignID,
		"status_url":  s.statusURL(r, first.ID, first.StatusToken),
		"form":        first.Form,
	}
	if len(rec.Reports) > 1 {
		var more []map[string]string
		for _, x := range rec.Reports {
			more = append(more, map[string]string{"id": x.ID, "campaign_id": x.CampaignID, "status_url": s.statusURL(r, x.ID, x.StatusToken)})
		}
		out["reports"] = more
	}
	w.Header().Set("Location", "/api/v1/reports/"+first.ID)
	if rec.Replayed {
		// The first answer again: nothing was stored this time.
		w.Header().Set("Idempotent-Replayed", "true")
	}
	writeJSON(w, http.StatusCreated, out)
}

// idempotencyKey reads the Idempotency-Key header: one, 1 to 255
// visible ASCII characters, bare or as a structured-field string
// ("…", as the IETF draft writes it); none is "".
func idempotencyKey(values []string) (string, error) {
	switch len(values) {
	case 0:
		return "", nil
	case 1:
	default:
		return "", errors.New("send one Idempotency-Key header, not several")
	}
	k := strings.TrimSpace(values[0])
	if len(k) >= 2 && k[0] == '"' && k[len(k)-1] == '"' {
		k = k[1 : len(k)-1]
	}
	if k == "" || len(k) > intake.MaxIdempotencyKey {
		return "", fmt.Errorf("an Idempotency-Key has 1 to %d characters", intake.MaxIdempotencyKey)
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x21 || k[i] > 0x7e || k[i] == '"' || k[i] == '\\' {
			return "", errors.New("an Idempotency-Key is visible ASCII characters without quotes or backslashes (a UUID, say)")
		}
	}
	return k, nil
}

// statusURL is the reporter's private link to their report, on the
// node's public URL: never built from the request's Host header, which a
// client chooses.
func (s *Server) statusURL(r *http.Request, id, token string) string {
	return s.publicBase(r) + "/r/" + id + "?t=" + url.QueryEscape(token)
}

// publicBase is Config.PublicURL; a server built without one (tests)
// answers on the address the request reached.
func (s *Server) publicBase(r *http.Request) string {
	if s.cfg.PublicURL != "" {
		return strings.TrimRight(s.cfg.PublicURL, "/")
	}
	return "http://" + r.Context().Value(http.LocalAddrContextKey).(net.Addr).String()
}

// reportJSON is the API's view of a report: no reporter address, ever.
type reportJSON struct {
	ID           string            `json:"id"`
	ReceivedAt   time.Time         `json:"received_at"`
	Channel      intake.Channel    `json:"channel"`
	Form         string            `json:"form"`
	Unverifiable []string          `json:"unverifiable"`
	Feedback     map[string]string `json:"feedback,omitempty"`
	SHA256       string            `json:"sha256"`
	Size         int               `json:"size"`
	CampaignID   string            `json:"campaign_id"`
	CampaignWhy  string            `json:"campaign_why"`
	Consent      rules.Tri         `json:"consent"`
	Customer     rules.Tri         `json:"customer"`
	Verdict      *analysis.Verdict `json:"verdict"`
	// RegisteredSenders are the registered senders the report is about,
	// with "consent on record" (analysts only).
	RegisteredSenders []complaintJSON `json:"registered_senders,omitempty"`
}

func toJSON(r *intake.Report) reportJSON {
	u := r.Unverifiable
	if u == nil {
		u = []string{}
	}
	return reportJSON{ID: r.ID, ReceivedAt: r.ReceivedAt, Channel: r.Channel, Form: r.Form, Unverifiable: u, Feedback: r.Feedback,
		SHA256: r.SHA256, Size: len(r.Raw), CampaignID: r.CampaignID, CampaignWhy: r.CampaignWhy, Consent: r.Consent,
		Customer: r.Customer, Verdict: r.Verdict}
}

func (s *Server) apiReport(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if t := r.URL.Query().Get("t"); t != "" {
		rep, err := s.desk.StatusView(r.Context(), id, t)
		if err != nil {
			apiError(w, http.StatusNotFound, "not-found", "no report with this id and status token")
			return
		}
		writeJSON(w, http.StatusOK, toJSON(rep))
		return
	}
	p, _ := s.principal(r)
	switch p.Kind {
	case "token":
		s.tokenUsed(r, p)
	case "invalid":
		w.Header().Set("WWW-Authenticate", `Bearer realm="accord", error="invalid_token"`)
		apiError(w, http.StatusUnauthorized, "bad-token", "the bearer token is not valid")
		return
	default:
		w.Header().Set("WWW-Authenticate", `Bearer realm="accord"`)
		apiError(w, http.StatusUnauthorized, "auth-required", "send an API token, or the report's status token as ?t=")
		return
	}
	// Reporters see the reports they filed, and only those; a refused
	// look is not a view, so the custody log records only granted ones.
	var allow func(*intake.Report) bool
	if !p.Role.AtLeast(access.Analyst) {
		allow = func(rep *intake.Report) bool { return rep.SubmittedBy == p.Label() }
	}
	rep, err := s.desk.ViewIf(r.Context(), id, p.Label(), allow)
	if errors.Is(err, intake.ErrNotFound) {
		apiError(w, http.StatusNotFound, "not-found", "no report "+id)
		return
	}
	if err != nil {
		s.log.Error("read report", "id", id, "err", err)
		apiError(w, http.StatusInternalServerError, "store-failed", "the report could not be read")
		return
	}
	if !p.Role.AtLeast(access.Analyst) {
		intake.Unlink(rep) // the token that filed it sees what its status link shows
	}
	out := toJSON(rep)
	if p.Role.AtLeast(access.Analyst) {
		if cs := s.senderComplaints(r, rep.ID); len(cs) > 0 {
			out.RegisteredSenders = toComplaintJSON(cs)
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) apiEvidence(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	p := principalOf(r.Context())
	var buf bytes.Buffer
	err := s.desk.Export(r.Context(), id, &buf, intake.ExportOptions{Actor: p.Label(), IncludeOriginal: s.cfg.ExportOriginal})
	if errors.Is(err, intake.ErrNotFound) {
		apiError(w, http.StatusNotFound, "not-found", "no report "+id)
		return
	}
	if err != nil {
		s.log.Error("export evidence", "id", id, "err", err)
		apiError(w, http.StatusInternalServerError, "export-failed", "the evidence bundle could not be made")
		return
	}
	w.Header().Set("Content-Type", "application/zip")
	w.Header().Set("Content-Disposition", `attachment; filename="evidence-`+id+`.zip"`)
	w.Write(buf.Bytes())
}

func (s *Server) apiCampaign(w http.ResponseWriter, r *http.Request) {
	c, err := s.store.Campaign(r.Context(), r.PathValue("id"))
	var merged *intake.MergedError
	if errors.As(err, &merged) {
		// Its id still answers: where its reports are now.
		w.Header().Set("Location", "/api/v1/campaigns/"+url.PathEscape(merged.Into))
		writeJSON(w, http.StatusPermanentRedirect, map[string]any{"error": map[string]string{"code": "merged",
			"message": "campaign " + merged.ID + " was merged into " + merged.Into + ": its reports, case and evidence are that campaign's"},
			"merged_into": merged.Into})
		return
	}
	if errors.Is(err, intake.ErrNotFound) {
		apiError(w, http.StatusNotFound, "not-found", "no campaign "+r.PathValue("id"))
		return
	}
	if err != nil {
		s.log.Error("read campaign", "err", err)
		apiError(w, http.StatusInternalServerError, "store-failed", "the campaign could not be read")
		return
	}
	samples := []map[string]any{}
	for _, x := range c.Samples {
		samples = append(samples, map[string]any{"id": x.ID, "received_at": x.ReceivedAt, "subject": x.Subject, "from_domain": x.FromDomain,
			"origin_ip": x.OriginIP, "country": x.Country, "asn": x.ASN})
	}
	counts := func(cs []intake.Count) []map[string]any {
		out := []map[string]any{}
		for _, x := range cs {
			out = append(out, map[string]any{"value": x.Value, "reports": x.N})
		}
		return out
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"id": c.ID, "reports": c.Reports, "first_seen": c.FirstSeen, "last_seen": c.LastSeen, "subject": c.Subject,
		"fingerprint": c.Fingerprint, "per_day": counts(c.PerDay), "countries": counts(c.Countries), "networks": counts(c.Networks),
		"sender_domains": counts(c.Senders), "link_domains": counts(c.Domains), "findings": counts(c.Findings), "samples": samples, "merged": mergedOrEmpty(c.Merged),
	})
}

// apiStats is the desk's running totals.
func (s *Server) apiStats(w http.ResponseWriter, r *http.Request) {
	st, err := s.store.Stats(r.Context())
	if err != nil {
		s.log.Error("stats", "err", err)
		apiError(w, http.StatusInternalServerError, "store-failed", "the totals could not be read")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"reports": st.Reports, "complaints": st.Complaints, "campaigns": st.Campaigns,
		"campaigns_with_several_reports": st.CampaignsMulti, "largest_campaign": st.LargestCampaign, "reports_by_channel": st.ByChannel})
}

func (s *Server) openAPI(w http.ResponseWriter, r *http.Request) {
	b, _ := assets.ReadFile("openapi.yaml")
	w.Header().Set("Content-Type", "application/yaml")
	w.Write(b)
}

// mergedOrEmpty lists the campaigns merged into one, [] for none.
func mergedOrEmpty(m []intake.CampaignMerge) []intake.CampaignMerge {
	if m == nil {
		return []intake.CampaignMerge{}
	}
	return m
}
