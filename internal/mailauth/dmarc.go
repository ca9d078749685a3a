package mailauth

import (
	"context"
	"errors"

	"github.com/emersion/go-msgauth/dmarc"

	"github.com/accord-antispam/accord/internal/dnsname"
	"github.com/accord-antispam/accord/internal/resolve"
)

// Aligned reports identifier alignment (RFC 7489 3.1): strict needs equal
// names, relaxed the same organizational domain (dnsname.OrgDomain).
func Aligned(a, b, mode string) bool {
	if mode == "s" {
		return dnsname.Equal(a, b)
	}
	return dnsname.SameOrg(a, b)
}

// evaluateDMARC looks up the policy for the From domain (falling back to the
// organizational domain) and decides pass or fail from aligned SPF and DKIM.
func evaluateDMARC(ctx context.Context, r resolve.Resolver, from, mailFrom, helo string, s SPF, sigs []DKIMSignature) DMARC {
	out := DMARC{Result: None, Domain: from, OrgDomain: dnsname.OrgDomain(from), Source: SourceComputed}
	if from == "" {
		out.Reason = "no single From domain"
		return out
	}
	lookup := func(name string) ([]string, error) { return r.LookupTXT(ctx, name) }
	rec, recDomain, err := lookupDMARC(from, lookup)
	if err != nil && errors.Is(err, dmarc.ErrNoPolicy) && out.OrgDomain != "" && out.OrgDomain != from {
		rec, recDomain, err = lookupDMARC(out.OrgDomain, lookup)
	}
	switch {
	case err == nil:
	case errors.Is(err, dmarc.ErrNoPolicy):
		out.Reason = "no DMARC record for " + from
		return out
	case dmarc.IsTempFail(err):
		out.Result, out.Reason = TempError, err.Error()
		return out
	default:
		out.Result, out.Reason = PermError, err.Error()
		return out
	}
	out.RecordDomain = recDomain
	out.Policy = string(rec.Policy)
	out.SubdomainPolicy = string(rec.SubdomainPolicy)
	out.ADKIM, out.ASPF = modeOf(rec.DKIMAlignment), modeOf(rec.SPFAlignment)
	out.Percent = 100
	if rec.Percent != nil {
		out.Percent = *rec.Percent
	}
	out.Applied = out.Policy
	if recDomain != from && out.SubdomainPolicy != "" {
		out.Applied = out.SubdomainPolicy
	}
	spfDomain := s.Domain
	if s.Result == Pass && spfDomain != "" {
		out.SPFAligned = Aligned(spfDomain, from, out.ASPF)
	}
	tailed := ""
	for _, sig := range sigs {
		if sig.Result == Pass && Aligned(sig.Domain, from, out.ADKIM) {
			if sig.UnsignedText {
				// Valid over its first l= octets, but what follows
				// is anyone's: it does not vouch for this message.
				tailed = sig.Domain
				continue
			}
			out.DKIMAligned = true
		}
	}
	if out.SPFAligned || out.DKIMAligned {
		out.Result = Pass
	} else {
		out.Result = Fail
		out.Reason = "neither SPF nor DKIM passed aligned with " + from
		if tailed != "" {
			out.Reason += " (the signature by " + tailed + " covers the body only up to l=, and text follows it unsigned)"
		}
	}
	return out
}

func lookupDMARC(domain string, lookup func(string) ([]string, error)) (*dmarc.Record, string, error) {
	rec, err := dmarc.LookupWithOptions(domain, &dmarc.LookupOptions{LookupTXT: lookup})
	if err != nil {
		return nil, "", err
	}
	return rec, domain, nil
}

func modeOf(m dmarc.AlignmentMode) string {
	if m == dmarc.AlignmentStrict {
		return "s"
	}
	return "r"
}

// markAligned records, for every DKIM signature, whether its d= aligns with
// the From domain in the DMARC mode in force (relaxed when unknown).
func markAligned(res *Results, from string) {
	mode := res.DMARC.ADKIM
	for i := range res.DKIM {
		res.DKIM[i].Aligned = Aligned(res.DKIM[i].Domain, from, mode)
	}
}
