package web

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/accord-antispam/accord/internal/consent"
	"github.com/accord-antispam/accord/internal/lint"
	"github.com/accord-antispam/accord/internal/mail"
)

// Labels and the pre-send check over HTTP: a sender asks the node to lint
// a message, or to label it; anyone fetches the node's signed status list
// of revoked labels.

// StatusPath is where the node serves its label status list.
const StatusPath = "/labels/v1/status"

func (s *Server) readMessage(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	ct := strings.ToLower(r.Header.Get("Content-Type"))
	if !strings.HasPrefix(ct, "message/rfc822") && !strings.HasPrefix(ct, "application/octet-stream") && !strings.HasPrefix(ct, "text/plain") {
		apiError(w, http.StatusUnsupportedMediaType, "unsupported-media-type", "send the message as message/rfc822")
		return nil, false
	}
	body, err := readBody(w, r, s.cfg.MaxUpload)
	if errors.Is(err, errTooLarge) {
		apiError(w, http.StatusRequestEntityTooLarge, "too-large", "the message is too large")
		return nil, false
	}
	if err != nil || len(body) == 0 {
		apiError(w, http.StatusBadRequest, "bad-body", "the body must be the message")
		return nil, false
	}
	return body, true
}

// apiLint is POST /api/v1/lint?recipient=&list=&jurisdiction=: the node
// lints the message for the sender, with its consent records and its DNS.
func (s *Server) apiLint(w http.ResponseWriter, r *http.Request) {
	raw, ok := s.readMessage(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	var juris []string
	for _, j := range strings.Split(q.Get("jurisdiction"), ",") {
		if j = strings.ToUpper(strings.TrimSpace(j)); j != "" {
			juris = append(juris, j)
		}
	}
	rep, err := s.cfg.Certifier.Linter.Lint(r.Context(), mail.ParseBytes(raw, mail.DefaultLimits()), lint.Options{Source: "api",
		Jurisdictions: juris, Sender: lint.NodeFacts{Service: s.cfg.Consent, ID: senderOf(r)}, Recipient: q.Get("recipient"), List: q.Get("list"),
		Transactional: q.Get("transactional") == "yes", Bulk: q.Get("bulk") != "no"})
	if err != nil {
		s.consentError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, rep)
}

// apiLabel is POST /api/v1/labels?recipient=&list=&domain=&ttl=: the label
// for the message, when the sender and the message qualify.
func (s *Server) apiLabel(w http.ResponseWriter, r *http.Request) {
	raw, ok := s.readMessage(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	var ttl time.Duration
	if v := q.Get("ttl"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			apiError(w, http.StatusBadRequest, "bad-parameter", "ttl is a duration such as 72h")
			return
		}
		ttl = d
	}
	c, err := s.cfg.Certifier.Certify(r.Context(), lint.CertifyRequest{Sender: senderOf(r), Raw: raw, Domain: q.Get("domain"),
		Recipient: q.Get("recipient"), List: q.Get("list"), TTL: ttl})
	var ne *lint.NotEligibleError
	if errors.As(err, &ne) {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"error": map[string]any{"code": "not-eligible",
			"message": ne.Error(), "why": ne.Why}, "report": ne.Report})
		return
	}
	var inv *consent.InvalidError
	if errors.As(err, &inv) {
		apiError(w, http.StatusBadRequest, "invalid", "label request: "+inv.Field+": "+inv.Reason)
		return
	}
	if err != nil {
		s.consentError(w, err)
		return
	}
	l := c.Label
	writeJSON(w, http.StatusCreated, map[string]any{"id": l.ID, "header": l.Field(), "value": l.Value(), "domain": l.Domain,
		"expires": l.Expires, "status_url": l.StatusURL})
}

// labelStatus is GET /labels/v1/status: the signed list of revocations,
// for anyone (filters fetch it).
func (s *Server) labelStatus(w http.ResponseWriter, r *http.Request) {
	sl, err := s.cfg.Certifier.StatusList(r.Context())
	if err != nil {
		s.log.Error("label status list", "err", err)
		apiError(w, http.StatusServiceUnavailable, "store-failed", "the status list could not be made; try again")
		return
	}
	w.Header().Set("Cache-Control", "public, max-age=60")
	writeJSON(w, http.StatusOK, sl)
}
