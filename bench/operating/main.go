// Command operating prints the filter's operating points at its default
// thresholds: what share of ham and of spam each outcome takes (delivered,
// tagged unsure, tagged spam, quarantined, rejected), through the whole
// filter decision (engine, classifier and the built-in policy), on:
//
//   - the training corpus, online (score, then learn, each message in
//     order; rates over the messages after the first 500 and over the hard
//     ham) in the index order and the chronological order;
//
//   - the training corpus, batch (learn the first half, score the second);
//
//   - other corpora, after learning the whole training corpus the
//     documented way (its spam, then its ham) — mail it was not tuned on.
//
//   - the training corpus split into the two collections it was published
//     as (2002 and 2003), each learned and applied to the other (-split):
//     mail of another time and mix, made of the learned corpus alone, on
//     which a change can be judged before it meets other corpora.
//
//   - the training corpus online with the model rebuilt from everything
//     learned after every N messages (-rebuild N), as serve rebuilds it.
//
//     operating -train INDEX [-other NAME=INDEX ...] [-split] [-rebuild N] [-sweep] [-calibrate] [-misses FILE] [-hamfile FILE]
//
// Indexes are TREC style ("spam PATH" / "ham PATH"). -sweep adds, for the
// training corpus online, the share of ham and spam at or above a range of
// scores, from which the defaults were chosen; -calibrate fits the
// classifier's points to the online outcomes (Platt scaling, each class
// weighing half), from which the filter's calibration was chosen. -misses
// lists the other corpora's spam not acted on; -hamfile the training
// corpus's ham not delivered as ham online (both with points and symbols).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/accord-antispam/accord/internal/analysis"
	"github.com/accord-antispam/accord/internal/classify"
	"github.com/accord-antispam/accord/internal/filter"
	"github.com/accord-antispam/accord/internal/resolve"
	"github.com/accord-antispam/accord/internal/rules"
)

type others []string

func (o *others) String() string     { return strings.Join(*o, ",") }
func (o *others) Set(s string) error { *o = append(*o, s); return nil }

type row struct {
	name                                  string
	ham, spam, hard                       int
	hamTag, hamQ, hamUnsure, hardQ, hardT int
	spamAct, spamQ, spamUnsure            int
}

func (r *row) add(spam, hard bool, outcome string) {
	acted := outcome == filter.OutcomeSpam || outcome == filter.OutcomeQuarantine || outcome == filter.OutcomeReject
	held := outcome == filter.OutcomeQuarantine || outcome == filter.OutcomeReject
	switch {
	case spam:
		r.spam++
		if acted {
			r.spamAct++
		}
		if held {
			r.spamQ++
		}
		if outcome == filter.OutcomeUnsure {
			r.spamUnsure++
		}
	default:
		r.ham++
		if acted {
			r.hamTag++
		}
		if held {
			r.hamQ++
		}
		if outcome == filter.OutcomeUnsure {
			r.hamUnsure++
		}
		if hard {
			r.hard++
			if held {
				r.hardQ++
			}
			if acted {
				r.hardT++
			}
		}
	}
}

func pct(n, d int) string {
	if d == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f", 100*float64(n)/float64(d))
}

func newFilter() *filter.Service {
	lib, err := rules.Embedded()
	if err != nil {
		panic(err)
	}
	f, err := filter.New(context.Background(), filter.Config{}, filter.Deps{Analyzer: &analysis.Analyzer{Rules: lib, Resolver: resolve.Offline{}}, Store: filter.NewMemStore()})
	if err != nil {
		panic(err)
	}
	return f
}

// collections splits the public corpus into the two collections it was
// published as: 2002 (easy_ham, hard_ham, spam: files named *-1.NNNNN…)
// and 2003 (easy_ham_2, spam_2: *-2.NNNNN…), as bench/corpus.sh names them.
func collections(ex []classify.Example) (c2002, c2003 []classify.Example) {
	for _, e := range ex {
		group, _, _ := strings.Cut(filepath.Base(e.Path), ".")
		switch {
		case strings.HasSuffix(group, "-1"):
			c2002 = append(c2002, e)
		case strings.HasSuffix(group, "-2"):
			c2003 = append(c2003, e)
		}
	}
	return c2002, c2003
}

func isHard(path string) bool { return strings.Contains(filepath.Base(path), "hard-ham") }

var env = filter.Envelope{Rcpts: []string{"user@example.org"}}

type scored struct {
	spam  bool
	score float64
	i     int
	hard  bool
	bayes float64 // the classifier symbol's points
	ready bool    // the classifier had learned enough to score
	path  string
	syms  string // the decision's symbols, "NAME(points) ..."
}

func bayesPoints(d *filter.Decision) (float64, bool) {
	for _, s := range d.Symbols {
		if s.Name == "ACCORD_BAYES_SPAM" || s.Name == "ACCORD_BAYES_HAM" {
			return s.Score, true
		}
	}
	return 0, false
}

// platt fits P(spam) = σ(a·x + b) to the classifier's points by weighted
// logistic regression (Newton's method), each class weighing half, so b
// holds no class prior: what the points would be if calibrated on this
// corpus.
func platt(ss []scored) (a, b float64) {
	var ns, nh float64
	for _, x := range ss {
		if x.spam {
			ns++
		} else {
			nh++
		}
	}
	a = 1
	for it := 0; it < 50; it++ {
		var ga, gb, haa, hab, hbb float64
		for _, x := range ss {
			w := (ns + nh) / (2 * nh)
			y := 0.0
			if x.spam {
				w, y = (ns+nh)/(2*ns), 1
			}
			p := 1 / (1 + math.Exp(-(a*x.bayes + b)))
			ga += w * (p - y) * x.bayes
			gb += w * (p - y)
			v := w * p * (1 - p)
			haa += v * x.bayes * x.bayes
			hab += v * x.bayes
			hbb += v
		}
		det := haa*hbb - hab*hab
		if det == 0 {
			break
		}
		da := (hbb*ga - hab*gb) / det
		db := (haa*gb - hab*ga) / det
		a, b = a-da, b-db
		if math.Abs(da)+math.Abs(db) < 1e-9 {
			break
		}
	}
	return a, b
}

// stages prints, by how much the model had learned when it scored a
// message (online, both orders), the points above which 0.5% of ham
// scores and the calibration those messages alone would give: a young
// model's ham reaches far higher than a grown one's, so a threshold that
// holds online is set by the first thousands of messages.
func stages(fit, index, chrono []scored) {
	// p995 is the points 0.5% of an order's ham in the stage reach or pass.
	p995 := func(ss []scored, lo, hi int) string {
		var hams []float64
		for _, x := range ss {
			if x.i >= lo && x.i < hi && x.i >= 500 && x.ready && !x.spam {
				hams = append(hams, x.score)
			}
		}
		if len(hams) == 0 {
			return "–"
		}
		sort.Float64s(hams)
		return fmt.Sprintf("%.2f", hams[len(hams)-1-len(hams)/200])
	}
	fmt.Println("\nBy stage of learning (online, both orders): the points 0.5% of ham reach or pass, and the calibration of that stage alone")
	fmt.Println("| messages learned | ham | spam | ham's 99.5th percentile, points | index order's | chronological's | calibrated: × points + |")
	fmt.Println("|---|---|---|---|---|---|---|")
	for _, st := range [][2]int{{500, 1000}, {1000, 2000}, {2000, 3000}, {3000, 4000}, {4000, 5000}, {5000, 1 << 30}} {
		var sub []scored
		var hams []float64
		for _, x := range fit {
			if x.i >= st[0] && x.i < st[1] {
				sub = append(sub, x)
				if !x.spam {
					hams = append(hams, x.score)
				}
			}
		}
		if len(hams) == 0 || len(hams) == len(sub) {
			continue
		}
		sort.Float64s(hams)
		a, b := platt(sub)
		stage := fmt.Sprintf("%d or more", st[0])
		if st[1] < 1<<30 {
			stage = fmt.Sprintf("%d–%d", st[0], st[1])
		}
		fmt.Printf("| %s | %d | %d | %.2f | %s | %s | %.3f, %+.3f |\n", stage, len(hams), len(sub)-len(hams), hams[len(hams)-1-len(hams)/200],
			p995(index, st[0], st[1]), p995(chrono, st[0], st[1]), a, b)
	}
}

// online scores each message, then learns it. With rebuild > 0 the model
// is rebuilt from everything learned after every rebuild messages, as
// serve rebuilds it (rebuild_interval) from its store of learned messages.
func online(name string, ex []classify.Example, rebuild int) (row, []scored) {
	ctx := context.Background()
	f := newFilter()
	r := row{name: name}
	var ss []scored
	for i, e := range ex {
		d, err := f.Check(ctx, e.Raw, env)
		if err != nil {
			panic(err)
		}
		if i >= 500 {
			r.add(e.Spam, isHard(e.Path), d.Recipients[0].Outcome)
		}
		bp, ready := bayesPoints(d)
		syms := ""
		if !e.Spam && d.Score >= 0 {
			syms = symbolList(d) // for -hamfile: the few ham not delivered as ham
		}
		ss = append(ss, scored{e.Spam, d.Score, i, isHard(e.Path), bp, ready, e.Path, syms})
		learn(ctx, f, e)
		if rebuild > 0 && (i+1)%rebuild == 0 {
			if _, err := f.SyncModel(ctx, true); err != nil {
				panic(err)
			}
		}
	}
	return r, ss
}

// learn teaches f one message. What every way of learning refuses as not
// mail (no From, To, Subject, Date, Message-ID or Received field: a few of
// CSDMC's files) is left out, as accord learn leaves it out, and named on
// standard error.
func learn(ctx context.Context, f *filter.Service, e classify.Example) {
	_, err := f.Learn(ctx, e.Raw, e.Spam, "bench")
	if errors.Is(err, filter.ErrNotMail) {
		fmt.Fprintf(os.Stderr, "not learned (not a mail message): %s\n", e.Path)
		return
	}
	if err != nil {
		panic(err)
	}
}

func learnAll(f *filter.Service, ex []classify.Example) {
	ctx := context.Background()
	for _, want := range []bool{true, false} { // the spam folder, then the ham folder
		for _, e := range ex {
			if e.Spam == want {
				learn(ctx, f, e)
			}
		}
	}
	if _, err := f.SyncModel(ctx, true); err != nil { // what accord learn does: rebuild in one order
		panic(err)
	}
}

func score(f *filter.Service, name string, ex []classify.Example) (row, []scored) {
	r := row{name: name}
	var ss []scored
	for i, e := range ex {
		d, err := f.Check(context.Background(), e.Raw, env)
		if err != nil {
			panic(err)
		}
		r.add(e.Spam, isHard(e.Path), d.Recipients[0].Outcome)
		bp, ready := bayesPoints(d)
		ss = append(ss, scored{e.Spam, d.Score, i, isHard(e.Path), bp, ready, e.Path, symbolList(d)})
	}
	return r, ss
}

func symbolList(d *filter.Decision) string {
	var b strings.Builder
	for _, s := range d.Symbols {
		fmt.Fprintf(&b, "%s(%.2f)", s.Name, s.Score)
		if len(s.Options) > 0 && strings.HasPrefix(s.Name, "ACCORD_BAYES") {
			fmt.Fprintf(&b, "[%s]", strings.Join(s.Options, " "))
		}
		b.WriteByte(' ')
	}
	return strings.TrimSpace(b.String())
}

// writeMisses lists, for a corpus the filter was not trained on, every
// spam it did not act on and every ham it did (or tagged unsure), with
// points and symbols: what to read when the operating point falls short.
func writeMisses(w io.Writer, name string, ss []scored, spamFrom float64) {
	for _, x := range ss {
		if x.spam && x.score < spamFrom || !x.spam && x.score >= 0 {
			cls := "ham"
			if x.spam {
				cls = "spam"
			}
			fmt.Fprintf(w, "%s\t%s\t%.2f\t%s\t%s\n", name, cls, x.score, x.path, x.syms)
		}
	}
}

// histogram prints how a corpus's ham and spam spread over the points, to
// show where the spam that is not acted on sits: just under the spam
// threshold, or among the ham.
func histogram(name string, ss []scored) {
	fmt.Printf("\n%s: messages by points\n", name)
	fmt.Println("| points | ham | spam |")
	fmt.Println("|---|---|---|")
	edges := []float64{math.Inf(-1), -8, -6, -4, -2, -1, 0, 1, 2, 2.5, 4, 6, 8, math.Inf(1)}
	for i := 0; i+1 < len(edges); i++ {
		var h, sp int
		for _, x := range ss {
			if x.score >= edges[i] && x.score < edges[i+1] {
				if x.spam {
					sp++
				} else {
					h++
				}
			}
		}
		fmt.Printf("| [%g, %g) | %d | %d |\n", edges[i], edges[i+1], h, sp)
	}
}

// writeHam lists, for an online run of the training corpus, every ham
// after the first 500 that was not delivered as ham (tagged unsure, tagged
// as spam or held), with its points and symbols: the messages a change
// that adds spam evidence pushes over a threshold first.
func writeHam(w io.Writer, run string, ss []scored) {
	for _, x := range ss {
		if !x.spam && x.i >= 500 && x.score >= 0 {
			hard := ""
			if x.hard {
				hard = " (hard ham)"
			}
			fmt.Fprintf(w, "%s%s\t%.2f\t%s\t%s\n", run, hard, x.score, x.path, x.syms)
		}
	}
}

func main() {
	train := flag.String("train", "", "TREC-style index of the training corpus")
	sweep := flag.Bool("sweep", false, "also print ham and spam shares at or above a range of scores (online)")
	misses := flag.String("misses", "", "write the other corpora's spam not acted on and ham not delivered as ham to this file (tab-separated: corpus, class, points, path, symbols)")
	hamfile := flag.String("hamfile", "", "write the training corpus's ham not delivered as ham online, after the first 500, to this file (tab-separated: run, points, path, symbols)")
	calibrate := flag.Bool("calibrate", false, "also fit the classifier's points to the online outcomes (Platt scaling)")
	rebuild := flag.Int("rebuild", 0, "also run online with the model rebuilt from everything learned after every N messages, as serve rebuilds it")
	split := flag.Bool("split", false, "also train on the public corpus's 2002 collection (easy_ham, hard_ham, spam) and apply it to its 2003 collection (easy_ham_2, spam_2), and the other way round: another corpus made of the learned one")
	var oth others
	flag.Var(&oth, "other", "NAME=INDEX of another corpus to apply the trained filter to (repeatable)")
	flag.Parse()
	if *train == "" {
		fmt.Fprintln(os.Stderr, "usage: operating -train INDEX [-other NAME=INDEX ...] [-sweep]")
		os.Exit(2)
	}
	ex, err := classify.ReadIndex(*train)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	b := filter.Builtin()
	fmt.Printf("Default thresholds: unsure %.2f, spam %.2f (action %s), quarantine %.2f points.\n\n", b.Unsure, b.Spam, b.Action, b.Quarantine)
	var rows []row
	r1, s1 := online("online, index order, after the first 500", ex, 0)
	r2, s2 := online("online, chronological, after the first 500", classify.Chronological(ex), 0)
	rows = append(rows, r1, r2)
	var s1r, s2r []scored
	if *rebuild > 0 {
		var r1r, r2r row
		r1r, s1r = online(fmt.Sprintf("online, index order, rebuilt every %d, after the first 500", *rebuild), ex, *rebuild)
		r2r, s2r = online(fmt.Sprintf("online, chronological, rebuilt every %d, after the first 500", *rebuild), classify.Chronological(ex), *rebuild)
		rows = append(rows, r1r, r2r)
	}
	if *hamfile != "" {
		hf, err := os.Create(*hamfile)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		writeHam(hf, r1.name, s1)
		writeHam(hf, r2.name, s2)
		if *rebuild > 0 {
			writeHam(hf, rows[2].name, s1r)
			writeHam(hf, rows[3].name, s2r)
		}
		if err := hf.Close(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	half := len(ex) / 2
	fb := newFilter()
	learnAll(fb, ex[:half])
	rb, _ := score(fb, "batch: first half learned, second half scored", ex[half:])
	rows = append(rows, rb)
	if *split {
		g1, g2 := collections(ex)
		if len(g1) == 0 || len(g2) == 0 {
			fmt.Fprintln(os.Stderr, "operating: -split needs the public corpus's file names (GROUP.NNNNN..., bench/corpus.sh)")
			os.Exit(1)
		}
		f1 := newFilter()
		learnAll(f1, g1)
		r12, _ := score(f1, "trained on its 2002 collection, applied to its 2003 collection", g2)
		f2 := newFilter()
		learnAll(f2, g2)
		r21, _ := score(f2, "trained on its 2003 collection, applied to its 2002 collection", g1)
		rows = append(rows, r12, r21)
	}
	ft := newFilter()
	learnAll(ft, ex)
	var hists []func()
	var mw io.Writer = io.Discard
	if *misses != "" {
		mf, err := os.Create(*misses)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		defer mf.Close()
		mw = mf
	}
	for _, o := range oth {
		name, path, ok := strings.Cut(o, "=")
		if !ok {
			path, name = name, filepath.Base(filepath.Dir(name))
		}
		ox, err := classify.ReadIndex(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		ro, so := score(ft, "trained on the whole corpus, applied to "+name, ox)
		rows = append(rows, ro)
		writeMisses(mw, name, so, b.Spam)
		hists = append(hists, func() { histogram("Trained on the whole corpus, applied to "+name, so) })
	}
	fmt.Println("| run | ham | ham tagged spam or held % | ham held % | ham unsure % | hard ham held % | spam | spam acted on % | spam held % | spam unsure % |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|---|")
	for _, r := range rows {
		fmt.Printf("| %s | %d | %s | %s | %s | %s (%d) | %d | %s | %s | %s |\n", r.name, r.ham, pct(r.hamTag, r.ham), pct(r.hamQ, r.ham),
			pct(r.hamUnsure, r.ham), pct(r.hardQ, r.hard), r.hard, r.spam, pct(r.spamAct, r.spam), pct(r.spamQ, r.spam), pct(r.spamUnsure, r.spam))
	}
	for _, h := range hists {
		h()
	}
	if *calibrate {
		var fit []scored
		for _, x := range append(append([]scored{}, s1...), s2...) {
			if x.i >= 500 && x.ready {
				fit = append(fit, x)
			}
		}
		a, b := platt(fit)
		fmt.Printf("\nThe classifier's points, online after the first 500, both orders: calibrated (classes weighing alike) they would be %.3f × points %+.3f\n", a, b)
		stages(fit, s1, s2)
	}
	if *sweep {
		fmt.Println("\nOnline, after the first 500: share at or above each score, both orders together and each order's ham")
		fmt.Println("| score | ham % | hard ham % | spam % | ham %, index order | ham %, chronological |")
		fmt.Println("|---|---|---|---|---|---|")
		hamAbove := func(ss []scored, t float64) string {
			var n, a int
			for _, x := range ss {
				if x.i >= 500 && !x.spam {
					n++
					if x.score >= t {
						a++
					}
				}
			}
			return pct(a, n)
		}
		all := append(append([]scored{}, s1...), s2...)
		var ts []float64
		for t := -2.0; t <= 16; t += 0.5 {
			ts = append(ts, t)
		}
		sort.Float64s(ts)
		for _, t := range ts {
			var h, hh, hard, sp, spn int
			for _, x := range all {
				if x.i < 500 {
					continue
				}
				switch {
				case x.spam:
					spn++
					if x.score >= t {
						sp++
					}
				default:
					h++
					if x.hard {
						hard++
					}
					if x.score >= t {
						hh++
					}
				}
			}
			hardAbove := 0
			for _, x := range all {
				if x.i >= 500 && x.hard && x.score >= t {
					hardAbove++
				}
			}
			fmt.Printf("| %.1f | %s | %s | %s | %s | %s |\n", t, pct(hh, h), pct(hardAbove, hard), pct(sp, spn), hamAbove(s1, t), hamAbove(s2, t))
		}
		if *rebuild > 0 {
			hardAt := func(ss []scored, t float64) string {
				var n, a int
				for _, x := range ss {
					if x.i >= 500 && x.hard {
						n++
						if x.score >= t {
							a++
						}
					}
				}
				return pct(a, n)
			}
			spamAt := func(ss []scored, t float64) string {
				var n, a int
				for _, x := range ss {
					if x.i >= 500 && x.spam {
						n++
						if x.score >= t {
							a++
						}
					}
				}
				return pct(a, n)
			}
			fmt.Printf("\nOnline, the model rebuilt every %d, after the first 500: share of ham and spam at or above each score\n", *rebuild)
			fmt.Println("| score | ham %, index order | hard ham %, index order | spam %, index order | ham %, chronological | hard ham %, chronological | spam %, chronological |")
			fmt.Println("|---|---|---|---|---|---|---|")
			for _, t := range ts {
				fmt.Printf("| %.1f | %s | %s | %s | %s | %s | %s |\n", t, hamAbove(s1r, t), hardAt(s1r, t), spamAt(s1r, t), hamAbove(s2r, t), hardAt(s2r, t), spamAt(s2r, t))
			}
		}
	}
}
