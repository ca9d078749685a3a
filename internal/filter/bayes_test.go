package filter

import (
	"strings"
	"testing"

	"github.com/accord-antispam/accord/internal/classify"
)

// The classifier's symbol says how its points come from its probability:
// an even probability adds 1.51 points, which "spam probability 0.4983"
// alone did not explain, and 0.985, unsure to accord score, adds 7.91
// (trial 26 T12).
func TestBayesSymbolExplainsCalibration(t *testing.T) {
	for _, c := range []struct {
		p    float64
		want []string
	}{
		{0.5, []string{"log-odds 0.00", "probability 0.5000", "calibrated to 1.51 points", "1.53·log-odds + 1.51"}},
		{0.985, []string{"log-odds 4.18", "calibrated to 7.91 points"}},
	} {
		sy := bayesSymbol(classify.Result{Ready: true, Score: c.p})
		for _, w := range c.want {
			if !strings.Contains(sy.Description, w) {
				t.Errorf("p %.3f: %s %.2f %q lacks %q", c.p, sy.Name, sy.Score, sy.Description, w)
			}
		}
	}
}
