package rules

import (
	"strings"

	"golang.org/x/net/publicsuffix"

	accmail "github.com/accord-antispam/accord/internal/mail"
)

// Identity says whether the sender's identity is disguised, and why.
type Identity struct {
	Disguised Tri       `json:"identity_disguised"`
	Findings  []Finding `json:"findings"`
}

// Finding is one observation about the sender's identity. Strong findings
// alone show disguise; weak ones are reported but need more to decide.
type Finding struct {
	Code     string `json:"code"`
	Strength string `json:"strength"` // "strong", "weak", or "clears" (evidence of a genuine identity).
	Detail   string `json:"detail"`
}

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
}

// DetectIdentity applies the identity checks. The sender is disguised when a
// strong finding shows it: a display name showing another address or domain,
// an author domain that fails DMARC, replies diverted to an unrelated
// free-mail box, forged relays, no usable From. A pass of aligned
// authentication with none of those clears it; otherwise it is unknown.
func DetectIdentity(in IdentityInput) Identity {
	var f []Finding
	add := func(code, strength, detail string) { f = append(f, Finding{code, strength, detail}) }
	var from accmail.Address
	switch {
	case len(in.From) == 0:
		add("no-from", "strong", "no usable From address")
	case len(in.From) > 1:
		add("multiple-from", "weak", "several author addresses")
		from = in.From[0]
	default:
		from = in.From[0]
	}
	if len(in.From) > 0 && !in.FromStrict {
		add("malformed-from", "weak", "the From field does not follow RFC 5322")
	}
	fromOrg := orgOf(from.Domain)
	if from.Addr != "" && from.Domain == "" {
		add("no-from-domain", "strong", "the From address has no domain: "+from.Addr)
	}
	if from.Name != "" && fromOrg != "" {
		if a, d := nameAddress(from.Name); d != "" && orgOf(d) != fromOrg {
			add("display-name-address", "strong", "the display name shows "+a+" but the address is "+from.Addr)
		} else if d := nameDomain(from.Name); d != "" && orgOf(d) != fromOrg {
			// Brands often mail from a service domain ("News.com" from
			// newsletter.online.com); from a free-mail box it is a disguise.
			strength := "weak"
			if IsFreemail(fromOrg) || in.DMARC == "fail" {
				strength = "strong"
			}
			add("display-name-domain", strength, "the display name shows the domain "+d+" but the address is "+from.Addr)
		}
	}
	switch in.DMARC {
	case "fail":
		add("dmarc-fail", "strong", "the From domain "+from.Domain+" fails DMARC (policy "+orNone(in.DMARCPolicy)+")")
	case "pass":
		add("dmarc-pass", "clears", "the From domain "+from.Domain+" passes DMARC")
	}
	for _, r := range in.ReplyTo {
		ro := orgOf(r.Domain)
		if ro != "" && ro != fromOrg && IsFreemail(ro) && !IsFreemail(fromOrg) {
			add("reply-to-freemail", "strong", "replies go to the free-mail address "+r.Addr+", unrelated to "+orNone(from.Domain))
		} else if ro != "" && ro != fromOrg {
			add("reply-to-other-domain", "weak", "replies go to "+r.Addr+", another domain than "+orNone(from.Domain))
		}
	}
	if rp := accmail.DomainOf(in.ReturnPath); rp != "" && fromOrg != "" && orgOf(rp) != fromOrg {
		add("envelope-other-domain", "weak", "the envelope sender is at "+rp+" (common for mailing services)")
	}
	for _, r := range in.Forged {
		add("forged-relay", "strong", r)
	}
	if in.AlignedPass && in.DMARC != "pass" {
		add("aligned-auth", "clears", "an aligned DKIM signature or SPF pass vouches for "+from.Domain)
	}
	out := Identity{Disguised: Unknown, Findings: f}
	clears := false
	for _, x := range f {
		if x.Strength == "strong" {
			out.Disguised = True
			return out
		}
		if x.Strength == "clears" {
			clears = true
		}
	}
	if clears {
		out.Disguised = False
	}
	return out
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func orgOf(d string) string {
	d = strings.ToLower(strings.Trim(d, ". "))
	if d == "" {
		return ""
	}
	if o, err := publicsuffix.EffectiveTLDPlusOne(d); err == nil {
		return o
	}
	return d
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
		if _, icann := publicsuffix.PublicSuffix(w); !icann {
			continue
		}
		if d, err := publicsuffix.EffectiveTLDPlusOne(w); err == nil && len(d) > 4 {
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
