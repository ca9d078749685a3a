package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/accord-antispam/accord/internal/analysis"
	"github.com/accord-antispam/accord/internal/config"
	"github.com/accord-antispam/accord/internal/mail"
	"github.com/accord-antispam/accord/internal/resolve"
	"github.com/accord-antispam/accord/internal/rules"
	"github.com/accord-antispam/accord/internal/trace"
	"github.com/accord-antispam/accord/internal/trace/geo"
)

// engineFlags are the analysis settings shared by the commands that analyse.
type engineFlags struct {
	trusted       string
	trustedOnly   string
	resolver      string
	resolverKey   string // how errors name the resolver setting; "--resolver" when empty
	jurisdictions string
	model         modelFlags
}

func (f *engineFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.trusted, "trusted", "", "trusted relays added to the inferred trust boundary: comma-separated CIDRs, addresses and host names")
	fs.StringVar(&f.trustedOnly, "trusted-only", "", "the whole trust boundary, replacing the inference: comma-separated CIDRs, addresses and host names")
	fs.StringVar(&f.resolver, "resolver", "offline", "DNS: offline (no lookups; trusted Authentication-Results only), live, or a fixture zone file")
	fs.StringVar(&f.jurisdictions, "jurisdiction", "EU", "rulebooks to judge against, comma-separated ("+strings.Join(mustJurisdictions(), ", ")+")")
	fs.StringVar(&f.model.data, "data", defaultDataDir, "data folder: its classifier model (model.acm, else what its node's filter learned), when there is one, gives a spam score")
	fs.StringVar(&f.model.model, "model", "", "classifier model file (default: DATA/model.acm if it exists)")
}

func mustJurisdictions() []string {
	lib, err := rules.Embedded()
	if err != nil {
		return nil
	}
	return lib.Jurisdictions()
}

// newResolver is a resolver setting — the --resolver flag, or a node's
// [analysis] resolver, which key names in errors: offline, live, or the
// path of a fixture zone file. Nothing else is read as a zone file
// (config.CheckResolver): a fixture zone's keys would establish sender
// domains as the DNS does.
func newResolver(key, name string) (resolve.Resolver, error) {
	if err := config.CheckResolver(name); err != nil {
		return nil, fmt.Errorf("%s %w", key, err)
	}
	switch name {
	case config.ResolverOffline:
		return resolve.Offline{}, nil
	case config.ResolverLive:
		return resolve.Live{}, nil
	}
	z, err := resolve.LoadZone(name)
	if err != nil {
		return nil, fmt.Errorf("%s %q: %w (want %s)", key, name, err, config.ResolverForms)
	}
	return z, nil
}

// analyzer builds the engine from the flags.
func (f *engineFlags) analyzer(ctx context.Context, e *env) (*analysis.Analyzer, error) {
	a := &analysis.Analyzer{Geo: geo.Embedded(), Logger: e.log, Version: "accord " + version}
	switch {
	case f.trusted != "" && f.trustedOnly != "":
		return nil, errors.New("--trusted adds to the inferred boundary, --trusted-only replaces it: give one")
	case f.trustedOnly != "":
		t, err := trace.ParseTrust(f.trustedOnly)
		if err != nil {
			return nil, fmt.Errorf("--trusted-only: %w", err)
		}
		t.Only = true
		a.Trust = t
	case f.trusted != "":
		t, err := trace.ParseTrust(f.trusted)
		if err != nil {
			return nil, fmt.Errorf("--trusted: %w", err)
		}
		a.Trust = t
	}
	key := f.resolverKey
	if key == "" {
		key = "--resolver"
	}
	r, err := newResolver(key, f.resolver)
	if err != nil {
		return nil, err
	}
	a.Resolver = r
	m, err := f.model.forScoring(ctx)
	switch {
	case err == nil:
		a.Classifier = analysis.ModelClassifier{Model: m}
	case errors.Is(err, fs.ErrNotExist) && f.model.model == "":
		// No model trained yet: verdicts carry no spam score.
	default:
		return nil, err
	}
	lib, err := rules.Embedded()
	if err != nil {
		return nil, err
	}
	a.Rules = lib
	for _, j := range strings.Split(f.jurisdictions, ",") {
		j = strings.ToUpper(strings.TrimSpace(j))
		if j == "" {
			continue
		}
		if j == "UK" {
			j = "GB"
		}
		if _, ok := lib.Get(j); !ok {
			return nil, fmt.Errorf("--jurisdiction: no rulebook for %q (have %s)", j, strings.Join(lib.Jurisdictions(), ", "))
		}
		a.Jurisdictions = append(a.Jurisdictions, j)
	}
	return a, nil
}

func cmdCheck(ctx context.Context, e *env, args []string) error {
	fset := flag.NewFlagSet("check", flag.ContinueOnError)
	fset.SetOutput(e.stderr)
	var ef engineFlags
	ef.register(fset)
	asJSON := fset.Bool("json", false, "print one JSON verdict per message (JSON Lines)")
	workers := fset.Int("workers", runtime.GOMAXPROCS(0), "messages analysed in parallel")
	fset.StringVar(&ef.model.config, "config", "", "the node's configuration file (TOML): score with its shared model (a node whose store is PostgreSQL or whose data folder it names), as accord score and learn do")
	learn := fset.Bool("learn-fetch", false, "the inputs are one mailbox (or one organisation's): trust, in every message, the servers any of them was fetched from (learned from their POP3/IMAP retrieval fields); off, each message is judged alone; not with standard input")
	fset.Usage = func() {
		fmt.Fprintln(e.stderr, "usage: accord check [flags] FILE|DIR|MBOX|- ...")
		fmt.Fprintln(e.stderr, "Analyse each message and print its verdict. Exit status 0 when every input was analysed.")
		fset.PrintDefaults()
	}
	inputs, err := parseInterleaved(fset, args)
	if err != nil {
		return errUsage
	}
	if len(inputs) == 0 {
		fset.Usage()
		return errUsage
	}
	dataGiven := false
	fset.Visit(func(f *flag.Flag) { dataGiven = dataGiven || f.Name == "data" })
	if ef.model.config != "" && !dataGiven {
		ef.model.data = "" // the configuration's data folder, as for accord score
	}
	if *workers < 1 {
		*workers = 1
	}
	an, err := ef.analyzer(ctx, e)
	if err != nil {
		return &exitError{code: 2, err: err}
	}
	lim := mail.DefaultLimits()
	// Unless the operator chose one (GOMEMLIMIT), the runtime collects
	// garbage before the heap passes what N workers can need, rather than
	// at twice the live heap.
	if os.Getenv("GOMEMLIMIT") == "" {
		prev := debug.SetMemoryLimit(checkMemoryBound(*workers, lim.MaxBytes))
		defer debug.SetMemoryLimit(prev)
	}
	if *learn && !slices.Contains(inputs, "-") {
		fetched, err := learnFetched(ctx, an, inputs, lim)
		if err != nil {
			return err
		}
		an.Trust.Fetched = fetched
	}
	out := bufio.NewWriterSize(e.stdout, 64<<10)
	defer out.Flush()

	type result struct {
		source string
		v      *analysis.Verdict
		err    error
	}
	queue := make(chan chan result, *workers*4)
	sem := make(chan struct{}, *workers)
	fail := func(src string, err error) {
		ch := make(chan result, 1)
		ch <- result{source: src, err: err}
		queue <- ch
	}
	readErr := make(chan error, 1)
	go func() {
		defer close(queue)
		note := func(src, why string) { fmt.Fprintf(e.stderr, "accord check: %s: skipped: %s\n", src, why) }
		ir := &inputReader{stdin: e.stdin, maxBytes: lim.MaxBytes, fail: fail, note: note, emit: func(whole rawMessage) error {
			for _, rm := range unwrap(whole, lim) {
				ch := make(chan result, 1)
				select {
				case queue <- ch:
				case <-ctx.Done():
					return ctx.Err()
				}
				sem <- struct{}{}
				go func() {
					defer func() { <-sem }()
					v, err := analyse(ctx, an, rm, lim)
					ch <- result{source: rm.source, v: v, err: err}
				}()
			}
			return nil
		}}
		readErr <- ir.run(ctx, inputs)
	}()
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	analysed, failed := 0, 0
	for ch := range queue {
		r := <-ch
		if r.err != nil {
			fmt.Fprintf(e.stderr, "accord check: %s: %v\n", r.source, r.err)
			failed++
			continue
		}
		analysed++
		if *asJSON {
			if err := enc.Encode(r.v); err != nil {
				return fmt.Errorf("write: %w", err)
			}
		} else {
			writeReport(out, r.v)
		}
	}
	if err := <-readErr; err != nil {
		return err
	}
	if failed > 0 {
		return &exitError{code: 1, err: fmt.Errorf("%d input(s) could not be analysed; %d message(s) were", failed, analysed)}
	}
	return nil
}

// maxVerdictBytes bounds one verdict in memory: texts of 64 KiB each, at
// most mail.MaxURLs links cut from at most mail.MaxContentText of text, the
// Received fields of a 512 KiB header.
const maxVerdictBytes = 16 << 20

// checkMemoryBound is the heap that `accord check --workers N` needs at
// most (README): each worker holds one message of at most maxBytes and its
// analysis (analysis.MessageAllocBound), the reader holds the next message,
// up to 4 verdicts per worker wait for their turn to be printed, and 64 MiB
// covers the rest (geo data, rulebooks, a classifier model).
func checkMemoryBound(workers int, maxBytes int64) int64 {
	n := int64(workers)
	return n*(maxBytes+analysis.MessageAllocBound(int(maxBytes))) + maxBytes + 4*n*maxVerdictBytes + 64<<20
}

// learnFetched reads the headers of every input once and returns the
// servers the mailbox is fetched from, each with the sentence that says so.
// A mailbox's own providers are then inside the boundary in every message,
// also where they passed the message on by SMTP rather than being fetched
// from. Inputs that cannot be read are reported by the analysis pass.
func learnFetched(ctx context.Context, an *analysis.Analyzer, args []string, lim mail.Limits) (map[netip.Addr]string, error) {
	type seen struct {
		name, how string
		n         int
	}
	found := map[netip.Addr]*seen{}
	ir := &inputReader{maxBytes: lim.MaxBytes, fail: func(string, error) {}, emit: func(rm rawMessage) error {
		for _, s := range an.FetchSources(headerOnly(rm.raw, lim)) {
			if f := found[s.Addr]; f != nil {
				f.n++
			} else {
				found[s.Addr] = &seen{name: s.Name, how: s.Protocol, n: 1}
			}
		}
		return nil
	}}
	if err := ir.run(ctx, args); err != nil {
		return nil, err
	}
	out := make(map[netip.Addr]string, len(found))
	for a, f := range found {
		out[a] = fmt.Sprintf("a server this mailbox is fetched from (%s from %s, in %d message(s) of these inputs)", f.how, f.name, f.n)
	}
	return out, nil
}

// headerOnly parses just the header block of a raw message.
func headerOnly(raw []byte, lim mail.Limits) mail.Header {
	if i := bytes.Index(raw, []byte("\n\n")); i >= 0 {
		raw = raw[:i+2]
	} else if i := bytes.Index(raw, []byte("\r\n\r\n")); i >= 0 {
		raw = raw[:i+4]
	}
	return mail.ParseBytes(raw, lim).Header
}

// analyse parses and analyses one message. A panic in the engine is a bug;
// it is reported against this message and does not stop the others.
func analyse(ctx context.Context, an *analysis.Analyzer, rm rawMessage, lim mail.Limits) (v *analysis.Verdict, err error) {
	defer func() {
		if p := recover(); p != nil {
			v, err = nil, fmt.Errorf("internal error while analysing (please report it): %v\n%s", p, debug.Stack())
		}
	}()
	m := mail.ParseBytes(rm.raw, lim)
	if rm.truncated {
		m.MarkTruncated(lim.MaxBytes)
	}
	return an.Analyze(ctx, analysis.Input{Source: rm.source, Message: m, Wrapper: rm.wrapper})
}
