package rules

import (
	"fmt"
	"strings"

	"github.com/accord-antispam/accord/internal/dnsname"
	accmail "github.com/accord-antispam/accord/internal/mail"
)

// Identity says whether the sender's identity is disguised, and why.
type Identity struct {
	Disguised Tri       `json:"identity_disguised"`
	Findings  []Finding `json:"findings"`
	Brand     string    `json:"brand,omitempty"` // The brand the display name names, when it names one.
}

// Finding is one observation about the sender's identity. Strong findings
// alone show disguise; weak ones are reported but need more to decide.
type Finding struct {
	Code     FindingCode `json:"code"`
	Strength Strength    `json:"strength"`
	Detail   string      `json:"detail"`
}

// Strength says how much a finding weighs.
type Strength string

// Strengths of a finding.
const (
	Strong Strength = "strong" // Shows disguise on its own.
	Weak   Strength = "weak"   // Reported; needs more to decide.
	Clears Strength = "clears" // Evidence of a genuine identity.
)

// FindingCode names an identity finding; the codes are stable.
type FindingCode string

// Identity finding codes (docs/verdict.md, sender.findings).
const (
	FindNoFrom             FindingCode = "no-from"
	FindNoFromDomain       FindingCode = "no-from-domain"
	FindMultipleFrom       FindingCode = "multiple-from"
	FindMalformedFrom      FindingCode = "malformed-from"
	FindDisplayNameAddress FindingCode = "display-name-address"
	FindDisplayNameDomain  FindingCode = "display-name-domain"
	FindDMARCFail          FindingCode = "dmarc-fail"
	FindDMARCPass          FindingCode = "dmarc-pass"
	FindAlignedAuth        FindingCode = "aligned-auth"
	FindReplyToFreemail    FindingCode = "reply-to-freemail"
	FindReplyToOtherDomain FindingCode = "reply-to-other-domain"
	FindEnvelopeOther      FindingCode = "envelope-other-domain"
	FindForgedRelay        FindingCode = "forged-relay"
	FindBrandImpersonation FindingCode = "brand-impersonation"
	FindBrandHomoglyph     FindingCode = "display-name-homoglyph"
	FindLookAlikeDomain    FindingCode = "lookalike-domain"
	FindBrandDomain        FindingCode = "brand-domain"
)

// IdentityInput is what identity detection reads: the author fields and the
// outcome of authentication and trace-back, as plain data.
type IdentityInput struct {
	From        []accmail.Address
	FromStrict  bool // The From field parsed under RFC 5322.
	ReplyTo     []accmail.Address
	ReturnPath  string
	DMARC       string // Result for the From domain.
	DMARCPolicy string
	AlignedPass bool     // DMARC pass, or an aligned DKIM or SPF pass.
	Forged      []string // Reasons of forged relays in the trace.
	// ForgedAuthResults are Authentication-Results fields that claim a
	// trusted receiver's name from below the trust boundary.
	ForgedAuthResults []string
	Brands            *Brands // Brands that impersonation checks know; nil: EmbeddedBrands.
}

// DetectIdentity applies the identity checks. The sender is disguised when a
// strong finding shows it: a display name showing another address or domain,
// an author domain that fails DMARC, replies diverted to an unrelated
// free-mail box, forged relays, no usable From. A pass of aligned
// authentication with none of those clears it; otherwise it is unknown.
func DetectIdentity(in IdentityInput) Identity {
	var f []Finding
	add := func(code FindingCode, strength Strength, detail string) {
		f = append(f, Finding{code, strength, detail})
	}
	var from accmail.Address
	switch {
	case len(in.From) == 0:
		add(FindNoFrom, Strong, "no usable From address")
	case len(in.From) > 1:
		add(FindMultipleFrom, Weak, "several author addresses")
		from = in.From[0]
	default:
		from = in.From[0]
	}
	if len(in.From) > 0 && !in.FromStrict {
		add(FindMalformedFrom, Weak, "the From field does not follow RFC 5322")
	}
	fromOrg := dnsname.OrgDomain(from.Domain)
	if from.Addr != "" && from.Domain == "" {
		add(FindNoFromDomain, Strong, "the From address has no domain: "+from.Addr)
	}
	if from.Name != "" && fromOrg != "" {
		if a, d := nameAddress(from.Name); d != "" && dnsname.OrgDomain(d) != fromOrg {
			add(FindDisplayNameAddress, Strong, "the display name shows "+a+" but the address is "+from.Addr)
		} else if d := nameDomain(from.Name); d != "" && dnsname.OrgDomain(d) != fromOrg {
			// Brands often mail from a service domain ("News.com" from
			// newsletter.online.com); from a free-mail box it is a disguise.
			strength := Weak
			if IsFreemail(fromOrg) || in.DMARC == "fail" {
				strength = Strong
			}
			add(FindDisplayNameDomain, strength, "the display name shows the domain "+d+" but the address is "+from.Addr)
		}
	}
	brand := brandFindings(in, from, fromOrg, add)
	switch in.DMARC {
	case "fail":
		add(FindDMARCFail, Strong, "the From domain "+from.Domain+" fails DMARC (policy "+orNone(in.DMARCPolicy)+")")
	case "pass":
		add(FindDMARCPass, Clears, "the From domain "+from.Domain+" passes DMARC")
	}
	for _, r := range in.ReplyTo {
		ro := dnsname.OrgDomain(r.Domain)
		if ro != "" && ro != fromOrg && IsFreemail(ro) && !IsFreemail(fromOrg) {
			add(FindReplyToFreemail, Strong, "replies go to the free-mail address "+r.Addr+", unrelated to "+orNone(from.Domain))
		} else if ro != "" && ro != fromOrg {
			add(FindReplyToOtherDomain, Weak, "replies go to "+r.Addr+", another domain than "+orNone(from.Domain))
		}
	}
	if rp := accmail.DomainOf(in.ReturnPath); rp != "" && fromOrg != "" && dnsname.OrgDomain(rp) != fromOrg {
		add(FindEnvelopeOther, Weak, "the envelope sender is at "+rp+" (common for mailing services)")
	}
	for _, r := range in.Forged {
		add(FindForgedRelay, Strong, r)
	}
	for _, r := range in.ForgedAuthResults {
		add("forged-authentication-results", "strong", r)
	}
	if in.AlignedPass && in.DMARC != "pass" {
		add(FindAlignedAuth, Clears, "an aligned DKIM signature or SPF pass vouches for "+from.Domain)
	}
	out := Identity{Disguised: Unknown, Findings: f, Brand: brand}
	clears := false
	for _, x := range f {
		if x.Strength == Strong {
			out.Disguised = True
			return out
		}
		if x.Strength == Clears {
			clears = true
		}
	}
	if clears {
		out.Disguised = False
	}
	return out
}

// brandFindings checks the display name and the From domain against the
// brand list. A display name naming a brand on a domain the brand does not
// own is a disguise whatever DMARC says: DMARC vouches for the domain, not
// for the name beside it. It returns the brand named, if any.
func brandFindings(in IdentityInput, from accmail.Address, fromOrg string, add func(FindingCode, Strength, string)) string {
	bs := in.Brands
	if bs == nil {
		bs = EmbeddedBrands()
	}
	name := from.Name
	if strings.Contains(name, "=?") {
		if d, err := accmail.DecodeHeader(name); err == nil {
			name = d
		}
	}
	domain := from.Domain
	m, named := bs.NamedBrand(name)
	if named && domain != "" {
		b := m.Brand
		glyph := ""
		if m.Homoglyph {
			glyph = ", written with look-alike characters"
		}
		switch {
		case b.Owns(domain):
			if m.Homoglyph {
				add(FindBrandHomoglyph, Weak, fmt.Sprintf("the display name %q spells %s with look-alike characters", name, b.Name))
			} else if in.AlignedPass {
				add(FindBrandDomain, Clears, fmt.Sprintf("the display name names %s and the address is at %s, one of its domains, with aligned authentication", b.Name, domain))
			}
		case IsFreemail(fromOrg):
			add(FindBrandImpersonation, Strong, fmt.Sprintf("the display name %q names %s (%s)%s but the address %s is a free-mail box", name, b.Name, b.Kind, glyph, from.Addr))
		default:
			how := "a domain unrelated to " + b.Name
			if kind, ok := b.LookAlike(domain); ok {
				how = "a look-alike of " + b.Name + "'s domains (" + kind + ")"
			}
			add(FindBrandImpersonation, Strong, fmt.Sprintf("the display name %q names %s (%s)%s but the address %s is at %s", name, b.Name, b.Kind, glyph, from.Addr, how))
		}
	}
	if domain != "" && !named && !IsFreemail(fromOrg) {
		if b, kind, ok := bs.LookAlike(domain); ok {
			strength := Strong
			if kind == "brand-in-domain" {
				strength = Weak // "amazon-reviews.example" may be a fan site
			}
			add(FindLookAlikeDomain, strength, fmt.Sprintf("the From domain %s imitates %s's (%s)", domain, b.Name, kind))
		}
	}
	if named {
		return m.Brand.Name
	}
	return ""
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// nameAddress finds an e-mail address inside a display name.
func nameAddress(name string) (string, string) {
	for _, w := range strings.FieldsFunc(name, func(r rune) bool {
		return r == ' ' || r == '"' || r == '<' || r == '>' || r == '(' || r == ')' || r == ',' || r == '\''
	}) {
		if i := strings.LastIndexByte(w, '@'); i > 0 && i < len(w)-1 {
			d := strings.ToLower(strings.Trim(w[i+1:], "."))
			if strings.Contains(d, ".") {
				return w, d
			}
		}
	}
	return "", ""
}

// nameDomain finds a registrable domain name written in a display name
// ("PayPal.com Security").
func nameDomain(name string) string {
	for _, w := range strings.FieldsFunc(strings.ToLower(name), func(r rune) bool {
		return r == ' ' || r == '"' || r == '(' || r == ')' || r == ',' || r == ':' || r == '|'
	}) {
		w = strings.Trim(w, ".'!?;")
		if !strings.Contains(w, ".") || strings.Contains(w, "@") {
			continue
		}
		if !dnsname.ICANNSuffix(w) {
			continue
		}
		if d := dnsname.OrgDomain(w); len(d) > 4 {
			tld := d[strings.LastIndexByte(d, '.')+1:]
			label := d[:strings.IndexByte(d, '.')]
			// Common generic TLDs and country codes only: "R.Hughes" is a
			// name, not the .hughes domain.
			if isLetters(tld) && (len(tld) == 2 || commonTLDs[tld]) && len(label) >= 2 {
				return d
			}
		}
	}
	return ""
}

var commonTLDs = map[string]bool{"com": true, "net": true, "org": true, "info": true, "biz": true, "edu": true, "gov": true, "shop": true, "online": true, "store": true}

func isLetters(s string) bool {
	for _, c := range s {
		if c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}
