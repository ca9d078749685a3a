// Command corpusreport summarises `accord check --json` output over a corpus:
//
//	corpusreport stats VERDICTS.jsonl          coverage table (origin, country, auth, opt-out…)
//	corpusreport trace SA.tsv VERDICTS.jsonl   origin IP against SpamAssassin's first untrusted relay
//
// SA.tsv comes from bench/sa-relays.pl. The class (ham/spam) is read from the
// corpus path. The trace command exits 1 when agreement is under -min percent.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
)

type verdict struct {
	Source string `json:"source"`
	Origin struct {
		IP      string          `json:"ip"`
		Country string          `json:"country"`
		Network json.RawMessage `json:"network"`
		Forged  bool            `json:"forged"`
		Hops    []struct {
			IP string `json:"ip"`
		} `json:"hops"`
	} `json:"origin"`
	Auth struct {
		SPF struct {
			Result string `json:"result"`
		} `json:"spf"`
		DKIM []struct {
			Result string `json:"result"`
		} `json:"dkim"`
		DMARC struct {
			Result string `json:"result"`
		} `json:"dmarc"`
	} `json:"auth"`
	Sender struct {
		Identity any `json:"identity_disguised"`
	} `json:"sender"`
	OptOut struct {
		Valid  any   `json:"valid"`
		LU     []any `json:"list_unsubscribe"`
		Body   []any `json:"body"`
		Phrase []any `json:"phrases"`
	} `json:"opt_out"`
	Commercial struct {
		Likely any `json:"likely"`
	} `json:"commercial"`
	Message struct {
		Defects []any `json:"defects"`
	} `json:"message"`
}

func main() {
	min := flag.Float64("min", 97, "trace: minimum agreement in percent")
	flag.Parse()
	switch flag.Arg(0) {
	case "stats":
		stats(read(flag.Arg(1)))
	case "trace":
		if !trace(flag.Arg(1), read(flag.Arg(2)), *min) {
			os.Exit(1)
		}
	default:
		fmt.Fprintln(os.Stderr, "usage: corpusreport stats FILE.jsonl | corpusreport [-min P] trace SA.tsv FILE.jsonl")
		os.Exit(2)
	}
}

func read(path string) []verdict {
	f, err := os.Open(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "corpusreport:", err)
		os.Exit(1)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 64<<20)
	var out []verdict
	for sc.Scan() {
		var v verdict
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			fmt.Fprintln(os.Stderr, "corpusreport: bad line:", err)
			os.Exit(1)
		}
		out = append(out, v)
	}
	return out
}

func class(src string) string {
	if strings.Contains(src, "/spam/") {
		return "spam"
	}
	return "ham"
}

func stats(vs []verdict) {
	rows := []struct {
		name string
		f    func(v verdict) bool
	}{
		{"analysed", func(verdict) bool { return true }},
		{"origin IP found", func(v verdict) bool { return v.Origin.IP != "" }},
		{"origin country", func(v verdict) bool { return v.Origin.Country != "" }},
		{"origin network (ASN)", func(v verdict) bool { return len(v.Origin.Network) > 0 && string(v.Origin.Network) != "null" }},
		{"forged relay flagged", func(v verdict) bool { return v.Origin.Forged }},
		{"SPF result (not none)", func(v verdict) bool { return v.Auth.SPF.Result != "none" }},
		{"DKIM signature present", func(v verdict) bool { return len(v.Auth.DKIM) > 0 }},
		{"DKIM result (not none)", func(v verdict) bool {
			for _, d := range v.Auth.DKIM {
				if d.Result != "none" {
					return true
				}
			}
			return false
		}},
		{"DMARC result (not none)", func(v verdict) bool { return v.Auth.DMARC.Result != "none" }},
		{"List-Unsubscribe header", func(v verdict) bool { return len(v.OptOut.LU) > 0 }},
		{"opt-out link/address in body", func(v verdict) bool { return len(v.OptOut.Body) > 0 }},
		{"opt-out wording in body", func(v verdict) bool { return len(v.OptOut.Phrase) > 0 }},
		{"opt_out.valid = true", func(v verdict) bool { return v.OptOut.Valid == true }},
		{"opt_out.valid = unknown", func(v verdict) bool { return v.OptOut.Valid == "unknown" }},
		{"opt_out.valid = false", func(v verdict) bool { return v.OptOut.Valid == false }},
		{"commercial = true", func(v verdict) bool { return v.Commercial.Likely == true }},
		{"identity_disguised = true", func(v verdict) bool { return v.Sender.Identity == true }},
		{"parse defects found", func(v verdict) bool { return len(v.Message.Defects) > 0 }},
	}
	count := map[string]int{}
	for _, v := range vs {
		count[class(v.Source)]++
	}
	fmt.Printf("| measure | ham (%d) | spam (%d) | all (%d) |\n|---|---|---|---|\n", count["ham"], count["spam"], len(vs))
	for _, r := range rows {
		c := map[string]int{}
		for _, v := range vs {
			if r.f(v) {
				c[class(v.Source)]++
			}
		}
		pct := func(n, d int) string {
			if d == 0 {
				return "0"
			}
			return fmt.Sprintf("%d (%.1f%%)", n, 100*float64(n)/float64(d))
		}
		fmt.Printf("| %s | %s | %s | %s |\n", r.name, pct(c["ham"], count["ham"]), pct(c["spam"], count["spam"]), pct(c["ham"]+c["spam"], len(vs)))
	}
}

func trace(saPath string, vs []verdict, min float64) bool {
	f, err := os.Open(saPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, "corpusreport:", err)
		os.Exit(1)
	}
	defer f.Close()
	sa := map[string]string{}
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		p := strings.SplitN(sc.Text(), "\t", 3)
		if len(p) >= 2 {
			sa[strings.TrimPrefix(p[0], "./")] = p[1]
		}
	}
	agree, total := 0, 0
	kinds := map[string][]string{}
	for _, v := range vs {
		key := v.Source
		if i := strings.Index(key, "/ham/"); i >= 0 {
			key = key[i+1:]
		} else if i := strings.Index(key, "/spam/"); i >= 0 {
			key = key[i+1:]
		}
		want, ok := sa[key]
		if !ok {
			continue
		}
		total++
		if want == v.Origin.IP {
			agree++
			continue
		}
		k := "different relay"
		switch {
		case v.Origin.IP == "":
			k = "Accord found no untrusted relay, SpamAssassin did"
		case want == "":
			k = "SpamAssassin found no untrusted relay, Accord did"
		}
		kinds[k] = append(kinds[k], fmt.Sprintf("%s: accord=%q spamassassin=%q", key, v.Origin.IP, want))
	}
	pct := 100 * float64(agree) / float64(max(total, 1))
	fmt.Printf("origin IP agrees with SpamAssassin's first untrusted relay: %d of %d (%.2f%%)\n", agree, total, pct)
	var ks []string
	for k := range kinds {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	for _, k := range ks {
		fmt.Printf("- %s: %d\n", k, len(kinds[k]))
		for i, ex := range kinds[k] {
			if i == 5 {
				break
			}
			fmt.Printf("    %s\n", ex)
		}
	}
	return total > 0 && pct >= min
}
