package web

import (
	"bytes"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/accord-antispam/accord/internal/access"
	"github.com/accord-antispam/accord/internal/intake"
	"github.com/accord-antispam/accord/internal/stats"
)

// The statistics that target enforcement: a dashboard for the desk (exact
// figures, charts drawn in the browser by the vendored Chart.js from a
// same-origin JSON endpoint) and exports for publication (CSV and JSON,
// small cells suppressed and the rest perturbed: see package stats).

// dashboardCSP lets the dashboard run the node's own scripts (Chart.js and
// dashboard.js) and nothing else: no inline script, no eval, no other origin.
const dashboardCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

type statsData struct {
	Q       url.Values
	Report  *stats.Report
	Data    string // The JSON endpoint for the charts, with the filters.
	CSV     string // Export links, with the filters.
	JSON    string
	Tables  []statsTable
	Browse  *browseData
	MinCell int
	Noise   int
}

type statsTable struct {
	stats.Table
	Title string
	ID    string
}

func (s *Server) statsStore() (stats.Store, bool) {
	st, ok := s.store.(stats.Store)
	return st, ok
}

// statsOptions reads the filters; the range defaults to the last 30 days.
func (s *Server) statsOptions(q url.Values, publish bool) (stats.Options, error) {
	b, err := parseBrowse(q)
	if err != nil {
		return stats.Options{}, err
	}
	return stats.Options{Filter: b, Publish: publish, MinCell: s.cfg.StatsMinCell, Noise: s.cfg.StatsNoise, Durations: true, Now: s.now()}, nil
}

func (s *Server) buildStats(r *http.Request, publish bool) (*stats.Report, int, string) {
	st, ok := s.statsStore()
	if !ok {
		return nil, http.StatusNotImplemented, "this node's store keeps no statistics"
	}
	o, err := s.statsOptions(r.URL.Query(), publish)
	if err == nil {
		var rep *stats.Report
		if rep, err = stats.Build(r.Context(), st, o); err == nil {
			return rep, http.StatusOK, ""
		}
	}
	switch {
	case errors.Is(err, intake.ErrBadFilter):
		return nil, http.StatusBadRequest, strings.TrimPrefix(err.Error(), intake.ErrBadFilter.Error()+": ")
	case errors.Is(err, stats.ErrRange):
		return nil, http.StatusBadRequest, "a statistics range is at most 400 days"
	}
	s.log.Error("statistics", "err", err)
	return nil, http.StatusInternalServerError, "the statistics could not be computed"
}

func (s *Server) statsPage(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r.Context())
	q := r.URL.Query()
	d := pageData{Title: "Statistics", User: p.ID, CSRF: sessionOf(r.Context()).CSRF, Authority: s.authority(p.Role) && s.cfg.Federation != nil}
	rep, status, msg := s.buildStats(r, false)
	sd := &statsData{Q: q, Browse: newBrowseData(q), MinCell: s.cfg.StatsMinCell, Noise: s.cfg.StatsNoise}
	enc := q.Encode()
	sd.Data, sd.CSV, sd.JSON = "/desk/stats/data?"+enc, "/desk/stats/export.csv?"+enc, "/desk/stats/export.json?"+enc
	if rep != nil {
		sd.Report = rep
		for _, t := range rep.Tables {
			sd.Tables = append(sd.Tables, statsTable{Table: t, Title: stats.Label(t.Dimension), ID: "t-" + string(t.Dimension)})
		}
		// The form shows the range the figures cover.
		if q.Get("from") == "" {
			sd.Q = cloneValues(q)
			sd.Q.Set("from", rep.From.Format("2006-01-02"))
			sd.Q.Set("to", rep.To.Add(-time.Nanosecond).Format("2006-01-02"))
			sd.Browse.Q = sd.Q
		}
	}
	d.Stats, d.Error = sd, msg
	w.Header().Set("Content-Security-Policy", dashboardCSP)
	s.page(w, status, "stats", d)
}

func cloneValues(q url.Values) url.Values {
	out := url.Values{}
	for k, v := range q {
		out[k] = append([]string(nil), v...)
	}
	return out
}

// statsData serves the dashboard's exact figures to its script.
func (s *Server) statsDataJSON(w http.ResponseWriter, r *http.Request) {
	rep, status, msg := s.buildStats(r, false)
	if rep == nil {
		apiError(w, status, "bad-filter", msg)
		return
	}
	s.writeStats(w, rep, "json", false)
}

// statsExport serves the figures for publication, as format.
func (s *Server) statsExport(format string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		f := format
		if f == "" {
			f = r.URL.Query().Get("format")
		}
		if f == "" {
			f = "json"
		}
		if f != "json" && f != "csv" {
			apiError(w, http.StatusBadRequest, "bad-format", "format is json or csv")
			return
		}
		rep, status, msg := s.buildStats(r, true)
		if rep == nil {
			code := "bad-filter"
			if status >= 500 {
				code = "store-failed"
			}
			apiError(w, status, code, msg)
			return
		}
		s.writeStats(w, rep, f, true)
	}
}

func (s *Server) writeStats(w http.ResponseWriter, rep *stats.Report, format string, download bool) {
	var buf bytes.Buffer
	var err error
	if format == "csv" {
		err = stats.WriteCSV(&buf, rep)
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	} else {
		err = stats.WriteJSON(&buf, rep)
		w.Header().Set("Content-Type", "application/json")
	}
	if err != nil {
		s.log.Error("write statistics", "err", err)
		apiError(w, http.StatusInternalServerError, "export-failed", "the statistics could not be written")
		return
	}
	if download {
		w.Header().Set("Content-Disposition", `attachment; filename="accord-statistics-`+rep.From.Format("20060102")+"-"+
			rep.To.Add(-time.Nanosecond).Format("20060102")+"."+format+`"`)
	}
	w.Write(buf.Bytes())
}

// metricsHandler serves /metrics to a monitoring token (role metrics) or
// an admin token.
func (s *Server) metricsHandler(w http.ResponseWriter, r *http.Request) {
	p, _ := s.principal(r)
	switch {
	case p.Kind != "token":
		w.Header().Set("WWW-Authenticate", `Bearer realm="accord"`)
		apiError(w, http.StatusUnauthorized, "auth-required", "/metrics needs a token of role metrics: accord token create --role metrics")
		return
	case !(p.Role == access.Metrics || p.Role.AtLeast(access.Admin)):
		// A valid token of another role: known, but not allowed (as
		// elsewhere in the API), not "who are you".
		apiError(w, http.StatusForbidden, "forbidden", "/metrics needs a token of role metrics (or admin); this one is "+string(p.Role))
		return
	}
	s.tokenUsed(r, p) // its last use, as every other token's (accord token list)
	s.cfg.Metrics.Handler().ServeHTTP(w, r)
}
