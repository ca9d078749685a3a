package storetest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/accord-antispam/accord/internal/federation"
)

// feedPlanner is a store that shows how it reads a TAXII page.
type feedPlanner interface {
	ExplainCollectionEntries(ctx context.Context, peer string, q federation.FeedQuery) (string, error)
}

// feedPageReadsGoneOnce: a page of a collection where objects left and
// came back serves exactly the objects still in it, and the database
// reads the set of objects gone once per page, not once per object
// served. The correlated form ("…c.id = a.id AND c.current = 1 AND
// c.removed = 1") was planned on the (peer, current, added) index: every
// object served scanned every current entry of the collection, so that a
// page of 100 at 50,000 entries took seconds. The plan is the truth here
// (a timed assertion would not be): on SQLite no correlated subquery may
// search without the object's id; on PostgreSQL no join may match ids by
// a filter and no subplan may run per row.
func feedPageReadsGoneOnce(t *testing.T, s Store) {
	ctx := context.Background()
	p, ok := s.(feedPlanner)
	if !ok {
		t.Fatalf("%T cannot explain how it reads a TAXII page", s)
	}
	const n = 300
	t0 := time.Date(2026, 11, 3, 10, 0, 0, 0, time.UTC)
	var objs []federation.FeedObject
	var versions []federation.FeedVersion
	var es []federation.FeedEntry
	id := func(i int) string { return fmt.Sprintf("indicator--%08d-0000-4000-8000-000000000000", i) }
	for i := range n {
		objs = append(objs, federation.FeedObject{ID: id(i), ItemKey: fmt.Sprintf("ind:%d", i), Slot: "indicator", Created: t0, Modified: t0, Hash: "h"})
		versions = append(versions, federation.FeedVersion{ID: id(i), Version: t0, Body: []byte(`{"i":` + fmt.Sprint(i) + `}`)})
		es = append(es, federation.FeedEntry{Added: t0.Add(time.Duration(i+1) * time.Microsecond), ID: id(i), Version: t0})
	}
	if err := s.SaveFeed(ctx, objs, versions); err != nil {
		t.Fatal(err)
	}
	if err := s.AppendCollection(ctx, "us", es); err != nil {
		t.Fatal(err)
	}
	// A third leaves; a tenth of those come back.
	at := t0.Add(time.Second)
	var later []federation.FeedEntry
	for i := 0; i < n; i += 3 {
		at = at.Add(time.Microsecond)
		later = append(later, federation.FeedEntry{Added: at, ID: id(i), Removed: true})
	}
	if err := s.AppendCollection(ctx, "us", later); err != nil {
		t.Fatal(err)
	}
	later = nil
	for i := 0; i < n; i += 30 {
		at = at.Add(time.Microsecond)
		later = append(later, federation.FeedEntry{Added: at, ID: id(i), Version: t0})
	}
	if err := s.AppendCollection(ctx, "us", later); err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for i := range n {
		if i%3 != 0 || i%30 == 0 {
			want[id(i)] = true
		}
	}
	for _, q := range []federation.FeedQuery{{Last: true, Limit: 1000}, {All: true, Limit: 1000}} {
		got, _, err := s.CollectionEntries(ctx, "us", q)
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]bool{}
		for _, e := range got {
			if !want[e.ID] || seen[e.ID] {
				t.Errorf("%+v: served %s (gone, or twice)", q, e.ID)
			}
			seen[e.ID] = true
		}
		if len(seen) != len(want) {
			t.Errorf("%+v: served %d objects, the collection holds %d", q, len(seen), len(want))
		}
	}
	for _, q := range []federation.FeedQuery{{Last: true, Limit: 100}, {All: true, Limit: 1000}, {First: true, Limit: 100}, {Last: true, Types: []string{"indicator"}, IDs: []string{id(1), id(2)}, Limit: 100}} {
		plan, err := p.ExplainCollectionEntries(ctx, "us", q)
		if err != nil {
			t.Fatal(err)
		}
		if msg := perObjectScan(plan); msg != "" {
			t.Errorf("%+v: %s; the plan:\n%s", q, msg, plan)
		}
	}
}

// perObjectScan says what in a page's plan reads the collection once per
// object served; "" when nothing does.
func perObjectScan(plan string) string {
	lines := strings.Split(plan, "\n")
	for i, l := range lines {
		switch {
		case strings.Contains(l, "CORRELATED") && i+1 < len(lines) && !strings.Contains(lines[i+1], "id=?"):
			// SQLite: the subquery's search must start from the object's id.
			return "a correlated subquery searches without the object's id: " + strings.TrimSpace(lines[i+1])
		case strings.Contains(l, "Join Filter:") && strings.Contains(l, ".id = a.id"):
			// PostgreSQL: ids matched by a filter over an unparameterized scan.
			return "a join matches ids by filter: " + strings.TrimSpace(l)
		case strings.Contains(l, "SubPlan") && !strings.Contains(l, "hashed SubPlan") && !strings.HasPrefix(strings.TrimSpace(l), "SubPlan") && !strings.Contains(l, "InitPlan"):
			// PostgreSQL: a subplan run for each row.
			return "a subplan runs per row: " + strings.TrimSpace(l)
		}
	}
	return ""
}

// feedRevoked: an object revoked in a collection (its current entry is
// its revoked version) is served as that version alone — by a page, by
// match[version]=all and first, by its versions — the older ones may hold
// what the node no longer shares; the collection's state says it is
// revoked; another collection holding it is not changed; and when it
// comes back as a later version, its older versions enter again with it.
func feedRevoked(t *testing.T, s Store) {
	ctx := context.Background()
	t0 := time.Date(2026, 11, 3, 10, 0, 0, 0, time.UTC)
	v1, v2, vr, v3 := t0, t0.Add(time.Second), t0.Add(2*time.Second), t0.Add(3*time.Second)
	const id = "report--00000001-0000-4000-8000-000000000000"
	vers := []federation.FeedVersion{{ID: id, Version: v1, Body: []byte(`{"v":1}`)}, {ID: id, Version: v2, Body: []byte(`{"v":2}`)},
		{ID: id, Version: vr, Body: []byte(`{"v":"r","revoked":true}`)}, {ID: id, Version: v3, Body: []byte(`{"v":3}`)}}
	if err := s.SaveFeed(ctx, []federation.FeedObject{{ID: id, ItemKey: "rep:1", Slot: "report", Created: v1, Modified: v3, Hash: "h", Revoked: vr}}, vers); err != nil {
		t.Fatal(err)
	}
	objs, err := s.FeedObjects(ctx)
	if err != nil || !objs[id].Revoked.Equal(vr) {
		t.Fatalf("the object's revoked version time: %+v %v", objs[id], err)
	}
	at := t0.Add(time.Hour)
	step := func() time.Time { at = at.Add(time.Microsecond); return at }
	for _, peer := range []string{"us", "au"} {
		if err := s.AppendCollection(ctx, peer, []federation.FeedEntry{{Added: step(), ID: id, Version: v1}, {Added: step(), ID: id, Version: v2}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.AppendCollection(ctx, "us", []federation.FeedEntry{{Added: step(), ID: id, Version: vr, Revoked: true}}); err != nil {
		t.Fatal(err)
	}
	state, _, err := s.Collection(ctx, "us")
	if err != nil || !state[id].Revoked || !state[id].Version.Equal(vr) {
		t.Fatalf("US's state: %+v %v", state[id], err)
	}
	if au, _, _ := s.Collection(ctx, "au"); au[id].Revoked || !au[id].Version.Equal(v2) {
		t.Errorf("AU's state changed with US's revocation: %+v", au[id])
	}
	served := func(peer string, q federation.FeedQuery) []time.Time {
		t.Helper()
		q.Limit = 100
		es, _, err := s.CollectionEntries(ctx, peer, q)
		if err != nil {
			t.Fatal(err)
		}
		var out []time.Time
		for _, e := range es {
			out = append(out, e.Version)
		}
		return out
	}
	for _, q := range []federation.FeedQuery{{Last: true}, {All: true}, {First: true}, {At: []time.Time{v1, vr}}} {
		if got := served("us", q); len(got) != 1 || !got[0].Equal(vr) {
			t.Errorf("US, revoked, %+v: versions %v, want the revoked one alone", q, got)
		}
	}
	if got := served("au", federation.FeedQuery{All: true}); len(got) != 2 {
		t.Errorf("AU, all: %v", got)
	}
	if vs, err := s.ObjectVersions(ctx, "us", id); err != nil || len(vs) != 1 || !vs[0].Version.Equal(vr) || !vs[0].Revoked {
		t.Errorf("US's versions of the revoked object: %+v %v", vs, err)
	}
	// Back, at a version after the revoked one: the older versions enter
	// again with it; the revoked one is still a version, no longer the last.
	if err := s.AppendCollection(ctx, "us", []federation.FeedEntry{{Added: step(), ID: id, Version: v3}}); err != nil {
		t.Fatal(err)
	}
	if got := served("us", federation.FeedQuery{All: true}); len(got) != 4 {
		t.Errorf("US, back, all: %v", got)
	}
	if got := served("us", federation.FeedQuery{Last: true}); len(got) != 1 || !got[0].Equal(v3) {
		t.Errorf("US, back, last: %v", got)
	}
	if got := served("us", federation.FeedQuery{First: true}); len(got) != 1 || !got[0].Equal(v1) {
		t.Errorf("US, back, first: %v", got)
	}
	if got := served("us", federation.FeedQuery{Last: true, AddedAfter: at.Add(-time.Microsecond)}); len(got) != 1 || !got[0].Equal(v3) {
		t.Errorf("US, back, added after the revocation: %v", got)
	}
}
