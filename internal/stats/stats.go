// Package stats is the desk's statistics for targeting enforcement: reports
// per day, by origin country and network, sender and link domain, form,
// channel and finding, the top campaigns and the time to close a case —
// and their publication as CSV and JSON with small cells protected.
//
// Two views of one set of figures. The dashboard shows analysts exact
// counts (they may read every report anyway). An export is for people who
// may not: every count under MinCell is suppressed, every other count is
// perturbed by at most ±Noise with the cell-key method, and a filter that
// leaves fewer than MinCell reports suppresses the whole table.
//
// Suppression alone is defeated by differencing: export the reports of
// France, then of France and one network, and subtract. The cell-key
// method (after the Australian Bureau of Statistics' TableBuilder) gives
// each report a secret random key; a cell's noise is a function of the sum
// of its reports' keys, so the same reports always get the same noise
// (asking again averages nothing out) while two different sets get
// independent noise (their difference is blurred by up to twice Noise).
package stats

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/accord-antispam/accord/internal/intake"
)

// Dimension is what a table counts reports by.
type Dimension string

const (
	Day          Dimension = "day"           // "2026-11-03" (UTC).
	Country      Dimension = "country"       // Origin country.
	Network      Dimension = "network"       // Origin network: "AS64500 NAME".
	SenderDomain Dimension = "sender_domain" // From domain.
	LinkDomain   Dimension = "link_domain"   // Registrable domains linked (a report counts once per domain).
	Form         Dimension = "form"
	Channel      Dimension = "channel"
	Finding      Dimension = "finding" // Reason codes (a report counts once per finding).
	Campaign     Dimension = "campaign"
)

// Dimensions lists them in the dashboard's order.
var Dimensions = []Dimension{Day, Country, Network, SenderDomain, LinkDomain, Form, Channel, Finding, Campaign}

// ParseDimension reads a dimension name.
func ParseDimension(s string) (Dimension, error) {
	for _, d := range Dimensions {
		if string(d) == s {
			return d, nil
		}
	}
	return "", fmt.Errorf("stats: unknown dimension %q", s)
}

// Cell is a value and the reports that carry it.
type Cell struct {
	Value string
	Label string // For a campaign, its subject; else "".
	N     int
	Key   int64 // Sum of the reports' record keys (the cell key before reduction).
}

// Store counts reports. store/sqlstore implements it.
type Store interface {
	// Breakdown counts the reports matching f by d, largest first (days
	// in date order), at most limit cells (ErrLimit over MaxCells).
	Breakdown(ctx context.Context, f intake.Browse, d Dimension, limit int) ([]Cell, error)
	// Total counts the reports matching f.
	Total(ctx context.Context, f intake.Browse) (Cell, error)
	// CaseDurations gives, for cases closed in [from, to), the time from
	// their first event to their closing.
	CaseDurations(ctx context.Context, from, to time.Time) ([]time.Duration, error)
}

// Table is one dimension's counts.
type Table struct {
	Dimension Dimension `json:"dimension"`
	Rows      []Row     `json:"rows"`
	// Suppressed counts the cells not shown because they were small.
	Suppressed int `json:"suppressed_cells"`
}

// Row is one cell as shown. Count is nil when suppressed.
type Row struct {
	Value string `json:"value"`
	Label string `json:"label,omitempty"`
	Count *int   `json:"count"`
}

// Durations summarises the time to close a case.
type Durations struct {
	Closed   int            `json:"closed"` // Cases closed in the window.
	Median   *time.Duration `json:"-"`
	P90      *time.Duration `json:"-"`
	MedianH  *float64       `json:"median_hours"`
	P90H     *float64       `json:"p90_hours"`
	Buckets  []Row          `json:"buckets"` // "under 1 day", "1–7 days", "1–4 weeks", "over 4 weeks".
	Withheld bool           `json:"withheld,omitempty"`
}

// Report is a whole dashboard or export.
type Report struct {
	Filter    intake.Browse `json:"-"`
	Published bool          `json:"published"` // Small cells protected (an export).
	MinCell   int           `json:"min_cell,omitempty"`
	Noise     int           `json:"noise,omitempty"`
	Total     *int          `json:"total"`
	Withheld  bool          `json:"withheld"` // Fewer reports than MinCell matched: nothing is shown.
	Tables    []Table       `json:"tables"`
	Durations Durations     `json:"time_to_close"`
	From, To  time.Time     `json:"-"`
}

// Options choose what a Report holds.
type Options struct {
	Filter    intake.Browse
	Publish   bool // Protect small cells (exports); false: exact (the desk).
	MinCell   int  // Smallest count published (default 5).
	Noise     int  // Largest perturbation of a published count (default 2; 0: none).
	TopN      int  // Cells per dimension (default 20; days: all in range, up to 400).
	Durations bool // Include the time to close cases.
	Now       time.Time
}

// MaxCells is the most cells one breakdown returns; asking for more is
// ErrLimit, never a silently shorter table.
const MaxCells = 1000

// ErrLimit is returned for a breakdown over MaxCells.
var ErrLimit = errors.New("stats: a breakdown is at most 1000 cells")

// ErrRange is returned for a date range the statistics will not cover.
var ErrRange = errors.New("stats: a statistics range is at most 400 days")

// Build computes a Report.
func Build(ctx context.Context, st Store, o Options) (*Report, error) {
	if o.MinCell <= 0 {
		o.MinCell = 5
	}
	if o.Noise < 0 {
		o.Noise = 0
	}
	if o.TopN <= 0 {
		o.TopN = 20
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	// Without a range, the last 30 days; a range is at most 400 days
	// (the day table lists each).
	f := o.Filter
	if f.To.IsZero() {
		f.To = o.Now.UTC().Truncate(24*time.Hour).AddDate(0, 0, 1)
	}
	if f.From.IsZero() {
		f.From = f.To.AddDate(0, 0, -30)
	}
	if f.To.Sub(f.From) > 400*24*time.Hour {
		return nil, ErrRange
	}
	if err := f.Check(); err != nil {
		return nil, err
	}
	rep := &Report{Filter: f, Published: o.Publish, From: f.From, To: f.To}
	if o.Publish {
		rep.MinCell, rep.Noise = o.MinCell, o.Noise
	}
	total, err := st.Total(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("stats: total: %w", err)
	}
	if o.Publish && total.N < o.MinCell {
		rep.Withheld = true
		rep.Tables = []Table{}
		rep.Durations.Withheld = true
		return rep, nil
	}
	rep.Total = show(total, o)
	for _, d := range Dimensions {
		limit := o.TopN
		if d == Day {
			limit = 400
		}
		cells, err := st.Breakdown(ctx, f, d, limit)
		if err != nil {
			return nil, fmt.Errorf("stats: by %s: %w", d, err)
		}
		if d == Day && !o.Publish {
			cells = everyDay(cells, f.From, f.To)
		}
		t := Table{Dimension: d, Rows: []Row{}}
		for _, c := range cells {
			n := show(c, o)
			if n == nil {
				t.Suppressed++
				if d != Day {
					continue // a list of small values would name them
				}
			}
			label := c.Label
			if o.Publish && d == Campaign {
				// A campaign's label is its spam's subject, which often
				// names the recipient ("Jane Doe, jane@…: you won"): for
				// the desk's own eyes, never published. Its id stays.
				label = ""
			}
			t.Rows = append(t.Rows, Row{Value: c.Value, Label: label, Count: n})
		}
		rep.Tables = append(rep.Tables, t)
	}
	if o.Durations {
		ds, err := st.CaseDurations(ctx, f.From, f.To)
		if err != nil {
			return nil, fmt.Errorf("stats: case durations: %w", err)
		}
		rep.Durations = summarise(ds, o)
	}
	return rep, nil
}

// show is the count of a cell as the report shows it: exact on the desk;
// in an export nil under MinCell, else perturbed (never below MinCell).
func show(c Cell, o Options) *int {
	n := c.N
	if !o.Publish {
		return &n
	}
	if n < o.MinCell {
		return nil
	}
	n += Perturb(c.Key, n, o.Noise)
	if n < o.MinCell {
		n = o.MinCell
	}
	return &n
}

// Perturb is a cell's noise in [-noise, +noise]: a fixed function of the
// cell key (reduced mod 256) and the count, so the same reports always
// get the same noise.
func Perturb(key int64, n, noise int) int {
	if noise <= 0 {
		return 0
	}
	k := uint64(((key % 256) + 256) % 256)
	// Mix the count in, so cells of one key but different sizes differ;
	// then spread evenly over 2*noise+1 values.
	h := (k*0x9E3779B1 ^ uint64(n)*0x85EBCA77) & 0xffffffff
	h ^= h >> 15
	h = (h * 0x2C1B3C6D) & 0xffffffff
	h ^= h >> 12
	return int(h%uint64(2*noise+1)) - noise
}

func summarise(ds []time.Duration, o Options) Durations {
	out := Durations{Closed: len(ds), Buckets: []Row{}}
	if o.Publish && len(ds) < o.MinCell {
		out.Withheld, out.Closed = true, 0
		return out
	}
	if len(ds) == 0 {
		return out
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	med, p90 := s[(len(s)-1)/2], s[(len(s)*9+9)/10-1]
	out.Median, out.P90 = &med, &p90
	mh, ph := med.Hours(), p90.Hours()
	out.MedianH, out.P90H = &mh, &ph
	bounds := []struct {
		name string
		max  time.Duration
	}{{"under 1 day", 24 * time.Hour}, {"1-7 days", 7 * 24 * time.Hour}, {"1-4 weeks", 28 * 24 * time.Hour}, {"over 4 weeks", 1 << 62}}
	i := 0
	for _, b := range bounds {
		c := Cell{Value: b.name}
		for i < len(s) && s[i] < b.max {
			c.N++
			c.Key += int64(s[i] / time.Second) // the durations themselves key the cell
			i++
		}
		out.Buckets = append(out.Buckets, Row{Value: b.name, Count: show(c, o)})
	}
	return out
}

// everyDay fills the days without reports with zeros, so the series shows
// its gaps (the desk's view; an export lists the days that have reports).
func everyDay(cells []Cell, from, to time.Time) []Cell {
	have := map[string]Cell{}
	for _, c := range cells {
		have[c.Value] = c
	}
	var out []Cell
	for d := from.UTC().Truncate(24 * time.Hour); d.Before(to); d = d.AddDate(0, 0, 1) {
		v := d.Format("2006-01-02")
		c, ok := have[v]
		if !ok {
			c = Cell{Value: v}
		}
		out = append(out, c)
	}
	return out
}
