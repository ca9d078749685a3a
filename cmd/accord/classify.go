package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/accord-antispam/accord/internal/analysis"
	"github.com/accord-antispam/accord/internal/classify"
	"github.com/accord-antispam/accord/internal/config"
	"github.com/accord-antispam/accord/internal/filter"
	"github.com/accord-antispam/accord/internal/mail"
)

const defaultDataDir = "accord-data"

// modelFlags locate the model: --model, else the data folder's. On a
// node's data folder (it holds the node's database, or --config names the
// node's configuration) that is the node's one shared model, kept in its
// store, which its filter learns into and scores with; elsewhere it is the
// file MODEL in the folder.
type modelFlags struct {
	data    string
	model   string
	config  string
	bits    int
	cfgData string // the configuration's data folder (--config)
}

func (f *modelFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.data, "data", "", "data folder (default "+defaultDataDir+", or the config's): on a node's folder, the node's shared model")
	fs.StringVar(&f.model, "model", "", "model file (default: the node's shared model on a node's data folder, else DATA/model.acm)")
	fs.StringVar(&f.config, "config", "", "the node's configuration file (TOML), for a node whose store is PostgreSQL or whose data folder it names")
	fs.IntVar(&f.bits, "bits", 0, "size of a new model file's feature table, as a power of two (default 20: 8 MiB + 1 MiB of digests)")
}

// dir is the data folder: --data, else the configuration's, else the
// default.
func (f *modelFlags) dir() string {
	switch {
	case f.data != "":
		return f.data
	case f.cfgData != "":
		return f.cfgData
	}
	return defaultDataDir
}

func (f *modelFlags) path() string {
	if f.model != "" {
		return f.model
	}
	return filepath.Join(f.dir(), "model.acm")
}

// load opens the model, or a new empty one when create is set and the file
// does not exist yet.
func (f *modelFlags) load(create bool) (*classify.Model, error) {
	m, err := classify.Load(f.path())
	if errors.Is(err, fs.ErrNotExist) && create {
		return classify.New(classify.Params{Bits: f.bits}), nil
	}
	return m, err
}

// node returns the configuration of the node whose model this is, and
// true, when the model is a node's shared one: no --model, and --config
// given or the data folder holding the node's database.
func (f *modelFlags) node() (config.Config, bool, error) {
	c := config.Default()
	if f.model != "" {
		return c, false, nil
	}
	if f.config != "" {
		var err error
		if c, err = config.Load(f.config); err != nil {
			return c, false, err
		}
		f.cfgData = c.Data
	}
	c.Data = f.dir()
	if f.config != "" {
		return c, true, requireNode(c)
	}
	if _, err := os.Stat(filepath.Join(c.Data, "accord.db")); err != nil {
		return c, false, nil
	}
	return c, true, nil
}

// sharedModel opens the node's store and its filter's model: the latest
// snapshot and what every instance learned since (seed: a model file to
// take in first, as serve does at start). Close the store when done.
func sharedModel(ctx context.Context, c config.Config, seed *classify.Model) (*filter.Service, io.Closer, error) {
	st, err := openStore(ctx, c)
	if err != nil {
		return nil, nil, fmt.Errorf("the node's shared model: %w", err)
	}
	svc, err := filter.New(ctx, filter.Config{LearnedDays: c.Filter.LearnedDays, RecipientDelimiter: c.Filter.RecipientDelimiter},
		filter.Deps{Analyzer: &analysis.Analyzer{}, Store: st, Secret: []byte("model only")})
	if err == nil {
		err = svc.StartModel(ctx, seed)
	}
	if err != nil {
		st.Close()
		return nil, nil, fmt.Errorf("the node's shared model: %w", err)
	}
	return svc, st, nil
}

// forScoring is the model to score with: on a node's data folder the
// node's shared model (what its filter learned through the doors,
// releases, the web page and accord learn), so that accord score and
// check judge as the node's filter does — a model file in the folder is
// used only while the node has learned nothing; elsewhere the file. It
// is fs.ErrNotExist when there is none.
func (f *modelFlags) forScoring(ctx context.Context) (*classify.Model, error) {
	c, isNode, err := f.node()
	if err != nil {
		return nil, err
	}
	if isNode {
		svc, st, err := sharedModel(ctx, c, nil)
		if err != nil {
			return nil, err
		}
		defer st.Close()
		if s, h := svc.Model().Trained(); s+h > 0 {
			return svc.Model(), nil
		}
	}
	return f.load(false)
}

func cmdLearn(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("learn", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	var mf modelFlags
	mf.register(fs)
	spam := fs.Bool("spam", false, "the messages are spam")
	ham := fs.Bool("ham", false, "the messages are ham (wanted mail)")
	fs.Usage = func() {
		fmt.Fprintln(e.stderr, "usage: accord learn --spam|--ham [flags] FILE|DIR|MBOX|- ...")
		fmt.Fprintln(e.stderr, "Train the classifier. A message learned earlier as the other class is unlearned first (a correction); one learned as the same class is skipped.")
		fmt.Fprintln(e.stderr, "The model keeps each learned message's features (never its text) and relearns them all in one fixed order, so the order of learning does not matter.")
		fmt.Fprintln(e.stderr, "On a node's data folder (or with its --config) it teaches the node's shared model, which the running node takes in within [filter] sync_interval; --model PATH trains a file instead.")
		fs.PrintDefaults()
	}
	inputs, err := parseInterleaved(fs, args)
	if err != nil {
		return errUsage
	}
	if *spam == *ham || len(inputs) == 0 {
		fs.Usage()
		return errUsage
	}
	c, isNode, err := mf.node()
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	if isNode {
		return learnShared(ctx, e, c, &mf, *spam, inputs)
	}
	m, err := mf.load(true)
	if err != nil {
		return &exitError{code: 1, err: err}
	}
	lim := mail.DefaultLimits()
	n, err := learnInputs(ctx, e, inputs, func(raw []byte) (classify.Outcome, error) {
		msg := mail.ParseBytes(raw, lim)
		if err := filter.IsMail(msg); err != nil {
			return 0, err
		}
		return m.LearnMessage(classify.Digest(msg.Raw), m.Extract(msg, false), *spam), nil
	})
	if err != nil {
		return err
	}
	learned, corrected, known, failed := n.learned, n.corrected, n.known, n.failed
	if learned+corrected > 1 {
		// Relearn everything kept in one canonical order, so the model does
		// not depend on which folder was learned first. One message alone
		// (a user's correction, a per-message pipe) is learned
		// incrementally; the next bulk learn, or a node's periodic
		// rebuild, puts it in order.
		if err := m.Rebuild(); errors.Is(err, classify.ErrUnkept) {
			fmt.Fprintln(e.stderr, "accord learn: this model comes from an older accord and keeps no learned messages, so it cannot be rebuilt; it depends on the order of learning until you retrain it from the messages")
		} else if err != nil {
			return err
		}
	}
	if learned+corrected > 0 {
		if err := m.Save(mf.path()); err != nil {
			return err
		}
	}
	ns, nh := m.Trained()
	class := "ham"
	if *spam {
		class = "spam"
	}
	fmt.Fprintf(e.stdout, "learned %d as %s, corrected %d, already known %d; the model in %s has learned %d spam and %d ham\n",
		learned, class, corrected, known, mf.path(), ns, nh)
	if failed > 0 {
		return &exitError{code: 1, err: fmt.Errorf("%d input(s) could not be read", failed)}
	}
	return nil
}

// learnShared is accord learn on a node's data folder: the messages go
// into the node's store, as the doors' learning does, so that the running
// node (each instance) takes them in within [filter] sync_interval and
// accord score reads the same model. Before, it trained the folder's model
// file, a second model that the node read only at its next start and that
// accord score preferred to what the node had learned since.
func learnShared(ctx context.Context, e *env, c config.Config, mf *modelFlags, spam bool, inputs []string) error {
	var seed *classify.Model
	if m, err := classify.Load(mf.path()); err == nil {
		seed = m // a model file trained before: taken in first, as serve does
	}
	svc, st, err := sharedModel(ctx, c, seed)
	if err != nil {
		return &exitError{code: 1, err: err}
	}
	defer st.Close()
	n, err := learnInputs(ctx, e, inputs, func(raw []byte) (classify.Outcome, error) {
		return svc.Learn(ctx, raw, spam, "accord-learn")
	})
	if err != nil {
		return err
	}
	learned, corrected, known, failed := n.learned, n.corrected, n.known, n.failed
	if learned+corrected > 1 {
		// Relearn everything stored in one canonical order and share it
		// as the snapshot new instances start from, as a rebuild does.
		if _, err := svc.SyncModel(ctx, true); err != nil {
			return err
		}
	}
	ns, nh := svc.Model().Trained()
	class := "ham"
	if spam {
		class = "spam"
	}
	where := "the node in " + c.Data
	if c.Store.Driver == "postgres" {
		where = "the node's PostgreSQL store"
	}
	fmt.Fprintf(e.stdout, "learned %d as %s, corrected %d, already known %d, into the shared model of %s, which has learned %d spam and %d ham; a running node takes it in within [filter] sync_interval (%s)\n",
		learned, class, corrected, known, where, ns, nh, c.Filter.SyncInterval.Duration)
	if failed > 0 {
		return &exitError{code: 1, err: fmt.Errorf("%d input(s) could not be read or learned", failed)}
	}
	return nil
}

// learnCounts is what a learn run did with its inputs.
type learnCounts struct{ learned, corrected, known, failed int }

// learnInputs reads every message of inputs (files, folders, mailboxes,
// stdin) and hands each to learn, counting what came of it; an input that
// cannot be read or learned is named on stderr and counted as failed, and
// the run goes on. It stops only when ctx does.
func learnInputs(ctx context.Context, e *env, inputs []string, learn func(raw []byte) (classify.Outcome, error)) (learnCounts, error) {
	var n learnCounts
	fail := func(src string, err error) {
		n.failed++
		fmt.Fprintf(e.stderr, "accord learn: %s: %v\n", src, err)
	}
	ir := &inputReader{stdin: e.stdin, maxBytes: mail.DefaultLimits().MaxBytes, fail: fail,
		emit: func(rm rawMessage) error {
			out, err := learn(rm.raw)
			if err != nil {
				if ctx.Err() != nil {
					return err
				}
				fail(rm.source, err)
				return nil
			}
			switch out {
			case classify.Learned:
				n.learned++
			case classify.Corrected:
				n.corrected++
			case classify.Known:
				n.known++
			}
			return nil
		}}
	return n, ir.run(ctx, inputs)
}

func cmdScore(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("score", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	var mf modelFlags
	mf.register(fs)
	fs.Usage = func() {
		fmt.Fprintln(e.stderr, "usage: accord score [flags] FILE|DIR|MBOX|- ...")
		fmt.Fprintln(e.stderr, "Print \"<score>\\t<class>\\t<source>\" per message: the probability of spam and spam, ham or unsure.")
		fmt.Fprintln(e.stderr, "The class is the classifier's own band, not the filter's verdict: the filter adds calibrated points (1.53·log-odds + 1.51) to its other symbols.")
		fs.PrintDefaults()
	}
	inputs, err := parseInterleaved(fs, args)
	if err != nil {
		return errUsage
	}
	if len(inputs) == 0 {
		fs.Usage()
		return errUsage
	}
	m, err := mf.forScoring(ctx)
	if err != nil {
		return &exitError{code: 1, err: fmt.Errorf("%w (no model file, and the data folder's node has learned nothing: train one with `accord learn`, or teach the node's filter)", err)}
	}
	lim := mail.DefaultLimits()
	failed := 0
	ir := &inputReader{stdin: e.stdin, maxBytes: lim.MaxBytes,
		fail: func(src string, err error) {
			failed++
			fmt.Fprintf(e.stderr, "accord score: %s: %v\n", src, err)
		},
		emit: func(rm rawMessage) error {
			r := m.Score(m.Extract(mail.ParseBytes(rm.raw, lim), false), false)
			_, err := fmt.Fprintf(e.stdout, "%.6f\t%s\t%s\n", r.Score, r.Class, rm.source)
			return err
		}}
	if err := ir.run(ctx, inputs); err != nil {
		return err
	}
	if failed > 0 {
		return &exitError{code: 1, err: fmt.Errorf("%d input(s) could not be read", failed)}
	}
	return nil
}

func cmdEval(ctx context.Context, e *env, args []string) error {
	fs := flag.NewFlagSet("eval", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	index := fs.String("index", "", "TREC-style index: \"spam PATH\" / \"ham PATH\" lines, paths relative to the index")
	protocol := fs.String("protocol", classify.Online, "online (score, then learn, each message in order) or batch (learn the first half, score the second)")
	results := fs.String("results", "", "write one \"<path> judge=… class=… score=…\" line per scored message to this file")
	model := fs.String("model", "", "save the trained model to this file")
	bits := fs.Int("bits", 0, "feature table size as a power of two (default 20)")
	fs.Usage = func() {
		fmt.Fprintln(e.stderr, "usage: accord eval --index INDEX [--protocol online|batch] [--results FILE] [--model PATH]")
		fmt.Fprintln(e.stderr, "Run the TREC spam-track protocol from an empty model and print the measures.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if *index == "" || fs.NArg() > 0 {
		fs.Usage()
		return errUsage
	}
	if *protocol != classify.Online && *protocol != classify.Batch {
		return &exitError{code: 2, err: fmt.Errorf("--protocol %q: want online or batch", *protocol)}
	}
	ex, err := classify.ReadIndex(*index)
	if err != nil {
		return err
	}
	var rw io.Writer
	if *results != "" {
		f, err := os.Create(*results)
		if err != nil {
			return err
		}
		defer f.Close()
		rw = f
	}
	rep, m, err := classify.Evaluate(ctx, ex, *protocol, classify.Params{Bits: *bits}, rw)
	if err != nil {
		return err
	}
	mt := rep.Metrics
	w := e.stdout
	fmt.Fprintf(w, "protocol: %s\n", rep.Protocol)
	fmt.Fprintf(w, "messages: %d scored (%d spam, %d ham) of %d in the index\n", rep.Scored, mt.Spam, mt.Ham, len(ex))
	fmt.Fprintf(w, "(1-ROCA)%%: %.4f\n", mt.ROCA1)
	fmt.Fprintf(w, "lam%%: %.3f\n", mt.LAM)
	fmt.Fprintf(w, "spam caught at 0.1%% FPR: %.1f%%\n", mt.CaughtAt01)
	fmt.Fprintf(w, "spam caught at 1%% FPR: %.1f%%\n", mt.CaughtAt1)
	fmt.Fprintf(w, "hm%%: %.2f sm%%: %.2f (threshold %.2f)\n", mt.HamMisclassified, mt.SpamMisclassified, mt.Threshold)
	n := len(ex)
	if rep.Protocol == classify.Batch {
		n = len(ex) // every message is parsed and either learned or scored
	}
	fmt.Fprintf(w, "seconds: %.3f (%.0f messages/s parsed, scored and learned; files read beforehand)\n",
		rep.Elapsed.Seconds(), float64(n)/rep.Elapsed.Seconds())
	if *model != "" {
		if err := m.Save(*model); err != nil {
			return err
		}
		fmt.Fprintf(w, "model: %s\n", *model)
	}
	return nil
}
