package web

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/accord-antispam/accord/internal/intake"
)

// Privacy by construction, on the public side: the privacy notice from
// the configuration, and what the holder of a status link may do with
// what the desk holds about them — see it, download it, erase it.

// PrivacyNotice is the privacy notice's content, from the configuration.
type PrivacyNotice struct {
	Controller  string
	Contact     string // An address or URL where people exercise their rights.
	DPO         string
	Purposes    []string
	LegalBasis  string
	Supervisory string
}

// privacyData is what /privacy and the status page's privacy part show.
type privacyData struct {
	Notice    PrivacyNotice
	Retention intake.Retention
	Mailbox   string
	Days      [3]int // Identity, evidence, statistics; 0: kept.
	// MailDays is how long the record of the desk's mail to a reporter
	// stays: the shorter of the identity's and the mail's retention.
	MailDays int
	// The status page's part: what the desk holds about this person.
	Address      string
	Complaint    *intake.Complaint
	History      []historyLine
	IdentityEnds time.Time // Zero when kept or already gone.
	EvidenceEnds time.Time
	ReportEnds   time.Time
	ExportURL    string
	Token        string
	Erased       bool // The page follows an erasure.
}

type historyLine struct {
	At   time.Time
	Who  string
	What string
	// WhoID and WhatID are the words' message ids (WhatID "" for an
	// action the catalogues do not know: What shows it as recorded).
	WhoID, WhatID string
}

func (s *Server) privacyBase() *privacyData {
	r := s.cfg.Retention
	day := func(d time.Duration) int { return int(d / (24 * time.Hour)) }
	n := s.cfg.Privacy
	if n.Contact == "" {
		n.Contact = s.cfg.Mailbox
	}
	mail := day(r.Mail)
	if id := day(r.Identity); id > 0 && (mail == 0 || id < mail) {
		mail = id
	}
	return &privacyData{Notice: n, Retention: r, Mailbox: s.cfg.Mailbox, Days: [3]int{day(r.Identity), day(r.Evidence), day(r.Statistics)}, MailDays: mail}
}

func (s *Server) privacyPage(w http.ResponseWriter, r *http.Request) {
	d := s.public(w, r)
	d.Title, d.Privacy = s.tr(d.Lang, "privacy_title"), s.privacyBase()
	s.page(w, http.StatusOK, "privacy", d)
}

// who says who acted, in words a reporter understands: staff are not
// named to the public.
func who(actor string) string {
	return map[string]string{"you": "you", "system": "the desk, automatically", "staff": "desk staff", "desk": "the desk"}[whoKey(actor)]
}

// whoKey is the kind of actor: you, system, staff or desk.
func whoKey(actor string) string {
	switch {
	case actor == "reporter":
		return "you"
	case actor == "system":
		return "system"
	case strings.HasPrefix(actor, "user:"), strings.HasPrefix(actor, "token:"):
		return "staff"
	}
	return "desk"
}

var actionWords = map[string]string{
	"received":         "received and stored as evidence",
	"viewed":           "looked at by the desk",
	"status-viewed":    "this page was opened",
	"status-exported":  "your data was downloaded",
	"exported":         "exported in a signed evidence bundle",
	"purged-identity":  "your identity and the complaint as you sent it were deleted (retention)",
	"purged-evidence":  "the message and its analysis were deleted (retention)",
	"erased":           "erased at your request",
	"deleted":          "deleted (retention)",
	"campaign-shared":  "shared with a partner authority",
	"shared":           "shared with a partner authority",
	"evidence-shared":  "shared with a partner authority",
	"received-partner": "received from a partner authority",
}

// groupingActions are custody entries of the desk's campaign grouping
// (a campaign merged, regrouped), left out of what a reporter's status
// link shows: they say nothing of the person's data, and would tell
// whoever sent a report crafted to bridge campaigns that the bridge
// worked (attack 11, F8).
var groupingActions = map[string]bool{"campaign-merged": true, "campaign-regrouped": true}

// holds fills the status page's account of what the desk holds.
func (s *Server) holds(r *http.Request, rep *intake.Report, token string) *privacyData {
	pd := s.privacyBase()
	pd.Token = token
	pd.ExportURL = "/r/" + rep.ID + "/export?t=" + url.QueryEscape(token)
	if rep.ReporterID != "" {
		pd.Address, _ = s.store.ReporterAddress(r.Context(), rep.ReporterID)
	}
	if c, err := s.store.Complaint(r.Context(), rep.ComplaintID); err == nil {
		pd.Complaint = c
	}
	if es, err := s.store.Custody(r.Context(), rep.ID); err == nil {
		for _, e := range es {
			if groupingActions[e.Action] {
				continue
			}
			what := actionWords[e.Action]
			if what == "" {
				what = e.Action
			}
			line := historyLine{At: e.At, Who: who(e.Actor), What: what, WhoID: "who_" + whoKey(e.Actor)}
			if _, ok := actionWords[e.Action]; ok {
				line.WhatID = "what_" + strings.ReplaceAll(e.Action, "-", "_")
			}
			pd.History = append(pd.History, line)
		}
	}
	at := rep.ReceivedAt
	if t := pd.Retention.Identity; t > 0 && pd.Complaint != nil && pd.Complaint.PurgedAt.IsZero() {
		pd.IdentityEnds = at.Add(t)
	}
	if t := pd.Retention.Evidence; t > 0 && rep.PurgedAt.IsZero() {
		pd.EvidenceEnds = at.Add(t)
	}
	if t := pd.Retention.Statistics; t > 0 {
		pd.ReportEnds = at.Add(t)
	}
	return pd
}

// myDataJSON is the download a reporter gets: everything the desk holds
// about their report, their complaint and them.
type myDataJSON struct {
	ExportedAt time.Time       `json:"exported_at"`
	Report     reportJSON      `json:"report"`
	Message    *blobJSON       `json:"message"`
	Complaint  myComplaintJSON `json:"complaint"`
	Address    string          `json:"your_address,omitempty"`
	History    []historyJSON   `json:"history"`
	Retention  map[string]int  `json:"retention_days"`
	Erased     *time.Time      `json:"erased_at,omitempty"`
}

type blobJSON struct {
	SHA256 string `json:"sha256"`
	Size   int    `json:"size"`
	Text   string `json:"text,omitempty"`   // When the bytes are UTF-8.
	Base64 []byte `json:"base64,omitempty"` // Otherwise.
}

type myComplaintJSON struct {
	ID         string         `json:"id"`
	ReceivedAt time.Time      `json:"received_at"`
	Channel    intake.Channel `json:"channel"`
	SHA256     string         `json:"sha256"`
	Bytes      *blobJSON      `json:"as_sent"`
	DeletedAt  *time.Time     `json:"deleted_at,omitempty"`
}

type historyJSON struct {
	At   time.Time `json:"at"`
	Who  string    `json:"who"`
	What string    `json:"what"`
}

func blob(sha string, b []byte) *blobJSON {
	if len(b) == 0 {
		return nil
	}
	x := &blobJSON{SHA256: sha, Size: len(b)}
	if utf8.Valid(b) {
		x.Text = string(b)
	} else {
		x.Base64 = b
	}
	return x
}

// statusPerReport is how many downloads and erasures a minute one
// report's status link gets: a person needs one or two.
const statusPerReport = 10

// limitStatus bounds what the holder of a status link does that writes
// to the custody log — a download, an erasure: per client address (the
// web form's bucket) and per report. Anyone can get a status link with
// one form post, so without it the link would be an anonymous, unbounded
// write path into the hash-chained log. Over the limit: 429 with
// Retry-After, and false.
func (s *Server) limitStatus(w http.ResponseWriter, r *http.Request) bool {
	okIP, waitIP := s.lim.formIP.Allow(s.lim.clientKey(r))
	okReport, waitReport := s.statusLimit.Allow(r.PathValue("id"))
	if okIP && okReport {
		return true
	}
	w.Header().Set("Retry-After", retryAfter(max(waitIP, waitReport)))
	s.publicMessage(w, r, http.StatusTooManyRequests, "wait_title", "wait_status")
	return false
}

func (s *Server) statusExport(w http.ResponseWriter, r *http.Request) {
	if !s.limitStatus(w, r) {
		return
	}
	id, t := r.PathValue("id"), r.URL.Query().Get("t")
	m, err := s.desk.Mine(r.Context(), id, t)
	if errors.Is(err, intake.ErrNotFound) {
		s.publicMessage(w, r, http.StatusNotFound, "not_found_title", "not_found_report")
		return
	}
	if err != nil {
		s.log.Error("reporter export", "id", id, "err", err)
		s.publicMessage(w, r, http.StatusInternalServerError, "try_later_title", "export_failed")
		return
	}
	pd := s.privacyBase()
	out := myDataJSON{ExportedAt: s.now().UTC(), Report: toJSON(m.Report), Message: blob(m.Report.SHA256, m.Report.Raw), Address: m.Address,
		Retention: map[string]int{"identity": pd.Days[0], "evidence": pd.Days[1], "statistics": pd.Days[2], "mail": pd.MailDays}}
	out.Report.Verdict = m.Report.Verdict
	c := m.Complaint
	out.Complaint = myComplaintJSON{ID: c.ID, ReceivedAt: c.ReceivedAt, Channel: c.Channel, SHA256: c.SHA256, Bytes: blob(c.SHA256, c.Raw)}
	if !c.PurgedAt.IsZero() {
		out.Complaint.DeletedAt = &c.PurgedAt
	}
	if !m.Report.ErasedAt.IsZero() {
		out.Erased = &m.Report.ErasedAt
	}
	for _, e := range m.Custody {
		if groupingActions[e.Action] {
			continue
		}
		what := actionWords[e.Action]
		if what == "" {
			what = e.Action
		}
		out.History = append(out.History, historyJSON{e.At, who(e.Actor), what})
	}
	b, _ := json.MarshalIndent(out, "", "  ")
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Disposition", `attachment; filename="my-report-`+id+`.json"`)
	w.Write(b)
}

func (s *Server) statusErase(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	r.ParseForm()
	id, t := r.PathValue("id"), r.FormValue("t")
	c, err := r.Cookie(csrfCookie)
	if err != nil || !s.checkCSRF(r, c.Value) {
		s.publicMessage(w, r, http.StatusForbidden, "expired_title", "expired_form")
		return
	}
	if r.FormValue("confirm") != "yes" {
		s.publicMessage(w, r, http.StatusBadRequest, "nothing_erased_title", "erase_unconfirmed")
		return
	}
	if !s.limitStatus(w, r) {
		return
	}
	e, err := s.desk.Erase(r.Context(), id, t)
	if errors.Is(err, intake.ErrNotFound) {
		s.publicMessage(w, r, http.StatusNotFound, "not_found_title", "not_found_report")
		return
	}
	if err != nil {
		s.log.Error("reporter erasure", "id", id, "err", err)
		s.publicMessage(w, r, http.StatusInternalServerError, "try_later_title", "erase_failed")
		return
	}
	s.log.Info("erased at the reporter's request", "report", id, "reports", e.Reports, "held", e.Held)
	http.Redirect(w, r, "/r/"+id+"?t="+url.QueryEscape(t)+"&erased=1", http.StatusSeeOther)
}
