package rules

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"unicode"

	"github.com/agnivade/levenshtein"
	"github.com/mtibben/confusables"
	"golang.org/x/net/idna"
	"golang.org/x/text/unicode/norm"

	"github.com/accord-antispam/accord/internal/dnsname"
)

// brands.json is the list of brands and organisations that impersonation
// checks know: banks, wallets, tax offices, parcel services and the big
// platforms, each with the names people write and the domains it sends
// from. It is data: extending it needs no code.
//
//go:embed brands.json
var brandsJSON []byte

// Brand is one organisation whose name a sender may borrow.
type Brand struct {
	Name      string   `json:"name"`
	Kind      string   `json:"kind"` // bank, payment, wallet, tax, parcel, platform, retail, government.
	Names     []string `json:"names"`
	Ambiguous []string `json:"ambiguous,omitempty"` // Names that are also common words.
	Domains   []string `json:"domains"`
	// Tenants are the brand's domains whose subdomains its customers
	// control (x.onmicrosoft.com, x.firebaseapp.com): neither the brand's
	// own mail nor a look-alike of it.
	Tenants []string `json:"tenants,omitempty"`

	names      [][]string // folded words of each name
	labels     []string   // distinctive names run together ("paypal")
	foldLabels []string   // the same, folded
	orgs       map[string]bool
}

// Brands is a list of brands, ready for matching.
type Brands struct {
	Version string  `json:"version"`
	About   string  `json:"about"`
	List    []Brand `json:"brands"`

	// owners lists, for each domain some brand's orgs hold, those brands
	// (their positions in List, ascending); firstWords lists, for each
	// first word of a brand's names, the names that start with it, in
	// List's order. A message's From is looked up in them instead of
	// being tried against every brand's domains and names in turn.
	owners     map[string][]int
	firstWords map[string][]nameRef
}

// nameRef is the k-th of List[brand].names.
type nameRef struct{ brand, k int }

// ParseBrands reads a brand list and prepares it for matching. Every brand
// needs a name, at least one name to match and one domain.
func ParseBrands(b []byte) (*Brands, error) {
	var bs Brands
	if err := json.Unmarshal(b, &bs); err != nil {
		return nil, fmt.Errorf("brands: %w", err)
	}
	for i := range bs.List {
		br := &bs.List[i]
		if br.Name == "" || len(br.Names) == 0 || len(br.Domains) == 0 {
			return nil, fmt.Errorf("brands: entry %d (%q) needs a name, names and domains", i+1, br.Name)
		}
		for _, n := range br.Names {
			if w := words(fold(n)); len(w) > 0 {
				br.names = append(br.names, w)
			}
		}
		for _, list := range [][]string{br.Domains, br.Tenants} {
			for j, d := range list {
				n, ok := dnsname.Normalize(d)
				if !ok {
					return nil, fmt.Errorf("brands: %s: %q is not a domain name", br.Name, d)
				}
				list[j] = n
			}
		}
		// Look-alike domains are judged against the brand's distinctive
		// names run together ("bancointer", "paypal"), never its common
		// words or its domains' labels ("inter", "canada", "post"), which
		// other organisations own by right.
		seen := map[string]bool{}
		for _, name := range br.Names {
			l := strings.Join(words(strings.ToLower(name)), "")
			if len(l) >= 5 && !isAmbiguous(br, name) && !seen[l] {
				seen[l] = true
				br.labels = append(br.labels, l)
				br.foldLabels = append(br.foldLabels, fold(l))
			}
		}
		br.orgs = map[string]bool{}
		for _, d := range br.Domains {
			br.orgs[d] = true
			if o := dnsname.OrgDomain(d); o != "" {
				br.orgs[o] = true
			}
		}
	}
	bs.owners = map[string][]int{}
	bs.firstWords = map[string][]nameRef{}
	for i := range bs.List {
		br := &bs.List[i]
		for d := range br.orgs {
			bs.owners[d] = append(bs.owners[d], i)
		}
		for k, n := range br.names {
			bs.firstWords[n[0]] = append(bs.firstWords[n[0]], nameRef{i, k})
		}
	}
	return &bs, nil
}

// EmbeddedBrands is the brand list shipped with Accord, parsed once: it is
// read-only.
var EmbeddedBrands = sync.OnceValue(func() *Brands {
	b, err := ParseBrands(brandsJSON)
	if err != nil {
		panic(err) // the embedded file is tested
	}
	return b
})

// Owns reports whether domain is one of the brand's: the same name, a
// subdomain, or the same organizational domain.
func (b *Brand) Owns(domain string) bool {
	dv, ok := viewOf(domain)
	return ok && b.owns(dv)
}

func (b *Brand) owns(dv domainView) bool {
	if b.hosts(dv.name) {
		return false
	}
	if dv.org != "" && b.orgs[dv.org] {
		return true
	}
	// The name or one of its parents ("mabanque.bnpparibas" under a
	// brand domain that is itself below a public suffix).
	for d := dv.name; d != ""; {
		if b.orgs[d] {
			return true
		}
		_, rest, ok := strings.Cut(d, ".")
		if !ok {
			break
		}
		d = rest
	}
	return false
}

// domainView is a domain prepared once for the checks against every brand.
type domainView struct {
	name, org, orgLabel, uni, flat, foldFlat string
	parts, foldParts                         []string
}

func viewOf(domain string) (domainView, bool) {
	d, ok := dnsname.Normalize(domain)
	if !ok {
		return domainView{}, false
	}
	v := domainView{name: d, org: dnsname.OrgDomain(d)}
	if v.org != "" {
		v.orgLabel, _, _ = strings.Cut(v.org, ".")
		v.uni = v.orgLabel
		if strings.HasPrefix(v.orgLabel, "xn--") {
			if u, err := idnaToUnicode(v.orgLabel); err == nil {
				v.uni = strings.Join(words(fold(u)), "")
			}
		}
		v.flat = strings.ReplaceAll(v.orgLabel, "-", "")
		v.foldFlat = fold(v.flat)
	}
	for part := range strings.FieldsFuncSeq(d, func(r rune) bool { return r == '.' || r == '-' || r == '_' }) {
		v.parts = append(v.parts, part)
		v.foldParts = append(v.foldParts, fold(part))
	}
	return v, true
}

// serviceWords make an ambiguous brand name ("Apple", "Orange", "Chase")
// read as the organisation: "Apple Support", "Chase Online Banking".
var serviceWords = map[string]bool{}

func init() {
	for _, w := range strings.Fields(`support service services team account accounts security secure billing customer
		customers care help helpdesk id notification notifications notice alert alerts update verification verify rewards
		reward member members membership benefits perks card cards bank banking pay payment payments wallet online official
		store delivery shipping tracking package parcel premium plus prime login mail noreply no-reply center centre info
		kundenservice kundendienst sicherheit konto mitglied zahlung sendung paket servicio cuenta seguridad pago envio envío
		atendimento cliente clientes conta segurança pagamento entrega encomenda compte sécurité paiement colis livraison
		servizio conto sicurezza pagamento spedizione klantenservice rekening beveiliging betaling pakket bezorging gewinner
		giveaway surprise loyalty program programme`) {
		serviceWords[w] = true
	}
}

// BrandMatch is a brand named in a display name.
type BrandMatch struct {
	Brand     *Brand
	Homoglyph bool // The name was written with look-alike characters.
}

// NamedBrand finds a brand named in a display name, after folding
// look-alike characters (Cyrillic "а" for "a", "1" for "l", mathematical
// bold letters, strike-through marks). Ambiguous names count only with a
// service word beside them or on their own.
func (bs *Brands) NamedBrand(displayName string) (BrandMatch, bool) {
	if bs == nil || strings.TrimSpace(displayName) == "" {
		return BrandMatch{}, false
	}
	displayName = withoutAddresses(displayName)
	plain := words(strings.ToLower(displayName))
	w := words(fold(displayName))
	// Capitals have look-alikes of their own ("I" for "l"): fold once more
	// from the letters as written.
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
	// Only a name whose first word the display name has can be in it:
	// those are tried, in the list's order.
	var cands []nameRef
	for _, ws := range [][]string{w, w2} {
		for _, x := range ws {
			cands = append(cands, bs.firstWords[x]...)
		}
	}
	slices.SortFunc(cands, func(a, b nameRef) int {
		if a.brand != b.brand {
			return a.brand - b.brand
		}
		return a.k - b.k
	})
	cands = slices.Compact(cands)
	for _, c := range cands {
		b := &bs.List[c.brand]
		k, n := c.k, b.names[c.k]
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
	return BrandMatch{}, false
}

// withoutAddresses drops e-mail addresses written in a display name: the
// provider of an address shown there ("jo@hotmail.com") is not a brand the
// sender claims to be.
func withoutAddresses(s string) string {
	f := strings.Fields(s)
	out := f[:0]
	for _, w := range f {
		if !strings.Contains(w, "@") {
			out = append(out, w)
		}
	}
	return strings.Join(out, " ")
}

func isAmbiguous(b *Brand, name string) bool {
	for _, a := range b.Ambiguous {
		if strings.EqualFold(a, name) {
			return true
		}
	}
	return false
}

// allASCIILetters reports whether the words hold only ASCII letters, so
// that a brand found after folding ("paypa1") and not before came from
// digits, not from look-alike letters.
func allASCIILetters(ws []string) bool {
	for _, w := range ws {
		for i := 0; i < len(w); i++ {
			if w[i] >= 0x80 {
				return false
			}
		}
	}
	return true
}

// hosts reports whether d is under one of the brand's tenant domains.
func (b *Brand) hosts(d string) bool {
	for _, t := range b.Tenants {
		if d == t || len(d) > len(t) && d[len(d)-len(t)-1] == '.' && strings.HasSuffix(d, t) { // d ends in "."+t
			return true
		}
	}
	return false
}

// LookAlike finds a brand whose domains domain imitates (Brand.LookAlike).
// A domain that some brand owns imitates none: Deutsche Bank's is no
// typosquat of Deutsche Bahn's.
func (bs *Brands) LookAlike(domain string) (*Brand, string, bool) {
	dv, ok := viewOf(domain)
	if !ok {
		return nil, "", false
	}
	if bs.ownerOf(dv) >= 0 {
		return nil, "", false
	}
	for i := range bs.List {
		if kind, ok := bs.List[i].lookAlike(dv); ok {
			return &bs.List[i], kind, true
		}
	}
	return nil, "", false
}

// Owner returns the brand that owns domain, if any.
func (bs *Brands) Owner(domain string) (*Brand, bool) {
	dv, ok := viewOf(domain)
	if !ok {
		return nil, false
	}
	if i := bs.ownerOf(dv); i >= 0 {
		return &bs.List[i], true
	}
	return nil, false
}

// ownerOf returns the first brand in List that owns dv (Brand.owns), or
// -1: the brands whose orgs hold dv's organisational domain or dv's name or
// one of its parents, less those that host dv as a tenant's.
func (bs *Brands) ownerOf(dv domainView) int {
	best := -1
	consider := func(d string) {
		for _, i := range bs.owners[d] {
			if best >= 0 && i >= best {
				return
			}
			if !bs.List[i].hosts(dv.name) {
				best = i
				return
			}
		}
	}
	if dv.org != "" {
		consider(dv.org)
	}
	for d := dv.name; d != ""; {
		consider(d)
		_, rest, ok := strings.Cut(d, ".")
		if !ok {
			break
		}
		d = rest
	}
	return best
}

// LookAlike says how a domain imitates a brand's: "homoglyph" (an
// internationalised name that reads as the brand's, or digits for letters:
// micros0ft-support.com), "typosquat" (one or two letters off: paypa1.com,
// rnicrosoft.com), "brand-in-domain" (the brand's name inside another
// organisation's domain: amazon-prime.example.xyz, starbucks-rewards.com).
// Domains the brand owns are not look-alikes.
func (b *Brand) LookAlike(domain string) (string, bool) {
	dv, ok := viewOf(domain)
	if !ok || b.owns(dv) {
		return "", false
	}
	return b.lookAlike(dv)
}

func (b *Brand) lookAlike(dv domainView) (string, bool) {
	if dv.org == "" || b.hosts(dv.name) {
		return "", false
	}
	for k, l := range b.labels {
		fl := b.foldLabels[k]
		if dv.uni != dv.orgLabel && dv.uni == fl {
			return "homoglyph", true
		}
		if dv.flat != l {
			if d := len(dv.flat) - len(l); len(l) >= 6 && d >= -2 && d <= 2 {
				dist := distanceUpTo2(dv.flat, l)
				if dist == 1 && len(l) >= 6 || dist == 2 && len(l) >= 9 {
					return "typosquat", true
				}
			}
			if dv.foldFlat == fl {
				return "typosquat", true // paypa1 → paypal
			}
		}
		if len(l) >= 6 {
			folded := false
			for i, part := range dv.parts {
				if strings.HasPrefix(part, l) {
					return "brand-in-domain", true
				}
				folded = folded || strings.HasPrefix(dv.foldParts[i], fl)
			}
			if folded {
				return "homoglyph", true
			}
		}
	}
	return "", false
}

// distanceUpTo2 is the Levenshtein distance of a and b when it is 0, 1 or
// 2, and 3 when it is more: all a typosquat check needs. For ASCII labels
// it stops as soon as a row of the table exceeds 2, where most brand labels
// part from the domain's within a few letters, and allocates nothing.
func distanceUpTo2(a, b string) int {
	const most = 64
	if len(b) >= most || !isASCII(a) || !isASCII(b) {
		return min(levenshtein.ComputeDistance(a, b), 3)
	}
	var prev, cur [most]int
	for j := 0; j <= len(b); j++ {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		low := cur[0]
		for j := 1; j <= len(b); j++ {
			d := prev[j-1]
			if a[i-1] != b[j-1] {
				d = 1 + min(prev[j-1], prev[j], cur[j-1])
			}
			cur[j] = d
			low = min(low, d)
		}
		if low > 2 {
			return 3 // a row's least only grows
		}
		prev = cur
	}
	return min(prev[len(b)], 3)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func idnaToUnicode(label string) (string, error) { return idna.Punycode.ToUnicode(label) }

// fold maps a string to the form used for matching: compatibility
// decomposition (mathematical bold letters become plain ones), marks and
// invisible characters removed, lower case, and look-alike characters
// mapped to their Latin skeleton (Unicode TS #39).
func fold(s string) string {
	return strings.ToLower(confusables.Skeleton(strings.ToLower(stripMarks(norm.NFKD.String(s)))))
}

// foldCase is fold with look-alikes mapped before lower-casing, so that
// capitals that look like other letters ("I" for "l", Cherokee "Ꮮ" for
// "L") are caught too.
func foldCase(s string) string {
	return fold(confusables.Skeleton(stripMarks(norm.NFKD.String(s))))
}

func stripMarks(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case unicode.Is(unicode.Mn, r), unicode.Is(unicode.Me, r), unicode.Is(unicode.Cf, r),
			r >= 0xFE00 && r <= 0xFE0F, r >= 0xE0000 && r <= 0xE01EF:
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// words splits folded text into runs of letters and digits.
func words(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
}

// indexWords returns where the word sequence n starts in w, or -1.
func indexWords(w, n []string) int {
outer:
	for i := 0; i+len(n) <= len(w); i++ {
		for j := range n {
			if w[i+j] != n[j] {
				continue outer
			}
		}
		return i
	}
	return -1
}

// ImitatesDomain says how domain imitates other, a domain of another
// organisation: "homoglyph" (the same name once look-alike characters
// are folded: acme-c0rp.example for acme-corp.example, a Cyrillic "а" for
// "a") or "typosquat" (one letter off for a name of six letters or more,
// two for nine or more: acmecorp.example, acme-crop.example). A CEO fraud
// writes from such a domain to the firm it imitates. Two domains of one
// organisation, and two organisations of the same name under different
// suffixes (acme.fr, acme.de: often one firm), imitate nothing.
func ImitatesDomain(domain, other string) (string, bool) {
	a, ok := viewOf(domain)
	if !ok || a.org == "" {
		return "", false
	}
	b, ok := viewOf(other)
	if !ok || b.org == "" || a.org == b.org || a.orgLabel == b.orgLabel {
		return "", false
	}
	ka, kb := imitationKey(a), imitationKey(b)
	if ka == "" || kb == "" {
		return "", false
	}
	if ka == kb {
		return "homoglyph", true
	}
	if l := min(len(a.flat), len(b.flat)); l >= 6 {
		if d := distanceUpTo2(a.flat, b.flat); d == 1 || d == 2 && l >= 9 {
			return "typosquat", true
		}
	}
	return "", false
}

// imitationKey is a domain's organisation label as it reads: folded, its
// hyphens dropped, an internationalised label in its Unicode letters.
func imitationKey(v domainView) string {
	if strings.HasPrefix(v.orgLabel, "xn--") && v.uni != v.orgLabel {
		return strings.ReplaceAll(v.uni, "-", "")
	}
	return strings.ReplaceAll(v.foldFlat, "-", "")
}
