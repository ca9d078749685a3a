// Command corpusreport summarises `accord check --json` output over a corpus:
//
//	corpusreport stats VERDICTS.jsonl          coverage table (origin, country, auth, opt-out…)
//	corpusreport trace SA.tsv VERDICTS.jsonl   origin IP against SpamAssassin's first untrusted relay
//	corpusreport legal VERDICTS.jsonl          each rule's statuses, human review and phishing-likely counts:
//	                                           agreement (both-none apart), and a table of the
//	                                           differences by the rule behind them, with examples
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
		Hop     int             `json:"hop"`
		Why     string          `json:"why"`
		Hops    []struct {
			IP       string `json:"ip"`
			Why      string `json:"why"`
			Boundary string `json:"boundary"`
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
	Phishing struct {
		Likely any `json:"likely"`
	} `json:"phishing"`
	Legal []struct {
		Rules []struct {
			Rule   string `json:"rule"`
			Status string `json:"status"`
			Review bool   `json:"human_review"`
		} `json:"rules"`
	} `json:"legal"`
}

func main() {
	min := flag.Float64("min", 97, "trace: minimum agreement in percent")
	flag.Parse()
	switch flag.Arg(0) {
	case "stats":
		stats(read(flag.Arg(1)))
	case "legal":
		legal(read(flag.Arg(1)))
	case "trace":
		if !trace(flag.Arg(1), read(flag.Arg(2)), *min) {
			os.Exit(1)
		}
	default:
		fmt.Fprintln(os.Stderr, "usage: corpusreport stats FILE.jsonl | corpusreport legal FILE.jsonl | corpusreport [-min P] trace SA.tsv FILE.jsonl")
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

// difference is one way Accord's origin differs from SpamAssassin's.
type difference struct {
	name, right string
	examples    []string
	n           int
}

// categories explain the differences by the rule that made Accord trust the
// relay SpamAssassin stopped at, with the reasoning of that rule for who is
// right. The reasoning is the rule's, not checked message by message (the
// examples are there to check it by hand). Keyed on the words of that hop's
// "why"; the first match wins.
var categories = []struct {
	key, name, right string
}{
	{"a server this mailbox is fetched from", "SpamAssassin stops at a server the mailbox is fetched from (POP3/IMAP in other messages of the same mailbox)",
		"Accord: the owner's fetchmail records fetching from that address, so it is the owner's own provider; the sender is its client"},
	{"forward-confirmed reverse name", "SpamAssassin stops at the receiver's own public relay (forward-confirmed name in the receiver's domain, which wrote the next field)",
		"Accord: the domain's own DNS ties the address to the receiver's domain, and the relay passed the message on"},
	{"LMTP", "SpamAssassin stops at the MTA that delivered over LMTP to the mail store", "Accord: LMTP is the mail store's local delivery"},
	{"like the receiver", "SpamAssassin stops at a relay in the receiver's own network (same AS, name and next field)", "Accord: the receiver's relay"},
	{"network", "SpamAssassin stops at a known provider's internal host", "Accord: the provider's own network, received by its own host"},
	{"handing the message to itself", "SpamAssassin stops at the receiver handing the message to itself", "Accord: the same address"},
	{"mailbox retrieval", "SpamAssassin stops at a mailbox retrieval hop", "Accord: the provider fetched from is trusted"},
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
	var same, bothNone, total int
	diffs := map[string]*difference{}
	add := func(name, right, ex string) {
		d := diffs[name]
		if d == nil {
			d = &difference{name: name, right: right}
			diffs[name] = d
		}
		d.n++
		if len(d.examples) < 3 {
			d.examples = append(d.examples, ex)
		}
	}
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
		got := v.Origin.IP
		switch {
		case got == "" && want == "":
			bothNone++
			continue
		case got == want:
			same++
			continue
		}
		ex := fmt.Sprintf("%s: accord %q, spamassassin %q", key, got, want)
		// The hop SpamAssassin stopped at, as Accord placed it.
		saHop := -1
		for i, h := range v.Origin.Hops {
			if want != "" && h.IP == want {
				saHop = i
				break
			}
		}
		switch {
		case want == "":
			add("only Accord found an untrusted relay: "+short(v.Origin.Why), "Accord: "+v.Origin.Why, ex)
		case saHop >= 0 && v.Origin.Hops[saHop].Boundary == "inside":
			why := v.Origin.Hops[saHop].Why
			named := false
			for _, c := range categories {
				if strings.Contains(why, c.key) {
					add(c.name, c.right, ex)
					named = true
					break
				}
			}
			if !named {
				add("SpamAssassin stops at a relay Accord trusts: "+short(why), "see the example", ex)
			}
		case got == "":
			add("only SpamAssassin found an untrusted relay", "see the example", ex)
		default:
			add("Accord stops earlier: "+short(v.Origin.Why), "see the example", ex)
		}
	}
	found := total - bothNone
	pct := 100 * float64(same) / float64(max(found, 1))
	fmt.Printf("origin IP against SpamAssassin's first untrusted relay, %d messages\n\n", total)
	fmt.Printf("| outcome | messages |\n|---|---|\n")
	fmt.Printf("| same relay | %d |\n| both found none (apart: no relay to compare) | %d |\n| different | %d |\n\n", same, bothNone, found-same)
	fmt.Printf("agreement where either found an untrusted relay: %d of %d (%.2f%%), gate %.2f%%\n\n", same, found, pct, min)
	var ds []*difference
	for _, d := range diffs {
		ds = append(ds, d)
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i].n > ds[j].n || ds[i].n == ds[j].n && ds[i].name < ds[j].name })
	fmt.Printf("| difference | messages | who is right, by the rule's reasoning (not checked per message: see the examples) | examples |\n|---|---|---|---|\n")
	for _, d := range ds {
		fmt.Printf("| %s | %d | %s | %s |\n", d.name, d.n, d.right, strings.Join(d.examples, "; "))
	}
	return found > 0 && pct >= min
}

// short keeps the rule of an explanation and drops its addresses.
func short(why string) string {
	f := strings.Fields(why)
	var out []string
	for _, w := range f {
		if strings.ContainsAny(w, "0123456789") && strings.ContainsAny(w, ".:") {
			w = "…"
		}
		out = append(out, w)
	}
	return strings.Join(out, " ")
}

// legal prints, per rule, how many verdicts read each status, how many of
// them ask for human review, and the phishing-likely count.
func legal(vs []verdict) {
	statuses := []string{"breach", "ok", "needs-context", "not-applicable"}
	type row struct {
		n      map[string]int
		review int
	}
	rows := map[string]*row{}
	var order []string
	phish := map[string]int{}
	for _, v := range vs {
		phish[fmt.Sprint(v.Phishing.Likely)]++
		for _, j := range v.Legal {
			for _, r := range j.Rules {
				x := rows[r.Rule]
				if x == nil {
					x = &row{n: map[string]int{}}
					rows[r.Rule] = x
					order = append(order, r.Rule)
				}
				x.n[r.Status]++
				if r.Review {
					x.review++
				}
			}
		}
	}
	fmt.Printf("| rule | %s | human review |\n|---|---|---|---|---|---|\n", strings.Join(statuses, " | "))
	for _, name := range order {
		x := rows[name]
		fmt.Printf("| %s |", name)
		for _, s := range statuses {
			fmt.Printf(" %d |", x.n[s])
		}
		fmt.Printf(" %d |\n", x.review)
	}
	fmt.Printf("\nphishing.likely: true %d, unknown %d, false %d (of %d)\n", phish["true"], phish["unknown"], phish["false"], len(vs))
}
