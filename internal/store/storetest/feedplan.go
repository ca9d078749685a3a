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
