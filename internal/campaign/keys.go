package campaign

import (
	"cmp"
	"encoding/binary"
	"hash/fnv"
	"maps"
	"slices"
	"strconv"
)

// Key is one of a report's grouping keys: two reports that share a key
// are of one spam run, and a campaign is a connected component of that
// relation — every report linked to every other through a chain of
// shared keys. That is a function of the set of reports, not of the
// order they arrive in, and it is found exactly by looking keys up (each
// key belongs to one campaign: a report whose keys belong to several
// merges them), never by comparing a report with a bounded list of
// candidates.
type Key struct {
	Hash   uint64 // What the store indexes (never 0).
	Kind   KeyKind
	Domain string // The link domain of a KindLink or KindShortLink key.
}

// KeyKind says what two reports sharing a key have in common.
type KeyKind byte

const (
	// KindText: three MinHash values in a row (one of sixteen windows,
	// cyclic): texts sharing about half their word 3-shingles share
	// one with probability 0.9 and a tenth of them with 0.016.
	KindText KeyKind = 1
	// KindLink: a link domain and two MinHash values (one of eight
	// bands): a shared domain with some text in common, the rule's
	// "text similarity 0.2 with a shared link domain".
	KindLink KeyKind = 2
	// KindShortLink: a link domain of a text under shortText words,
	// when neither is a shared service (shorteners, hosts of anyone's
	// pages): short texts say too little to compare, their links say
	// where they lead.
	KindShortLink KeyKind = 3
)

const (
	textWindow = 3  // MinHash values in a text key.
	shortText  = 20 // Texts of fewer words group by link domain alone.
)

// sharedServices are link domains anybody's spam and mail use alike:
// link shorteners and redirectors, and hosts of anybody's pages and
// files. A short text linking to one is not of the same run as another
// short text linking to it — both only used the service — so they are
// never a KindShortLink key (genericDomains, never a link at all, aside).
var sharedServices = map[string]bool{
	"bit.ly": true, "bitly.com": true, "tinyurl.com": true, "t.co": true, "goo.gl": true, "ow.ly": true, "is.gd": true,
	"buff.ly": true, "rebrand.ly": true, "cutt.ly": true, "shorturl.at": true, "tiny.cc": true, "lnkd.in": true, "rb.gy": true,
	"t.ly": true, "s.id": true, "v.gd": true, "x.co": true, "qrco.de": true, "linktr.ee": true, "l.ead.me": true,
	"sf.net": true, "sourceforge.net": true, "geocities.com": true, "tripod.com": true, "angelfire.com": true,
	"github.io": true, "githubusercontent.com": true, "blogspot.com": true, "wordpress.com": true, "wixsite.com": true,
	"weebly.com": true, "sites.google.com": true, "googleapis.com": true, "firebaseapp.com": true, "web.app": true,
	"appspot.com": true, "azurewebsites.net": true, "windows.net": true, "amazonaws.com": true, "cloudfront.net": true,
	"netlify.app": true, "vercel.app": true, "pages.dev": true, "workers.dev": true, "herokuapp.com": true,
	"dropbox.com": true, "drive.google.com": true, "docs.google.com": true, "onedrive.live.com": true, "1drv.ms": true,
	"sharepoint.com": true, "forms.gle": true, "typeform.com": true, "jotform.com": true, "mailchi.mp": true,
	"list-manage.com": true, "sendgrid.net": true, "mailgun.org": true, "amazon.com": true, "paypal.com": true,
}

// Keys are the signature's grouping keys, each once, in a fixed order.
func (s Signature) Keys() []Key {
	var out []Key
	if s.Words > 0 {
		var b [2 + 4*textWindow]byte
		for i := range NumHashes {
			b[0], b[1] = byte(KindText), byte(i)
			for j := range textWindow {
				binary.LittleEndian.PutUint32(b[2+4*j:], s.MinHash[(i+j)%NumHashes])
			}
			out = append(out, Key{Hash: keyHash(b[:]), Kind: KindText})
		}
		for _, d := range s.Domains {
			for i := range Bands {
				b := []byte{byte(KindLink)}
				b = append(b, d...)
				b = append(b, 0, byte(i))
				for r := range Rows {
					b = binary.LittleEndian.AppendUint32(b, s.MinHash[i*Rows+r])
				}
				out = append(out, Key{Hash: keyHash(b), Kind: KindLink, Domain: d})
			}
		}
	}
	if s.Words < shortText {
		for _, d := range s.Domains {
			if !sharedServices[d] {
				out = append(out, Key{Hash: keyHash(append([]byte{byte(KindShortLink)}, d...)), Kind: KindShortLink, Domain: d})
			}
		}
	}
	// Each once: windows of a text whose MinHash repeats a value may
	// coincide.
	slices.SortStableFunc(out, func(a, b Key) int { return cmp.Compare(a.Hash, b.Hash) })
	return slices.CompactFunc(out, func(a, b Key) bool { return a.Hash == b.Hash })
}

// keyHash is FNV-1a of b, never 0 (a 64-bit hash: two different keys
// collide with a probability of about 2^-64 per pair).
func keyHash(b []byte) uint64 {
	h := fnv.New64a()
	h.Write(b)
	return h.Sum64() | 1
}

// Why says what a report shares through key k: "shares text with",
// followed by what it shares it with.
func (k Key) Why() string {
	switch k.Kind {
	case KindText:
		return "shares text with"
	case KindLink:
		return "shares text and the link domain " + k.Domain + " with"
	default:
		return "is a short text sharing the link domain " + k.Domain + " with"
	}
}

// Partition is the grouping's state as one place sees it: which campaign
// owns each key, and which campaigns were merged into which. A store
// loads the owners of a commit's keys, places the commit's reports one by
// one, and writes back the keys, campaigns and merges Place reported.
// Placing the same reports in any order ends in the same partition of
// them (only which campaign id survives a merge depends on the order) —
// as long as no campaign is sealed (Seal): a campaign a person has worked
// on is never merged by a report, so the partition then depends on when
// its case was worked, by design.
//
// A merge keeps the campaign that costs least to keep (survivor): the
// store rewrites every report and key of the campaign merged away, so
// merging the smaller into the larger moves each report O(log n) times
// in all, where keeping the oldest let a bridge from an old small
// campaign move a large one whole, again for each older one.
type Partition struct {
	owner  map[uint64]string // Key -> the campaign that owned it when read or placed.
	into   map[string]string // Merged campaign -> the one that absorbed it.
	born   map[string]Born   // When each campaign was founded, for ties.
	sealed map[string]bool   // Campaigns no report merges (Seal).
	size   map[string]int    // Reports of each campaign: as the store counted them (SetSize), plus those placed.
	fresh  map[string]bool   // Campaigns founded by this placement (Found): not stored yet, free to merge away.
}

// Born orders campaigns founded at different times (At, then ID): of two
// campaigns equal otherwise, a merge keeps the one founded first, so ids
// that cases and partners already know survive.
type Born struct {
	At int64 // When it was founded (UnixNano).
	ID string
}

func (a Born) before(b Born) bool { return a.At < b.At || a.At == b.At && a.ID < b.ID }

// NewPartition returns an empty partition.
func NewPartition() *Partition {
	return &Partition{owner: map[uint64]string{}, into: map[string]string{}, born: map[string]Born{}, sealed: map[string]bool{},
		size: map[string]int{}, fresh: map[string]bool{}}
}

// SetSize records that the store holds n reports of campaign c (read
// with its keys' owners, before placing). A campaign whose size was not
// set counts the reports placed into it only.
func (p *Partition) SetSize(c string, n int) { p.size[c] = n }

// survives says whether campaign a is kept over b when a report merges
// them: a campaign the store already holds over one founded by this
// placement (that one's reports are written with the survivor's id and
// nothing moves), then the one with more reports (the other's rows are
// the ones rewritten), then the oldest.
func (p *Partition) survives(a, b string) bool {
	if p.fresh[a] != p.fresh[b] {
		return !p.fresh[a]
	}
	if p.size[a] != p.size[b] {
		return p.size[a] > p.size[b]
	}
	return p.born[a].before(p.born[b])
}

// Merging is the stored campaigns that placing reports (each its keys,
// in order) would merge, one with another or with a campaign the
// placement founds, without changing p: the store reads their sizes
// (SetSize) before placing, and only theirs — which campaigns merge does
// not depend on which survives.
func (p *Partition) Merging(reports [][]Key) []string {
	q := &Partition{owner: maps.Clone(p.owner), into: maps.Clone(p.into), born: maps.Clone(p.born), sealed: p.sealed,
		size: maps.Clone(p.size), fresh: maps.Clone(p.fresh)}
	seen := map[string]bool{}
	var out []string
	for i, ks := range reports {
		pl := q.Place(ks)
		if pl.Campaign == "" {
			q.Found("\x00"+strconv.Itoa(i), 0, pl.NewKeys)
		}
		for _, m := range pl.Merges {
			for _, c := range []string{m.From, m.Into} {
				if !q.fresh[c] && !seen[c] {
					seen[c] = true
					out = append(out, c)
				}
			}
		}
	}
	return out
}

// Seal marks campaign c as worked on by a person (the store's rule: its
// case has an event). Reports are untrusted — anyone can send one, and
// the keys are public, so a bridge between two campaigns can be tuned
// offline — so no report merges a sealed campaign into another nor
// another into it: Place records a Link for an analyst instead.
func (p *Partition) Seal(c string) { p.sealed[c] = true }

// Own records that campaign c, founded at, owns key k (as the store read
// it).
func (p *Partition) Own(k uint64, c string, at int64) {
	p.owner[k] = c
	if _, ok := p.born[c]; !ok {
		p.born[c] = Born{At: at, ID: c}
	}
}

// Find is the campaign c is now: c, or the one it was merged into.
func (p *Partition) Find(c string) string {
	for {
		n, ok := p.into[c]
		if !ok {
			return c
		}
		if m, ok := p.into[n]; ok {
			p.into[c] = m // halve the path
		}
		c = n
	}
}

// Merge is one campaign absorbed by another, with the key that made it.
type Merge struct {
	From, Into string
	Why        string
}

// Link is a merge a report proposed but Place did not make, because
// Campaign is sealed: the report shares keys with Campaign but joined
// Other. An analyst decides.
type Link struct {
	Campaign, Other string
	Why             string
}

// Placed is what placing one report did.
type Placed struct {
	Campaign string  // The campaign the report is in; "" when it founds one (Found says which).
	Why      string  // Why it joined.
	Merges   []Merge // Campaigns merged into Campaign, in the order they gave way (the next survivor first).
	Links    []Link  // Sealed campaigns the report shares keys with but did not join.
	NewKeys  []uint64
}

// Place puts a report with keys ks into the partition: into the campaign
// owning its keys, merging them into the one that survives (see
// Partition) when several do; Placed.
// Campaign is "" when no campaign owns any of its keys, and the caller
// then calls Found. Its keys nobody owned are the campaign's from now on
// (NewKeys, to be written).
//
// Sealed campaigns never merge. When some owners are sealed, the
// unsealed ones merge among themselves as usual and the report joins
// their survivor; when all are sealed, it joins the one it shares most
// keys with (ties: the oldest). Every other sealed owner gets a Link, and
// keeps its keys.
func (p *Partition) Place(ks []Key) Placed {
	var pl Placed
	var owners []string
	whyOf := map[string]string{}
	shared := map[string]int{}
	for _, k := range ks {
		c, ok := p.owner[k.Hash]
		if !ok {
			pl.NewKeys = append(pl.NewKeys, k.Hash)
			continue
		}
		c = p.Find(c)
		shared[c]++
		if _, seen := whyOf[c]; !seen {
			whyOf[c] = k.Why()
			owners = append(owners, c)
		}
	}
	if len(owners) == 0 {
		return pl
	}
	older := func(a, b string) int {
		if p.born[a].before(p.born[b]) {
			return -1
		}
		if p.born[b].before(p.born[a]) {
			return 1
		}
		return 0
	}
	var open, sealed []string
	for _, c := range owners {
		if p.sealed[c] {
			sealed = append(sealed, c)
		} else {
			open = append(open, c)
		}
	}
	slices.SortFunc(open, func(a, b string) int {
		if p.survives(a, b) {
			return -1
		}
		if p.survives(b, a) {
			return 1
		}
		return 0
	})
	slices.SortFunc(sealed, func(a, b string) int {
		if d := cmp.Compare(shared[b], shared[a]); d != 0 {
			return d
		}
		return older(a, b)
	})
	var join string
	if len(open) > 0 {
		join = open[0]
		for _, c := range open[1:] {
			p.into[c] = join
			p.size[join] += p.size[c]
			pl.Merges = append(pl.Merges, Merge{From: c, Into: join,
				Why: "a report " + whyOf[join] + " campaign " + join + " and " + whyOf[c] + " campaign " + c})
		}
	} else {
		join, sealed = sealed[0], sealed[1:]
	}
	pl.Campaign, pl.Why = join, whyOf[join]+" the campaign"
	p.size[join]++
	for _, c := range sealed {
		pl.Links = append(pl.Links, Link{Campaign: c, Other: join,
			Why: "a report " + whyOf[c] + " campaign " + c + " (worked on: not merged) and joined campaign " + join})
	}
	for _, k := range pl.NewKeys {
		p.owner[k] = pl.Campaign
	}
	return pl
}

// Found makes c, founded at, the owner of keys (a Placed's NewKeys).
func (p *Partition) Found(c string, at int64, keys []uint64) {
	p.born[c] = Born{At: at, ID: c}
	p.fresh[c] = true
	p.size[c] = 1
	for _, k := range keys {
		p.owner[k] = c
	}
}

// Owner is the campaign that owns key k now.
func (p *Partition) Owner(k uint64) (string, bool) {
	c, ok := p.owner[k]
	if !ok {
		return "", false
	}
	return p.Find(c), true
}

// Claim makes c the owner of keys without founding it (a campaign named
// from outside the grouping; its founding time is kept if known).
func (p *Partition) Claim(c string, at int64, keys []uint64) {
	if _, ok := p.born[c]; !ok {
		p.born[c] = Born{At: at, ID: c}
	}
	p.size[c]++
	for _, k := range keys {
		p.owner[k] = c
	}
}
