package federation

import (
	"slices"
	"strings"

	"github.com/accord-antispam/accord/internal/analysis"
	"github.com/accord-antispam/accord/internal/dnsname"
	"github.com/accord-antispam/accord/internal/mail"
	"github.com/accord-antispam/accord/internal/mailauth"
	"github.com/accord-antispam/accord/internal/privacy"
	"github.com/accord-antispam/accord/internal/rules"
)

// linkRule says which of a reported message's links are not the spam
// run's to share. A link domain goes to partners as an indicator of
// "malicious activity", so a real firm's domain a phish merely wears —
// the bank's logo loaded from its site, its "legal notice" and "privacy"
// links, the signature block's web address — must not go out with the
// phisher's landing page. Two kinds are kept back:
//
//   - a known brand's own domains (rules.Brands: the banks, payment
//     services, parcel carriers and platforms phishers dress as), in every
//     report: a phish links to them for the look, and no spam run is
//     identified by paypal.com. A platform whose customers each have a
//     name under its domain (x.sharepoint.com, x.firebaseapp.com) is not
//     named as a domain, but the customer's link, the phisher's page, is
//     shared;
//   - the From's organisation, when the From is not shared as the spam
//     run's sender (nothing the node checked established it) and the
//     message shows the name borrowed (see borrowed). Then the From is the
//     impersonated firm's as likely as the spammer's, and so are its links.
//
// When nothing shows the From borrowed, its links are the spam run's own
// ("From: track@parcel-scam.example" linking to parcel-scam.example): a
// node on the offline resolver, which establishes no sender, still shares
// the domain the spam sends the reader to.
type linkRule struct {
	brands  *rules.Brands
	fromOrg string // The From's organisation, its links kept back; "" when they are shared.
}

// newLinkRule decides, for one report, which links are kept back, and
// returns the reason the report item gives for the From's ("" when its
// links are shared). sender is the From domain shared as the spam run's
// (spamSender), "" when none is; people are the report's (keptApart).
func newLinkRule(v *analysis.Verdict, sender string, people privacy.People) (linkRule, string) {
	l := linkRule{brands: rules.EmbeddedBrands()}
	from := v.Sender.Domains.From
	if from == "" || sender != "" {
		return l, ""
	}
	org := dnsname.OrgDomain(from)
	if org == "" {
		return l, ""
	}
	if !slices.ContainsFunc(v.Content.Domains, func(d string) bool { return dnsname.OrgDomain(d) == org }) &&
		!slices.ContainsFunc(v.Content.URLs, func(u mail.URL) bool { return dnsname.OrgDomain(u.Host) == org }) {
		return l, "" // Nothing there to keep back.
	}
	why := borrowed(v, org, people, l)
	if why == "" {
		return l, ""
	}
	l.fromOrg = org
	return l, "links to the From's organisation: not shared, since nothing established the From as the sender's and " + why
}

// borrowed says what shows the From's organisation org borrowed rather
// than the spammer's own, "" when nothing does:
//
//   - every recipient the message names is at org: a phish "from" the
//     firm's helpdesk to its staff. A spammer may write a recipient field
//     at its own domain too, but the receiving side's fields name the
//     real recipient, elsewhere;
//   - the replies go to another organisation (Reply-To): the classic
//     business e-mail compromise, a firm's name over a free-mail box;
//   - the From fails the DMARC check its owner published, as this node
//     computed it: the owner says the mail is not theirs;
//   - no clickable link leads there, only pictures are loaded from it:
//     a logo is the dress, never what the reader is sent to;
//   - the reader is sent elsewhere too: a clickable link leads to another
//     organisation (not a known brand's, not the recipients' own), the
//     landing page, beside which the From's links are the dress. Unless
//     the From's domain imitates a known brand's (paypal-verify.com): a
//     brand never sends from its look-alike, so that domain is the
//     phisher's own, whatever else it links to.
func borrowed(v *analysis.Verdict, org string, people privacy.People, l linkRule) string {
	if len(people.Named) > 0 && !slices.ContainsFunc(people.Named, func(a string) bool { return dnsname.OrgDomain(domainOfAddr(a)) != org }) {
		return "every recipient it names is at that organisation, whose name a phish to its staff wears"
	}
	if rt := v.Sender.Domains.ReplyTo; rt != "" && dnsname.OrgDomain(rt) != org {
		return "its replies go to another organisation"
	}
	if a := v.Auth; a != nil && a.DMARC.Result == mailauth.Fail && a.DMARC.Source == mailauth.SourceComputed {
		return "it fails the DMARC check its owner published"
	}
	clickable, elsewhere := false, false
	for _, u := range v.Content.URLs {
		if u.Source == "src" {
			continue
		}
		switch d := dnsname.OrgDomain(u.Host); {
		case d == org:
			clickable = true
		case d == "" || people.HoldsDomain(u.Host) || l.brandDomain(u.Host):
		default:
			elsewhere = true
		}
	}
	if !clickable {
		return "the message sends the reader to no page there (at most a picture is loaded from it)"
	}
	if elsewhere {
		if _, _, ok := l.brands.LookAlike(v.Sender.Domains.From); !ok {
			return "the message also sends the reader to another organisation's page, beside which the From's links may be the dress of a firm it wears"
		}
	}
	return ""
}

// brandDomain reports whether a link domain (a registrable domain of the
// message's links, or a link's host) is a known brand's own name, or the
// platform domain itself of a brand whose customers have names under it
// (sharepoint.com): a "domain-name" indicator of it would name the brand.
func (l linkRule) brandDomain(d string) bool {
	if l.brandOwned(d, true) {
		return true
	}
	for i := range l.brands.List {
		if slices.Contains(l.brands.List[i].Tenants, d) {
			return true
		}
	}
	return false
}

// brandOwned reports whether host is one of a known brand's own names: the
// brand owns it (rules.Brands.Owner) and its registrable domain is that of
// one of the brand's listed domains. A name under a platform suffix of the
// public suffix list (bucket.s3.amazonaws.com, a blog under blogspot.com) is
// the customer's, not the brand's. A host that is itself such a suffix
// (s3.amazonaws.com) names the brand as a domain (nameless is true) but
// serves its customers' pages by path.
func (l linkRule) brandOwned(host string, nameless bool) bool {
	b, ok := l.brands.Owner(host)
	if !ok {
		return false
	}
	org := dnsname.OrgDomain(host)
	if org == "" {
		return nameless
	}
	return slices.ContainsFunc(b.Domains, func(d string) bool { return dnsname.OrgDomain(d) == org })
}

// userPages are a brand's hosts where anyone publishes pages, documents or
// forms by path (docs.google.com/forms/d/…, forms.office.com/r/…), or
// relays anyone's page (translate.google.com/translate?u=…): a link
// there is its author's page — a phish's landing page as often as not — so
// the link is shared though the domain is not.
var userPages = map[string]bool{
	"docs.google.com": true, "drive.google.com": true, "translate.google.com": true, "sites.google.com": true, "script.google.com": true,
	"forms.office.com": true, "forms.microsoft.com": true, "sway.office.com": true, "onedrive.com": true,
	"dropbox.com": true, "www.dropbox.com": true, "github.com": true, "gist.github.com": true,
	"express.adobe.com": true, "acrobat.adobe.com": true,
}

// domain reports whether a link domain (a registrable domain of the
// message's links) is kept back.
func (l linkRule) domain(d string) bool {
	return l.brandDomain(d) || l.fromOrg != "" && dnsname.OrgDomain(d) == l.fromOrg
}

// url reports whether a link, by its host, is kept back: a known brand's
// own page, or the From's organisation's when its links are kept back.
func (l linkRule) url(host string) bool {
	if host == "" {
		return false
	}
	if l.brandOwned(host, false) && !userPages[host] {
		return true
	}
	return l.fromOrg != "" && dnsname.OrgDomain(host) == l.fromOrg
}

func domainOfAddr(a string) string {
	if i := strings.LastIndexByte(a, '@'); i >= 0 {
		return strings.ToLower(a[i+1:])
	}
	return ""
}
