// Command modernreport checks `accord check --json` verdicts over a folder of
// real delivered messages against the final receiving provider's own record:
//
//	modernreport [-min-origin 97] [-min-auth 95] DIR VERDICTS.jsonl
//
// The truth for each message is what its final receiving provider wrote
// about the connection it accepted, read as package record documents:
// Microsoft 365's "sender IP is X" (or X-Sender-IP) and Gmail's Received-SPF
// client-ip, each only when that provider is the final receiver (a record
// a forwarder wrote further down is not used), with the spf= and dmarc=
// results of the provider's own Authentication-Results field. Result names
// outside the RFC 8601 registry are mapped as the engine documents
// (docs/verdict.md): bestguesspass -> none, hardfail -> fail, timeout ->
// temperror.
//
// The origin is compared with a field the trace-back does not read. The
// SPF and DMARC results are not an independent check: offline, Accord reads
// them from that same field, so their agreement compares two readers of one
// field (it catches a misread or an untrusted field, not a wrong result).
//
// It prints the agreement by provider and in all, every disagreement and
// the messages with no record, and exits 1 when the origin agreement is
// under -min-origin percent or either authentication agreement under
// -min-auth.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/accord-antispam/accord/bench/modernreport/record"
	"github.com/accord-antispam/accord/internal/mail"
)

type verdict struct {
	Source string `json:"source"`
	Origin struct {
		IP  string `json:"ip"`
		Hop int    `json:"hop"`
		Why string `json:"why"`
	} `json:"origin"`
	Auth struct {
		SPF   struct{ Result string } `json:"spf"`
		DMARC struct{ Result string } `json:"dmarc"`
	} `json:"auth"`
}

type truth struct {
	record.Truth
	ok   bool
	from string // the From domain of the message as it is now
}

// tally counts agreement for one provider, or all.
type tally struct {
	n, withIP, originOK, withSPF, spfOK, withDMARC, dmarcOK int
}

func main() {
	minOrigin := flag.Float64("min-origin", 97, "minimum origin agreement in percent")
	minAuth := flag.Float64("min-auth", 95, "minimum SPF and DMARC agreement in percent")
	flag.Parse()
	if flag.NArg() != 2 {
		fmt.Fprintln(os.Stderr, "usage: modernreport [-min-origin P] [-min-auth P] DIR VERDICTS.jsonl")
		os.Exit(2)
	}
	dir, err := filepath.Abs(flag.Arg(0))
	if err != nil {
		fail(err)
	}
	truths := map[string]truth{}
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".eml") {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		h := mail.ParseBytes(b, mail.Limits{}).Header
		t, ok := record.Read(h)
		from, _ := mail.ParseAddressList(h.Get("From"))
		tr := truth{Truth: t, ok: ok}
		if len(from) > 0 {
			tr.from = strings.ToLower(from[0].Domain)
		}
		truths[rel] = tr
		return nil
	})
	if err != nil {
		fail(err)
	}
	vs := readVerdicts(flag.Arg(1))
	byProvider := map[string]*tally{}
	var all tally
	var misses, none, rewritten []string
	for _, v := range vs {
		abs, _ := filepath.Abs(v.Source)
		rel, err := filepath.Rel(dir, abs)
		if err != nil {
			continue
		}
		t, ok := truths[rel]
		if !ok {
			continue
		}
		all.n++
		if !t.ok {
			none = append(none, rel)
			continue
		}
		p := byProvider[t.Provider]
		if p == nil {
			p = &tally{}
			byProvider[t.Provider] = p
		}
		p.n++
		if t.DMARC != "" && t.DMARCFrom != "" && t.DMARCFrom != t.from {
			// The provider judged another author domain than the From
			// reads now (most samples' From was anonymised after
			// delivery): its DMARC result is not about this From.
			rewritten = append(rewritten, fmt.Sprintf("%s (%s judged %s, the From reads %q)", rel, t.Provider, t.DMARCFrom, t.from))
			t.DMARC = ""
		}
		for _, c := range []*tally{p, &all} {
			c.withIP++
			if v.Origin.IP == t.IP {
				c.originOK++
			}
			if t.SPF != "" {
				c.withSPF++
				if v.Auth.SPF.Result == t.SPF {
					c.spfOK++
				}
			}
			if t.DMARC != "" {
				c.withDMARC++
				if v.Auth.DMARC.Result == t.DMARC {
					c.dmarcOK++
				}
			}
		}
		if v.Origin.IP != t.IP {
			misses = append(misses, fmt.Sprintf("origin %s: accord %q (hop %d: %s), %s's %s %q", rel, v.Origin.IP, v.Origin.Hop, v.Origin.Why, t.Provider, t.Field, t.IP))
		}
		if t.SPF != "" && v.Auth.SPF.Result != t.SPF {
			misses = append(misses, fmt.Sprintf("spf    %s: accord %q, %s %q", rel, v.Auth.SPF.Result, t.Provider, t.SPF))
		}
		if t.DMARC != "" && v.Auth.DMARC.Result != t.DMARC {
			misses = append(misses, fmt.Sprintf("dmarc  %s: accord %q, %s %q", rel, v.Auth.DMARC.Result, t.Provider, t.DMARC))
		}
	}
	pct := func(a, b int) float64 { return 100 * float64(a) / float64(max(b, 1)) }
	fmt.Printf("%d messages, %d with the final receiver's record of the sender IP (%d have none and are not scored)\n", all.n, all.withIP, len(none))
	fmt.Printf("| final receiver | messages | origin.ip = its recorded IP | SPF = its spf | DMARC = its dmarc |\n|---|---|---|---|---|\n")
	names := make([]string, 0, len(byProvider))
	for name := range byProvider {
		names = append(names, name)
	}
	sort.Strings(names)
	cell := func(ok, of int) string {
		if of == 0 {
			return "—"
		}
		return fmt.Sprintf("%d of %d (%.1f%%)", ok, of, pct(ok, of))
	}
	row := func(name string, c *tally) {
		fmt.Printf("| %s | %d | %s | %s | %s |\n", name, c.n, cell(c.originOK, c.withIP), cell(c.spfOK, c.withSPF), cell(c.dmarcOK, c.withDMARC))
	}
	for _, name := range names {
		row(name, byProvider[name])
	}
	all.n = all.withIP
	row("all", &all)
	fmt.Println("The origin is checked against the provider's own record of the connecting address, a field the trace-back does not read.")
	fmt.Println("SPF and DMARC are not an independent check: offline, Accord reads them from the very Authentication-Results field they are compared with (two readers of one field).")
	sort.Strings(misses)
	for _, m := range misses {
		fmt.Println("  " + m)
	}
	for _, n := range rewritten {
		fmt.Println("  DMARC not scored, the provider judged another domain than the From: " + n)
	}
	for _, n := range none {
		fmt.Println("  no record: " + n + " (its final receiver wrote none this reader knows)")
	}
	if all.withIP == 0 || pct(all.originOK, all.withIP) < *minOrigin || pct(all.spfOK, all.withSPF) < *minAuth || pct(all.dmarcOK, all.withDMARC) < *minAuth {
		fmt.Printf("FAIL: below %.0f%% (origin) or %.0f%% (SPF, DMARC)\n", *minOrigin, *minAuth)
		os.Exit(1)
	}
}

func readVerdicts(path string) []verdict {
	f, err := os.Open(path)
	if err != nil {
		fail(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 64<<20)
	var out []verdict
	for sc.Scan() {
		var v verdict
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			fail(fmt.Errorf("bad verdict line: %w", err))
		}
		out = append(out, v)
	}
	if err := sc.Err(); err != nil {
		fail(err)
	}
	return out
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "modernreport:", err)
	os.Exit(1)
}
