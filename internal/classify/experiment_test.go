package classify

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestExperimentOrders prints the online measures on the corpus in the seed
// and chronological orders (bench/corpus.sh and bench/chronoindex make
// them): a quick loop for model work. Run with ACCORD_EXPERIMENT=1.
func TestExperimentOrders(t *testing.T) {
	if os.Getenv("ACCORD_EXPERIMENT") == "" || os.Getenv("ACCORD_CORPUS") == "" {
		t.Skip("set ACCORD_EXPERIMENT=1 and ACCORD_CORPUS")
	}
	experimentOrders(t, "defaults", Params{})
}

func experimentOrders(t *testing.T, label string, p Params) {
	var out []string
	for _, name := range []string{"index", "index.chrono"} {
		ex, err := ReadIndex(filepath.Join(os.Getenv("ACCORD_CORPUS"), name))
		if err != nil {
			t.Skip(err)
		}
		rep, _, err := Evaluate(context.Background(), ex, Online, p, nil)
		if err != nil {
			t.Fatal(err)
		}
		m := rep.Metrics
		out = append(out, fmt.Sprintf("[%s roca %.4f lam %.2f c01 %.1f %.0f/s]", name, m.ROCA1, m.LAM, m.CaughtAt01, float64(rep.Scored)/rep.Elapsed.Seconds()))
	}
	fmt.Println(label, strings.Join(out, " "))
}
