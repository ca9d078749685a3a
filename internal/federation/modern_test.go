package federation

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/accord-antispam/accord/internal/analysis"
	"github.com/accord-antispam/accord/internal/dnsname"
	"github.com/accord-antispam/accord/internal/intake"
	"github.com/accord-antispam/accord/internal/mail"
	"github.com/accord-antispam/accord/internal/mailauth"
	"github.com/accord-antispam/accord/internal/resolve"
)

// TestCorpusModernSenderDomainCost reads the modern samples (real spam
// and phishing of 2022–2026 as Microsoft 365 delivered them, read in
// place, ACCORD_MODERN_SAMPLES) for what the sender-domain rule costs on
// real mail. The receiving provider's Authentication-Results, which the
// node trusts for its own decisions, say which of them passed SPF aligned
// with their From and which carried an aligned DKIM pass: a node that had
// checked them at delivery would now share the second kind only (-v
// prints the counts docs/federation.md gives, "What it costs"). What the
// test holds: none of those fields, read from the message, establishes a
// sender domain here — though many of them say pass.
func TestCorpusModernSenderDomainCost(t *testing.T) {
	dir := os.Getenv("ACCORD_MODERN_SAMPLES")
	if dir == "" {
		t.Skip("ACCORD_MODERN_SAMPLES not set")
	}
	files, err := filepath.Glob(filepath.Join(dir, "*", "*.eml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no samples under %s", dir)
	}
	an := &analysis.Analyzer{Resolver: resolve.Offline{}, Rules: embeddedRules(t)}
	var recorded, provider, spfAligned, dkimAligned, spfOnly int
	// Every signature's name (b_sha256) and the samples it is in, and
	// the names of each sample's aligned passing signatures: how many of
	// those the replay rule could withhold were all the samples reported
	// to one node (a name in two samples; the rule also needs their
	// recipients or origins to differ).
	seenIn := map[string]map[string]bool{}
	var alignedSigs [][]string
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		v, err := an.Analyze(context.Background(), analysis.Input{Message: mail.ParseBytes(raw, mail.DefaultLimits())})
		if err != nil {
			t.Fatal(err)
		}
		a, from := v.Auth, v.Sender.Domains.From
		if a != nil {
			for _, s := range a.DKIM {
				if s.BHash != "" {
					if seenIn[s.BHash] == nil {
						seenIn[s.BHash] = map[string]bool{}
					}
					seenIn[s.BHash][f] = true
				}
			}
		}
		if a == nil || from == "" || a.SPF.Source != mailauth.SourceHeader && a.DMARC.Source != mailauth.SourceHeader {
			continue
		}
		recorded++
		if authenticated(a, from) {
			t.Errorf("%s: the message's own Authentication-Results establish %s", filepath.Base(f), from)
		}
		if dnsname.MailboxProvider(dnsname.OrgDomain(from)) {
			provider++
			continue
		}
		spf := a.SPF.Result == mailauth.Pass && mailauth.Aligned(a.SPF.Domain, from, "r")
		dkim := a.DMARC.Result == mailauth.Pass && a.DMARC.DKIMAligned
		var names []string
		for _, s := range a.DKIM {
			if s.Result == mailauth.Pass && mailauth.Aligned(s.Domain, from, "r") {
				dkim = true
				names = append(names, s.BHash)
			}
		}
		alignedSigs = append(alignedSigs, names)
		if spf {
			spfAligned++
		}
		if dkim {
			dkimAligned++
		} else if spf {
			spfOnly++
		}
	}
	t.Logf("%d samples, %d with the receiving provider's record of SPF/DMARC, %d of them From a mailbox provider; of the others, %d pass SPF aligned with their From, %d carry an aligned DKIM pass, %d only the SPF pass",
		len(files), recorded, provider, spfAligned, dkimAligned, spfOnly)
	sigs, repeated, withheld := len(seenIn), 0, 0
	for _, in := range seenIn {
		if len(in) > 1 {
			repeated++
		}
	}
	for _, names := range alignedSigs {
		if slices.ContainsFunc(names, func(h string) bool { return len(seenIn[h]) > 1 }) {
			withheld++
		}
	}
	t.Logf("%d DKIM signatures by their b=, %d of them in more than one sample; %d of the aligned DKIM passes rest on one of those (at most what the replay rule withholds)", sigs, repeated, withheld)
	if spfAligned == 0 || dkimAligned == 0 {
		t.Error("no sample says SPF or DKIM passed: the records were not read")
	}
}

// TestCorpusModernLinkCost reads the modern samples (ACCORD_MODERN_SAMPLES)
// for what the link rule (linkRule) keeps back on real mail, as a node on
// the offline resolver derives them: how many samples lose a link domain to
// a known brand's list, how many lose their From's organisation's links
// and why, and how many are left with no link domain at all though they had
// one (-v prints the figures docs/federation.md gives). What the test holds:
// a From's links kept back because the message sends the reader elsewhere
// leave that elsewhere shared.
func TestCorpusModernLinkCost(t *testing.T) {
	dir := os.Getenv("ACCORD_MODERN_SAMPLES")
	if dir == "" {
		t.Skip("ACCORD_MODERN_SAMPLES not set")
	}
	files, err := filepath.Glob(filepath.Join(dir, "*", "*.eml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no samples under %s", dir)
	}
	an := &analysis.Analyzer{Resolver: resolve.Offline{}, Rules: embeddedRules(t)}
	var withLinks, brandCut, emptied int
	fromCut, brands := map[string]int{}, map[string]int{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		v, err := an.Analyze(context.Background(), analysis.Input{Message: mail.ParseBytes(raw, mail.DefaultLimits())})
		if err != nil {
			t.Fatal(err)
		}
		if len(v.Content.Domains) == 0 {
			continue
		}
		withLinks++
		r := &intake.Report{ID: "r", CampaignID: "c", Raw: raw, Verdict: v}
		people := keptApart(r, "")
		sender, _ := spamSender(r)
		l, why := newLinkRule(v, sender, people)
		d := derive(r, "")
		if slices.ContainsFunc(v.Content.Domains, l.brandDomain) {
			brandCut++
		}
		if why != "" {
			_, reason, _ := strings.Cut(why, "sender's and ")
			fromCut[reason]++
			if strings.Contains(reason, "another organisation's page") && len(d.domains) == 0 {
				t.Errorf("%s: its From's links kept back for a page elsewhere, but no link domain is left", filepath.Base(f))
			}
		}
		if len(d.domains) == 0 {
			emptied++
			var urls []string
			for _, in := range d.inds {
				if in.typ == "url" {
					urls = append(urls, in.value)
				}
			}
			t.Logf("%s: no link domain left of %v, links %q (From %s: %s)", filepath.Base(f), v.Content.Domains, urls, v.Sender.Domains.From, why)
		}
		for _, x := range v.Content.Domains {
			if l.brandDomain(x) {
				brands[x]++
			}
		}
	}
	t.Logf("%d samples, %d with links; %d link to a known brand's domain (kept back); %d left with no link domain", len(files), withLinks, brandCut, emptied)
	t.Logf("known brands' domains kept back: %v", brands)
	for why, n := range fromCut {
		t.Logf("From's organisation's links kept back in %d: %s", n, why)
	}
}
