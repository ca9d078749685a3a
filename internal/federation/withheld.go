package federation

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"

	"golang.org/x/text/unicode/norm"

	"github.com/accord-antispam/accord/internal/dnsname"
	"github.com/accord-antispam/accord/internal/rules"
)

// A Withheld domain is one the node's analyst marked as not the spammer's
// — a firm a phish or a BEC wears (its site in a copied signature, its
// real links around a typosquat), a bystander a spam names — so that
// nothing the node shares accuses it. No rule over a message's content
// tells a firm worn from another From from the spammer's own domain:
// both are "a domain the message links to". The analyst who reads the
// campaign can, and the marking reaches partners as a withdrawal of what
// was already sent (the next round finds the items no longer allowed).
//
// The marking covers the domain and every name under it in the same
// organisation ("acme.example" covers "www.acme.example"), wherever it stands: a
// domain-name indicator, a link's host (the link indicator goes with it),
// the sender domain of a report and of its campaign's lists. It does not
// touch the evidence (the redacted message, which shows what the spam
// wore, under an agreement that allows evidence) nor the subject.
type Withheld struct {
	Domain string    // A-label, lower case.
	Reason string    // The analyst's words, kept at this node: never sent.
	By     string    // Who marked it (the operator's name or account).
	At     time.Time // When.
}

// ErrBadDomain is returned for a marking that names no domain a spam run
// could be told apart by: not a host name, an address literal, or a
// public suffix (marking "com" would withhold every domain under it).
var ErrBadDomain = errors.New("not a domain that can be withheld")

// ErrExists is returned when what is added is already there.
var ErrExists = errors.New("federation: already exists")

// WithheldDomain checks and normalises a domain to mark: its A-label in
// lower case, without a trailing dot, widened to its organisation
// (www.acme.example marks acme.example: indicators name registrable
// domains, and the firm is the organisation). A tenant of a service many
// use (acme.sharepoint.com, a blog under wordpress.com) stays as given;
// the service's own domain, a mailbox provider's and a public suffix are
// refused: marking them would hold back every spam run they carry.
func WithheldDomain(s string) (string, error) {
	s = strings.TrimSuffix(strings.TrimSpace(s), ".")
	if s == "" {
		return "", fmt.Errorf("%w: empty", ErrBadDomain)
	}
	if _, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
		return "", fmt.Errorf("%w: %q is an address; its indicator is not a domain's", ErrBadDomain, s)
	}
	if strings.ContainsAny(s, "@/:?_") || strings.IndexFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) || unicode.In(r, unicode.Cf) }) >= 0 {
		return "", fmt.Errorf("%w: %q is not a host name (an address, a link, a hidden character?)", ErrBadDomain, s)
	}
	a, ok := dnsname.Normalize(s)
	if !ok {
		return "", fmt.Errorf("%w: %q is not a host name", ErrBadDomain, s)
	}
	for l := range strings.SplitSeq(a, ".") {
		if strings.HasPrefix(l, "-") || strings.HasSuffix(l, "-") {
			return "", fmt.Errorf("%w: %q is not a host name (a label begins or ends with a hyphen)", ErrBadDomain, s)
		}
	}
	if !strings.Contains(a, ".") {
		return "", fmt.Errorf("%w: %q is a top-level domain", ErrBadDomain, s)
	}
	org := dnsname.OrgDomain(a)
	if org == "" {
		return "", fmt.Errorf("%w: %q is a public suffix, nobody's domain: mark the firm's own domain under it", ErrBadDomain, s)
	}
	refuse := func() (string, error) {
		return "", fmt.Errorf("%w: %q is a service many use (a mailbox provider, a publishing, hosting or mailing service), never shared as a domain: mark the name the firm has there (acme.sharepoint.com) or the firm's own domain", ErrBadDomain, s)
	}
	if dnsname.MailboxProvider(org) {
		return refuse() // Its names are the provider's.
	}
	if svc := serviceOf(a); svc != "" {
		if tenantAt(a, svc) {
			return a, nil // A tenant's own name.
		}
		return refuse()
	}
	return org, nil
}

// serviceOf is the well-known service (publishHosts, siteHosts, a brand
// whose customers get names under it) host is at, "" when none.
func serviceOf(host string) string {
	brands := rules.EmbeddedBrands()
	for d := host; d != ""; {
		if publishHosts[d] || siteHosts[d] || tenantsDomain(brands, d) {
			return d
		}
		_, rest, ok := strings.Cut(d, ".")
		if !ok {
			break
		}
		d = rest
	}
	return ""
}

// withheldSet answers whether a host is at a withheld domain, and cuts
// the domains from texts: each marked domain with the patterns of its
// spellings, compiled once per collection.
type withheldSet map[string][]*regexp.Regexp

func newWithheldSet(ws []Withheld) withheldSet {
	if len(ws) == 0 {
		return nil
	}
	s := make(withheldSet, len(ws))
	for _, w := range ws {
		forms := []string{w.Domain}
		if u, err := idna.ToUnicode(w.Domain); err == nil && u != w.Domain {
			forms = append(forms, u)
		}
		var res []*regexp.Regexp
		for _, f := range forms {
			if re, err := regexp.Compile(`(?i)(?:[\pL\pM\pN-]+\.)*` + regexp.QuoteMeta(f)); err == nil {
				res = append(res, re)
			}
		}
		s[w.Domain] = res
	}
	return s
}

// at returns the marked domain host is at (itself or a parent), "" when
// none. host may be a U-label or carry a trailing dot.
func (s withheldSet) at(host string) string {
	if len(s) == 0 || host == "" {
		return ""
	}
	h, ok := dnsname.Normalize(host)
	if !ok {
		return ""
	}
	// Up to the host's organisation, never past it: a marking never
	// covers another organisation's names (a bucket, an app under a
	// platform suffix).
	org := dnsname.OrgDomain(h)
	// Nor a service many use within the marked organisation: google.com
	// marked (the sign-in page a phish imitates) is not every form and
	// site under docs. and sites.google.com, which are their authors'.
	svc := serviceOf(h)
	for {
		if _, ok := s[h]; ok {
			if svc != "" && !strings.HasSuffix("."+h, "."+svc) {
				return ""
			}
			return h
		}
		i := strings.IndexByte(h, '.')
		if i < 0 || h == org {
			return ""
		}
		h = h[i+1:]
	}
}

// withheldVersion is what the shared set depends on of the markings: it
// changes with any marking added or removed.
func withheldVersion(ws []Withheld) string {
	if len(ws) == 0 {
		return ""
	}
	ds := make([]string, len(ws))
	for i, w := range ws {
		ds[i] = w.Domain
	}
	slices.Sort(ds)
	h := sha256.Sum256([]byte(strings.Join(ds, "\n")))
	return hex.EncodeToString(h[:8])
}

// withheldReason is what a partner and the preview read: the analyst's
// own words stay at the node.
func withheldReason(dom string) string {
	return fmt.Sprintf("%s was marked at this node as not the spammer's (a firm or person the spam wears or names)", dom)
}

// Withhold marks a domain as not the spammer's. Marking one already
// marked is an error (ErrExists) so that its first reason is not lost.
func (s *Service) Withhold(ctx context.Context, domain, reason, by string) (*Withheld, error) {
	d, err := WithheldDomain(domain)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(reason) == "" {
		return nil, fmt.Errorf("withhold %s: a reason is required (why the domain is not the spammer's)", d)
	}
	w := Withheld{Domain: d, Reason: strings.TrimSpace(reason), By: by, At: s.now()}
	if err := s.Store.AddWithheld(ctx, w); err != nil {
		return nil, fmt.Errorf("withhold %s: %w", d, err)
	}
	s.log().Info("federation: domain withheld", "domain", d, "by", by)
	return &w, nil
}

// Unwithhold removes a marking: what it held back is decided again, and
// shared at the next round if the agreements allow it.
func (s *Service) Unwithhold(ctx context.Context, domain, by string) error {
	d, err := WithheldDomain(domain)
	if err != nil {
		return err
	}
	if err := s.Store.RemoveWithheld(ctx, d); err != nil {
		return fmt.Errorf("unwithhold %s: %w", d, err)
	}
	s.log().Info("federation: domain no longer withheld", "domain", d, "by", by)
	return nil
}

// withheldReport is a report item without what names a withheld
// domain: its subject loses the domain's spellings, and when the sender
// is withheld (firms) its sender domain and origin (the firm's own mail
// server) go, the unverifiable saying why.
func withheldReport(rep Item, wh withheldSet, firms bool) Item {
	var b reportBody
	if json.Unmarshal(rep.Body, &b) != nil {
		return rep // Made by mkItem from a reportBody: never so.
	}
	b.Subject = wh.cut(b.Subject)
	if firms {
		b.FromDomain, b.OriginIP, b.OriginASN, b.OriginNetwork = "", "", 0, ""
		b.Unverifiable = append(slices.Clip(b.Unverifiable), senderWithheld)
	}
	return mkItem(rep.Key, rep.Kind, rep.TLP, rep.Origins, rep.PersonalData, rep.Campaign, rep.Updated, b)
}

// cut removes every spelling of the withheld domains from a text (a
// subject): the A-label and the Unicode form, in any case and composed
// (NFC), with the names under them. A match inside a longer label
// ("notacme.example", "acme.examples") is another host and stays; one
// after a dot that ends no label ("*.acme.example", "...acme.example") or
// before a dot ("acme.example.2026") is cut: in doubt, the text names
// nobody. Matching is on runes (regexp's case folding), so a letter whose
// lower case has another length never shifts what is cut.
func (s withheldSet) cut(text string) string {
	if len(s) == 0 || text == "" {
		return text
	}
	if len(text) > maxCutText {
		// A subject is a line; one longer than this is made to cost (a
		// spammer's run of folded encoded words: the search is quadratic
		// in the text when every match is another host, the nineteenth
		// review's H1). What is shared of it ends here.
		i := maxCutText
		for i > 0 && !utf8.RuneStart(text[i]) {
			i--
		}
		text = text[:i] + "…"
	}
	text = norm.NFC.String(text)
	for _, res := range s {
		for _, re := range res {
			var b strings.Builder
			last := 0
			for _, m := range re.FindAllStringIndex(text, -1) {
				if m[0] > 0 && labelRune(lastRune(text[:m[0]])) || m[1] < len(text) && labelRune(firstRune(text[m[1]:])) {
					continue
				}
				b.WriteString(text[last:m[0]])
				b.WriteString("[withheld]")
				last = m[1]
			}
			if last > 0 {
				b.WriteString(text[last:])
				text = b.String()
			}
		}
	}
	return text
}

func lastRune(s string) rune {
	r, _ := utf8.DecodeLastRuneInString(s)
	return r
}

func firstRune(s string) rune {
	r, _ := utf8.DecodeRuneInString(s)
	return r
}

// labelRune reports whether r continues a host label.
func labelRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || unicode.Is(unicode.Mn, r)
}

// maxCutText is the longest text cut keeps (a subject line's worth).
const maxCutText = 998

// mentions reports whether text spells a withheld domain.
func (s withheldSet) mentions(text string) bool { return s.cut(text) != text }

// senderWithheld is the report item's unverifiable when its sender domain
// is withheld.
const senderWithheld = "sender domain: not shared, since this node marked it as not the spammer's (a firm or person the spam wears)"

// WithheldCounts is, per withheld domain, how many indicators of the set
// it holds back.
func (s *Shared) WithheldCounts() map[string]int {
	n := map[string]int{}
	for _, g := range s.Groups {
		for _, it := range g.Items {
			if it.Withheld != "" {
				n[it.withheldBy]++
			}
		}
	}
	return n
}
