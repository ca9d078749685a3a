package classify

import (
	"math"
	"sort"
)

// Judged is one scored message with its gold label.
type Judged struct {
	Spam  bool
	Score float64
}

// Metrics are the TREC spam-track measures of a run.
type Metrics struct {
	Messages, Spam, Ham int
	ROCA1               float64 // (1-ROCA)%: 100 × (1 − area under the ROC curve), ties counted half.
	LAM                 float64 // lam%: logistic average misclassification at the threshold.
	HamMisclassified    float64 // hm%: ham at or above the threshold.
	SpamMisclassified   float64 // sm%: spam below the threshold.
	CaughtAt01          float64 // % of spam scored above every ham but the top 0.1%.
	CaughtAt1           float64 // same at 1% false-positive rate.
	Threshold           float64
}

// Measure computes the metrics of a run at the given spam threshold
// (spam iff score ≥ threshold). The ROC area is exact: the Mann–Whitney
// statistic from mid-ranks, so tied scores count half.
func Measure(js []Judged, threshold float64) Metrics {
	m := Metrics{Messages: len(js), Threshold: threshold}
	type item struct {
		s    float64
		spam bool
	}
	items := make([]item, len(js))
	for i, j := range js {
		items[i] = item{j.Score, j.Spam}
		if j.Spam {
			m.Spam++
		} else {
			m.Ham++
		}
	}
	if m.Spam == 0 || m.Ham == 0 {
		return m
	}
	sort.Slice(items, func(a, b int) bool { return items[a].s < items[b].s })
	// Mid-ranks, 1-based.
	var rankSum float64
	for i := 0; i < len(items); {
		j := i
		for j < len(items) && items[j].s == items[i].s {
			j++
		}
		mid := float64(i+1+j) / 2
		for k := i; k < j; k++ {
			if items[k].spam {
				rankSum += mid
			}
		}
		i = j
	}
	s, h := float64(m.Spam), float64(m.Ham)
	auc := (rankSum - s*(s+1)/2) / (s * h)
	m.ROCA1 = 100 * (1 - auc)

	var fp, fn int
	for _, it := range items {
		if it.spam && it.s < threshold {
			fn++
		}
		if !it.spam && it.s >= threshold {
			fp++
		}
	}
	m.HamMisclassified = 100 * float64(fp) / h
	m.SpamMisclassified = 100 * float64(fn) / s
	hm := math.Max(float64(fp), 0.5) / h
	sm := math.Max(float64(fn), 0.5) / s
	m.LAM = 100 * invlogit((logit(hm)+logit(sm))/2)

	var hams, spams []float64
	for _, it := range items {
		if it.spam {
			spams = append(spams, it.s)
		} else {
			hams = append(hams, it.s)
		}
	}
	m.CaughtAt01 = caughtAt(spams, hams, 0.001)
	m.CaughtAt1 = caughtAt(spams, hams, 0.01)
	return m
}

// caughtAt returns the share of spam (in %) that a threshold lets through
// as spam while at most fpr of the ham is: read off the empirical ROC with
// no interpolation. hams and spams are sorted ascending.
func caughtAt(spams, hams []float64, fpr float64) float64 {
	k := int(math.Floor(fpr * float64(len(hams)) * (1 + 1e-9)))
	if k >= len(hams) {
		return 100
	}
	// The threshold sits just above the (k+1)-th highest ham score.
	cut := hams[len(hams)-1-k]
	n := len(spams) - sort.Search(len(spams), func(i int) bool { return spams[i] > cut })
	return 100 * float64(n) / float64(len(spams))
}

func logit(p float64) float64    { return math.Log(p / (1 - p)) }
func invlogit(x float64) float64 { return 1 / (1 + math.Exp(-x)) }
