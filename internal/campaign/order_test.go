package campaign

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
)

// chain builds three signatures shaped like spam-1.00474, spam-1.00345
// and spam-2.01367 of the public SpamAssassin corpus (one sender's run,
// the same three link domains, its text reworded step by step): a and b
// share a quarter of their MinHash, b and c three quarters, a and c an
// eighth — under the 0.2 that a shared link domain needs.
func chain() (a, b, c Signature) {
	for i := range NumHashes {
		b.MinHash[i] = uint32(1000 + i)
		c.MinHash[i] = b.MinHash[i]
		a.MinHash[i] = uint32(5000 + i)
	}
	for i := 12; i < NumHashes; i++ {
		c.MinHash[i] = uint32(9000 + i) // c: b's first twelve
	}
	for _, i := range []int{0, 1, 12, 13} {
		a.MinHash[i] = b.MinHash[i] // a: two of c's and two b alone has
	}
	doms := []string{"admanmail.com", "sendgreatoffers.com", "theadmanager.com"}
	a = Signature{MinHash: a.MinHash, Words: 221, Domains: append([]string{"ahamembership.com"}, doms...), Network: "AS2110"}
	b = Signature{MinHash: b.MinHash, Words: 86, Domains: doms, Network: "AS2110"}
	c = Signature{MinHash: c.MinHash, Words: 81, Domains: doms, Network: "AS394710"}
	return a, b, c
}

// TestOrderOfArrival pins why the founder rule (Assign, still the
// filter's) could not group the desk's reports (docs/desk.md, "Campaigns
// and the order of arrival"): with the middle report of a chain first,
// the three make one campaign; with either end first, two. The desk
// groups by keys (TestPartitionAnyOrder: one campaign in every order).
func TestOrderOfArrival(t *testing.T) {
	a, b, c := chain()
	if !Matches(a, b) || !Matches(b, a) || !Matches(b, c) || !Matches(c, b) || Matches(a, c) || Matches(c, a) {
		t.Fatalf("the chain is not a~b~c with a≁c: %v %v %v", Matches(a, b), Matches(b, c), Matches(a, c))
	}
	sigs := map[string]Signature{"a": a, "b": b, "c": c}
	for _, tc := range []struct {
		order string
		want  int
	}{{"bac", 1}, {"bca", 1}, {"abc", 2}, {"acb", 2}, {"cab", 2}, {"cba", 2}} {
		idx := NewMemIndex()
		for _, r := range tc.order {
			if _, err := idx.Add(context.Background(), string(r), sigs[string(r)]); err != nil {
				t.Fatal(err)
			}
		}
		if got := len(idx.Members); got != tc.want {
			t.Errorf("order %s: %d campaigns, want %d (%v)", tc.order, got, tc.want, idx.Members)
		}
		checkGrouping(t, tc.order, idx, sigs)
	}
}

// TestGroupingInvariantAnyOrder checks, over shuffles of a realistic
// stream, what holds whatever the order: every report matches its
// campaign's founder, no founder matches an earlier one, and so no
// campaign spans two connected components of the match graph — the
// number of campaigns is at least the number of components.
func TestGroupingInvariantAnyOrder(t *testing.T) {
	const n = 300
	sigs := map[string]Signature{}
	var ids []string
	for i := range n {
		text, doms, net := realisticSpam(i)
		id := fmt.Sprint(i)
		sigs[id], ids = Sign(text, doms, "", net), append(ids, id)
	}
	// The components of the match graph, by union-find.
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
	for i, x := range ids {
		for _, y := range ids[i+1:] {
			if Matches(sigs[x], sigs[y]) {
				parent[find(x)] = find(y)
			}
		}
	}
	comps := map[string]bool{}
	for _, x := range ids {
		comps[find(x)] = true
	}
	counts := map[int]bool{}
	for s := range 8 {
		order := append([]string(nil), ids...)
		rand.New(rand.NewPCG(uint64(s), 3)).Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		idx := NewMemIndex()
		for _, id := range order {
			if _, err := idx.Add(context.Background(), id, sigs[id]); err != nil {
				t.Fatal(err)
			}
		}
		checkGrouping(t, fmt.Sprint("shuffle ", s), idx, sigs)
		for camp, members := range idx.Members {
			for _, m := range members[1:] {
				if find(m) != find(members[0]) {
					t.Errorf("shuffle %d: campaign %s spans two components (%s, %s)", s, camp, members[0], m)
				}
			}
		}
		if len(idx.Members) < len(comps) {
			t.Errorf("shuffle %d: %d campaigns, fewer than the %d components", s, len(idx.Members), len(comps))
		}
		counts[len(idx.Members)] = true
	}
	t.Logf("%d reports, %d components; campaign counts over 8 orders: %v", n, len(comps), counts)
}

// checkGrouping checks a grouping: every member matches its campaign's
// founder (the first member), and no two founders match.
func checkGrouping(t *testing.T, name string, idx *MemIndex, sigs map[string]Signature) {
	t.Helper()
	var founders []string
	for camp, members := range idx.Members {
		f := members[0]
		for _, m := range members[1:] {
			if !Matches(sigs[m], sigs[f]) {
				t.Errorf("%s: %s is in campaign %s but does not match its founder %s", name, m, camp, f)
			}
		}
		founders = append(founders, f)
	}
	for i, f := range founders {
		for _, g := range founders[i+1:] {
			if Matches(sigs[f], sigs[g]) {
				t.Errorf("%s: founders %s and %s match: one should have joined the other", name, f, g)
			}
		}
	}
}
