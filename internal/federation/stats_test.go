package federation

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/accord-antispam/accord/internal/analysis"
	"github.com/accord-antispam/accord/internal/intake"
)

func statsOf(t *testing.T, it Item) StatsBody {
	t.Helper()
	var b StatsBody
	if err := json.Unmarshal(it.Body, &b); err != nil {
		t.Fatal(err)
	}
	return b
}

// min_aggregate suppresses the small cells, not the statistics: a cell
// under the threshold is folded into "other", and a lone small cell takes
// the next smallest with it so the total cannot give it away.
func TestStatisticsSuppressCells(t *testing.T) {
	sh := tally{byOrigin: map[string]int{"US": 30, "CN": 7, "DE": 3, "FR": 2, "unknown": 1}, reports: 43, campaigns: 4}
	cells := func(b StatsBody) map[string]int {
		m := map[string]int{}
		for _, c := range b.ByOrigin {
			m[c.Value] = c.N
		}
		return m
	}
	b := statsOf(t, sh.item(5, "FR"))
	if c := cells(b); len(c) != 3 || c["US"] != 30 || c["CN"] != 7 || c["other"] != 6 || b.Suppressed != 3 || *b.Reports != 43 || b.Campaigns != nil {
		t.Errorf("k=5: %+v", b)
	}
	if it := sh.item(5, "FR"); it.Key != "stats:origins:k5" || !Decide(agreement(t, statsAgreement), PeerState{"us", StatusActive}, it, now).Allow {
		t.Errorf("k=5 item %s not shared", it.Key)
	}
	b = statsOf(t, sh.item(10, "FR"))
	if c := cells(b); len(c) != 2 || c["US"] != 30 || c["other"] != 13 {
		t.Errorf("k=10: %+v", b)
	}
	// One small cell alone: the next smallest goes with it.
	sh2 := tally{byOrigin: map[string]int{"US": 30, "CN": 7, "DE": 2}, reports: 39, campaigns: 9}
	b = statsOf(t, sh2.item(5, "FR"))
	if c := cells(b); len(c) != 2 || c["US"] != 30 || c["other"] != 9 || c["DE"] != 0 || c["CN"] != 0 {
		t.Errorf("a lone small cell: %+v", b)
	}
	// Nothing can be shown: the item is denied by min_aggregate.
	it := sh.item(50, "FR")
	if d := Decide(agreement(t, statsAgreement), PeerState{"us", StatusActive}, it, now); d.Allow || d.Clause != "min_aggregate" {
		t.Errorf("k=50: %v %s", d, it.Body)
	}
	// Property: no shown count is below k, and with the total shown the
	// shown cells add up to it (nothing small left to subtract out).
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 2000; i++ {
		sh := tally{byOrigin: map[string]int{}}
		for c := 0; c < r.IntN(8); c++ {
			n := 1 + r.IntN(20)
			sh.byOrigin[string(rune('A'+c))+"X"] = n
			sh.reports += n
		}
		sh.campaigns = r.IntN(12)
		k := 1 + r.IntN(15)
		b := statsOf(t, sh.item(k, "FR"))
		sum := 0
		for _, c := range b.ByOrigin {
			if c.N < k {
				t.Fatalf("k=%d: cell %s=%d shown (%v)", k, c.Value, c.N, sh.byOrigin)
			}
			sum += c.N
		}
		if b.Reports != nil && *b.Reports != sum && *b.Reports-sum < k {
			t.Fatalf("k=%d: total %d, cells %d: a small remainder can be computed (%v)", k, *b.Reports, sum, sh.byOrigin)
		}
		if b.Campaigns != nil && *b.Campaigns < k {
			t.Fatalf("k=%d: campaigns %d shown", k, *b.Campaigns)
		}
	}
}

const statsAgreement = `id = "S"
version = 1
audience = ["us"]
share = ["statistics"]
tlp_max = "clear"
min_aggregate = 5
origins = ["*"]
`

// reportsSource is a desk of reports with only their origins known,
// read as the store reads them: by campaign, then by arrival.
type reportsSource []*intake.Report

func (s reportsSource) SharedIndex(_ context.Context, fn func(ReportRef) error) error {
	rs := slices.Clone(s)
	sort.SliceStable(rs, func(i, j int) bool { return rs[i].CampaignID < rs[j].CampaignID })
	for _, r := range rs {
		if err := fn(RefOf(r, "")); err != nil {
			return err
		}
	}
	return nil
}

func (s reportsSource) SharedReports(_ context.Context, ids []string, fn func(*intake.Report, string) error) error {
	for _, r := range s {
		if slices.Contains(ids, r.ID) {
			if err := fn(r, ""); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s reportsSource) SharedVersion(context.Context) (string, error) { return fmt.Sprint(len(s)), nil }

// report i of a desk, from country (unknown when ""), in one of four
// campaigns, arriving a second after report i-1.
func statReport(i int, country string) *intake.Report {
	return &intake.Report{ID: fmt.Sprintf("r%04d", i), CampaignID: fmt.Sprintf("c%d", i%4),
		ReceivedAt: time.Date(2026, 11, 3, 10, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Second),
		Verdict:    &analysis.Verdict{Origin: analysis.Origin{Country: country}}}
}

// statsItem collects src and returns the statistics item a peer under a
// gets, and whether there is one.
func statsItem(t *testing.T, src reportsSource, a *Agreement) (Item, bool) {
	t.Helper()
	sh, err := Collect(context.Background(), src, "FR")
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range sh.ItemsFor(a) {
		for _, it := range g.Items {
			if it.Kind == KindStatistics {
				return it, true
			}
		}
	}
	return Item{}, false
}

func minAggregate(t *testing.T, m int) *Agreement {
	t.Helper()
	return agreement(t, fmt.Sprintf("id = \"S\"\nversion = 1\naudience = [\"us\"]\nshare = [\"statistics\"]\ntlp_max = \"clear\"\norigins = [\"*\"]\nmin_aggregate = %d\n", m))
}

// The attack review's differencing: the statistics item was re-sent on
// every new report with exact counts, and TAXII serves every version, so
// two consecutive versions told which cell (US, CN, "other"…) a single
// new report went into, undoing min_aggregate. Reports are added one at a
// time through Collect, as a desk receives them, under several
// min_aggregate values: a new version comes only when a whole quantum of
// k = max(5, min_aggregate) reports has come; it counts the oldest
// ⌊N/k⌋·k; consecutive versions differ by k reports, so never by one
// report in one cell; and in between the item does not change at all.
func TestStatisticsCannotBeDifferenced(t *testing.T) {
	for _, m := range []int{1, 5, 6, 7, 10, 13} {
		k := max(minCell, m)
		a := minAggregate(t, m)
		r := rand.New(rand.NewPCG(3, uint64(m)))
		countries := []string{"US", "US", "US", "US", "CN", "CN", "KR", "DE", "BR", ""}
		var src reportsSource
		var prev *StatsBody
		var prevHash string
		versions := 0
		const total = 61
		for n := 1; n <= total; n++ {
			src = append(src, statReport(n, countries[r.IntN(len(countries))]))
			it, ok := statsItem(t, src, a)
			if !ok {
				t.Fatalf("m=%d, %d reports: no statistics item at all", m, n)
			}
			allowed := Decide(a, PeerState{"us", StatusActive}, it, now).Allow
			if n < k {
				if allowed {
					t.Fatalf("m=%d, %d reports: statistics shared below the threshold: %s", m, n, it.Body)
				}
				continue
			}
			if !allowed {
				t.Fatalf("m=%d, %d reports: statistics not shared: %s", m, n, it.Body)
			}
			b := statsOf(t, it)
			if b.Reports == nil {
				t.Fatalf("m=%d, %d reports: no total: %s", m, n, it.Body)
			}
			if *b.Reports != n/k*k {
				t.Errorf("m=%d, %d reports: counts %d, want the oldest %d: %s", m, n, *b.Reports, n/k*k, it.Body)
			}
			if it.Hash == prevHash {
				continue
			}
			if n%k != 0 {
				t.Errorf("m=%d: a new version with %d reports, not a whole quantum of %d: %s", m, n, k, it.Body)
			}
			versions++
			if prev != nil {
				// What a partner learns by subtracting the last version.
				diff, moved := map[string]int{}, 0
				for _, c := range b.ByOrigin {
					diff[c.Value] += c.N
				}
				for _, c := range prev.ByOrigin {
					diff[c.Value] -= c.N
				}
				for _, d := range diff {
					moved += max(d, -d)
				}
				if *b.Reports-*prev.Reports < k || moved == 1 {
					t.Errorf("m=%d, %d reports: consecutive versions differ by %d reports (cells %v): %s after %v",
						m, n, *b.Reports-*prev.Reports, diff, it.Body, prev.ByOrigin)
				}
			}
			prev, prevHash = &b, it.Hash
		}
		if versions != total/k {
			t.Errorf("m=%d: %d versions of the statistics for %d reports, want %d", m, versions, total, total/k)
		}
	}
}

// min_aggregate suppresses cells, not the item: from min_aggregate
// reports on, the statistics are shared with their total and at least one
// cell, whatever the quantum — also when every report is from a different
// country (all folded into "other") or all from one. The first attempt at
// quantising counted multiples of a fixed 5, so under min_aggregate = 6
// seven reports counted five and the item vanished.
func TestStatisticsThereFromMinAggregate(t *testing.T) {
	for m := 1; m <= 21; m++ {
		k := max(minCell, m)
		a := minAggregate(t, m)
		for _, spread := range []string{"one", "each", "mixed"} {
			var src reportsSource
			for n := 1; n <= k+k; n++ {
				c := "US"
				switch spread {
				case "each":
					c = fmt.Sprintf("%c%c", 'A'+n/26, 'A'+n%26)
				case "mixed":
					c = []string{"US", "CN", "", "DE"}[n%4]
				}
				src = append(src, statReport(n, c))
				if n < k {
					continue
				}
				it, ok := statsItem(t, src, a)
				if !ok {
					t.Fatalf("m=%d %s, %d reports: no statistics item", m, spread, n)
				}
				if d := Decide(a, PeerState{"us", StatusActive}, it, now); !d.Allow {
					t.Fatalf("m=%d %s, %d reports: statistics not shared (%s): %s", m, spread, n, d.Reason, it.Body)
				}
				b := statsOf(t, it)
				if b.Reports == nil || *b.Reports < k || len(b.ByOrigin) == 0 || b.MinCount != k {
					t.Fatalf("m=%d %s, %d reports: empty statistics: %s", m, spread, n, it.Body)
				}
			}
		}
	}
}

// TestStatisticsFollowOrigins: under an agreement limited to some
// origins, the statistics count the reports of those origins only —
// cells, total and campaigns — and the item counted over every origin is
// denied by the origins clause. DE under origins = ["KR"] got FR's
// counts for CN, DE, KR and US (tenth review, finding 1). EU counts its
// members; an unknown origin is none of an agreement's origins.
func TestStatisticsFollowOrigins(t *testing.T) {
	var src reportsSource
	for i, c := range []string{"CN", "CN", "CN", "CN", "CN", "CN", "DE", "DE", "DE", "DE", "DE", "DE", "FR", "FR", "FR", "FR", "FR",
		"KR", "KR", "KR", "KR", "KR", "KR", "KR", "US", "US", "US", "US", "US", "US", "", "", "", "", ""} {
		src = append(src, statReport(i, c))
	}
	cells := func(it Item) map[string]int {
		m := map[string]int{}
		for _, c := range statsOf(t, it).ByOrigin {
			m[c.Value] = c.N
		}
		return m
	}
	kr := agreement(t, strings.Replace(statsAgreement, `origins = ["*"]`, `origins = ["KR"]`, 1))
	it, ok := statsItem(t, src, kr)
	if !ok || !Decide(kr, PeerState{"us", StatusActive}, it, now).Allow {
		t.Fatalf("KR statistics not shared: %v", ok)
	}
	if c, b := cells(it), statsOf(t, it); len(c) != 1 || c["KR"] != 5 || b.Reports == nil || *b.Reports != 5 || b.Campaigns != nil {
		t.Errorf("under origins = [KR]: cells %v, reports %v, campaigns %v; want KR's 5 (7 held, counted in quanta of 5) and nothing else", c, b.Reports, b.Campaigns)
	}
	eu := agreement(t, strings.Replace(statsAgreement, `origins = ["*"]`, `origins = ["EU", "US"]`, 1))
	it, _ = statsItem(t, src, eu)
	if c := cells(it); c["CN"] != 0 || c["KR"] != 0 || c["unknown"] != 0 || c["DE"]+c["FR"]+c["US"]+c["other"] != 15 {
		t.Errorf("under origins = [EU, US]: %v", c)
	}
	if !Decide(eu, PeerState{"us", StatusActive}, it, now).Allow {
		t.Errorf("EU and US statistics denied under origins = [EU, US]")
	}
	// The item of every origin: for "*" only.
	all, _ := statsItem(t, src, agreement(t, statsAgreement))
	if c := cells(all); c["CN"] != 6 || c["US"] != 6 {
		t.Errorf("under origins = [*]: %v", c)
	}
	for _, a := range []*Agreement{kr, eu, agreement(t, strings.Replace(statsAgreement, `origins = ["*"]`, ``, 1))} {
		if d := Decide(a, PeerState{"us", StatusActive}, all, now); d.Allow || d.Clause != "origins" {
			t.Errorf("statistics of every origin under origins %v: %v", a.Origins, d)
		}
	}
}
