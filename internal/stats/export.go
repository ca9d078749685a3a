package stats

import (
	"encoding/csv"
	"encoding/json"
	"io"
	"strconv"

	"time"
)

// CSVSafe makes a text cell safe to open in a spreadsheet: a value that
// starts like a formula (=, +, -, @, tab, carriage return) gets a leading
// apostrophe, so "=HYPERLINK(…)" in a subject or domain stays text
// (OWASP's advice against CSV injection).
func CSVSafe(s string) string {
	if s == "" {
		return s
	}
	switch s[0] {
	case '=', '+', '-', '@', '\t', '\r', '\n':
		return "'" + s
	}
	return s
}

// WriteCSV writes the report as one CSV table: dimension, value, label,
// count ("suppressed" for a small cell), after comment-free header lines
// saying what the figures are.
func WriteCSV(w io.Writer, r *Report) error {
	cw := csv.NewWriter(w)
	put := func(rec ...string) {
		for i := range rec {
			rec[i] = CSVSafe(rec[i])
		}
		cw.Write(rec)
	}
	put("dimension", "value", "label", "count")
	put("range", r.From.Format("2006-01-02"), r.To.Add(-time.Nanosecond).Format("2006-01-02"), "")
	for _, f := range filterRows(r) {
		put("filter", f[0], f[1], "")
	}
	if r.Published {
		put("protection", "min_cell", "", strconv.Itoa(r.MinCell))
		put("protection", "noise", "", strconv.Itoa(r.Noise))
	}
	if r.Withheld {
		put("total", "", "withheld: fewer reports than the smallest publishable count", "")
		cw.Flush()
		return cw.Error()
	}
	put("total", "", "", count(r.Total))
	for _, t := range r.Tables {
		for _, row := range t.Rows {
			put(string(t.Dimension), row.Value, row.Label, count(row.Count))
		}
		if t.Suppressed > 0 {
			put(string(t.Dimension), "", "cells suppressed", strconv.Itoa(t.Suppressed))
		}
	}
	if d := r.Durations; d.Withheld {
		put("time_to_close", "", "withheld: fewer closed cases than the smallest publishable count", "")
	} else if d.Closed > 0 {
		put("time_to_close", "closed", "", strconv.Itoa(d.Closed))
		put("time_to_close", "median_hours", "", strconv.FormatFloat(*d.MedianH, 'f', 1, 64))
		put("time_to_close", "p90_hours", "", strconv.FormatFloat(*d.P90H, 'f', 1, 64))
		for _, b := range d.Buckets {
			put("time_to_close", b.Value, "", count(b.Count))
		}
	}
	cw.Flush()
	return cw.Error()
}

func count(n *int) string {
	if n == nil {
		return "suppressed"
	}
	return strconv.Itoa(*n)
}

func filterRows(r *Report) [][2]string {
	f := r.Filter
	var out [][2]string
	add := func(k, v string) {
		if v != "" {
			out = append(out, [2]string{k, v})
		}
	}
	add("country", f.Country)
	if f.ASN != 0 {
		add("network", "AS"+strconv.Itoa(f.ASN))
	}
	add("sender_domain", f.SenderDomain)
	add("link_domain", f.LinkDomain)
	add("finding", f.Finding)
	add("form", f.Form)
	add("channel", string(f.Channel))
	add("status", f.Status)
	add("q", f.Subject)
	return out
}

// WriteJSON writes the report as JSON.
func WriteJSON(w io.Writer, r *Report) error {
	type out struct {
		*Report
		From    string            `json:"from"`
		To      string            `json:"to"`
		Filters map[string]string `json:"filters"`
	}
	o := out{Report: r, From: r.From.Format("2006-01-02"), To: r.To.Add(-time.Nanosecond).Format("2006-01-02"), Filters: map[string]string{}}
	for _, f := range filterRows(r) {
		o.Filters[f[0]] = f[1]
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(o)
}

// Label is a short human name for a dimension.
func Label(d Dimension) string {
	return map[Dimension]string{Day: "Reports per day", Country: "Origin countries", Network: "Origin networks",
		SenderDomain: "Sender domains", LinkDomain: "Link domains", Form: "How reports came", Channel: "Channels",
		Finding: "Findings", Campaign: "Top campaigns"}[d]
}
