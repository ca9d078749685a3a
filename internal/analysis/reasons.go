package analysis

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/accord-antispam/accord/internal/dnsname"
	"github.com/accord-antispam/accord/internal/mail"
	"github.com/accord-antispam/accord/internal/mailauth"
	"github.com/accord-antispam/accord/internal/rules"
	"github.com/accord-antispam/accord/internal/trace"
)

// ReasonCode names a conclusion.
type ReasonCode string

// Reason codes. They are stable: UIs, logs, metrics and later rules key on
// them. Public replies show the code, never the exact score.
const (
	ReasonDMARCFail         ReasonCode = "dmarc-fail"
	ReasonSPFFail           ReasonCode = "spf-fail"
	ReasonDKIMFail          ReasonCode = "dkim-fail"
	ReasonForgedRelay       ReasonCode = "forged-relay"
	ReasonForgedAuthResults ReasonCode = "forged-authentication-results"
	ReasonIdentityDisguised ReasonCode = "identity-disguised"
	ReasonNoOptOut          ReasonCode = "no-opt-out"
	ReasonCommercial        ReasonCode = "commercial"
	ReasonMalformed         ReasonCode = "malformed"
	ReasonObfuscatedURL     ReasonCode = "obfuscated-url"
	ReasonLinkMismatch      ReasonCode = "link-text-mismatch"
	ReasonExecutable        ReasonCode = "executable-attachment"
	ReasonHiddenText        ReasonCode = "hidden-text"
	ReasonHiddenProse       ReasonCode = "hidden-prose"
	ReasonImageOnly         ReasonCode = "image-only"
	ReasonRandomHosts       ReasonCode = "random-hosts"
	ReasonNoRDNS            ReasonCode = "no-rdns"
	ReasonLegalBreach       ReasonCode = "legal-breach"
	ReasonSpam              ReasonCode = "spam"
	ReasonPhishingLikely    ReasonCode = "phishing-likely"
)

// ReasonCodes are every code a verdict's reasons may carry, for those
// that filter on them (a code not among them matches nothing, ever).
var ReasonCodes = []ReasonCode{ReasonDMARCFail, ReasonSPFFail, ReasonDKIMFail, ReasonForgedRelay, ReasonForgedAuthResults,
	ReasonIdentityDisguised, ReasonNoOptOut, ReasonCommercial, ReasonMalformed, ReasonObfuscatedURL, ReasonLinkMismatch,
	ReasonExecutable, ReasonHiddenText, ReasonHiddenProse, ReasonImageOnly, ReasonRandomHosts, ReasonLegalBreach,
	ReasonSpam, ReasonPhishingLikely, ReasonNoRDNS}

func reasons(v *Verdict) []Reason {
	out := []Reason{}
	add := func(code ReasonCode, detail string) { out = append(out, Reason{Code: code, Detail: detail}) }
	if a := v.Auth; a != nil {
		if a.DMARC.Result == mailauth.Fail {
			add(ReasonDMARCFail, fmt.Sprintf("%s fails DMARC (policy %s)", a.DMARC.Domain, a.DMARC.Applied))
		}
		if a.SPF.Result == mailauth.Fail {
			add(ReasonSPFFail, fmt.Sprintf("%s does not authorise %s", a.SPF.Domain, a.SPF.IP))
		}
		for _, s := range a.DKIM {
			if s.Result == mailauth.Fail {
				add(ReasonDKIMFail, "signature by "+s.Domain+" does not verify")
				break
			}
		}
	}
	if v.Origin.Forged {
		add(ReasonForgedRelay, "the Received chain contains forged relays")
	}
	// No reverse name for the origin, in our receiver's own record:
	// mail systems have one that resolves back (the large mailbox
	// providers require it of senders), a hijacked home computer
	// usually not. A client that logged in to submit is a person's
	// device, whose address need not have one.
	if o := v.Origin; o.NoRDNS && !o.Authenticated {
		if a, err := netip.ParseAddr(o.IP); err == nil && !trace.Internal(a) {
			add(ReasonNoRDNS, o.IP+" has no reverse name that our receiver could confirm")
		}
	}
	if a := v.Auth; a != nil {
		for _, ar := range a.Headers {
			if ar.Forged {
				add(ReasonForgedAuthResults, "Authentication-Results in the name of the trusted receiver "+ar.AuthServID+" written below the trust boundary")
				break
			}
		}
	}
	if v.Sender.IdentityDisguised == rules.True {
		for _, f := range v.Sender.Findings {
			if f.Strength == rules.Strong {
				add(ReasonIdentityDisguised, f.Detail)
				break
			}
		}
	}
	if v.Phishing.Likely == rules.True {
		add(ReasonPhishingLikely, strings.Join(v.Phishing.Why, "; "))
	}
	if v.Commercial.Likely == rules.True {
		add(ReasonCommercial, strings.Join(v.Commercial.Signals, "; "))
	}
	if v.OptOut.Valid == rules.False {
		add(ReasonNoOptOut, v.OptOut.Why)
	}
	if n := len(v.Message.Defects); n > 0 {
		var codes []string
		seen := map[string]bool{}
		for _, d := range v.Message.Defects {
			if !seen[d.Code] {
				seen[d.Code] = true
				codes = append(codes, d.Code)
			}
		}
		add(ReasonMalformed, strings.Join(codes, ", "))
	}
	for _, u := range v.Content.URLs {
		if len(u.Obfuscated) > 0 && !(len(u.Obfuscated) == 1 && u.Obfuscated[0] == "idn") {
			add(ReasonObfuscatedURL, u.URL+" ("+strings.Join(u.Obfuscated, ", ")+")")
			break
		}
	}
	for _, u := range v.Content.URLs {
		target := u.Domain
		if target == "" {
			target = u.Host
		}
		if shown := linkTextDomain(u.Text); shown != "" && shown != target {
			add(ReasonLinkMismatch, fmt.Sprintf("link text shows %s but goes to %s", shown, target))
			break
		}
	}
	for _, at := range v.Content.Attachments {
		for _, f := range at.Flags {
			if f == "executable" {
				add(ReasonExecutable, at.Name)
			}
		}
	}
	if v.Content.HTML.HiddenText {
		add(ReasonHiddenText, "the HTML hides text from the reader")
	}
	// Image-only mail (SpamAssassin's HTML_IMAGE_ONLY_*): the message
	// is a picture with next to no text, which word-reading filters
	// cannot read — spam's way of showing its offer, rarely a person's.
	if v.Content.HTML.Images > 0 && fewWords(v.Content.Text, v.Content.HTMLText, imageOnlyWords) {
		add(ReasonImageOnly, fmt.Sprintf("the HTML shows images and fewer than %d words", imageOnlyWords))
	}
	// Links to many made-up host names under one domain: a wildcard DNS
	// entry answers for any name, so a spammer gives every link (every
	// message) a name of its own that no URI blocklist has seen.
	if d, n := randomHosts(v.Content.URLs); n >= randomHostsMin {
		add(ReasonRandomHosts, fmt.Sprintf("links to %d generated host names under %s", n, d))
	}
	if v.Content.HTML.HiddenProse {
		add(ReasonHiddenProse, "the HTML carries sentences where no reader sees them (a style sheet of words, an anchor named with a sentence)")
	}
	for _, j := range v.Legal {
		for _, r := range j.Rules {
			if r.Status == rules.StatusBreach {
				add(ReasonLegalBreach, j.Jurisdiction+" "+r.Rule+": "+r.Title)
			}
		}
	}
	if v.Spam != nil && v.Spam.Class == "spam" {
		add(ReasonSpam, "the classifier rates it spam")
	}
	return out
}

// linkTextDomain returns the registrable domain shown in a link's text, when
// the text looks like a URL or domain name.
func linkTextDomain(text string) string {
	t := strings.ToLower(strings.TrimSpace(text))
	if t == "" || strings.Contains(t, " ") {
		return ""
	}
	if i := strings.Index(t, "://"); i >= 0 {
		t = t[i+3:]
	}
	if i := strings.IndexAny(t, "/?#"); i >= 0 {
		t = t[:i]
	}
	if !strings.Contains(t, ".") || strings.Contains(t, "@") {
		return ""
	}
	d := dnsname.OrgDomain(t)
	if d == "" {
		return ""
	}
	tld := d[strings.LastIndexByte(d, '.')+1:]
	for _, c := range tld {
		if c < 'a' || c > 'z' {
			return ""
		}
	}
	return d
}

// imageOnlyWords: a message with images and fewer words than this (of
// three letters or more, alt text included) is image-only. 30 words is a
// line or two of text beside the picture.
const imageOnlyWords = 30

// fewWords reports whether the texts hold fewer than n words of three
// letters or more (any non-ASCII byte counts as a letter: a word of
// another script is a word), stopping at the n-th.
func fewWords(a, b string, n int) bool {
	words := 0
	for _, s := range [2]string{a, b} {
		run := 0
		for i := 0; i <= len(s); i++ {
			if i < len(s) {
				c := s[i] | 0x20
				if c >= 'a' && c <= 'z' || s[i] >= 0x80 {
					run++
					continue
				}
			}
			if run >= 3 {
				words++
				if words >= n {
					return false
				}
			}
			run = 0
		}
	}
	return true
}

// randomHostsMin: links to this many generated host names under one
// registrable domain make the reason. A site's own hosts (www, lists,
// ns1, a CDN's image servers) are words or word-and-number; three names
// of hex digits under one domain, each clicked, are a generator's.
const randomHostsMin = 3

// randomHosts returns the registrable domain under which the message's
// links — those clicked or written out, not images, whose content
// networks name their servers by number — reach the most distinct hosts whose first label is generated
// (generatedLabel), and how many.
func randomHosts(urls []mail.URL) (string, int) {
	var best string
	var bestN int
	// Few messages have more than a handful of such hosts: a small slice
	// of (domain, host) pairs, counted by a scan, allocates less than maps.
	type pair struct{ domain, host string }
	var seen []pair
	for _, u := range urls {
		if u.Source != "href" && u.Source != "text" || u.Domain == "" || len(u.Host) <= len(u.Domain)+1 ||
			u.Host[len(u.Host)-len(u.Domain)-1] != '.' || u.Host[len(u.Host)-len(u.Domain):] != u.Domain {
			continue
		}
		label := u.Host[:len(u.Host)-len(u.Domain)-1]
		if i := strings.IndexByte(label, '.'); i >= 0 {
			label = label[:i]
		}
		if !generatedLabel(label) {
			continue
		}
		n, dup := 0, false
		for _, p := range seen {
			if p.domain == u.Domain {
				n++
				if p.host == u.Host {
					dup = true
				}
			}
		}
		if dup {
			continue
		}
		seen = append(seen, pair{u.Domain, u.Host})
		if n+1 > bestN {
			best, bestN = u.Domain, n+1
		}
	}
	return best, bestN
}

// generatedLabel reports whether a DNS label looks generated rather than
// named: three or more hex digits, at least one a digit (1b5f, 33a,
// 4fa21d) — what a hash or a counter gives. Words, word-and-number names
// (ns1, image4, mp3) and names with hyphens are not.
func generatedLabel(l string) bool {
	if len(l) < 3 {
		return false
	}
	digit := false
	for i := 0; i < len(l); i++ {
		switch c := l[i]; {
		case c >= '0' && c <= '9':
			digit = true
		case c >= 'a' && c <= 'f':
		default:
			return false
		}
	}
	return digit
}
