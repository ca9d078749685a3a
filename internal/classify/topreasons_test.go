package classify

import (
	"math/rand"
	"reflect"
	"sort"
	"testing"
)

// sortedTopReasons is how topReasons chose before: a stable sort of every
// feature by contribution, the first n positive and the last n negative.
func sortedTopReasons(names []string, c []float64, n int) []Reason {
	idx := make([]int, len(c))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return c[idx[a]] > c[idx[b]] })
	var out []Reason
	for _, i := range idx[:min(n, len(idx))] {
		if c[i] > 0 {
			out = append(out, Reason{names[i], round(c[i])})
		}
	}
	for k := len(idx) - 1; k >= 0 && k >= len(idx)-n; k-- {
		if i := idx[k]; c[i] < 0 {
			out = append(out, Reason{names[i], round(c[i])})
		}
	}
	return out
}

// topReasons picks the same reasons, in the same order, as sorting every
// contribution did — ties included.
func TestTopReasonsAsSorted(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	for it := 0; it < 5000; it++ {
		l := r.Intn(30)
		c := make([]float64, l)
		names := make([]string, l)
		for i := range c {
			c[i] = float64(r.Intn(7) - 3)
			if r.Intn(3) == 0 {
				c[i] = r.Float64()*2 - 1
			}
			names[i] = string(rune('a' + i))
		}
		n := 1 + r.Intn(6)
		a, b := sortedTopReasons(names, c, n), topReasons(fnames(names), c, n)
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("%v n=%d: sorted %v, selected %v", c, n, a, b)
		}
	}
}

func fnames(s []string) []fname {
	out := make([]fname, len(s))
	for i, x := range s {
		out[i] = fname{a: x}
	}
	return out
}
