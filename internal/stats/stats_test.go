package stats

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/accord-antispam/accord/internal/intake"
)

// rec is one report of the fake store.
type rec struct {
	country, network, campaign, label string
	key                               int64
	at                                time.Time
}

// fake counts in memory, like the SQL store: filters by country and
// network, keys summed per cell.
type fake struct {
	recs []rec
	durs []time.Duration
}

func (f *fake) match(b intake.Browse, r rec) bool {
	return (b.Country == "" || b.Country == r.country) && (b.ASN == 0 || "AS"+itoa(b.ASN) == r.network) &&
		(b.From.IsZero() || !r.at.Before(b.From)) && (b.To.IsZero() || r.at.Before(b.To))
}

func itoa(n int) string { return strconv.Itoa(n) }

func (f *fake) Breakdown(_ context.Context, b intake.Browse, d Dimension, limit int) ([]Cell, error) {
	m := map[string]*Cell{}
	var order []string
	for _, r := range f.recs {
		if !f.match(b, r) {
			continue
		}
		v, l := "", ""
		switch d {
		case Country:
			v = r.country
		case Network:
			v, l = r.network, "Example Networks "+r.network
		case Campaign:
			v, l = r.campaign, r.label
		case Day:
			v = r.at.Format("2006-01-02")
		default:
			continue
		}
		if m[v] == nil {
			m[v] = &Cell{Value: v, Label: l}
			order = append(order, v)
		}
		m[v].N++
		m[v].Key += r.key
	}
	var out []Cell
	for _, v := range order {
		out = append(out, *m[v])
	}
	return out, nil
}

func (f *fake) Total(_ context.Context, b intake.Browse) (Cell, error) {
	var c Cell
	for _, r := range f.recs {
		if f.match(b, r) {
			c.N++
			c.Key += r.key
		}
	}
	return c, nil
}

func (f *fake) CaseDurations(context.Context, time.Time, time.Time) ([]time.Duration, error) {
	return f.durs, nil
}

var now = time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)

func table(r *Report, d Dimension) Table {
	for _, t := range r.Tables {
		if t.Dimension == d {
			return t
		}
	}
	return Table{}
}

func TestExactAndPublished(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	f := &fake{}
	add := func(country string, n int) {
		for i := 0; i < n; i++ {
			f.recs = append(f.recs, rec{country: country, network: "AS1", campaign: "c1", label: "=HYPERLINK(\"http://x.example\",\"x\")",
				key: rng.Int64N(256), at: now.Add(-time.Hour)})
		}
	}
	add("FR", 40)
	add("DE", 12)
	add("LU", 2) // a small cell: two people in Luxembourg
	exact, err := Build(context.Background(), f, Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if *exact.Total != 54 || len(table(exact, Country).Rows) != 3 || *table(exact, Country).Rows[2].Count != 2 {
		t.Fatalf("exact: %+v", table(exact, Country))
	}
	pub, err := Build(context.Background(), f, Options{Now: now, Publish: true, MinCell: 5, Noise: 2})
	if err != nil {
		t.Fatal(err)
	}
	ct := table(pub, Country)
	if len(ct.Rows) != 2 || ct.Suppressed != 1 {
		t.Fatalf("the small cell is shown: %+v", ct)
	}
	for _, r := range ct.Rows {
		if r.Value == "LU" {
			t.Fatal("LU listed")
		}
		want := map[string]int{"FR": 40, "DE": 12}[r.Value]
		if d := *r.Count - want; d < -2 || d > 2 {
			t.Errorf("%s perturbed by %d", r.Value, d)
		}
	}
	// The same query gives the same figures: asking again averages nothing.
	again, _ := Build(context.Background(), f, Options{Now: now, Publish: true, MinCell: 5, Noise: 2})
	if *again.Total != *pub.Total || *table(again, Country).Rows[0].Count != *ct.Rows[0].Count {
		t.Error("the noise changed between two identical queries")
	}
	// A filter that leaves only the small cell withholds everything.
	lu, _ := Build(context.Background(), f, Options{Now: now, Publish: true, Filter: intake.Browse{Country: "LU"}})
	if !lu.Withheld || lu.Total != nil || len(lu.Tables) != 0 {
		t.Errorf("filtered to a small cell: %+v", lu)
	}
	var buf bytes.Buffer
	if err := WriteCSV(&buf, lu); err != nil || strings.Contains(buf.String(), "LU,") && strings.Contains(buf.String(), ",2\n") {
		t.Errorf("withheld CSV: %v\n%s", err, buf.String())
	}
	// CSV: a formula in a label stays text, and the file parses.
	buf.Reset()
	if err := WriteCSV(&buf, pub); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range recs {
		for _, cell := range r {
			if strings.HasPrefix(cell, "=") || strings.HasPrefix(cell, "+") || strings.HasPrefix(cell, "@") {
				t.Errorf("CSV cell starts a formula: %q", cell)
			}
		}
		if r[0] == "campaign" {
			found = true
			if r[2] != "" {
				t.Errorf("a published campaign carries its subject: %q", r[2])
			}
		}
	}
	if !found {
		t.Errorf("no campaign in the published CSV:\n%v", recs)
	}
	// Other labels (a network's name) are published (the attack review,
	// F5: every label was dropped).
	if nt := table(pub, Network); len(nt.Rows) != 1 || nt.Rows[0].Label != "Example Networks AS1" {
		t.Errorf("a network's name is not published: %+v", nt)
	}
	// The desk's exact figures keep the label, as text, never a formula.
	buf.Reset()
	if err := WriteCSV(&buf, exact); err != nil || !strings.Contains(buf.String(), `campaign,c1,"'=HYPERLINK(""http://x.example"",""x"")",54`) {
		t.Errorf("campaign label not kept as text: %v\n%s", err, buf.String())
	}
	buf.Reset()
	if err := WriteJSON(&buf, pub); err != nil || !json.Valid(buf.Bytes()) || strings.Contains(buf.String(), `"LU"`) {
		t.Errorf("JSON export: %v %s", err, buf.String())
	}
}

// TestDifferencingAttack plays the attacker who subtracts two exports to
// learn a cell the desk suppressed: France, then France in network AS1;
// the difference is France outside AS1, a small cell. Without noise the
// subtraction always gives the truth; with the cell-key noise it mostly
// does not, and the truth cannot be told from its neighbours.
func TestDifferencingAttack(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	hits, hitsExact := 0, 0
	const trials = 400
	for i := 0; i < trials; i++ {
		f := &fake{}
		small := 1 + rng.IntN(4) // 1..4 reports: must stay secret
		big := 10 + rng.IntN(40)
		for j := 0; j < big; j++ {
			f.recs = append(f.recs, rec{country: "FR", network: "AS1", key: rng.Int64N(256), at: now.Add(-time.Hour)})
		}
		for j := 0; j < small; j++ {
			f.recs = append(f.recs, rec{country: "FR", network: "AS2", key: rng.Int64N(256), at: now.Add(-time.Hour)})
		}
		for _, noise := range []int{0, 2} {
			o := Options{Now: now, Publish: true, MinCell: 5, Noise: noise}
			o.Filter = intake.Browse{Country: "FR"}
			all, _ := Build(context.Background(), f, o)
			o.Filter = intake.Browse{Country: "FR", ASN: 1}
			part, _ := Build(context.Background(), f, o)
			if *all.Total-*part.Total == small {
				if noise == 0 {
					hitsExact++
				} else {
					hits++
				}
			}
		}
	}
	if hitsExact != trials {
		t.Fatalf("without noise the attack found %d of %d (the test is wrong)", hitsExact, trials)
	}
	if float64(hits)/trials > 0.3 {
		t.Errorf("with noise the attack still found the small cell %d times in %d", hits, trials)
	}
	t.Logf("differencing attack: %d/%d exact without noise, %d/%d with noise ±2", hitsExact, trials, hits, trials)
}

func TestPerturbIsBoundedAndSpread(t *testing.T) {
	seen := map[int]int{}
	for key := int64(0); key < 256; key++ {
		for n := 5; n < 50; n++ {
			d := Perturb(key, n, 2)
			if d < -2 || d > 2 {
				t.Fatalf("noise %d", d)
			}
			seen[d]++
		}
	}
	for d := -2; d <= 2; d++ {
		if share := float64(seen[d]) / (256 * 45); share < 0.15 || share > 0.25 {
			t.Errorf("noise %d in %.2f of cells", d, share)
		}
	}
	if Perturb(7, 10, 0) != 0 || Perturb(-9, 10, 2) != Perturb(247, 10, 2) {
		t.Error("noise 0 or a negative key")
	}
}

func TestDurations(t *testing.T) {
	h := time.Hour
	f := &fake{durs: []time.Duration{2 * h, 30 * h, 50 * h, 200 * h, 900 * h, 10 * h}}
	r, err := Build(context.Background(), f, Options{Now: now, Durations: true})
	if err != nil {
		t.Fatal(err)
	}
	d := r.Durations
	if d.Closed != 6 || *d.MedianH != 30 || *d.P90H != 900 || *d.Buckets[0].Count != 2 || *d.Buckets[1].Count != 2 || *d.Buckets[3].Count != 1 {
		t.Errorf("durations %+v %v %v", d, *d.MedianH, *d.P90H)
	}
	f.durs = f.durs[:3]
	r, _ = Build(context.Background(), f, Options{Now: now, Durations: true, Publish: true})
	if !r.Durations.Withheld {
		t.Error("three closed cases published")
	}
	if _, err := Build(context.Background(), f, Options{Now: now, Filter: intake.Browse{From: now.AddDate(-2, 0, 0)}}); err != ErrRange {
		t.Errorf("two years: %v", err)
	}
}
