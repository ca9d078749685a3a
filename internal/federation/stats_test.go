package federation

import (
	"encoding/json"
	"math/rand/v2"
	"testing"
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
	sh := &Shared{stats: map[string]int{"US": 30, "CN": 7, "DE": 3, "FR": 2, "unknown": 1}, reports: 43, campaigns: 4, jurisdiction: "FR"}
	cells := func(b StatsBody) map[string]int {
		m := map[string]int{}
		for _, c := range b.ByOrigin {
			m[c.Value] = c.N
		}
		return m
	}
	b := statsOf(t, sh.statistics(5))
	if c := cells(b); len(c) != 3 || c["US"] != 30 || c["CN"] != 7 || c["other"] != 6 || b.Suppressed != 3 || *b.Reports != 43 || b.Campaigns != nil {
		t.Errorf("k=5: %+v", b)
	}
	if it := sh.statistics(5); it.Key != "stats:origins:k5" || !Decide(agreement(t, statsAgreement), PeerState{"us", StatusActive}, it, now).Allow {
		t.Errorf("k=5 item %s not shared", it.Key)
	}
	b = statsOf(t, sh.statistics(10))
	if c := cells(b); len(c) != 2 || c["US"] != 30 || c["other"] != 13 {
		t.Errorf("k=10: %+v", b)
	}
	// One small cell alone: the next smallest goes with it.
	sh2 := &Shared{stats: map[string]int{"US": 30, "CN": 7, "DE": 2}, reports: 39, campaigns: 9}
	b = statsOf(t, sh2.statistics(5))
	if c := cells(b); len(c) != 2 || c["US"] != 30 || c["other"] != 9 || c["DE"] != 0 || c["CN"] != 0 {
		t.Errorf("a lone small cell: %+v", b)
	}
	// Nothing can be shown: the item is denied by min_aggregate.
	it := sh.statistics(50)
	if d := Decide(agreement(t, statsAgreement), PeerState{"us", StatusActive}, it, now); d.Allow || d.Clause != "min_aggregate" {
		t.Errorf("k=50: %v %s", d, it.Body)
	}
	// Property: no shown count is below k, and with the total shown the
	// shown cells add up to it (nothing small left to subtract out).
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 2000; i++ {
		sh := &Shared{stats: map[string]int{}}
		for c := 0; c < r.IntN(8); c++ {
			n := 1 + r.IntN(20)
			sh.stats[string(rune('A'+c))+"X"] = n
			sh.reports += n
		}
		sh.campaigns = r.IntN(12)
		k := 1 + r.IntN(15)
		b := statsOf(t, sh.statistics(k))
		sum := 0
		for _, c := range b.ByOrigin {
			if c.N < k {
				t.Fatalf("k=%d: cell %s=%d shown (%v)", k, c.Value, c.N, sh.stats)
			}
			sum += c.N
		}
		if b.Reports != nil && *b.Reports != sum && *b.Reports-sum < k {
			t.Fatalf("k=%d: total %d, cells %d: a small remainder can be computed (%v)", k, *b.Reports, sum, sh.stats)
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
`
