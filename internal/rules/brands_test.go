package rules

import (
	"strings"
	"testing"

	accmail "github.com/accord-antispam/accord/internal/mail"
)

// TestBrandImpersonation: a display name naming a brand on a domain the
// brand does not own is a disguise even when DMARC passes for that domain
// (DMARC vouches for the domain, not the name beside it).
func TestBrandImpersonation(t *testing.T) {
	from := func(name, a string) []accmail.Address {
		return []accmail.Address{{Name: name, Addr: a, Domain: accmail.DomainOf(a)}}
	}
	pass := func(name, a string) IdentityInput {
		return IdentityInput{From: from(name, a), FromStrict: true, DMARC: "pass", AlignedPass: true}
	}
	for _, c := range []struct {
		name   string
		in     IdentityInput
		want   Tri
		code   FindingCode
		detail string // part of the finding's detail
		brand  string
	}{
		{"the issue: Microsoft on free mail", pass("Microsoft account team", "msa.security@outlook.com"), True, FindBrandImpersonation, "free-mail", "Microsoft"},
		{"the issue: Nubank on an unrelated domain", pass("Nubank", "atendimento@promo-clientes.com.br"), True, FindBrandImpersonation, "unrelated to Nubank", "Nubank"},
		{"the real Nubank", pass("Nubank", "todomundo@nubank.com.br"), False, FindBrandDomain, "nubank.com.br", "Nubank"},
		{"a subdomain of the brand", pass("Santander", "conta@brasil.santander.com.br"), False, FindBrandDomain, "", "Santander"},
		{"homoglyph display name (Cherokee and Cyrillic letters)", pass("Ꮮеdgеr", "spport@e.channeltrends.cz"), True, FindBrandImpersonation, "look-alike characters", "Ledger"},
		{"strike-through marks", pass("M̶icrosoft Safe", "no-reply@sbtjapan.com"), True, FindBrandImpersonation, "", "Microsoft"},
		{"digits for letters", pass("PayPa1 Service", "service@intl-help.example"), True, FindBrandImpersonation, "", "PayPal"},
		{"capital I for l", pass("UnitedHeaIthcare", "uhc@redeem-uhc.com"), True, FindBrandImpersonation, "", "UnitedHealthcare"},
		{"mathematical bold letters", pass("𝗗𝗲𝘂𝘁𝘀𝗰𝗵𝗲 𝗕𝗮𝗵𝗻", "noreply@bahn-bonus.example"), True, FindBrandImpersonation, "", "Deutsche Bahn"},
		{"brand in a subdomain", pass("Amazon Prime", "No-reply.51@amazon-prime.securdeutsh.com"), True, FindBrandImpersonation, "brand-in-domain", "Amazon"},
		{"brand run into the domain", pass("STARBUCKS", "info@starbucksikv.com"), True, FindBrandImpersonation, "brand-in-domain", "Starbucks"},
		{"tax office", pass("HMRC Tax Refund", "refund@hmrc-gov-claim.com"), True, FindBrandImpersonation, "tax", "HMRC"},
		{"parcel service", pass("DHL Express", "tracking@dhl-parcel-info.net"), True, FindBrandImpersonation, "parcel", "DHL"},
		{"real parcel service", pass("DHL Paket", "noreply@dhl.de"), False, FindBrandDomain, "", "DHL"},
		{"tenant of a platform is not the platform", pass("Microsoft 365", "admin@contoso123.onmicrosoft.com"), True, FindBrandImpersonation, "", "Microsoft"},
		{"typosquatted From domain without a brand name", pass("Service", "service@paypa1.com"), True, FindLookAlikeDomain, "typosquat", ""},
		{"digit for a letter in the domain", pass("Billing", "billing@micros0ft-support.com"), True, FindLookAlikeDomain, "homoglyph", ""},
		{"brand inside another domain, no brand name: weak", pass("Reviews", "team@amazon-reviews-weekly.example"), False, FindLookAlikeDomain, "brand-in-domain", ""},
		{"internationalised look-alike domain", pass("Security", "security@xn--pypal-4ve.com"), True, FindLookAlikeDomain, "homoglyph", ""},
		{"ambiguous brand name alone in a phrase", pass("Apple pie recipes", "recipes@cooking.example"), False, "", "", ""},
		{"ambiguous brand name with a service word", pass("Apple Support", "support@apple-care-help.example"), True, FindBrandImpersonation, "", "Apple"},
		{"a publication named after a brand", pass("Apple Insider", "news@appleinsider.com"), False, "", "", ""},
		{"a person's name", pass("Craig Hughes", "craig@example.com"), False, "", "", ""},
		{"an address in the display name is not a brand claim", IdentityInput{From: from("jo@hotmail.com", "jo@hotmail.com"), FromStrict: true}, Unknown, "", "", ""},
	} {
		id := DetectIdentity(c.in)
		if id.Disguised != c.want {
			t.Errorf("%s: disguised = %v, want %v (%+v)", c.name, id.Disguised, c.want, id.Findings)
		}
		if id.Brand != c.brand {
			t.Errorf("%s: brand %q, want %q", c.name, id.Brand, c.brand)
		}
		if c.code == "" {
			for _, f := range id.Findings {
				if f.Code == FindBrandImpersonation || f.Code == FindLookAlikeDomain {
					t.Errorf("%s: unexpected %s: %s", c.name, f.Code, f.Detail)
				}
			}
			continue
		}
		found := false
		for _, f := range id.Findings {
			if f.Code == c.code && strings.Contains(f.Detail, c.detail) {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: no %s finding mentioning %q: %+v", c.name, c.code, c.detail, id.Findings)
		}
	}
}

func TestEmbeddedBrandsAreWellFormed(t *testing.T) {
	bs := EmbeddedBrands()
	kinds := map[string]bool{"bank": true, "payment": true, "wallet": true, "tax": true, "parcel": true, "platform": true, "retail": true, "government": true}
	seen := map[string]string{}
	for _, b := range bs.List {
		if !kinds[b.Kind] {
			t.Errorf("%s: kind %q", b.Name, b.Kind)
		}
		for _, d := range b.Domains {
			if IsFreemail(d) {
				t.Errorf("%s lists the free-mail domain %s: anyone can write from it", b.Name, d)
			}
			if other, dup := seen[d]; dup {
				t.Errorf("%s and %s both list %s", b.Name, other, d)
			}
			seen[d] = b.Name
		}
		for _, d := range b.Domains {
			if o, k, ok := bs.LookAlike(d); ok {
				t.Errorf("%s's domain %s reads as a look-alike (%s) of %s", b.Name, d, k, o.Name)
			}
		}
	}
	for _, k := range []string{"bank", "wallet", "tax", "parcel", "platform"} {
		n := 0
		for _, b := range bs.List {
			if b.Kind == k {
				n++
			}
		}
		if n < 5 {
			t.Errorf("only %d brands of kind %s", n, k)
		}
	}
}

func BenchmarkDetectIdentityBrands(b *testing.B) {
	in := IdentityInput{From: []accmail.Address{{Name: "Support Team", Addr: "help@mail.example-shop.com", Domain: "mail.example-shop.com"}}, FromStrict: true}
	for b.Loop() {
		DetectIdentity(in)
	}
}
