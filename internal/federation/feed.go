package federation

import (
	"context"
	"time"
)

// The feed is what the node publishes over TAXII: objects with stable
// ids and versions, and per peer a collection that grows by an added-log
// (when each version entered that collection, or left it). It is kept in
// the store so that ids survive key rotations and restarts, a version's
// "created" never moves, and a page is read, never computed. The STIX
// mapping itself lives at the edge (federation/stix); these are its
// records.

// FeedObject is one published object and its latest version.
type FeedObject struct {
	ID       string    // "indicator--…": random (v4) for domain objects, derived (v5) for observables.
	ItemKey  string    // The item it maps ("" for the node's own objects: identity, markings).
	Slot     string    // Which of the item's objects ("indicator", "observable", "relationship"…).
	Created  time.Time // First published; never changes.
	Modified time.Time // Its latest version.
	Hash     string    // What it was mapped from (the item's hash), to see when it changes.
	// Revoked is the latest version time given to a revoked version of
	// it in some collection (zero: none): a later version, in any
	// collection, must come after it.
	Revoked time.Time
}

// FeedVersion is the body of one version of an object.
type FeedVersion struct {
	ID      string
	Version time.Time
	Body    []byte // The STIX object, JSON.
}

// FeedEntry is one line of a collection's added-log: a version entering
// the collection, or the object leaving it.
type FeedEntry struct {
	Added   time.Time // Unique and increasing within a collection (microseconds).
	ID      string
	Version time.Time
	Removed bool // The object left without a trace (observables, the node's own objects).
	// Revoked: the version entering is the object's revoked one (STIX
	// "revoked": true), served like any other; the object stays in the
	// collection, revoked, until the item comes back as a new version.
	Revoked bool
}

// FeedQuery selects entries of a collection.
type FeedQuery struct {
	AddedAfter time.Time // Exclusive; zero for all.
	After      time.Time // Cursor: entries added after this one (exclusive), for next pages.
	IDs        []string  // match[id]
	Types      []string  // match[type]
	// match[version]: the latest version (the default), the first, all,
	// and versions at given times; any combination.
	Last, First, All bool
	At               []time.Time
	None             bool // match[spec_version] excludes 2.1: nothing matches.
	Limit            int  // Rows asked for; the store returns up to Limit+1 to tell whether there is more.
}

// FeedStore keeps the published objects and the collections.
type FeedStore interface {
	// FeedObjects returns every published object by id.
	FeedObjects(ctx context.Context) (map[string]FeedObject, error)
	// SaveFeed records new objects and versions (upserting the objects).
	SaveFeed(ctx context.Context, objs []FeedObject, versions []FeedVersion) error
	// Collection returns a collection's current state: each object's
	// current entry (removed objects absent; revoked ones present, with
	// Revoked set), and when the last entry was added.
	Collection(ctx context.Context, peer string) (map[string]FeedEntry, time.Time, error)
	// AppendCollection adds entries to a collection's added-log, in one
	// transaction; their Added times must follow the last one's. An
	// object that comes back (its last entry removed it) has every
	// version it had in the collection entered again, just before the
	// new one, so each older version's date_added is when it became
	// available again (later times than asked, then, stay unique).
	AppendCollection(ctx context.Context, peer string, es []FeedEntry) error
	// CollectionEntries reads a collection's added-log with the bodies of
	// the versions, oldest first, as the query selects: each (id, version)
	// once, at its latest entry.
	CollectionEntries(ctx context.Context, peer string, q FeedQuery) ([]FeedEntry, []FeedVersion, error)
	// ObjectVersions lists the versions of an object in a collection,
	// oldest first, each once (a version that left and came back, at
	// when it last entered).
	ObjectVersions(ctx context.Context, peer, id string) ([]FeedEntry, error)
}
