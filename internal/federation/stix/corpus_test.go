package stix

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/accord-antispam/accord/internal/analysis"
	"github.com/accord-antispam/accord/internal/federation"
	"github.com/accord-antispam/accord/internal/intake"
	"github.com/accord-antispam/accord/internal/mail"
	"github.com/accord-antispam/accord/internal/resolve"
	"github.com/accord-antispam/accord/internal/rules"
	"github.com/accord-antispam/accord/internal/trace/geo"
)

// corpusSource serves analysed corpus messages as the desk's reports,
// each with its reporter's address ("" for none) and the complaint it
// came in, whose From gives the reporter's display name as the store
// gives it (intake.ReporterMailbox).
type corpusSource struct {
	reports    []*intake.Report
	reporters  []string
	complaints [][]byte
}

func (c corpusSource) SharedIndex(_ context.Context, fn func(federation.ReportRef) error) error {
	for i, r := range c.reports {
		if err := fn(federation.RefOf(r, c.reporters[i])); err != nil {
			return err
		}
	}
	return nil
}

func (c corpusSource) SharedReports(_ context.Context, ids []string, fn func(*intake.Report, string) error) error {
	for i, r := range c.reports {
		if slices.Contains(ids, r.ID) {
			if err := fn(r, intake.ReporterMailbox(c.complaints[i], c.reporters[i])); err != nil {
				return err
			}
		}
	}
	return nil
}

// Reporters of the corpus's forwards: names no message of the corpus
// holds, so any trace of them in what is shared is a leak.
var (
	reporterFirst = []string{"Ysolinde", "Barnabette", "Zephyrinus", "Gwenvaela"}
	reporterLast  = []string{"Quibelard", "Vuillermoz", "Ploumanac", "Kerdraonec"}
)

// forwarded is a corpus message as its recipient would forward it to the
// desk through the API, under a subject that does not say "Fwd:": every
// third message attached, every third quoted inline after a client's
// marker or header block (with a link that names the forwarder, as a
// spam bought with a list of names carries). The rest is sent as it is
// (reporter "").
func forwarded(i int, raw []byte) (complaint []byte, reporter, first, last string) {
	if i%3 == 0 {
		return raw, "", "", ""
	}
	first, last = reporterFirst[i%4], reporterLast[i/4%4]
	reporter = strings.ToLower(first + "." + last + "@forwarders.example")
	if i%5 < 2 {
		// An address that does not spell the name (am1987@…): only the
		// display name says who they are.
		reporter = fmt.Sprintf("fw%05d@forwarders.example", i)
	}
	head := "From: " + first + " " + last + " <" + reporter + ">\r\nTo: report@desk.example\r\nSubject: Signalement spam\r\n" +
		"Date: Tue, 24 Nov 2026 11:00:00 +0000\r\nMIME-Version: 1.0\r\n"
	note := "Voici un spam que j'ai reçu. " + first + " " + last + "\r\n"
	if i%3 == 1 {
		return []byte(head + "Content-Type: multipart/mixed; boundary=\"=fw=\"\r\n\r\n--=fw=\r\nContent-Type: text/plain\r\n\r\n" + note +
			"--=fw=\r\nContent-Type: message/rfc822\r\n\r\n" + string(raw) + "\r\n--=fw=--\r\n"), reporter, first, last
	}
	m := mail.ParseBytes(raw, mail.Limits{})
	field := func(name string) string {
		v, _ := mail.DecodeHeader(m.Header.Get(name))
		return strings.Join(strings.Fields(v), " ")
	}
	var q strings.Builder
	to := field("To")
	switch i % 4 {
	case 0, 1:
		q.WriteString("---------- Forwarded message ---------\r\n")
	case 2:
		q.WriteString("Begin forwarded message:\r\n\r\n")
	default:
		// Outlook's block without a marker line: a forward of what was
		// sent to the forwarder (the desk tells it so from a thread).
		q.WriteString("________________________________\r\n")
		to = first + " " + last + " <" + reporter + ">"
	}
	fmt.Fprintf(&q, "From: %s\r\nSent: %s\r\nTo: %s\r\n", field("From"), field("Date"), to)
	if cc := field("Cc"); cc != "" {
		fmt.Fprintf(&q, "Cc: %s\r\n", cc)
	}
	fmt.Fprintf(&q, "Subject: %s\r\n\r\n", field("Subject"))
	fmt.Fprintf(&q, "http://track.example.com/r/%s.%s/ref\r\n", strings.ToLower(first), strings.ToLower(last))
	q.WriteString(mail.Extract(m).Text)
	return []byte(head + "Content-Type: text/plain; charset=utf-8\r\n\r\n" + note + "\r\n" + q.String()), reporter, first, last
}

func (c corpusSource) SharedVersion(context.Context) (string, error) { return "corpus", nil }

var (
	rcptField  = regexp.MustCompile(`(?i)^(to|cc|bcc|delivered-to|x-original-to|envelope-to|x-envelope-to|apparently-to|resent-to|resent-cc|x-rcpt-to)\s*:(.*)$`)
	rcptFor    = regexp.MustCompile(`(?i)\bfor\s+<?([^\s<>;()"]+@[^\s<>;()"]+)`)
	addrInText = regexp.MustCompile(`[^\s<>,;:"()\[\]]+@[^\s<>,;:"()\[\]]+`)
	b64Run     = regexp.MustCompile(`[A-Za-z0-9+/_-]{8,}={0,2}`)
)

// recipients is the test's own reading of whom a message went to: the
// addresses in its recipient fields and Received "for" clauses, found by
// plain text search on the unfolded header (no part of the code under
// test).
func recipients(raw []byte) []string {
	head := string(raw)
	if i := strings.Index(head, "\n\n"); i >= 0 {
		head = head[:i]
	}
	if i := strings.Index(head, "\r\n\r\n"); i >= 0 {
		head = head[:i]
	}
	head = regexp.MustCompile(`\r?\n[ \t]+`).ReplaceAllString(head, " ")
	seen := map[string]bool{}
	var out []string
	add := func(a string) {
		a = strings.ToLower(strings.Trim(a, "<>.'\"`"))
		if strings.Count(a, "@") == 1 && len(a) >= 6 && !seen[a] && !strings.HasPrefix(a, "@") && !strings.HasSuffix(a, "@") {
			seen[a] = true
			out = append(out, a)
		}
	}
	for _, line := range strings.Split(head, "\n") {
		line = strings.TrimRight(line, "\r")
		if m := rcptField.FindStringSubmatch(line); m != nil {
			for _, a := range addrInText.FindAllString(m[2], -1) {
				add(a)
			}
		}
		if strings.HasPrefix(strings.ToLower(line), "received:") {
			for _, m := range rcptFor.FindAllStringSubmatch(line, -1) {
				add(m[1])
			}
		}
	}
	return out
}

// everyForm is what a program could read out of shared bytes: the bytes,
// and when they are a message, every header field and part decoded,
// percent-decoded, and base64 runs decoded.
func everyForm(b []byte, message bool) string {
	var s strings.Builder
	add := func(t string) {
		s.WriteString("\n" + t)
		if u, err := url.QueryUnescape(t); err == nil {
			s.WriteString("\n" + u)
		}
		for _, f := range b64Run.FindAllString(t, -1) {
			for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
				if d, err := enc.DecodeString(f); err == nil {
					s.WriteString("\n" + string(d))
				}
			}
		}
	}
	add(string(b))
	if message {
		m := mail.ParseBytes(b, mail.Limits{MaxBytes: int64(len(b)) + 1})
		for _, p := range m.Parts {
			for _, f := range p.Header.Fields {
				d, _ := mail.DecodeHeader(f.Value)
				add(d)
			}
			add(string(p.Body))
			add(p.Text)
		}
		for _, f := range m.Header.Fields {
			d, _ := mail.DecodeHeader(f.Value)
			add(d)
		}
	}
	return strings.ToLower(s.String())
}

// TestCorpusNothingSharedNamesARecipient runs every message of the public
// corpus through what a node shares — report, evidence (under an agreement
// that allows personal data), campaign summary, indicators, statistics —
// and their STIX objects: for every message, no address it was delivered
// to occurs in anything shared, in any form. Two messages in three arrive
// as a person's forward through the API (attached, or quoted inline under
// a marker or Outlook's header block, with a subject that does not say
// "Fwd:"): the desk unwraps each, and the forwarder's address, local part
// and name occur nowhere either — two forwarders in five with an address
// that does not spell their name, known by their display name alone. (A quoted forward keeps only the
// recipients its client quoted, To and Cc: those are its recipients.)
func TestCorpusNothingSharedNamesARecipient(t *testing.T) {
	dir := os.Getenv("ACCORD_CORPUS")
	if dir == "" {
		t.Skip("ACCORD_CORPUS not set; run bench/corpus.sh")
	}
	files, err := filepath.Glob(filepath.Join(dir, "*", "*.txt"))
	if n := os.Getenv("ACCORD_CORPUS_N"); n != "" {
		var k int
		fmt.Sscan(n, &k)
		files = files[:k]
	}
	if err != nil || len(files) == 0 {
		t.Fatalf("no messages under %s", dir)
	}
	lib, err := rules.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	begin := time.Now()
	an := &analysis.Analyzer{Resolver: resolve.Offline{}, Geo: geo.Embedded(), Rules: lib}
	src := corpusSource{reports: make([]*intake.Report, len(files)), reporters: make([]string, len(files)), complaints: make([][]byte, len(files))}
	rcpts := make([][]string, len(files))
	// The forwarders' addresses, local parts and names, by message.
	forwarders := make([][]string, len(files))
	var wg sync.WaitGroup
	next := make(chan int)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				raw, err := os.ReadFile(files[i])
				if err != nil {
					t.Error(err)
					continue
				}
				// As the desk takes a complaint through the API: what it
				// unwraps, and whom it names the reporter.
				complaint, _, first, last := forwarded(i, raw)
				items, err := intake.Extract(complaint, intake.Via{Declared: "message/rfc822"})
				if err != nil {
					t.Error(err)
					continue
				}
				src.reporters[i], src.complaints[i] = intake.ForwardedBy(complaint, items), complaint
				if first != "" {
					local := strings.ToLower(first + "." + last)
					forwarders[i] = []string{local, strings.ToLower(first), strings.ToLower(last), strings.ToLower(first + last)}
				}
				item := items[0]
				// Whom it went to, as the shared message says: an inline
				// forward keeps only the fields its client quoted (To, Cc),
				// not the Received chain nor Delivered-To.
				rcpts[i] = recipients(item.Raw)
				v, err := an.Analyze(context.Background(), analysis.Input{Source: files[i], Message: mail.ParseBytes(item.Raw, mail.Limits{})})
				if err != nil {
					t.Error(err)
					continue
				}
				src.reports[i] = &intake.Report{ID: fmt.Sprintf("m%05d", i), CampaignID: fmt.Sprintf("c-%04d", i/40), Raw: item.Raw, Verdict: v,
					SHA256: "x", ReceivedAt: time.Date(2026, 1, 1, 0, 0, i, 0, time.UTC), Channel: intake.ChannelAPI, Form: item.Form}
			}
		}()
	}
	for i := range files {
		next <- i
	}
	close(next)
	wg.Wait()
	start := time.Now()
	sh, err := federation.Collect(context.Background(), src, "FR")
	t.Logf("analysed in %s; collected in %s", start.Sub(begin).Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	byCampaign := map[string][]string{}
	var everyone []string
	withRcpt, unwrapped := 0, 0
	for i, r := range src.reports {
		byCampaign[r.CampaignID] = append(byCampaign[r.CampaignID], rcpts[i]...)
		everyone = append(everyone, rcpts[i]...)
		if len(rcpts[i]) > 0 {
			withRcpt++
		}
		if forwarders[i] != nil {
			if r.Form == intake.FormRaw || src.reporters[i] == "" {
				t.Errorf("%s: a forward taken as %s, reporter %q", files[i], r.Form, src.reporters[i])
			}
			unwrapped++
		}
	}
	// Whatever is shared — of one report, a campaign, the indicators —
	// names none of the forwarders, by address, local part or name.
	var names []string
	for _, f := range reporterFirst {
		names = append(names, strings.ToLower(f))
	}
	for _, l := range reporterLast {
		names = append(names, strings.ToLower(l))
	}
	checkForwarders := func(what, text string) {
		if strings.Contains(text, "@forwarders.example") {
			t.Errorf("%s names a forwarder's address", what)
		}
		for _, n := range names {
			if strings.Contains(text, n) {
				t.Errorf("%s names a forwarder (%s)", what, n)
			}
		}
	}
	m := &Mapper{Identity: "identity--" + federation.NewUUID()}
	refs := newRefs()
	// For items drawn from every message, the recipients are indexed by
	// domain: an address in the text is one of theirs when its domain
	// starts with a recipient's domain and its local part ends with the
	// recipient's local part.
	byDomain := map[string][]string{}
	for _, a := range everyone {
		at := strings.LastIndexByte(a, '@')
		byDomain[a[at+1:]] = append(byDomain[a[at+1:]], a[:at])
	}
	check := func(what, text string, who []string) {
		if len(who) < 100 {
			for _, a := range who {
				if strings.Contains(text, a) {
					t.Errorf("%s names recipient %s", what, a)
				}
			}
			return
		}
		for off := 0; ; {
			i := strings.IndexByte(text[off:], '@')
			if i < 0 {
				return
			}
			at := off + i
			off = at + 1
			dom := text[at+1:]
			for k := 1; k <= len(dom) && k < 255; k++ {
				for _, l := range byDomain[dom[:k]] {
					if strings.HasSuffix(text[:at], l) {
						t.Errorf("%s names recipient %s@%s", what, l, dom[:k])
					}
				}
			}
		}
	}
	items, unshareable, evidence, senders := 0, 0, 0, 0
	for _, g := range sh.ItemsFor(nil) {
		for _, it := range g.Items {
			items++
			// The analyzer is offline: it authenticated no From, so no
			// report or campaign names a sender domain (docs/federation.md,
			// "The sender's domain").
			var sender struct {
				FromDomain    string            `json:"from_domain"`
				SenderDomains []json.RawMessage `json:"sender_domains"`
			}
			json.Unmarshal(it.Body, &sender)
			if sender.FromDomain != "" || len(sender.SenderDomains) > 0 {
				senders++
			}
			var who []string
			switch {
			case strings.HasPrefix(it.Key, "rep:"), strings.HasPrefix(it.Key, "ev:"):
				var i int
				fmt.Sscanf(it.Key[strings.Index(it.Key, ":m")+2:], "%d", &i)
				who = rcpts[i]
			case strings.HasPrefix(it.Key, "camp:"):
				who = byCampaign[it.Campaign]
			default:
				who = everyone
			}
			if it.Kind == federation.KindEvidence {
				evidence++
				if it.Unshareable != "" {
					unshareable++
					continue
				}
				// The set holds evidence by its hash: its body is made as
				// an envelope would make it, and checked against that hash.
				made, err := sh.Bodies(context.Background(), []federation.Item{it})
				if err != nil || len(made[0].Body) == 0 {
					t.Fatalf("%s: no body made: %v", it.Key, err)
				}
				it = made[0]
				var ev struct{ Redacted string }
				json.Unmarshal(it.Body, &ev)
				red, _ := base64.StdEncoding.DecodeString(ev.Redacted)
				check(it.Key+" (evidence, decoded)", everyForm(red, true), who)
				checkForwarders(it.Key+" (evidence, decoded)", everyForm(red, true))
			}
			body := everyForm(it.Body, false)
			check(it.Key, body, who)
			checkForwarders(it.Key, body)
			objs, err := m.Objects(it, refs)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := json.Marshal(objs)
			check(it.Key+" as STIX", everyForm(b, false), who)
			checkForwarders(it.Key+" as STIX", everyForm(b, false))
		}
	}
	t.Logf("%d messages (%d with recipients found by the test, %d forwarded), %d shared items; %d of %d evidence copies withheld as not provably clean",
		len(src.reports), withRcpt, unwrapped, items, unshareable, evidence)
	if senders > 0 {
		t.Errorf("%d shared items name a sender domain that the offline node never authenticated", senders)
	}
	if withRcpt < len(src.reports)/2 {
		t.Errorf("the test found recipients in only %d messages: its oracle is broken", withRcpt)
	}
	if unshareable > evidence/100 {
		t.Errorf("%d of %d evidence copies could not be cleaned", unshareable, evidence)
	}
}
