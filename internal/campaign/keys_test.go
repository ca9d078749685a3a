package campaign

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// group places reports one at a time in order and returns the partition
// as a canonical string (each campaign's reports sorted, campaigns
// sorted), and how many merges it took.
func group(order []string, sigs map[string]Signature) (string, int) {
	p := NewPartition()
	camp := map[string]string{}
	merges := 0
	for i, id := range order {
		pl := p.Place(sigs[id].Keys())
		if pl.Campaign == "" {
			pl.Campaign = "c" + id
			p.Found(pl.Campaign, int64(i), pl.NewKeys)
		}
		merges += len(pl.Merges)
		camp[id] = pl.Campaign
	}
	byCamp := map[string][]string{}
	for _, id := range order {
		c := p.Find(camp[id])
		byCamp[c] = append(byCamp[c], id)
	}
	var parts []string
	for _, m := range byCamp {
		slices.Sort(m)
		parts = append(parts, strings.Join(m, ","))
	}
	slices.Sort(parts)
	return strings.Join(parts, " | "), merges
}

// components is the truth the grouping must find: the connected
// components of "shares a key", by comparing every pair.
func components(ids []string, sigs map[string]Signature) string {
	parent := map[string]string{}
	var find func(string) string
	find = func(x string) string {
		if p, ok := parent[x]; ok && p != x {
			parent[x] = find(p)
			return parent[x]
		}
		parent[x] = x
		return x
	}
	keys := map[string]map[uint64]bool{}
	for _, id := range ids {
		keys[id] = map[uint64]bool{}
		for _, k := range sigs[id].Keys() {
			keys[id][k.Hash] = true
		}
	}
	for i, x := range ids {
		for _, y := range ids[i+1:] {
			for k := range keys[x] {
				if keys[y][k] {
					parent[find(x)] = find(y)
					break
				}
			}
		}
	}
	byRoot := map[string][]string{}
	for _, id := range ids {
		byRoot[find(id)] = append(byRoot[find(id)], id)
	}
	var parts []string
	for _, m := range byRoot {
		slices.Sort(m)
		parts = append(parts, strings.Join(m, ","))
	}
	slices.Sort(parts)
	return strings.Join(parts, " | ")
}

// TestPartitionAnyOrder: the same reports placed in many orders make the
// same campaigns, and those are exactly the connected components of
// sharing a key (compared pair by pair) — the chain a~b~c with a≁c of
// the corpus (docs/desk.md, "Campaigns and the order of arrival") makes
// one campaign in every order, where the founder rule made one or two.
func TestPartitionAnyOrder(t *testing.T) {
	sigs := map[string]Signature{}
	var ids []string
	a, b, c := chain()
	for id, s := range map[string]Signature{"a": a, "b": b, "c": c} {
		sigs[id], ids = s, append(ids, id)
	}
	for i := range 400 {
		text, doms, net := realisticSpam(i)
		id := fmt.Sprint(i)
		sigs[id], ids = Sign(text, doms, "", net), append(ids, id)
	}
	slices.Sort(ids)
	want := components(ids, sigs)
	merged := 0
	for o := range 40 {
		order := slices.Clone(ids)
		rand.New(rand.NewPCG(uint64(o), 5)).Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		got, m := group(order, sigs)
		if got != want {
			t.Fatalf("order %d: the partition differs from the components of sharing a key", o)
		}
		merged += m
	}
	if !strings.Contains(" | "+want+" | ", " | a,b,c | ") {
		t.Errorf("the chain a~b~c is not one campaign")
	}
	if merged == 0 {
		t.Error("no order needed a merge: the test does not exercise merging")
	}
	t.Logf("%d reports, %d campaigns in every order; %d merges over 40 orders", len(ids), strings.Count(want, " | ")+1, merged)
}

// TestPartitionMergesIntoTheOldest: a report whose keys two campaigns
// own merges the younger into the older, says why, and its keys nobody
// owned become the older's.
func TestPartitionMergesIntoTheOldest(t *testing.T) {
	a, b, c := chain()
	a.MinHash[0], a.MinHash[1] = 7, 8 // a now shares positions 12 and 13 with b only
	p := NewPartition()
	pa := p.Place(a.Keys())
	p.Found("c-a", 10, pa.NewKeys)
	pc := p.Place(c.Keys())
	if pc.Campaign != "" {
		t.Fatalf("c joined %s: a and c share no key", pc.Campaign)
	}
	p.Found("c-c", 5, pc.NewKeys) // founded before c-a (another instance's clock)
	pb := p.Place(b.Keys())
	if pb.Campaign != "c-c" || len(pb.Merges) != 1 || pb.Merges[0].From != "c-a" || pb.Merges[0].Into != "c-c" {
		t.Fatalf("b: %+v", pb)
	}
	if !strings.Contains(pb.Merges[0].Why, "link domain") || !strings.Contains(pb.Why, "shares text") {
		t.Errorf("reasons: %q / %q", pb.Why, pb.Merges[0].Why)
	}
	if p.Find("c-a") != "c-c" {
		t.Errorf("c-a is now %s", p.Find("c-a"))
	}
	if again := p.Place(a.Keys()); again.Campaign != "c-c" || len(again.Merges) != 0 || len(again.NewKeys) != 0 {
		t.Errorf("a again: %+v", again)
	}
}

// TestKeysShortTextsAndSharedServices: short texts group by link domain,
// never by a shortener's or a shared host's; long texts need some text
// besides a domain.
func TestKeysShortTextsAndSharedServices(t *testing.T) {
	shares := func(x, y Signature) bool {
		for _, k := range x.Keys() {
			for _, l := range y.Keys() {
				if k.Hash == l.Hash {
					return true
				}
			}
		}
		return false
	}
	s1 := Sign("Click now", []string{"loans.example"}, "", "")
	s2 := Sign("See this offer today", []string{"loans.example"}, "", "")
	if !shares(s1, s2) {
		t.Error("two short texts linking to one domain share no key")
	}
	b1 := Sign("Click now", []string{"bit.ly"}, "", "")
	b2 := Sign("See this offer today", []string{"bit.ly"}, "", "")
	if shares(b1, b2) {
		t.Error("two short texts share a key through a link shortener")
	}
	l1 := Sign(base, []string{"loans.example"}, "", "")
	l2 := Sign("completely different words about gardening tomatoes and the autumn harvest in the north of the country, with recipes", []string{"loans.example"}, "", "")
	if shares(l1, l2) {
		t.Error("two long texts with nothing in common but a link domain share a key")
	}
	if len(Sign("", nil, "", "").Keys()) != 0 {
		t.Error("an empty signature has keys")
	}
}

// TestPartitionSealedNeverMerges: a report bridging a sealed (worked)
// campaign and others merges only the unsealed ones, joins their
// survivor, leaves the sealed one its keys and proposes a Link; with
// only sealed owners it joins the one it shares most keys with (ties:
// the oldest) and proposes the rest.
func TestPartitionSealedNeverMerges(t *testing.T) {
	k := func(hs ...uint64) []Key {
		var out []Key
		for _, h := range hs {
			out = append(out, Key{Hash: h, Kind: KindText})
		}
		return out
	}
	p := NewPartition()
	p.Found("c-worked", 1, []uint64{11, 12})
	p.Found("c-old", 2, []uint64{21})
	p.Found("c-young", 3, []uint64{31})
	p.Seal("c-worked")

	// Sealed, and two unsealed: the unsealed merge as before.
	pl := p.Place(k(11, 21, 31, 99))
	if pl.Campaign != "c-old" || len(pl.Merges) != 1 || pl.Merges[0].From != "c-young" || pl.Merges[0].Into != "c-old" {
		t.Fatalf("bridge: %+v", pl)
	}
	if len(pl.Links) != 1 || pl.Links[0].Campaign != "c-worked" || pl.Links[0].Other != "c-old" || !strings.Contains(pl.Links[0].Why, "c-worked") {
		t.Fatalf("links: %+v", pl.Links)
	}
	if p.Find("c-worked") != "c-worked" {
		t.Fatalf("the worked campaign was merged into %s", p.Find("c-worked"))
	}
	for h, want := range map[uint64]string{11: "c-worked", 12: "c-worked", 21: "c-old", 31: "c-old", 99: "c-old"} {
		if got, _ := p.Owner(h); got != want {
			t.Errorf("key %d: owner %s, want %s", h, got, want)
		}
	}

	// Only sealed owners: the one sharing most keys, no merge.
	p.Found("c-other", 0, []uint64{41})
	p.Seal("c-other")
	pl = p.Place(k(41, 11, 12, 98))
	if pl.Campaign != "c-worked" || len(pl.Merges) != 0 || len(pl.Links) != 1 || pl.Links[0].Campaign != "c-other" || pl.Links[0].Other != "c-worked" {
		t.Fatalf("sealed only: %+v", pl)
	}
	if got, _ := p.Owner(98); got != "c-worked" {
		t.Errorf("a new key went to %s", got)
	}
	// A tie: the oldest (c-other, founded at 0).
	pl = p.Place(k(41, 11))
	if pl.Campaign != "c-other" || len(pl.Links) != 1 || pl.Links[0].Campaign != "c-worked" {
		t.Fatalf("tie: %+v", pl)
	}
}

// TestPartitionKeepsTheLarger: a report bridging a large campaign and an
// older small one merges the small one into the large one (attack
// finding F2: the store rewrites the merged-away campaign's rows, and
// keeping the oldest moved the large one for every older singleton
// bridged to it); of two of one size the older stays; a stored campaign
// stays over one founded by the same placement whatever their sizes
// (that one is not stored yet: nothing moves); a worked campaign is never
// merged (TestPartitionSealedNeverMerges). Merging names the stored
// campaigns a placement merges, without placing anything.
func TestPartitionKeepsTheLarger(t *testing.T) {
	k := func(hs ...uint64) []Key {
		var out []Key
		for _, h := range hs {
			out = append(out, Key{Hash: h, Kind: KindText})
		}
		return out
	}
	p := NewPartition()
	p.Own(1, "c-old", 1)
	p.Own(2, "c-big", 5)
	p.Own(3, "c-older", 0)
	p.Own(4, "c-peer", 6)
	bridge := [][]Key{k(1, 2, 10), k(3, 10)}
	if got := p.Merging(bridge); len(got) != 3 || !slices.Contains(got, "c-old") || !slices.Contains(got, "c-big") || !slices.Contains(got, "c-older") {
		t.Fatalf("Merging: %v, want c-old, c-big, c-older", got)
	}
	if got, _ := p.Owner(10); got != "" {
		t.Fatalf("Merging placed key 10 into %s", got)
	}
	p.SetSize("c-old", 1)
	p.SetSize("c-big", 2000)
	p.SetSize("c-older", 1)
	for i, ks := range bridge {
		pl := p.Place(ks)
		if pl.Campaign != "c-big" || len(pl.Merges) != 1 || pl.Merges[0].Into != "c-big" {
			t.Fatalf("bridge %d: %+v, want a merge into c-big", i, pl)
		}
	}
	// Equal sizes: the older.
	p.SetSize("c-peer", 2004) // c-big: 2,000, two singletons, two bridges
	if pl := p.Place(k(2, 4)); pl.Campaign != "c-big" || pl.Merges[0].From != "c-peer" {
		t.Fatalf("a tie: %+v, want c-peer (founded later) into c-big", pl)
	}
	// Founded here, larger than a stored one: the stored one stays.
	q := NewPartition()
	q.Own(1, "c-stored", 9)
	q.SetSize("c-stored", 1)
	q.Found("c-new", 1, []uint64{2})
	for range 5 {
		q.Place(k(2))
	}
	if got := q.Merging([][]Key{k(1, 2)}); len(got) != 1 || got[0] != "c-stored" {
		t.Fatalf("Merging with a fresh campaign: %v, want only c-stored", got)
	}
	if pl := q.Place(k(1, 2)); pl.Campaign != "c-stored" || pl.Merges[0].From != "c-new" {
		t.Fatalf("stored and fresh: %+v, want c-new into c-stored", pl)
	}
}
