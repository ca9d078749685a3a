// Package campaign groups reports of the same spam run. Each report gets a
// Signature: a MinHash of its normalised text (word 3-shingles, numbers and
// case folded away, so the usual per-recipient variations do not matter), the
// registrable domains its links point to, its sender domain and its origin
// network.
//
// The complaint desk's campaigns are the connected components of sharing
// a grouping key (Signature.Keys: windows of the MinHash, a link domain
// with part of it, a short text's link domain), found by exact key look-up
// and merged as reports bridge them (Partition): a function of the set of
// reports, not of the order they arrive in (keys.go).
//
// Assign and Matches are the older, founder-based rule — a report joins the
// campaign whose founding report it resembles best — which the mail
// filter's near-duplicate check still uses against the desk's confirmed
// campaigns (internal/filter): there a message is compared with campaigns,
// not grouped with other messages. Where campaigns live is the Index's
// business.
package campaign

import (
	"context"
	"encoding/binary"
	"hash/fnv"
	"sort"
	"strings"
	"unicode"
)

// NumHashes is the MinHash length; Bands × Rows = NumHashes.
const (
	NumHashes = 16
	Bands     = 8
	Rows      = NumHashes / Bands
)

// Signature describes one report for grouping.
type Signature struct {
	MinHash [NumHashes]uint32
	Words   int      // Words in the normalised text; short texts match on links.
	Domains []string // Registrable domains of the links, sorted, generic ones left out.
	Sender  string   // From domain.
	Network string   // "AS<n>" of the origin, or "" when unknown.
}

// genericDomains appear in ham and spam alike (shorteners aside, which are
// the point of a campaign's links and are kept).
var genericDomains = map[string]bool{
	"w3.org": true, "google.com": true, "yahoo.com": true, "hotmail.com": true, "microsoft.com": true,
	"msn.com": true, "aol.com": true, "apple.com": true, "adobe.com": true, "macromedia.com": true,
	"gmail.com": true, "outlook.com": true, "live.com": true, "facebook.com": true, "twitter.com": true,
	"youtube.com": true, "example.com": true, "example.org": true, "example.net": true,
}

// Sign computes the signature of a report from its text (plain and HTML
// rendered), its link domains, sender domain and origin network.
func Sign(text string, linkDomains []string, sender, network string) Signature {
	s := Signature{Sender: strings.ToLower(sender), Network: network}
	seen := map[string]bool{}
	for _, d := range linkDomains {
		d = strings.ToLower(d)
		if d != "" && !genericDomains[d] && !seen[d] {
			seen[d] = true
			s.Domains = append(s.Domains, d)
		}
	}
	sort.Strings(s.Domains)
	if len(s.Domains) > 20 {
		s.Domains = s.Domains[:20]
	}
	words := normalise(text)
	s.Words = len(words)
	for i := range s.MinHash {
		s.MinHash[i] = ^uint32(0)
	}
	shingle := func(parts []string) {
		h := fnv.New64a()
		for _, p := range parts {
			h.Write([]byte(p))
			h.Write([]byte{0})
		}
		x := h.Sum64()
		for i := range s.MinHash {
			// Independent hash functions from one: multiply-add with
			// fixed odd constants.
			v := uint32((x*seeds[i] + uint64(i)*0x9E3779B97F4A7C15) >> 32)
			if v < s.MinHash[i] {
				s.MinHash[i] = v
			}
		}
	}
	switch {
	case len(words) >= 3:
		for i := 0; i+3 <= len(words) && i < 4000; i++ {
			shingle(words[i : i+3])
		}
	case len(words) > 0:
		shingle(words)
	}
	return s
}

var seeds = [NumHashes]uint64{
	0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9, 0x94D049BB133111EB, 0xD6E8FEB86659FD93,
	0xA0761D6478BD642F, 0xE7037ED1A0B428DB, 0x8EBC6AF09C88C6E3, 0x589965CC75374CC3,
	0x1D8E4E27C47D124F, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0x27D4EB2F165667C5,
	0x85EBCA77C2B2AE63, 0xFF51AFD7ED558CCD, 0xC4CEB9FE1A85EC53, 0x4CF5AD432745937F,
}

// normalise lower-cases the text, drops numbers and punctuation, and returns
// the words: what stays the same when a spammer varies names, amounts and
// tracking numbers per recipient.
func normalise(text string) []string {
	if len(text) > 64<<10 {
		text = text[:64<<10]
	}
	f := strings.FieldsFunc(strings.ToLower(text), func(r rune) bool { return !unicode.IsLetter(r) })
	out := f[:0]
	for _, w := range f {
		if len(w) >= 2 {
			out = append(out, w)
		}
	}
	return out
}

// BandKeys are the locality-sensitive keys of a signature: messages whose
// texts are similar share at least one with high probability.
func (s Signature) BandKeys() [Bands]uint64 {
	var out [Bands]uint64
	if s.Words == 0 {
		return out
	}
	var b [4*Rows + 1]byte
	for i := 0; i < Bands; i++ {
		b[0] = byte(i)
		for r := 0; r < Rows; r++ {
			binary.LittleEndian.PutUint32(b[1+4*r:], s.MinHash[i*Rows+r])
		}
		h := fnv.New64a()
		h.Write(b[:])
		out[i] = h.Sum64() | 1 // never 0: 0 means "no key"
	}
	return out
}

// Similarity estimates the Jaccard similarity of two texts' shingle sets.
func Similarity(a, b [NumHashes]uint32) float64 {
	n := 0
	for i := range a {
		if a[i] == b[i] {
			n++
		}
	}
	return float64(n) / NumHashes
}

// Candidate is an existing campaign as the Index presents it.
type Candidate struct {
	ID        string
	Signature Signature // Its founding report's signature.
}

// Index is where campaigns live, seen from the grouping decision.
type Index interface {
	// ByBands returns campaigns with any of these band keys.
	ByBands(ctx context.Context, keys [Bands]uint64) ([]Candidate, error)
	// ByDomains returns campaigns whose links share any of these domains.
	ByDomains(ctx context.Context, domains []string) ([]Candidate, error)
}

// Thresholds of the decision.
const (
	joinSimilarity = 0.5 // Text alone.
	linkSimilarity = 0.2 // Text with a shared link domain.
)

// Assign picks the campaign a report belongs to, or "" for a new one, with
// the reason.
func Assign(ctx context.Context, idx Index, s Signature) (id string, why string, err error) {
	cands, err := idx.ByBands(ctx, s.BandKeys())
	if err != nil {
		return "", "", err
	}
	more, err := idx.ByDomains(ctx, s.Domains)
	if err != nil {
		return "", "", err
	}
	cands = append(cands, more...)
	best, bestScore := "", 0.0
	for _, c := range cands {
		ok, score, sim, shared := match(s, c.Signature)
		if ok && (score > bestScore || score == bestScore && c.ID < best) {
			best, bestScore = c.ID, score
			why = describe(sim, shared)
		}
	}
	return best, why, nil
}

// Matches says whether a report of signature a resembles the campaign
// founded by a report of signature b (the filter's near-duplicate rule).
// The rule is symmetric, but it is not transitive: a may match b and b
// match c while a and c do not (a spam run that rewords its text step by
// step), so grouping reports by it depends on the order they arrive in;
// the desk groups by shared keys instead (Signature.Keys, docs/desk.md,
// "Campaigns and the order of arrival").
func Matches(a, b Signature) bool {
	ok, _, _, _ := match(a, b)
	return ok
}

// match is Matches with the score that ranks the campaigns a report
// matches, its text similarity and the link domain the two share.
func match(s, c Signature) (ok bool, score, sim float64, shared string) {
	if s.Words > 0 && c.Words > 0 {
		sim = Similarity(s.MinHash, c.MinHash)
	}
	shared = sharedDomain(s.Domains, c.Domains)
	score = sim
	ok = sim >= joinSimilarity
	if shared != "" && (sim >= linkSimilarity || s.Words < 20 || c.Words < 20) {
		ok = true
		score += 0.5
	}
	if s.Network != "" && s.Network == c.Network {
		score += 0.1
	}
	return ok, score, sim, shared
}

func describe(sim float64, shared string) string {
	parts := []string{"text similarity " + strings.TrimRight(strings.TrimRight(fmtFloat(sim), "0"), ".")}
	if shared != "" {
		parts = append(parts, "shared link domain "+shared)
	}
	return strings.Join(parts, ", ")
}

func fmtFloat(f float64) string {
	b := make([]byte, 0, 8)
	b = append(b, byte('0'+int(f)))
	b = append(b, '.')
	x := int(f*100+0.5) % 100
	b = append(b, byte('0'+x/10), byte('0'+x%10))
	return string(b)
}

func sharedDomain(a, b []string) string {
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch {
		case a[i] == b[j]:
			return a[i]
		case a[i] < b[j]:
			i++
		default:
			j++
		}
	}
	return ""
}
