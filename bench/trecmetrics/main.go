// Command trecmetrics prints the TREC spam-track measures of result files
// (one "<path> judge=<spam|ham> class=<spam|ham> score=<float>" line per
// message, as `accord eval --results` and bench/rivals.sh write them) as a
// Markdown table row each:
//
//	trecmetrics [-threshold NAME=T ...] LABEL=FILE ...
//
// The class field decides the filter's own line (spam iff class=spam).
// A line with class=error is a message the filter failed to score: it is
// counted in the failures column and left out of the measures, never
// scored as ham. A file without its final "# complete scored=N …" line,
// or with a different number of lines, is a partial run and is refused.
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
	fmt.Println("| run | messages | failures | (1-ROCA)% | lam% | spam caught @0.1% FPR | @1% FPR | hm% | sm% |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|")
	for _, arg := range flag.Args() {
		label, path, ok := strings.Cut(arg, "=")
		if !ok {
			label, path = arg, arg
		}
		js, byClass, fails, err := read(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, "trecmetrics:", err)
			os.Exit(1)
		}
		m := classify.Measure(js, 0.5)
		// hm/sm and lam from the filter's own classes.
		c := classify.Measure(byClass, 0.5)
		fmt.Printf("| %s | %d | %s | %.3f | %.2f | %.1f | %.1f | %.2f | %.2f |\n", label, m.Messages, fails, m.ROCA1, c.LAM, m.CaughtAt01, m.CaughtAt1, c.HamMisclassified, c.SpamMisclassified)
	}
}

// read returns the scores, the classes as 0/1 scores, and the failures
// ("scoring/training" counts), refusing a partial file.
func read(path string) (scores, classes []classify.Judged, fails string, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	lines, failed, trainFailed := 0, 0, 0
	complete := false
	want := -1
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "#") {
			if rest, ok := strings.CutPrefix(sc.Text(), "# complete "); ok {
				complete = true
				for _, w := range strings.Fields(rest) {
					k, v, _ := strings.Cut(w, "=")
					n, _ := strconv.Atoi(v)
					switch k {
					case "scored":
						want = n
					case "train_failures":
						trainFailed = n
					}
				}
			}
			continue
		}
		lines++
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
				if class == "error" || v == "NA" {
					continue
				}
				score, err = strconv.ParseFloat(v, 64)
				if err != nil {
					return nil, nil, "", fmt.Errorf("%s: bad score %q", path, v)
				}
				have = true
			}
		}
		if judge == "" {
			return nil, nil, "", fmt.Errorf("%s: bad line %q", path, sc.Text())
		}
		if class == "error" {
			failed++
			continue
		}
		if !have {
			return nil, nil, "", fmt.Errorf("%s: bad line %q", path, sc.Text())
		}
		spam := judge == "spam"
		scores = append(scores, classify.Judged{Spam: spam, Score: score})
		cs := 0.0
		if class == "spam" {
			cs = 1
		}
		classes = append(classes, classify.Judged{Spam: spam, Score: cs})
	}
	if err := sc.Err(); err != nil {
		return nil, nil, "", err
	}
	if !complete || want != lines {
		return nil, nil, "", fmt.Errorf("%s: a partial run (%d lines, complete line %v, scored=%d): refused", path, lines, complete, want)
	}
	return scores, classes, fmt.Sprintf("%d/%d", failed, trainFailed), nil
}
