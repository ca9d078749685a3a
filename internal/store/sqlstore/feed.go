package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/accord-antispam/accord/internal/federation"
)

// The TAXII feed: published objects, their versions, and each
// collection's added-log.

// FeedObjects implements federation.FeedStore.
func (s *Store) FeedObjects(ctx context.Context) (map[string]federation.FeedObject, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, item_key, slot, created, modified, hash, revoked FROM fed_feed_objects`)
	if err != nil {
		return nil, fmt.Errorf("feed objects: %w", err)
	}
	defer rows.Close()
	out := map[string]federation.FeedObject{}
	for rows.Next() {
		var o federation.FeedObject
		var c, m, rv int64
		if err := rows.Scan(&o.ID, &o.ItemKey, &o.Slot, &c, &m, &o.Hash, &rv); err != nil {
			return nil, err
		}
		o.Created, o.Modified = fromNanos(c), fromNanos(m)
		if rv != 0 {
			o.Revoked = fromNanos(rv)
		}
		out[o.ID] = o
	}
	return out, rows.Err()
}

// SaveFeed implements federation.FeedStore.
func (s *Store) SaveFeed(ctx context.Context, objs []federation.FeedObject, versions []federation.FeedVersion) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		rows := make([][]any, len(objs))
		for i, o := range objs {
			rv := int64(0)
			if !o.Revoked.IsZero() {
				rv = nanos(o.Revoked)
			}
			rows[i] = []any{o.ID, o.ItemKey, o.Slot, nanos(o.Created), nanos(o.Modified), o.Hash, rv}
		}
		if err := s.insertRows(ctx, tx, "fed_feed_objects", "id, item_key, slot, created, modified, hash, revoked",
			" ON CONFLICT (id) DO UPDATE SET modified = excluded.modified, hash = excluded.hash, revoked = excluded.revoked", rows); err != nil {
			return err
		}
		rows = make([][]any, len(versions))
		for i, v := range versions {
			rows[i] = []any{v.ID, nanos(v.Version), string(v.Body)}
		}
		return s.insertRows(ctx, tx, "fed_feed_versions", "id, version, body", " ON CONFLICT (id, version) DO NOTHING", rows)
	})
}

// Collection implements federation.FeedStore.
func (s *Store) Collection(ctx context.Context, peer string) (map[string]federation.FeedEntry, time.Time, error) {
	var last time.Time
	var l int64
	if err := s.db.QueryRowContext(ctx, s.q(`SELECT COALESCE(MAX(added), 0) FROM fed_feed_log WHERE peer = ?`), peer).Scan(&l); err != nil {
		return nil, last, err
	}
	if l != 0 {
		last = fromNanos(l)
	}
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT added, id, version, revoked FROM fed_feed_log WHERE peer = ? AND current = 1 AND removed = 0`), peer)
	if err != nil {
		return nil, last, err
	}
	defer rows.Close()
	out := map[string]federation.FeedEntry{}
	for rows.Next() {
		var id string
		var a, v, rv int64
		if err := rows.Scan(&a, &id, &v, &rv); err != nil {
			return nil, last, err
		}
		out[id] = federation.FeedEntry{Added: fromNanos(a), ID: id, Version: fromNanos(v), Revoked: rv == 1}
	}
	return out, last, rows.Err()
}

func typeOf(id string) string {
	if i := strings.Index(id, "--"); i > 0 {
		return id[:i]
	}
	return id
}

// AppendCollection implements federation.FeedStore.
func (s *Store) AppendCollection(ctx context.Context, peer string, es []federation.FeedEntry) error {
	if len(es) == 0 {
		return nil
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		var l int64
		if err := tx.QueryRowContext(ctx, s.q(`SELECT COALESCE(MAX(added), 0) FROM fed_feed_log WHERE peer = ?`), peer).Scan(&l); err != nil {
			return err
		}
		ids := make([]any, 0, len(es))
		for _, e := range es {
			ids = append(ids, e.ID)
		}
		// An object coming back (its current entry removed or revoked it) brings
		// back every version it had in the collection: each enters again
		// here, so its date_added is when it became available again — a
		// client polling with added_after from while it was gone gets
		// the older versions too, not only the latest.
		back := map[string][]int64{}
		for start := 0; start < len(ids); start += 1000 {
			chunk := ids[start:min(len(ids), start+1000)]
			args := append([]any{peer, peer, peer}, chunk...)
			rows, err := tx.QueryContext(ctx, s.q(`SELECT DISTINCT a.id, a.version FROM fed_feed_log a
				WHERE a.peer = ? AND a.removed = 0 AND a.revoked = 0
				AND (a.id IN (`+goneIDs+`) OR a.id IN (`+revokedIDs+`))
				AND a.id IN (`+placeholders(len(chunk))+`) ORDER BY a.id, a.version`), args...)
			if err != nil {
				return err
			}
			for rows.Next() {
				var id string
				var v int64
				if err := rows.Scan(&id, &v); err != nil {
					rows.Close()
					return err
				}
				back[id] = append(back[id], v)
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
		}
		var rows [][]any
		last := map[string]int{} // Id → its last row: the one current.
		prev, asked := l, l
		add := func(at int64, id string, version int64, removed, revoked int) {
			if at <= prev {
				at = prev + int64(time.Microsecond)
			}
			prev = at
			last[id] = len(rows)
			rows = append(rows, []any{peer, at, id, typeOf(id), version, removed, 0, revoked})
		}
		for _, e := range es {
			a := nanos(e.Added)
			if a <= asked {
				return fmt.Errorf("collection %s: an entry added at %s is not after the last one", peer, e.Added.Format(time.RFC3339Nano))
			}
			asked = a
			removed, revoked := 0, 0
			if e.Revoked {
				revoked = 1
			}
			if e.Removed {
				removed = 1
			} else {
				for _, v := range back[e.ID] {
					if v != nanos(e.Version) {
						add(a, e.ID, v, 0, 0)
					}
				}
			}
			add(a, e.ID, nanos(e.Version), removed, revoked)
		}
		for _, i := range last {
			rows[i][6] = 1
		}
		for start := 0; start < len(ids); start += 1000 {
			chunk := ids[start:min(len(ids), start+1000)]
			args := append([]any{peer}, chunk...)
			if _, err := tx.ExecContext(ctx, s.q(`UPDATE fed_feed_log SET current = 0 WHERE peer = ? AND current = 1 AND id IN (`+placeholders(len(chunk))+`)`), args...); err != nil {
				return err
			}
		}
		return s.insertRows(ctx, tx, "fed_feed_log", "peer, added, id, type, version, removed, current, revoked", "", rows)
	})
}

// goneIDs selects the ids a collection no longer holds (their current
// entry removed them), its peer the next argument. It is not correlated:
// the database reads the set once per statement through
// fed_feed_log_gone (migration 30). The correlated form it replaces
// ("EXISTS … c.id = a.id AND c.current = 1 AND c.removed = 1") was
// planned on fed_feed_log_current by SQLite and, without statistics, by
// PostgreSQL, so that a page read every current entry of the collection
// once per object it served.
const goneIDs = `SELECT c.id FROM fed_feed_log c WHERE c.peer = ? AND c.current = 1 AND c.removed = 1`

// revokedIDs selects the ids a collection holds revoked (their current
// entry is their revoked version), its peer the next argument: of them,
// only that version is served — the older ones may hold what the node no
// longer shares (an erased report's). Read once per statement through
// fed_feed_log_revoked (migration 35).
const revokedIDs = `SELECT r.id FROM fed_feed_log r WHERE r.peer = ? AND r.current = 1 AND r.revoked = 1`

// CollectionEntries implements federation.FeedStore.
func (s *Store) CollectionEntries(ctx context.Context, peer string, q federation.FeedQuery) ([]federation.FeedEntry, []federation.FeedVersion, error) {
	query, args, err := collectionEntriesQuery(peer, q)
	if err != nil || query == "" {
		return nil, nil, err
	}
	rows, err := s.db.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, nil, fmt.Errorf("collection entries: %w", err)
	}
	defer rows.Close()
	var es []federation.FeedEntry
	var vs []federation.FeedVersion
	for rows.Next() {
		var e federation.FeedEntry
		var added, version int64
		var body string
		if err := rows.Scan(&added, &e.ID, &version, &body); err != nil {
			return nil, nil, err
		}
		e.Added, e.Version = fromNanos(added), fromNanos(version)
		es = append(es, e)
		vs = append(vs, federation.FeedVersion{ID: e.ID, Version: e.Version, Body: []byte(body)})
	}
	return es, vs, rows.Err()
}

// ExplainCollectionEntries returns the database's plan of the statement
// CollectionEntries runs for this query (EXPLAIN QUERY PLAN on SQLite,
// EXPLAIN on PostgreSQL), one line per node: how a TAXII page is read,
// for the tests that keep it from scanning the collection per object.
func (s *Store) ExplainCollectionEntries(ctx context.Context, peer string, q federation.FeedQuery) (string, error) {
	query, args, err := collectionEntriesQuery(peer, q)
	if err != nil || query == "" {
		return "", err
	}
	explain := "EXPLAIN QUERY PLAN "
	if s.d.Name == "postgres" {
		explain = "EXPLAIN "
	}
	rows, err := s.db.QueryContext(ctx, s.q(explain+query), args...)
	if err != nil {
		return "", fmt.Errorf("explain collection entries: %w", err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return "", err
		}
		// SQLite: id, parent, notused, detail; PostgreSQL: one text column.
		fmt.Fprintf(&b, "%v\n", vals[len(vals)-1])
	}
	return b.String(), rows.Err()
}

// collectionEntriesQuery is the statement of CollectionEntries and its
// arguments; "" when the query asks for nothing.
func collectionEntriesQuery(peer string, q federation.FeedQuery) (string, []any, error) {
	if q.None {
		return "", nil, nil
	}
	if q.Limit <= 0 {
		return "", nil, fmt.Errorf("collection entries: a limit is needed")
	}
	after := q.AddedAfter
	if q.After.After(after) {
		after = q.After
	}
	// A version that left the collection and came back (an agreement
	// narrowed, then widened) has an entry each time it entered: only the
	// latest one counts, so every (id, version) comes once, with the date
	// it last entered.
	where := []string{"a.peer = ?", "a.removed = 0", "a.added > ?",
		"a.id NOT IN (" + goneIDs + ")",
		"(a.revoked = 1 OR a.id NOT IN (" + revokedIDs + "))",
		"NOT EXISTS (SELECT 1 FROM fed_feed_log d WHERE d.peer = a.peer AND d.id = a.id AND d.version = a.version AND d.removed = 0 AND d.added > a.added)"}
	args := []any{peer, nanos(after), peer, peer}
	if after.IsZero() {
		args[1] = int64(0)
	}
	if len(q.IDs) > 0 {
		where = append(where, "a.id IN ("+placeholders(len(q.IDs))+")")
		for _, id := range q.IDs {
			args = append(args, id)
		}
	}
	if len(q.Types) > 0 {
		where = append(where, "a.type IN ("+placeholders(len(q.Types))+")")
		for _, t := range q.Types {
			args = append(args, t)
		}
	}
	if !q.All {
		var any []string
		if q.Last {
			any = append(any, "a.current = 1")
		}
		if q.First {
			// Versions only grow: the first is the smallest — of a revoked
			// object, the revoked version, the only one served.
			any = append(any, "(a.revoked = 1 AND a.current = 1 OR a.version = (SELECT MIN(b.version) FROM fed_feed_log b WHERE b.peer = a.peer AND b.id = a.id AND b.removed = 0))")
		}
		if len(q.At) > 0 {
			any = append(any, "a.version IN ("+placeholders(len(q.At))+")")
			for _, t := range q.At {
				args = append(args, nanos(t))
			}
		}
		if len(any) == 0 {
			return "", nil, nil
		}
		where = append(where, "("+strings.Join(any, " OR ")+")")
	}
	args = append(args, q.Limit+1)
	return `SELECT a.added, a.id, a.version, v.body FROM fed_feed_log a
		JOIN fed_feed_versions v ON v.id = a.id AND v.version = a.version
		WHERE ` + strings.Join(where, " AND ") + ` ORDER BY a.added LIMIT ?`, args, nil
}

// ObjectVersions implements federation.FeedStore.
func (s *Store) ObjectVersions(ctx context.Context, peer, id string) ([]federation.FeedEntry, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT added, version, removed, current, revoked FROM fed_feed_log WHERE peer = ? AND id = ? ORDER BY added`), peer, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []federation.FeedEntry
	gone := false
	at := map[int64]int{} // Version → its place in out: a version that came back counts once, when it last entered.
	for rows.Next() {
		var added, version, removed, current, revoked int64
		if err := rows.Scan(&added, &version, &removed, &current, &revoked); err != nil {
			return nil, err
		}
		if removed == 1 {
			gone = current == 1
			continue
		}
		if revoked == 1 && current == 1 {
			// Revoked: that version alone is served (CollectionEntries).
			return []federation.FeedEntry{{Added: fromNanos(added), ID: id, Version: fromNanos(version), Revoked: true}}, nil
		}
		if i, ok := at[version]; ok {
			out = append(out[:i], out[i+1:]...)
			for v, j := range at {
				if j > i {
					at[v] = j - 1
				}
			}
		}
		at[version] = len(out)
		out = append(out, federation.FeedEntry{Added: fromNanos(added), ID: id, Version: fromNanos(version)})
	}
	if gone {
		return nil, rows.Err()
	}
	return out, rows.Err()
}
