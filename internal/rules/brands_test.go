package rules

import (
	"math/rand/v2"
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

// lookAlikeEveryBrand is Brands.LookAlike trying every brand's labels in
// turn, as it did before its indexes: kept to show both find the same.
func lookAlikeEveryBrand(bs *Brands, domain string) (*Brand, string, bool) {
	dv, ok := viewOf(domain)
	if !ok {
		return nil, "", false
	}
	for i := range bs.List {
		if bs.List[i].owns(dv) {
			return nil, "", false
		}
	}
	for i := range bs.List {
		if kind, ok := bs.List[i].lookAlike(dv); ok {
			return &bs.List[i], kind, true
		}
	}
	return nil, "", false
}

// lookAlikeDomains are the brands' domains and labels, changed the ways
// impostors change them.
func lookAlikeDomains() []string {
	bs := EmbeddedBrands()
	r := rand.New(rand.NewPCG(5, 6))
	var out []string
	for _, b := range bs.List {
		for _, t := range b.Tenants {
			out = append(out, t, "contoso."+t, "paypal-login."+t, "mail.evil."+t)
		}
		for _, d := range append(append([]string{}, b.Domains...), b.labels...) {
			label, rest, _ := strings.Cut(d, ".")
			if rest == "" {
				rest = "com"
			}
			out = append(out, d, label+"-secure."+rest, "secure-"+label+".xyz", label+"support.net", "mail."+label+".example.org")
			if len(label) > 2 {
				i := r.IntN(len(label) - 1)
				out = append(out, label[:i]+label[i+1:]+"."+rest, label[:i]+"1"+label[i+1:]+".com", label[:i]+label[i+1:i+2]+label[i:i+1]+label[i+2:]+".info",
					label[:i]+"rn"+label[i+1:]+".net", "xn--"+label+"-abc.com", label+label[:2]+".co.uk")
			}
		}
	}
	return append(out, "example.com", "paypa1.com", "micros0ft-support.com", "xn--pypal-4ve.com", "amazon-prime.example.xyz", "", "com", "[1.2.3.4]")
}

func TestLookAlikeAsEveryBrand(t *testing.T) {
	bs := EmbeddedBrands()
	n := 0
	for _, d := range lookAlikeDomains() {
		b, kind, ok := bs.LookAlike(d)
		wb, wkind, wok := lookAlikeEveryBrand(bs, d)
		if b != wb || kind != wkind || ok != wok {
			t.Fatalf("LookAlike(%q) = %v %q %v, want %v %q %v", d, b, kind, ok, wb, wkind, wok)
		}
		if ok {
			n++
		}
	}
	if n < 100 {
		t.Errorf("only %d look-alikes among the domains: the comparison shows little", n)
	}
}

func FuzzLookAlike(f *testing.F) {
	for _, d := range lookAlikeDomains()[:60] {
		f.Add(d)
	}
	bs := EmbeddedBrands()
	f.Fuzz(func(t *testing.T, d string) {
		b, kind, ok := bs.LookAlike(d)
		wb, wkind, wok := lookAlikeEveryBrand(bs, d)
		if b != wb || kind != wkind || ok != wok {
			t.Fatalf("LookAlike(%q) = %v %q %v, want %v %q %v", d, b, kind, ok, wb, wkind, wok)
		}
	})
}

// namedBrandEveryBrand is Brands.NamedBrand trying every brand's names
// in turn, as it did before its index of first words.
func namedBrandEveryBrand(bs *Brands, displayName string) (BrandMatch, bool) {
	if strings.TrimSpace(displayName) == "" {
		return BrandMatch{}, false
	}
	displayName = withoutAddresses(displayName)
	plain := words(strings.ToLower(displayName))
	w := words(fold(displayName))
	w2 := words(foldCase(displayName))
	if len(w) == 0 {
		return BrandMatch{}, false
	}
	service := false
	for _, x := range append(w, plain...) {
		if serviceWords[x] {
			service = true
		}
	}
	for i := range bs.List {
		b := &bs.List[i]
		for k, n := range b.names {
			ws := w
			if indexWords(ws, n) < 0 {
				ws = w2
				if indexWords(ws, n) < 0 {
					continue
				}
			}
			if isAmbiguous(b, b.Names[k]) && !service && len(ws) != len(n) {
				continue
			}
			return BrandMatch{Brand: b, Homoglyph: indexWords(plain, n) < 0 && !allASCIILetters(plain)}, true
		}
	}
	return BrandMatch{}, false
}

func displayNames() []string {
	bs := EmbeddedBrands()
	var out []string
	for _, b := range bs.List {
		for _, n := range b.Names {
			out = append(out, n, n+" Support", "Your "+n+" account", strings.ToUpper(n), strings.ReplaceAll(n, "a", "а"), strings.ReplaceAll(n, "l", "1"),
				strings.ReplaceAll(n, "o", "0")+" Team", "Team "+n+" <help@"+b.Domains[0]+">")
		}
	}
	return append(out, "", "Jo Smith", "Apple", "Apple Support", "Orange", "Orange juice club", "PayPaI", "𝐏𝐚𝐲𝐏𝐚𝐥")
}

func TestNamedBrandAsEveryBrand(t *testing.T) {
	bs := EmbeddedBrands()
	n := 0
	for _, d := range displayNames() {
		m, ok := bs.NamedBrand(d)
		wm, wok := namedBrandEveryBrand(bs, d)
		if m != wm || ok != wok {
			t.Fatalf("NamedBrand(%q) = %+v %v, want %+v %v", d, m, ok, wm, wok)
		}
		if ok {
			n++
		}
	}
	if n < 300 {
		t.Errorf("only %d names found: the comparison shows little", n)
	}
}

func FuzzNamedBrand(f *testing.F) {
	for _, d := range displayNames()[:60] {
		f.Add(d)
	}
	bs := EmbeddedBrands()
	f.Fuzz(func(t *testing.T, d string) {
		m, ok := bs.NamedBrand(d)
		wm, wok := namedBrandEveryBrand(bs, d)
		if m != wm || ok != wok {
			t.Fatalf("NamedBrand(%q) = %+v %v, want %+v %v", d, m, ok, wm, wok)
		}
	})
}

// TestOwnerAsEveryBrand: with tenant domains inside a brand's own, the
// index of owners still skips the brand that only hosts the name, as the
// brand-by-brand test did.
func TestOwnerAsEveryBrand(t *testing.T) {
	bs, err := ParseBrands([]byte(`{"brands": [
		{"name": "Cloud", "kind": "platform", "names": ["Cloud Co"], "domains": ["cloud.example", "apps.cloud.example"], "tenants": ["apps.cloud.example"]},
		{"name": "Shop", "kind": "retail", "names": ["Shop Co"], "domains": ["shop.apps.cloud.example", "shop.example"]},
		{"name": "Bank", "kind": "bank", "names": ["Bank Co"], "domains": ["bank.example", "cloud.example"]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"cloud.example", "mail.cloud.example", "apps.cloud.example", "x.apps.cloud.example", "shop.apps.cloud.example",
		"a.shop.apps.cloud.example", "bank.example", "shop.example", "other.example", "cloudd.example"} {
		b, ok := bs.Owner(d)
		var wb *Brand
		dv, vok := viewOf(d)
		for i := range bs.List {
			if vok && bs.List[i].owns(dv) {
				wb = &bs.List[i]
				break
			}
		}
		if b != wb || ok != (wb != nil) {
			t.Errorf("Owner(%q) = %v %v, want %v", d, b, ok, wb)
		}
		lb, lk, lok := bs.LookAlike(d)
		wlb, wlk, wlok := lookAlikeEveryBrand(bs, d)
		if lb != wlb || lk != wlk || lok != wlok {
			t.Errorf("LookAlike(%q) = %v %q %v, want %v %q %v", d, lb, lk, lok, wlb, wlk, wlok)
		}
	}
}

func TestImitatesDomain(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want bool
	}{
		{"acme-c0rp.example", "acme-corp.example", true},
		{"acmecorp.example", "acme-corp.example", true},
		{"acme-crop.example", "acme-corp.example", false}, // two letters off, a short name
		{"acme-cоrp.example", "acme-corp.example", true},  // Cyrillic о
		{"mail.acme-corp.example", "acme-corp.example", false},
		{"acme-corp.fr", "acme-corp.de", false},
		{"gmail.com", "hotmail.com", false},
		{"bank.example", "bonk.example", false},
		{"cabinet-dubois-avocats.example", "acme-corp.example", false},
		{"girard-famille.example", "girard-familles.example", true},
	} {
		if _, got := ImitatesDomain(c.a, c.b); got != c.want {
			t.Errorf("ImitatesDomain(%s, %s) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
}

func FuzzImitatesDomain(f *testing.F) {
	for _, s := range [][2]string{{"acme-c0rp.example", "acme-corp.example"}, {"xn--pypal-4ve.com", "paypal.com"}, {"", "."}, {"a.b.c", "a..b"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		if _, ok := ImitatesDomain(a, a); ok {
			t.Errorf("%q imitates itself", a)
		}
		_, ab := ImitatesDomain(a, b)
		_, ba := ImitatesDomain(b, a)
		if ab != ba {
			t.Errorf("ImitatesDomain(%q, %q) = %v, the other way %v", a, b, ab, ba)
		}
	})
}
