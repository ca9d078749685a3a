// Command modernreport checks `accord check --json` verdicts over a folder of
// real delivered messages against the receiving provider's own record:
//
//	modernreport [-min-origin 97] [-min-auth 95] DIR VERDICTS.jsonl
//
// The truth for each message is what its receiving provider wrote about the
// connection it accepted: "sender IP is X" in its Authentication-Results
// (decoded when the field is RFC 2047-encoded), or else its X-Sender-IP
// field; and the spf= and dmarc= results of that same Authentication-Results
// field. Result names outside the RFC 8601 registry are mapped as the engine
// documents (docs/verdict.md): bestguesspass -> none, hardfail -> fail,
// timeout -> temperror.
//
// It prints the agreement of origin.ip, auth.spf.result and
// auth.dmarc.result with that truth, every disagreement, and exits 1 when
// the origin agreement is under -min-origin percent or either
// authentication agreement under -min-auth.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

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
	ip, spf, dmarc string
	hasAR          bool
}

var (
	senderIP = regexp.MustCompile(`(?i)sender IP is ([0-9a-f:.]+)`)
	result   = regexp.MustCompile(`(?i)(?:^|[;\s])(spf|dmarc)\s*=\s*([a-z]+)`)
)

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
		truths[rel] = read(mail.ParseBytes(b, mail.Limits{}).Header)
		return nil
	})
	if err != nil {
		fail(err)
	}
	vs := readVerdicts(flag.Arg(1))
	var n, withIP, originOK, withAuth, spfOK, dmarcOK int
	var misses []string
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
		n++
		if t.ip != "" {
			withIP++
			if v.Origin.IP == t.ip {
				originOK++
			} else {
				misses = append(misses, fmt.Sprintf("origin %s: accord %q (hop %d: %s), provider %q", rel, v.Origin.IP, v.Origin.Hop, v.Origin.Why, t.ip))
			}
		}
		if t.hasAR {
			withAuth++
			if v.Auth.SPF.Result == t.spf {
				spfOK++
			} else {
				misses = append(misses, fmt.Sprintf("spf    %s: accord %q, provider %q", rel, v.Auth.SPF.Result, t.spf))
			}
			if v.Auth.DMARC.Result == t.dmarc {
				dmarcOK++
			} else {
				misses = append(misses, fmt.Sprintf("dmarc  %s: accord %q, provider %q", rel, v.Auth.DMARC.Result, t.dmarc))
			}
		}
	}
	pct := func(a, b int) float64 { return 100 * float64(a) / float64(max(b, 1)) }
	fmt.Printf("%d messages, %d with the provider's record of the sender IP, %d with its SPF and DMARC results\n", n, withIP, withAuth)
	fmt.Printf("| measure | agree | of | %% |\n|---|---|---|---|\n")
	fmt.Printf("| origin.ip = provider's sender IP | %d | %d | %.1f |\n", originOK, withIP, pct(originOK, withIP))
	fmt.Printf("| auth.spf.result = provider's spf | %d | %d | %.1f |\n", spfOK, withAuth, pct(spfOK, withAuth))
	fmt.Printf("| auth.dmarc.result = provider's dmarc | %d | %d | %.1f |\n", dmarcOK, withAuth, pct(dmarcOK, withAuth))
	sort.Strings(misses)
	for _, m := range misses {
		fmt.Println("  " + m)
	}
	if withIP == 0 || pct(originOK, withIP) < *minOrigin || pct(spfOK, withAuth) < *minAuth || pct(dmarcOK, withAuth) < *minAuth {
		fmt.Printf("FAIL: below %.0f%% (origin) or %.0f%% (SPF, DMARC)\n", *minOrigin, *minAuth)
		os.Exit(1)
	}
}

// read finds the receiving provider's record: the first (newest)
// Authentication-Results field that names the sender IP, else X-Sender-IP.
func read(h mail.Header) truth {
	var t truth
	for _, v := range h.Values("Authentication-Results") {
		if strings.Contains(v, "=?") {
			if d, err := mail.DecodeHeader(v); err == nil {
				v = d
			}
		}
		m := senderIP.FindStringSubmatch(v)
		if m == nil {
			continue
		}
		t.ip, t.hasAR = m[1], true
		t.spf, t.dmarc = "none", "none"
		for _, r := range result.FindAllStringSubmatch(v, -1) {
			val := mapResult(strings.ToLower(r[2]))
			if strings.EqualFold(r[1], "spf") {
				t.spf = val
			} else {
				t.dmarc = val
			}
		}
		break
	}
	if t.ip == "" {
		t.ip = strings.TrimSpace(h.Get("X-Sender-IP"))
	}
	return t
}

func mapResult(r string) string {
	switch r {
	case "bestguesspass":
		return "none"
	case "hardfail":
		return "fail"
	case "timeout":
		return "temperror"
	}
	return r
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
