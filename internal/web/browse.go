package web

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/accord-antispam/accord/internal/analysis"
	"github.com/accord-antispam/accord/internal/cases"
	"github.com/accord-antispam/accord/internal/intake"
)

// browseKeys are the query parameters of the lists' filters, the same in
// the API and the desk.
var browseKeys = []string{"from", "to", "country", "network", "sender_domain", "link_domain", "finding", "form", "channel", "status", "q"}

// parseBrowse reads the filters of a list from the query: dates as
// YYYY-MM-DD (to is inclusive: the whole day) or RFC 3339, network as a
// number with or without "AS".
func parseBrowse(q url.Values) (intake.Browse, error) {
	var b intake.Browse
	var err error
	day := func(name string, v string, end bool) (time.Time, error) {
		if v == "" {
			return time.Time{}, nil
		}
		if t, err := time.Parse("2006-01-02", v); err == nil {
			if end {
				t = t.AddDate(0, 0, 1)
			}
			return t, nil
		}
		if t, err := time.Parse(time.RFC3339, v); err == nil {
			return t.UTC(), nil
		}
		return time.Time{}, fmt.Errorf("%w: %s %q: want a date such as 2026-11-03", intake.ErrBadFilter, name, v)
	}
	if b.From, err = day("from", q.Get("from"), false); err != nil {
		return b, err
	}
	if b.To, err = day("to", q.Get("to"), true); err != nil {
		return b, err
	}
	if v := strings.TrimSpace(q.Get("country")); v != "" {
		if len(v) != 2 || !isLetters(v) {
			return b, fmt.Errorf("%w: country %q: want a two-letter code such as FR", intake.ErrBadFilter, v)
		}
		b.Country = strings.ToUpper(v)
	}
	if v := strings.TrimPrefix(strings.ToUpper(strings.TrimSpace(q.Get("network"))), "AS"); v != "" {
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil || n == 0 {
			return b, fmt.Errorf("%w: network %q: want a network number such as AS64500", intake.ErrBadFilter, q.Get("network"))
		}
		b.ASN = int(n)
	}
	b.SenderDomain = strings.ToLower(strings.TrimSpace(q.Get("sender_domain")))
	b.LinkDomain = strings.ToLower(strings.TrimSpace(q.Get("link_domain")))
	b.Finding = strings.TrimSpace(q.Get("finding"))
	if b.Finding != "" && !slices.Contains(analysis.ReasonCodes, analysis.ReasonCode(b.Finding)) {
		codes := make([]string, len(analysis.ReasonCodes))
		for i, c := range analysis.ReasonCodes {
			codes[i] = string(c)
		}
		return b, fmt.Errorf("%w: finding %q: want a reason code (%s)", intake.ErrBadFilter, b.Finding, strings.Join(codes, ", "))
	}
	b.Form = strings.TrimSpace(q.Get("form"))
	switch ch := intake.Channel(strings.TrimSpace(q.Get("channel"))); ch {
	case "", intake.ChannelSMTP, intake.ChannelAPI, intake.ChannelWeb:
		b.Channel = ch
	default:
		return b, fmt.Errorf("%w: channel %q: want smtp, api or web", intake.ErrBadFilter, ch)
	}
	if v := strings.TrimSpace(q.Get("status")); v != "" {
		st, err := cases.ParseStatus(v)
		if err != nil {
			return b, fmt.Errorf("%w: %v", intake.ErrBadFilter, err)
		}
		b.Status = string(st)
	}
	b.Subject = strings.TrimSpace(q.Get("q"))
	for _, v := range []string{b.SenderDomain, b.LinkDomain, b.Finding, b.Form} {
		if len(v) > 253 {
			return b, fmt.Errorf("%w: a filter value is at most 253 bytes", intake.ErrBadFilter)
		}
	}
	return b, b.Check()
}

func isLetters(s string) bool {
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

// pageLimit reads ?limit= (default def, at most 1000).
func pageLimit(q url.Values, def int) (int, error) {
	v := q.Get("limit")
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 1000 {
		return 0, fmt.Errorf("%w: limit %q: want 1 to 1000", intake.ErrBadFilter, v)
	}
	return n, nil
}

// nextLink is the URL of the next page: the same filters and the cursor.
func nextLink(path string, q url.Values, c intake.Cursor) string {
	if c.IsZero() {
		return ""
	}
	n := url.Values{}
	for k, vs := range q {
		if k != "after" && len(vs) > 0 && vs[0] != "" {
			n.Set(k, vs[0])
		}
	}
	n.Set("after", c.Encode())
	return path + "?" + n.Encode()
}

type reportRowJSON struct {
	ID         string         `json:"id"`
	ReceivedAt time.Time      `json:"received_at"`
	Channel    intake.Channel `json:"channel"`
	Form       string         `json:"form"`
	Subject    string         `json:"subject"`
	FromDomain string         `json:"from_domain"`
	OriginIP   string         `json:"origin_ip"`
	Country    string         `json:"country"`
	ASN        int            `json:"asn"`
	SpamScore  *float64       `json:"spam_score"`
	CampaignID string         `json:"campaign_id"`
}

// apiReports lists reports, newest first, with the filters and a cursor.
func (s *Server) apiReports(w http.ResponseWriter, r *http.Request) {
	f, err := s.reportFilter(r.URL.Query(), 100)
	var rows []intake.ReportSummary
	if err == nil {
		rows, err = s.store.Reports(r.Context(), f)
	}
	var merged *intake.MergedError
	if errors.As(err, &merged) {
		// The same list, of the campaign that holds its reports now.
		q := r.URL.Query()
		q.Set("campaign", merged.Into)
		w.Header().Set("Location", "/api/v1/reports?"+q.Encode())
		writeJSON(w, http.StatusPermanentRedirect, map[string]any{"error": map[string]string{"code": "merged",
			"message": "campaign " + merged.ID + " was merged into " + merged.Into + ": its reports are that campaign's"},
			"merged_into": merged.Into})
		return
	}
	out := make([]reportRowJSON, 0, len(rows))
	for _, x := range rows {
		row := reportRowJSON{x.ID, x.ReceivedAt, x.Channel, x.Form, x.Subject, x.FromDomain, x.OriginIP, x.Country, x.ASN, nil, x.CampaignID}
		if x.SpamScore >= 0 {
			sc := x.SpamScore
			row.SpamScore = &sc
		}
		out = append(out, row)
	}
	s.writeList(w, r, "reports", out, err, len(rows) == f.Limit, func() intake.Cursor { return intake.NextReports(rows) })
}

// writeList answers one page of a list endpoint, or its error: a bad
// filter is the caller's (400, with the reason), anything else is ours
// (500, logged, with no detail). A full page carries the link to the next.
func (s *Server) writeList(w http.ResponseWriter, r *http.Request, name string, page any, err error, full bool, cursor func() intake.Cursor) {
	if errors.Is(err, intake.ErrBadFilter) {
		apiError(w, http.StatusBadRequest, "bad-filter", err.Error())
		return
	}
	if err != nil {
		s.log.Error("list "+name, "err", err)
		apiError(w, http.StatusInternalServerError, "store-failed", name+" could not be read")
		return
	}
	res := map[string]any{name: page}
	if full {
		res["next"] = nextLink("/api/v1/"+name, r.URL.Query(), cursor())
	}
	writeJSON(w, http.StatusOK, res)
}

func (s *Server) reportFilter(q url.Values, def int) (intake.ReportFilter, error) {
	var f intake.ReportFilter
	var err error
	if f.Browse, err = parseBrowse(q); err != nil {
		return f, err
	}
	if f.Limit, err = pageLimit(q, def); err != nil {
		return f, err
	}
	if f.After, err = intake.ParseCursor(q.Get("after")); err != nil {
		return f, err
	}
	f.CampaignID = strings.TrimSpace(q.Get("campaign"))
	return f, nil
}

func (s *Server) campaignFilter(q url.Values, def int) (intake.CampaignFilter, error) {
	var f intake.CampaignFilter
	var err error
	if f.Browse, err = parseBrowse(q); err != nil {
		return f, err
	}
	if f.Limit, err = pageLimit(q, def); err != nil {
		return f, err
	}
	if f.After, err = intake.ParseCursor(q.Get("after")); err != nil {
		return f, err
	}
	if v := q.Get("min_reports"); v != "" {
		if f.MinCount, err = strconv.Atoi(v); err != nil || f.MinCount < 1 {
			return f, fmt.Errorf("%w: min_reports %q: want a positive number", intake.ErrBadFilter, v)
		}
	}
	return f, nil
}

type campaignJSON struct {
	ID        string    `json:"id"`
	Reports   int       `json:"reports"`
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
	Subject   string    `json:"subject"`
	Status    string    `json:"status"`
	Assignee  string    `json:"assignee"`
	// NewSinceClosed: reports arrived after its case was closed.
	NewSinceClosed bool `json:"new_since_closed"`
}

// apiCampaigns lists campaigns, biggest first, with the filters and a
// cursor.
func (s *Server) apiCampaigns(w http.ResponseWriter, r *http.Request) {
	f, err := s.campaignFilter(r.URL.Query(), 100)
	var cs []intake.CampaignSummary
	if err == nil {
		cs, err = s.store.Campaigns(r.Context(), f)
	}
	out := make([]campaignJSON, 0, len(cs))
	for _, c := range cs {
		out = append(out, campaignJSON{c.ID, c.Reports, c.FirstSeen, c.LastSeen, c.Subject, c.Status, c.Assignee, c.NewSinceClosed()})
	}
	s.writeList(w, r, "campaigns", out, err, len(cs) == f.Limit, func() intake.Cursor { return intake.NextCampaigns(cs) })
}

// browseData is what the desk's list pages show.
type browseData struct {
	Q         url.Values
	Statuses  []cases.Status
	Channels  []intake.Channel
	Forms     []string
	Next      string
	Reports   []intake.ReportSummary
	Campaigns []intake.CampaignSummary
	Filtered  bool
}

func newBrowseData(q url.Values) *browseData {
	return &browseData{Q: q, Statuses: cases.Statuses, Channels: []intake.Channel{intake.ChannelSMTP, intake.ChannelAPI, intake.ChannelWeb},
		Forms: []string{intake.FormRaw, intake.FormARF, intake.FormXARF, intake.FormAttached, intake.FormInlineForward, intake.FormPaste}}
}

func (s *Server) deskReportsPage(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r.Context())
	q := r.URL.Query()
	d := pageData{Title: "Reports", User: p.ID, CSRF: sessionOf(r.Context()).CSRF, Authority: s.authority(p.Role), Browse: newBrowseData(q)}
	f, err := s.reportFilter(q, 50)
	if err == nil {
		d.Browse.Reports, err = s.store.Reports(r.Context(), f)
	}
	status := http.StatusOK
	var merged *intake.MergedError
	switch {
	case errors.As(err, &merged):
		q.Set("campaign", merged.Into)
		q.Set("merged", merged.ID)
		http.Redirect(w, r, "/desk/reports?"+q.Encode(), http.StatusSeeOther)
		return
	case errors.Is(err, intake.ErrBadFilter):
		d.Error, status = strings.TrimPrefix(err.Error(), intake.ErrBadFilter.Error()+": "), http.StatusBadRequest
	case err != nil:
		s.log.Error("list reports", "err", err)
		d.Error, status = "The reports could not be read.", http.StatusInternalServerError
	case len(d.Browse.Reports) == f.Limit:
		d.Browse.Next = nextLink("/desk/reports", q, intake.NextReports(d.Browse.Reports))
	}
	if m := q.Get("merged"); m != "" {
		// The notice says only what is so: m was merged into the campaign
		// listed (a link could carry any words in merged=).
		var me *intake.MergedError
		if _, err := s.store.Campaign(r.Context(), m); !errors.As(err, &me) || me.Into != f.CampaignID {
			d.Browse.Q = cloneValues(q)
			d.Browse.Q.Del("merged")
		}
	}
	d.Browse.Filtered = !f.Browse.Empty() || f.CampaignID != ""
	s.page(w, status, "reports", d)
}

func (s *Server) deskCampaignsPage(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r.Context())
	q := r.URL.Query()
	d := pageData{Title: "Campaigns", User: p.ID, CSRF: sessionOf(r.Context()).CSRF, Authority: s.authority(p.Role), Browse: newBrowseData(q)}
	f, err := s.campaignFilter(q, 50)
	if err == nil {
		d.Browse.Campaigns, err = s.store.Campaigns(r.Context(), f)
	}
	status := http.StatusOK
	switch {
	case errors.Is(err, intake.ErrBadFilter):
		d.Error, status = strings.TrimPrefix(err.Error(), intake.ErrBadFilter.Error()+": "), http.StatusBadRequest
	case err != nil:
		s.log.Error("list campaigns", "err", err)
		d.Error, status = "The campaigns could not be read.", http.StatusInternalServerError
	case len(d.Browse.Campaigns) == f.Limit:
		d.Browse.Next = nextLink("/desk/campaigns", q, intake.NextCampaigns(d.Browse.Campaigns))
	}
	d.Browse.Filtered = !f.Browse.Empty()
	s.page(w, status, "campaigns", d)
}
