package classify

import (
	"math"
	"testing"
)

func TestMeasureExact(t *testing.T) {
	// Three spam, three ham; one spam ties with one ham, one ham outranks a spam.
	js := []Judged{
		{true, 0.9}, {true, 0.6}, {true, 0.3},
		{false, 0.6}, {false, 0.4}, {false, 0.1},
	}
	m := Measure(js, 0.5)
	// Pairs (spam > ham): 0.9 beats 3; 0.6 beats 2 and ties 1; 0.3 beats 1 → 6.5 of 9.
	if want := 100 * (1 - 6.5/9); math.Abs(m.ROCA1-want) > 1e-9 {
		t.Errorf("(1-ROCA)%% = %v, want %v", m.ROCA1, want)
	}
	if math.Abs(m.HamMisclassified-100.0/3) > 1e-9 || math.Abs(m.SpamMisclassified-100.0/3) > 1e-9 {
		t.Errorf("hm %v sm %v", m.HamMisclassified, m.SpamMisclassified)
	}
	if math.Abs(m.LAM-100.0/3) > 1e-9 {
		t.Errorf("lam%% = %v", m.LAM)
	}
	// With 0.1% of three ham allowed (none), the cut is the top ham 0.6: only 0.9 passes.
	if math.Abs(m.CaughtAt01-100.0/3) > 1e-9 {
		t.Errorf("caught at 0.1%% = %v", m.CaughtAt01)
	}
	perfect := Measure([]Judged{{true, 1}, {false, 0}}, 0.5)
	if perfect.ROCA1 != 0 || perfect.CaughtAt01 != 100 {
		t.Errorf("perfect run: %+v", perfect)
	}
	// lam% with zero errors counts half a message each.
	if want := 100 * invlogit((logit(0.5)+logit(0.5))/2); math.Abs(perfect.LAM-want) > 1e-9 {
		t.Errorf("perfect lam%% = %v, want %v", perfect.LAM, want)
	}
	allTied := Measure([]Judged{{true, 0.5}, {false, 0.5}}, 0.5)
	if allTied.ROCA1 != 50 {
		t.Errorf("ties must count half: %v", allTied.ROCA1)
	}
}

func TestChi2Q(t *testing.T) {
	for _, c := range []struct {
		x    float64
		v    int
		want float64
	}{
		{2, 2, math.Exp(-1)},     // Q(2;2) = e^-1
		{4, 4, 3 * math.Exp(-2)}, // e^-2 (1 + 2)
		{1000, 1000, 0.4940533},  // near the median for large v
		{4000, 1000, 0},          // far tail, no overflow
		{10, 4000, 1},            // far head, no underflow
	} {
		if got := chi2Q(c.x, c.v); math.Abs(got-c.want) > 1e-4 {
			t.Errorf("chi2Q(%v, %d) = %v, want %v", c.x, c.v, got, c.want)
		}
	}
}
