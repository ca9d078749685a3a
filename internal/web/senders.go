package web

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/accord-antispam/accord/internal/access"
	"github.com/accord-antispam/accord/internal/consent"
	"github.com/accord-antispam/accord/internal/strictjson"
)

// The senders' API: consent records, proofs, opt-out links and the
// suppression feed, for a registered sender's token; and the authority's
// view of senders (complaint rates, overdue opt-outs, proofs).

const senderKey ctxKey = 2

// needSender admits a sender's token only, and puts its sender id in the
// context.
func (s *Server) needSender(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok, ok := access.Bearer(r.Header.Get("Authorization"))
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="accord"`)
			apiError(w, http.StatusUnauthorized, "auth-required", "this call needs a sender's API token: Authorization: Bearer TOKEN")
			return
		}
		t, err := s.access.TokenByHash(r.Context(), access.Hash(tok))
		if err != nil {
			apiError(w, http.StatusUnauthorized, "bad-token", "the bearer token is not valid")
			return
		}
		if t.Role != access.Sender {
			apiError(w, http.StatusForbidden, "forbidden", "this call is for a registered sender's token (accord sender add)")
			return
		}
		if ok, wait := s.lim.apiIP.Allow(s.lim.clientKey(r)); !ok {
			tooMany(w, wait, true, s, r)
			return
		}
		if ok, wait := s.lim.apiToken.Allow(t.ID); !ok {
			tooMany(w, wait, true, s, r)
			return
		}
		ctx := withPrincipal(r.Context(), access.Principal{Kind: "token", ID: t.ID, Role: t.Role})
		h(w, r.WithContext(context.WithValue(ctx, senderKey, t.Label)))
	}
}

func senderOf(r *http.Request) string {
	id, _ := r.Context().Value(senderKey).(string)
	return id
}

// consentError maps the domain's errors to API answers.
func (s *Server) consentError(w http.ResponseWriter, err error) {
	var inv *consent.InvalidError
	var ex *consent.ErrExists
	var rate *consent.RateError
	switch {
	case errors.As(err, &rate):
		wait := rate.Retry
		if wait <= 0 {
			wait = time.Hour
		}
		w.Header().Set("Retry-After", retryAfter(wait))
		apiError(w, http.StatusTooManyRequests, "rate-limited", rate.Error())
	case errors.As(err, &inv):
		apiError(w, http.StatusBadRequest, "invalid", inv.Error())
	case errors.As(err, &ex):
		w.Header().Set("Location", "/api/v1/consents?record="+ex.Record.ID)
		apiError(w, http.StatusConflict, "exists", ex.Error())
	case errors.Is(err, consent.ErrProofTooLong):
		apiError(w, http.StatusUnprocessableEntity, "proof-too-long", err.Error())
	case errors.Is(err, consent.ErrSuspended):
		apiError(w, http.StatusForbidden, "sender-suspended", "this sender is suspended at this node: no records, links or labels until it is reinstated")
	case errors.Is(err, consent.ErrNotFound):
		apiError(w, http.StatusNotFound, "not-found", "not found")
	default:
		s.log.Error("consent", "err", err)
		apiError(w, http.StatusInternalServerError, "store-failed", "the request could not be carried out; nothing was changed, try again")
	}
}

// decodeJSON reads a JSON body strictly.
func decodeJSON(w http.ResponseWriter, r *http.Request, limit int64, v any) bool {
	body, err := readBody(w, r, limit)
	if errors.Is(err, errTooLarge) {
		apiError(w, http.StatusRequestEntityTooLarge, "too-large", fmt.Sprintf("the body is larger than %d bytes", limit))
		return false
	}
	// A member named twice (in any case) reads one way here and another
	// to a log, proxy or firewall in front of the node: refused.
	if err == nil && !utf8.Valid(body) {
		// Decoding would replace the bytes with U+FFFD: the record of
		// "the exact text" would not be the text sent.
		apiError(w, http.StatusBadRequest, "bad-body", "the body is not valid UTF-8 (JSON is UTF-8, RFC 8259): nothing was recorded")
		return false
	}
	if err == nil {
		err = strictjson.Check(body)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err == nil {
		err = dec.Decode(v)
	}
	if err == nil && dec.More() {
		err = errors.New("more than one JSON value")
	}
	var pe *time.ParseError
	if errors.As(err, &pe) {
		// The decoder names no field for a date it cannot parse, and
		// Go's layout string means nothing to a sender.
		apiError(w, http.StatusBadRequest, "bad-body", fmt.Sprintf("the body is not the JSON this call takes: field %s: want a date and time in RFC 3339 form, such as \"2026-10-01T00:00:00Z\", not %q",
			fieldWith(body, pe.Value), pe.Value))
		return false
	}
	if err != nil {
		apiError(w, http.StatusBadRequest, "bad-body", "the body is not the JSON this call takes: "+jsonProblem(err))
		return false
	}
	return true
}

// fieldWith returns the dotted path of the first string member of a JSON
// body whose value is s ("a date" when none is), to name the field a
// value came from.
func fieldWith(body []byte, s string) string {
	var doc any
	if json.Unmarshal(body, &doc) != nil {
		return "a date"
	}
	var walk func(v any, path string) string
	walk = func(v any, path string) string {
		switch x := v.(type) {
		case string:
			if x == s && path != "" {
				return path
			}
		case map[string]any:
			keys := make([]string, 0, len(x))
			for k := range x {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				p := k
				if path != "" {
					p = path + "." + k
				}
				if f := walk(x[k], p); f != "" {
					return f
				}
			}
		case []any:
			for i, e := range x {
				if f := walk(e, fmt.Sprintf("%s[%d]", path, i)); f != "" {
					return f
				}
			}
		}
		return ""
	}
	if f := walk(doc, ""); f != "" {
		return f
	}
	return "a date"
}

// jsonProblem says what is wrong with a body in the API's words, never
// the decoder's Go type names.
func jsonProblem(err error) string {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			field = "the body"
		} else {
			field = "field " + field
		}
		return fmt.Sprintf("%s: want %s, not %s", field, jsonKind(te.Type), te.Value)
	case errors.As(err, &se):
		return fmt.Sprintf("not JSON at byte %d", se.Offset)
	case errors.Is(err, strictjson.ErrDuplicate):
		return strings.TrimPrefix(err.Error(), "strictjson: ")
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "the body is empty or cut short"
	}
	msg := strings.TrimPrefix(strings.TrimPrefix(err.Error(), "json: "), "strictjson: ")
	if strings.HasPrefix(msg, "unknown field") {
		return msg
	}
	if strings.Contains(msg, "Go ") {
		return "not the JSON this call takes"
	}
	return msg
}

// jsonKind names a Go type as JSON does.
func jsonKind(t reflect.Type) string {
	if t == nil {
		return "another type"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct:
		if t.String() == "time.Time" {
			return "a time (RFC 3339)"
		}
		return "an object"
	case reflect.Pointer:
		return jsonKind(t.Elem())
	}
	return "another type"
}

type senderJSON struct {
	ID            string    `json:"id"`
	Name          string    `json:"name,omitempty"`
	Contact       string    `json:"contact"`
	FeedbackTo    string    `json:"feedback_to"`
	Domains       []string  `json:"domains"`
	PostalAddress string    `json:"postal_address,omitempty"`
	Jurisdictions []string  `json:"jurisdictions"`
	Status        string    `json:"status"`
	Reason        string    `json:"reason,omitempty"`
	Created       time.Time `json:"created"`
	Standing      any       `json:"standing"`
	RecipientKey  string    `json:"recipient_key,omitempty"`
}

type standingJSON struct {
	Good       bool     `json:"good"`
	Why        []string `json:"why"`
	Sent       int64    `json:"sent_30d"`
	Bound      int64    `json:"sent_bound_30d"` // Confirmed recipients × consent.MaxMessagesPerRecipient.
	Complaints int64    `json:"complaints_30d"`
	Rate       float64  `json:"complaint_rate_30d"`
	// Complainants, JudgedBy, MinVolume, Recovers: the rule a small
	// sender is judged by (docs/consent.md, "Standing").
	Complainants int64          `json:"complainants_30d"`
	JudgedBy     string         `json:"judged_by"`
	MinVolume    int64          `json:"rate_judged_from"`
	Recovers     *time.Time     `json:"recovers_at,omitempty"`
	Overdue      int            `json:"overdue_opt_outs"`
	Campaigns    []campaignRate `json:"campaigns"`
	Lists        []campaignRate `json:"lists"`
}

type campaignRate struct {
	List       string  `json:"list"`
	Campaign   string  `json:"campaign,omitempty"`
	Sent       int64   `json:"sent"`
	Complaints int64   `json:"complaints"`
	Rate       float64 `json:"complaint_rate"`
}

func toStanding(st consent.Standing) standingJSON {
	out := standingJSON{Good: st.Good, Why: st.Why, Sent: st.Sent, Bound: st.Bound, Complaints: st.Complaints, Rate: st.Rate, Overdue: st.Overdue,
		Campaigns: []campaignRate{}, Lists: []campaignRate{}}
	if out.Why == nil {
		out.Why = []string{}
	}
	out.Complainants, out.JudgedBy, out.MinVolume = st.Complainants, st.JudgedBy, consent.MinRateVolume
	if !st.Recovers.IsZero() {
		r := st.Recovers.UTC()
		out.Recovers = &r
	}
	lists := map[string]*campaignRate{}
	for _, c := range st.Campaigns {
		out.Campaigns = append(out.Campaigns, campaignRate{List: c.List, Campaign: c.Name, Sent: c.Sent(), Complaints: c.Complaints, Rate: c.Rate()})
		l := lists[c.List]
		if l == nil {
			out.Lists = append(out.Lists, campaignRate{List: c.List})
			l = &out.Lists[len(out.Lists)-1]
			lists[c.List] = l
		}
		l.Sent += c.Sent()
		l.Complaints += c.Complaints
	}
	for i := range out.Lists {
		if out.Lists[i].Sent > 0 {
			out.Lists[i].Rate = float64(out.Lists[i].Complaints) / float64(out.Lists[i].Sent)
		}
	}
	return out
}

func (s *Server) senderView(r *http.Request, id string, withKey bool) (senderJSON, error) {
	svc := s.cfg.Consent
	sd, err := svc.Store().Sender(r.Context(), id)
	if err != nil {
		return senderJSON{}, err
	}
	st, err := svc.Standing(r.Context(), id)
	if err != nil {
		return senderJSON{}, err
	}
	out := senderJSON{ID: sd.ID, Name: sd.Name, Contact: sd.Contact, FeedbackTo: sd.FeedbackAddress(), Domains: sd.Domains,
		PostalAddress: sd.PostalAddress, Jurisdictions: sd.Jurisdictions, Status: sd.Status, Reason: sd.Reason, Created: sd.Created,
		Standing: toStanding(st)}
	if withKey {
		out.RecipientKey = hex.EncodeToString(svc.RecipientKey(sd.ID))
	}
	return out, nil
}

// apiSenderSelf is GET /api/v1/sender: the sender's own registration, its
// standing, and the key its recipients are hashed with.
func (s *Server) apiSenderSelf(w http.ResponseWriter, r *http.Request) {
	v, err := s.senderView(r, senderOf(r), true)
	if err != nil {
		s.consentError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

type recordIn struct {
	Recipient string            `json:"recipient"`
	List      string            `json:"list"`
	Basis     string            `json:"basis"`
	Confirm   bool              `json:"confirm"`
	Capture   consent.Capture   `json:"capture"`
	Customer  *consent.Customer `json:"customer"`
}

type recordJSON struct {
	ID          string            `json:"id"`
	RecipientID string            `json:"recipient_hash"`
	List        string            `json:"list"`
	Basis       string            `json:"basis"`
	Status      string            `json:"status"`
	Confirmed   bool              `json:"confirmed"`
	Capture     consent.Capture   `json:"capture"`
	Customer    *consent.Customer `json:"customer,omitempty"`
	Created     time.Time         `json:"created"`
	ConfirmedAt *time.Time        `json:"confirmed_at,omitempty"`
	WithdrawnAt *time.Time        `json:"withdrawn_at,omitempty"`
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func toRecordJSON(r consent.Record) recordJSON {
	return recordJSON{ID: r.ID, RecipientID: r.Recipient, List: r.List, Basis: r.Basis, Status: r.Status, Confirmed: r.Confirmed,
		Capture: r.Capture, Customer: r.Customer, Created: r.Created, ConfirmedAt: optTime(r.ConfirmedAt), WithdrawnAt: optTime(r.WithdrawnAt)}
}

// apiConsentRecord is POST /api/v1/consents. The confirmation link goes to
// the recipient only: a sender who could see it could confirm for them.
func (s *Server) apiConsentRecord(w http.ResponseWriter, r *http.Request) {
	var in recordIn
	if !decodeJSON(w, r, 64<<10, &in) {
		return
	}
	res, err := s.cfg.Consent.Record(r.Context(), senderOf(r), consent.RecordInput{Recipient: in.Recipient, List: in.List, Basis: in.Basis,
		Confirm: in.Confirm, Capture: in.Capture, Customer: in.Customer})
	if err != nil {
		s.consentError(w, err)
		return
	}
	out := map[string]any{"record": toRecordJSON(res.Record)}
	if res.MailID != "" {
		out["confirmation_mail"] = res.MailID
	}
	writeJSON(w, http.StatusCreated, out)
}

// apiConsents is GET /api/v1/consents?recipient=ADDR: the recipient's
// records and opt-outs.
func (s *Server) apiConsents(w http.ResponseWriter, r *http.Request) {
	sender := senderOf(r)
	h, err := s.cfg.Consent.Hash(sender, r.URL.Query().Get("recipient"))
	if err != nil {
		s.consentError(w, err)
		return
	}
	st := s.cfg.Consent.Store()
	recs, err := s.cfg.Consent.Records(r.Context(), sender, h)
	if err != nil {
		s.consentError(w, err)
		return
	}
	sup, err := st.Suppressed(r.Context(), sender, h)
	if err != nil {
		s.consentError(w, err)
		return
	}
	out := map[string]any{"recipient_hash": h, "records": []recordJSON{}, "suppressions": toSupJSON(sup)}
	rs := []recordJSON{}
	for _, x := range recs {
		rs = append(rs, toRecordJSON(x))
	}
	out["records"] = rs
	writeJSON(w, http.StatusOK, out)
}

type supJSON struct {
	Seq          int64      `json:"seq"`
	Recipient    string     `json:"recipient_hash"`
	List         string     `json:"list"`
	Action       string     `json:"action"` // "suppress" or "lift".
	Reason       string     `json:"reason"`
	RequestedAt  time.Time  `json:"requested_at"`
	Deadline     time.Time  `json:"deadline"`
	Jurisdiction string     `json:"deadline_jurisdiction"`
	LiftedAt     *time.Time `json:"lifted_at,omitempty"`
}

func toSupJSON(xs []consent.Suppression) []supJSON {
	out := []supJSON{}
	for _, x := range xs {
		a := "suppress"
		if x.Lifted {
			a = "lift"
		}
		out = append(out, supJSON{Seq: x.Seq, Recipient: x.Recipient, List: x.List, Action: a, Reason: x.Reason, RequestedAt: x.RequestedAt,
			Deadline: x.Deadline, Jurisdiction: x.Jurisdiction, LiftedAt: optTime(x.LiftedAt)})
	}
	return out
}

// apiWithdraw is POST /api/v1/consents/withdraw: an opt-out the sender
// received itself (by phone, at its own site).
func (s *Server) apiWithdraw(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Recipient string `json:"recipient"`
		List      string `json:"list"`
		Note      string `json:"note"`
	}
	if !decodeJSON(w, r, 16<<10, &in) {
		return
	}
	sup, already, err := s.cfg.Consent.Withdraw(r.Context(), senderOf(r), in.Recipient, in.List, in.Note)
	if err != nil {
		s.consentError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"suppression": toSupJSON([]consent.Suppression{sup})[0], "already": already})
}

// apiProof is GET /api/v1/consents/proof?recipient=ADDR[&list=L]: the
// signed proof document (accord consent verify checks it offline).
func (s *Server) apiProof(w http.ResponseWriter, r *http.Request) {
	s.writeProof(w, r, senderOf(r))
}

func (s *Server) writeProof(w http.ResponseWriter, r *http.Request, sender string) {
	q := r.URL.Query()
	p, err := s.cfg.Consent.Proof(r.Context(), sender, q.Get("recipient"), q.Get("list"))
	if err != nil {
		s.consentError(w, err)
		return
	}
	w.Header().Set("Content-Disposition", `attachment; filename="consent-proof.json"`)
	writeJSON(w, http.StatusOK, p)
}

// apiLinks is POST /api/v1/unsubscribe-links: the List-Unsubscribe and
// List-Unsubscribe-Post values for each recipient of a mailing.
func (s *Server) apiLinks(w http.ResponseWriter, r *http.Request) {
	var in struct {
		List       string   `json:"list"`
		Campaign   string   `json:"campaign"`
		Recipients []string `json:"recipients"`
	}
	if !decodeJSON(w, r, 4<<20, &in) {
		return
	}
	links, err := s.cfg.Consent.Links(r.Context(), senderOf(r), in.List, in.Campaign, in.Recipients)
	if err != nil {
		s.consentError(w, err)
		return
	}
	out := map[string]any{"links": links}
	for _, l := range links {
		if strings.HasPrefix(l.URL, "http://") {
			// The sender cannot fix this; say so before lint and labels refuse it.
			out["warning"] = "these links are http:// because the node's public URL is not https: one-click opt-out (RFC 8058) " +
				"needs https, so lint and labels refuse them. The node's operator must set [senders] public_url (or [http] public_url) " +
				"to an https:// address; then fetch the links again."
			break
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// apiCampaignSent is POST /api/v1/sender/campaigns: the number of messages
// a campaign went to, when more than the links made for it; the answer
// says how many the node accepted.
func (s *Server) apiCampaignSent(w http.ResponseWriter, r *http.Request) {
	var in struct {
		List     string `json:"list"`
		Campaign string `json:"campaign"`
		Sent     int64  `json:"sent"`
	}
	if !decodeJSON(w, r, 16<<10, &in) {
		return
	}
	if in.List == "" || in.Campaign == "" || in.Sent < 0 {
		apiError(w, http.StatusBadRequest, "invalid", "list, campaign and a count sent of 0 or more are required")
		return
	}
	got, err := s.cfg.Consent.ReportSent(r.Context(), senderOf(r), in.List, in.Campaign, in.Sent)
	if err != nil {
		s.consentError(w, err)
		return
	}
	// The count is bounded by what the node can see (docs/consent.md).
	writeJSON(w, http.StatusOK, map[string]any{"list": in.List, "campaign": in.Campaign, "claimed": in.Sent, "accepted": got})
}

// apiSuppressions is GET /api/v1/suppressions?since=…: the feed the
// sender's software syncs. since is a cursor (the last seq it has) or a
// time (RFC 3339); format=csv (the default) or json. The answer's
// X-Accord-Cursor is the since of the next call.
func (s *Server) apiSuppressions(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var fq consent.FeedQuery
	if v := q.Get("since"); v != "" {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil && n >= 0 {
			fq.After = n
		} else if t, err := time.Parse(time.RFC3339, v); err == nil {
			fq.Since = t
		} else {
			apiError(w, http.StatusBadRequest, "bad-parameter", "since is a cursor (a number from X-Accord-Cursor) or a time such as 2026-12-01T00:00:00Z")
			return
		}
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			apiError(w, http.StatusBadRequest, "bad-parameter", "limit is a positive number")
			return
		}
		fq.Limit = n
	}
	feed, err := s.cfg.Consent.Feed(r.Context(), senderOf(r), fq)
	if err != nil {
		s.consentError(w, err)
		return
	}
	cursor := fq.After
	if len(feed) > 0 {
		cursor = feed[len(feed)-1].Seq
	}
	w.Header().Set("X-Accord-Cursor", strconv.FormatInt(cursor, 10))
	rows := toSupJSON(feed)
	switch q.Get("format") {
	case "json":
		writeJSON(w, http.StatusOK, map[string]any{"suppressions": rows, "cursor": cursor})
	case "", "csv":
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		cw := csv.NewWriter(w)
		cw.Write([]string{"seq", "recipient_hash", "list", "action", "reason", "requested_at", "deadline", "deadline_jurisdiction"})
		for _, x := range rows {
			at := x.RequestedAt
			if x.LiftedAt != nil {
				at = *x.LiftedAt
			}
			cw.Write([]string{strconv.FormatInt(x.Seq, 10), x.Recipient, x.List, x.Action, x.Reason, at.Format(time.RFC3339Nano),
				x.Deadline.Format(time.RFC3339), x.Jurisdiction})
		}
		cw.Flush()
	default:
		apiError(w, http.StatusBadRequest, "bad-parameter", "format is csv or json")
	}
}

// Authority views.

// apiSenders is GET /api/v1/senders: every registered sender with its
// standing.
func (s *Server) apiSenders(w http.ResponseWriter, r *http.Request) {
	ss, err := s.cfg.Consent.Store().Senders(r.Context())
	if err != nil {
		s.consentError(w, err)
		return
	}
	out := []senderJSON{}
	for _, sd := range ss {
		v, err := s.senderView(r, sd.ID, false)
		if err != nil {
			s.consentError(w, err)
			return
		}
		out = append(out, v)
	}
	writeJSON(w, http.StatusOK, map[string]any{"senders": out})
}

type complaintJSON struct {
	ReportID        string    `json:"report_id"`
	At              time.Time `json:"at"`
	Recipient       string    `json:"recipient_hash,omitempty"`
	List            string    `json:"list,omitempty"`
	Campaign        string    `json:"campaign,omitempty"`
	How             string    `json:"identified_by"`
	Counted         bool      `json:"counted"`
	TokenRecipient  string    `json:"token_recipient_hash,omitempty"`
	Flags           []string  `json:"flags,omitempty"`
	ConsentOnRecord bool      `json:"consent_on_record"`
	ConsentRecord   string    `json:"consent_record,omitempty"`
	AfterOptOut     bool      `json:"sent_after_opt_out_deadline"`
	Forwarded       string    `json:"forwarded_mail,omitempty"`
}

func toComplaintJSON(cs []consent.Complaint) []complaintJSON {
	out := []complaintJSON{}
	for _, c := range cs {
		out = append(out, complaintJSON{ReportID: c.ReportID, At: c.At, Recipient: c.Recipient, List: c.List, Campaign: c.Campaign, How: c.How,
			Counted: c.Counted() && !c.Flagged(consent.FlagRepeat), TokenRecipient: c.TokenRecipient, Flags: c.Flags, ConsentOnRecord: c.ConsentOnRecord, ConsentRecord: c.ConsentRecord, AfterOptOut: c.AfterOptOut, Forwarded: c.Forwarded})
	}
	return out
}

// apiSender is GET /api/v1/senders/{id}: one sender, its complaints (with
// "consent on record" marked) and its overdue opt-outs.
func (s *Server) apiSender(w http.ResponseWriter, r *http.Request) {
	id := strings.ToLower(r.PathValue("id"))
	v, err := s.senderView(r, id, false)
	if err != nil {
		s.consentError(w, err)
		return
	}
	cs, err := s.cfg.Consent.Store().SenderComplaints(r.Context(), id, 500)
	if err != nil {
		s.consentError(w, err)
		return
	}
	od, err := s.cfg.Consent.Overdue(r.Context(), id)
	if err != nil {
		s.consentError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"sender": v, "complaints": toComplaintJSON(cs), "overdue_opt_outs": toSupJSON(od)})
}

// apiSenderProof is GET /api/v1/senders/{id}/proof?recipient=ADDR: the
// authority asks for the proof itself, without the sender.
func (s *Server) apiSenderProof(w http.ResponseWriter, r *http.Request) {
	s.writeProof(w, r, strings.ToLower(r.PathValue("id")))
}

// senderComplaints are the registered senders a report is about; none
// without the consent service.
func (s *Server) senderComplaints(r *http.Request, reportID string) []consent.Complaint {
	if s.cfg.Consent == nil {
		return nil
	}
	cs, err := s.cfg.Consent.Store().ComplaintsByReport(r.Context(), reportID)
	if err != nil {
		s.log.Error("complaints of a report", "report", reportID, "err", err)
	}
	return cs
}

// The desk's pages about senders (analysts): every registered sender with
// its standing, and one sender's complaint rates per list and campaign,
// its complaints with "consent on record", and its overdue opt-outs.

type sendersPage struct {
	Rows       []senderRow
	Sender     *consent.Sender
	Standing   standingJSON
	Complaints []consent.Complaint
	Overdue    []consent.Suppression
}

type senderRow struct {
	consent.Sender
	Standing consent.Standing
}

func (s *Server) sendersDeskPage(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r.Context())
	d := pageData{Title: "Registered senders", User: p.ID, CSRF: sessionOf(r.Context()).CSRF, Senders: &sendersPage{}}
	ss, err := s.cfg.Consent.Store().Senders(r.Context())
	if err != nil {
		s.log.Error("list senders", "err", err)
	}
	for _, sd := range ss {
		st, err := s.cfg.Consent.Standing(r.Context(), sd.ID)
		if err != nil {
			s.log.Error("sender standing", "sender", sd.ID, "err", err)
			continue
		}
		d.Senders.Rows = append(d.Senders.Rows, senderRow{Sender: sd, Standing: st})
	}
	s.page(w, http.StatusOK, "senders", d)
}

func (s *Server) senderDeskPage(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r.Context())
	id := strings.ToLower(r.PathValue("id"))
	sd, err := s.cfg.Consent.Store().Sender(r.Context(), id)
	if err != nil {
		s.page(w, http.StatusNotFound, "message", pageData{Title: "Not found", User: p.ID, Message: "There is no such registered sender."})
		return
	}
	sp := &sendersPage{Sender: &sd}
	st, err := s.cfg.Consent.Standing(r.Context(), id)
	if err != nil {
		s.log.Error("sender standing", "sender", id, "err", err)
	}
	sp.Standing = toStanding(st)
	if sp.Complaints, err = s.cfg.Consent.Store().SenderComplaints(r.Context(), id, 200); err != nil {
		s.log.Error("sender complaints", "sender", id, "err", err)
	}
	if sp.Overdue, err = s.cfg.Consent.Overdue(r.Context(), id); err != nil {
		s.log.Error("sender overdue opt-outs", "sender", id, "err", err)
	}
	s.page(w, http.StatusOK, "sender", pageData{Title: "Sender " + sd.ID, User: p.ID, CSRF: sessionOf(r.Context()).CSRF, Senders: sp})
}
