package analysis

import (
	"fmt"
	"strings"

	"github.com/accord-antispam/accord/internal/mail"
	"github.com/accord-antispam/accord/internal/mailauth"
	"github.com/accord-antispam/accord/internal/rules"
	"github.com/accord-antispam/accord/internal/trace"
)

// facts gathers what the rulebooks' predicates read, each with its evidence.
func (a *Analyzer) facts(v *Verdict, h mail.Header, c *mail.Content, cx Context) rules.Facts {
	f := rules.Facts{}
	// Only an advertisement label the sender put on the message declares it
	// commercial; everything else about it is a reading of the text.
	f["commercial"] = rules.Fact{Value: v.Commercial.Likely, Why: orWhy(v.Commercial.Signals, "no sign of a commercial communication"),
		Heuristic: !adLabelled(v.Commercial.Signals)}
	f["consent"] = contextFact(cx.Consent, "the recipient says they consented", "the recipient says they did not consent", "consent is not visible in a message")
	f["soft_opt_in"] = contextFact(cx.ExistingCustomer, "the recipient says they are an existing customer", "the recipient says they are not a customer", "a customer relationship is not visible in a message")
	if cx.Why != "" {
		// The context says where it comes from, and also why it leaves a
		// fact open (a record the sender alone vouches for).
		for _, k := range []string{"consent", "soft_opt_in"} {
			f[k] = rules.Fact{Value: f[k].Value, Why: []string{cx.Why}}
		}
	}
	if cx.Commercial != rules.Unknown {
		f["commercial"] = rules.Fact{Value: cx.Commercial, Why: []string{"declared by the sender"}}
	}

	var idWhy []string
	for _, x := range v.Sender.Findings {
		idWhy = append(idWhy, string(x.Strength)+": "+x.Detail)
	}
	f["identity_disguised"] = rules.Fact{Value: v.Sender.IdentityDisguised, Why: orWhy(idWhy, "no finding either way; authentication results are not available"),
		Heuristic: identityHeuristic(v.Sender.Findings)}
	// A well-formed List-Unsubscribe target is a protocol fact; targets and
	// wording read from the text are heuristics.
	headerTarget := false
	for _, t := range v.OptOut.ListUnsubscribe {
		headerTarget = headerTarget || t.Valid
	}
	f["opt_out_valid"] = rules.Fact{Value: v.OptOut.Valid, Why: []string{v.OptOut.Why}, Heuristic: !headerTarget}
	f["phishing_likely"] = rules.Fact{Value: v.Phishing.Likely, Why: v.Phishing.Why, Heuristic: true}

	switch {
	case v.Origin.Forged:
		var why []string
		for _, h := range v.Origin.Hops {
			for _, fl := range h.Flags {
				if fl.Severity == trace.Forged {
					why = append(why, fmt.Sprintf("hop %d: %s", h.Index, fl.Reason))
				}
			}
		}
		f["header_forged"] = rules.Fact{Value: rules.True, Why: why, Heuristic: true}
	case forgedAR(v) != "":
		f["header_forged"] = rules.Fact{Value: rules.True, Why: []string{forgedAR(v)}}
	case v.Auth != nil && v.Auth.DMARC.Result == mailauth.Fail:
		f["header_forged"] = rules.Fact{Value: rules.True, Why: []string{"the From domain fails DMARC: " + v.Auth.DMARC.Reason}}
	case len(v.Origin.Hops) == 0:
		f["header_forged"] = rules.Fact{Value: rules.Unknown, Why: []string{"no Received fields to check"}}
	default:
		f["header_forged"] = rules.Fact{Value: rules.False, Why: []string{"no forged relay found in the trace"}}
	}
	text := c.Text + "\n" + c.HTMLText
	val, why := rules.SubjectDeceptive(v.Message.Subject, h)
	f["subject_deceptive"] = rules.Fact{Value: val, Why: []string{why}, Heuristic: true}
	lower := ""
	if len(text) <= 32<<10 {
		lower = c.Lower() // strings.ToLower(text), done once by Extract
	}
	val, why = rules.AdLabel(v.Message.Subject, text, lower)
	f["ad_label"] = rules.Fact{Value: val, Why: []string{why}, Heuristic: true}
	pval, pwhy := rules.PostalAddress(text)
	if pval != rules.True && cx.PostalAddress != "" && rules.ContainsAddress(text, cx.PostalAddress) {
		pval, pwhy = rules.True, "the sender's registered postal address: "+cx.PostalAddress
	}
	f["postal_address"] = rules.Fact{Value: pval, Why: []string{pwhy}, Heuristic: true}
	var contact []string
	if pval == rules.True {
		contact = append(contact, pwhy)
	}
	if len(c.Phones) > 0 {
		contact = append(contact, "telephone "+c.Phones[0])
	}
	if len(c.Emails) > 0 {
		contact = append(contact, "e-mail "+c.Emails[0])
	}
	for _, u := range c.URLs {
		if u.Source == "href" || u.Source == "text" {
			contact = append(contact, "web "+u.Host)
			break
		}
	}
	switch {
	case len(contact) > 0:
		f["contact_details"] = rules.Fact{Value: rules.True, Why: contact, Heuristic: true}
	case strings.TrimSpace(text) == "":
		f["contact_details"] = rules.Fact{Value: rules.Unknown, Why: []string{"the message has no text to read"}}
	default:
		f["contact_details"] = rules.Fact{Value: rules.False, Why: []string{"no address, telephone number, e-mail address or web address in the text"}, Heuristic: true}
	}
	return f
}

// identityHeuristic: a verdict on the sender rests on heuristics unless a
// protocol fact decided it (a DMARC result, a forged relay, no usable From).
func identityHeuristic(fs []rules.Finding) bool {
	for _, f := range fs {
		if f.Strength == rules.Strong {
			switch f.Code {
			case rules.FindDMARCFail, rules.FindNoFrom, rules.FindNoFromDomain:
				return false
			}
		}
	}
	for _, f := range fs {
		if f.Strength == rules.Strong {
			return true
		}
	}
	for _, f := range fs {
		if f.Code == rules.FindDMARCPass {
			return false
		}
	}
	return true
}

func adLabelled(signals []string) bool {
	for _, s := range signals {
		if strings.HasPrefix(s, "advertisement label") {
			return true
		}
	}
	return false
}

func contextFact(t rules.Tri, yes, no, unknown string) rules.Fact {
	switch t {
	case rules.True:
		return rules.Fact{Value: rules.True, Why: []string{yes}}
	case rules.False:
		return rules.Fact{Value: rules.False, Why: []string{no}}
	}
	return rules.Fact{Value: rules.Unknown, Why: []string{unknown}}
}

func orWhy(s []string, dflt string) []string {
	if len(s) == 0 {
		return []string{dflt}
	}
	return s
}

// forgedAR describes the first forged Authentication-Results field, if any.
func forgedAR(v *Verdict) string {
	if v.Auth == nil {
		return ""
	}
	for _, ar := range v.Auth.Headers {
		if ar.Forged {
			return "an Authentication-Results field claims the trusted receiver " + ar.AuthServID + " from below the trust boundary"
		}
	}
	return ""
}
