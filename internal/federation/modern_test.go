package federation

import (
	"context"
	"os"
	"path/filepath"
	"slices"
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
	var recorded, provider, spfAligned, dkimAligned, spfOnly, hereWithheld int
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
		// The check in one report (replayedHere), as a node that had
		// verified these signatures at delivery would have made it.
		if dkim {
			sim := *v
			auth := *a
			auth.DKIM = nil
			for _, s := range a.DKIM {
				if mailauth.Aligned(s.Domain, from, "r") {
					s.Result, s.Source, s.UnsignedText = mailauth.Pass, mailauth.SourceComputed, false
					auth.DKIM = append(auth.DKIM, s)
				}
			}
			sim.Auth = &auth
			if len(auth.DKIM) > 0 && replayedHere(raw, &sim, from) {
				hereWithheld++
				t.Logf("%s: signed for other recipients than the receiving side recorded", filepath.Base(f))
			}
		}
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
	t.Logf("%d of the aligned DKIM passes are signed for other recipients than the receiving side recorded (the check in one report withholds them)", hereWithheld)
	t.Logf("%d DKIM signatures by their b=, %d of them in more than one sample; %d of the aligned DKIM passes rest on one of those (at most what the replay rule withholds)", sigs, repeated, withheld)
	if spfAligned == 0 || dkimAligned == 0 {
		t.Error("no sample says SPF or DKIM passed: the records were not read")
	}
}

// TestCorpusModernLinkCost reads the modern samples (ACCORD_MODERN_SAMPLES)
// for what the link rule (linkRule) keeps back on real mail, as a node on
// the offline resolver derives them (it establishes no sender): how many
// samples lose a link domain to the well-known organisations' sites and
// to hosts where anyone publishes, how many lose their From's
// organisation's links, and how many are left with no link domain though
// they had one (-v prints the figures docs/federation.md gives, and the
// domains kept back). What the test holds: no well-known site's domain is
// shared, and no sample from a domain imitating a brand loses its links.
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
	var withLinks, wellKnown, fromCut, fromSigned, emptied, emptiedByFrom, noLink int
	kept := map[string]int{}
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
		from := v.Sender.Domains.From
		l, why := newLinkRule(v, from != "" && v.Auth != nil && authenticated(v.Auth, from), listOrgOf(raw, from))
		d := derive(r, "")
		known := false
		for _, x := range v.Content.Domains {
			if l.wellKnown(x) != unknown {
				known = true
				kept[x]++
			}
		}
		if known {
			wellKnown++
		}
		if why != "" {
			fromCut++
			// Microsoft 365's record of an aligned DKIM pass: signed by
			// its From's organisation, what a checking node would have
			// verified at delivery.
			if a := v.Auth; a != nil && slices.ContainsFunc(a.DKIM, func(s mailauth.DKIMSignature) bool {
				return s.Result == mailauth.Pass && mailauth.Aligned(s.Domain, from, "r")
			}) {
				fromSigned++
			}
		}
		if len(d.domains) == 0 {
			emptied++
			if why != "" {
				emptiedByFrom++
			}
			if !slices.ContainsFunc(d.inds, func(in indRef) bool { return in.typ == "url" }) {
				noLink++
			}
		}
		for _, x := range d.domains {
			if l.wellKnown(x) != unknown {
				t.Errorf("%s: %s is shared", filepath.Base(f), x)
			}
		}
	}
	t.Logf("%d samples, %d with links; %d link to a well-known organisation's domain (kept back); the From's organisation's links kept back in %d (%d of them signed by it, by the receiving provider's record); %d left with no link domain (%d of them with the From's kept back), %d with no link either",
		len(files), withLinks, wellKnown, fromCut, fromSigned, emptied, emptiedByFrom, noLink)
	t.Logf("well-known domains kept back: %v", kept)
}
