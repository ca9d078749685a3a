// Command trecmetrics prints the TREC spam-track measures of result files
// (one "<path> judge=<spam|ham> class=<spam|ham> score=<float>" line per
// message, as `accord eval --results` and bench/rivals.sh write them) as a
// Markdown table row each:
//
//	trecmetrics [-threshold NAME=T ...] LABEL=FILE ...
//
// The threshold is where the filter itself draws the line (spam iff score ≥
// T); by default the class field decides (spam iff class=spam).
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/accord-antispam/accord/internal/classify"
)

func main() {
	flag.Parse()
	fmt.Println("| run | messages | (1-ROCA)% | lam% | spam caught @0.1% FPR | @1% FPR | hm% | sm% |")
	fmt.Println("|---|---|---|---|---|---|---|---|")
	for _, arg := range flag.Args() {
		label, path, ok := strings.Cut(arg, "=")
		if !ok {
			label, path = arg, arg
		}
		js, byClass, err := read(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, "trecmetrics:", err)
			os.Exit(1)
		}
		m := classify.Measure(js, 0.5)
		// hm/sm and lam from the filter's own classes.
		c := classify.Measure(byClass, 0.5)
		fmt.Printf("| %s | %d | %.3f | %.2f | %.1f | %.1f | %.2f | %.2f |\n", label, m.Messages, m.ROCA1, c.LAM, m.CaughtAt01, m.CaughtAt1, c.HamMisclassified, c.SpamMisclassified)
	}
}

// read returns the scores, and the classes as 0/1 scores.
func read(path string) (scores, classes []classify.Judged, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var judge, class string
		var score float64
		have := false
		for _, w := range strings.Fields(sc.Text())[1:] {
			k, v, _ := strings.Cut(w, "=")
			switch k {
			case "judge":
				judge = v
			case "class":
				class = v
			case "score":
				score, err = strconv.ParseFloat(v, 64)
				if err != nil {
					return nil, nil, fmt.Errorf("%s: bad score %q", path, v)
				}
				have = true
			}
		}
		if !have || judge == "" {
			return nil, nil, fmt.Errorf("%s: bad line %q", path, sc.Text())
		}
		spam := judge == "spam"
		scores = append(scores, classify.Judged{Spam: spam, Score: score})
		cs := 0.0
		if class == "spam" {
			cs = 1
		}
		classes = append(classes, classify.Judged{Spam: spam, Score: cs})
	}
	return scores, classes, sc.Err()
}
