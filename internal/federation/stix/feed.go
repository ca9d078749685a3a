package stix

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/accord-antispam/accord/internal/federation"
)

// Feed keeps the node's TAXII collections up to date: each object keeps
// the id it was first published under (whatever the node's key) and its
// "created"; a changed item gets a new version; and each peer's collection
// grows by an added-log recording when each version entered it — so a
// client polling with added_after gets every new or newly allowed object
// exactly once. Collections are brought up to date after every sync round
// with the set the round collected, and before a page is served when
// anything they depend on changed since; a page itself only reads.
type Feed struct {
	Fed   *federation.Service
	Store federation.FeedStore
	Name  string           // The node's name, for its identity object.
	Now   func() time.Time // nil: time.Now.

	mu    sync.Mutex
	stamp string // What the collections were last computed from.
}

func (f *Feed) now() time.Time {
	t := time.Now()
	if f.Now != nil {
		t = f.Now()
	}
	return t.UTC().Truncate(time.Microsecond)
}

// fingerprint is what the collections depend on: the reports (their
// version), every peer's state and agreement, where now falls in each
// agreement's validity (an agreement that expired, or came into force,
// since the collections were computed changes what they hold, though
// nothing stored changed), and the node's name.
func (f *Feed) fingerprint(ctx context.Context, version string) (string, error) {
	peers, err := f.Fed.Store.Peers(ctx)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%s\n", version, f.Name)
	for _, p := range peers {
		raw := ""
		if p.Agreement != nil {
			raw = p.Agreement.Raw
		}
		fmt.Fprintf(h, "%s %s %s %x %s\n", p.Name, p.Status, p.Collection, sha256.Sum256([]byte(raw)), p.Agreement.Phase(f.now()))
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Update brings the collections up to date if anything they depend on
// changed since they were last computed; otherwise it costs two queries.
func (f *Feed) Update(ctx context.Context) error {
	version, err := f.Fed.SharedVersion(ctx)
	if err != nil {
		return err
	}
	fp, err := f.fingerprint(ctx, version)
	if err != nil {
		return err
	}
	f.mu.Lock()
	current := fp == f.stamp
	f.mu.Unlock()
	if current {
		return nil
	}
	sh, err := f.Fed.Collect(ctx)
	if err != nil {
		return err
	}
	return f.Refresh(ctx, sh)
}

// refs resolves ids and times while a refresh publishes.
type refs struct {
	bySlot map[string]*federation.FeedObject
	now    time.Time
	fresh  map[string]bool // Objects new or getting a new version in this refresh.
}

func slotKey(item, slot string) string { return item + "\x00" + slot }

func (r *refs) get(item, slot string) *federation.FeedObject {
	o := r.bySlot[slotKey(item, slot)]
	if o == nil {
		typ := strings.SplitN(item, ":", 2)[0]
		switch slot {
		case SlotIndicator, SlotRelationship:
			typ = slot
		case SlotCampaign, SlotReport:
			typ = slot
		case SlotStatistics:
			typ = StatsType
		default:
			typ = "x-accord-" + typ
		}
		o = &federation.FeedObject{ID: typ + "--" + federation.NewUUID(), ItemKey: item, Slot: slot, Created: r.now, Modified: r.now}
		r.bySlot[slotKey(item, slot)] = o
		r.fresh[o.ID] = true
	}
	return o
}

func (r *refs) ID(item, slot string) string { return r.get(item, slot).ID }

func (r *refs) Times(item, slot string) (time.Time, time.Time) {
	o := r.get(item, slot)
	return o.Created, o.Modified
}

// Refresh publishes the shared set sh: new objects and versions, then each
// active peer's collection brought to what its agreement allows now.
func (f *Feed) Refresh(ctx context.Context, sh *federation.Shared) error {
	fp, err := f.fingerprint(ctx, sh.Version)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	node, err := f.Fed.Node(ctx)
	if err != nil {
		return fmt.Errorf("feed: %w", err)
	}
	stored, err := f.Store.FeedObjects(ctx)
	if err != nil {
		return fmt.Errorf("feed: %w", err)
	}
	now := f.now()
	// Versions are STIX timestamps (milliseconds, as every object's
	// "modified" is written); entries of the added-log, microseconds.
	vnow := now.Truncate(time.Millisecond)
	r := &refs{bySlot: map[string]*federation.FeedObject{}, now: vnow, fresh: map[string]bool{}}
	for _, o := range stored {
		o := o
		r.bySlot[slotKey(o.ItemKey, o.Slot)] = &o
	}
	var vers []federation.FeedVersion
	var changed []*federation.FeedObject
	// bump gives o a new version time, after its last one.
	bump := func(o *federation.FeedObject) { o.Modified = after(vnow, o) }
	// The node's own objects: its identity; the TLP 2.0 markings and the
	// statistics extension with its author, at their fixed times.
	identityID := "identity--" + node.ID
	if o, ok := r.bySlot[slotKey("", "identity")]; !ok || o.Hash != hashOf(f.Name) {
		o := r.node("identity", identityID, node.Created)
		if ok {
			bump(o)
		} else if vnow.After(o.Created) {
			o.Modified = vnow
		}
		body, _ := json.Marshal(IdentityObject(identityID, f.Name, "An Accord node: the spam its authority's complaint desk received, shared under agreements.",
			o.Created, o.Modified))
		o.Hash = hashOf(f.Name)
		vers = append(vers, federation.FeedVersion{ID: o.ID, Version: o.Modified, Body: body})
		changed = append(changed, o)
	}
	fixed := func(slot, id string, at time.Time, body []byte) {
		if o, ok := r.bySlot[slotKey("", slot)]; ok && o.Hash == hashOf(string(body)) {
			return
		}
		o := r.node(slot, id, at)
		o.Created, o.Modified = at, at
		r.fresh[o.ID] = false
		o.Hash = hashOf(string(body))
		vers = append(vers, federation.FeedVersion{ID: id, Version: at, Body: body})
		changed = append(changed, o)
	}
	for _, level := range []federation.TLP{federation.TLPClear, federation.TLPGreen, federation.TLPAmber, federation.TLPAmberStrict, federation.TLPRed} {
		raw, id, err := Marking(level)
		if err != nil {
			return err
		}
		fixed("tlp:"+string(level), id, time.Date(2022, 10, 1, 0, 0, 0, 0, time.UTC), raw)
	}
	ai, _ := json.Marshal(AccordIdentity())
	fixed("accord", AccordIdentityID, defined, ai)
	ext, _ := json.Marshal(StatsExtension())
	fixed("stats-extension", StatsExtensionID, defined, ext)

	// The items, every variant any peer may get (statistics per
	// threshold), mapped once.
	peers, err := f.Fed.Store.Peers(ctx)
	if err != nil {
		return err
	}
	items := map[string]federation.Item{}
	var keys []string
	for _, p := range peers {
		for _, g := range sh.ItemsFor(p.Agreement) {
			for _, it := range g.Items {
				if _, ok := items[it.Key]; !ok {
					items[it.Key] = it
					keys = append(keys, it.Key)
				}
			}
		}
	}
	sort.Strings(keys)
	// What each active peer's agreement allows now, and what its
	// collection holds: an object revoked there whose item is allowed
	// again comes back as a new version, after the revoked one (STIX
	// orders versions by "modified").
	type collection struct {
		lines []federation.PreviewLine
		state map[string]federation.FeedEntry
		last  time.Time
	}
	cols := map[string]*collection{}
	force := map[string]bool{} // Object ids that need a new version though their item did not change.
	for _, p := range peers {
		if p.Status != federation.StatusActive {
			continue
		}
		lines, err := f.Fed.PreviewShared(ctx, sh, p.Name, nil)
		if err != nil {
			return err
		}
		state, last, err := f.Store.Collection(ctx, p.Name)
		if err != nil {
			return err
		}
		cols[p.Name] = &collection{lines: lines, state: state, last: last}
		for _, l := range lines {
			if !l.Decision.Allow {
				continue
			}
			for _, s := range SlotsOf(l.Item) {
				if o, ok := r.bySlot[slotKey(l.Item.Key, s.Slot)]; ok && state[o.ID].Revoked && !state[o.ID].Version.Before(o.Modified) {
					force[o.ID] = true
				}
			}
		}
	}
	m := &Mapper{Identity: identityID}
	for _, k := range keys {
		it := items[k]
		slots := SlotsOf(it)
		if len(slots) == 0 {
			continue
		}
		stale := false
		for _, s := range slots {
			o, ok := r.bySlot[slotKey(k, s.Slot)]
			want := slotHash(it, s.Slot)
			if !ok || o.Hash != want || force[o.ID] {
				stale = true
			}
		}
		if !stale {
			continue
		}
		// The observable's id is derived from its value, not allocated.
		if len(slots) > 0 && slots[0].Slot == SlotObservable {
			if _, ok := r.bySlot[slotKey(k, SlotObservable)]; !ok {
				id := ObservableID(it)
				o := &federation.FeedObject{ID: id, ItemKey: k, Slot: SlotObservable, Created: vnow, Modified: vnow}
				r.bySlot[slotKey(k, SlotObservable)] = o
				r.fresh[id] = true
			}
		}
		// Give changed objects their new version time before mapping, so
		// the bodies carry it.
		for _, s := range slots {
			o := r.get(k, s.Slot)
			want := slotHash(it, s.Slot)
			if (o.Hash != want || force[o.ID]) && !r.fresh[o.ID] {
				bump(o)
			}
		}
		objs, err := m.Objects(it, r)
		if err != nil {
			return err
		}
		for i, s := range slots {
			if i >= len(objs) {
				break
			}
			o := r.get(k, s.Slot)
			want := slotHash(it, s.Slot)
			if o.Hash == want && !r.fresh[o.ID] && !force[o.ID] {
				continue
			}
			body, err := json.Marshal(objs[i])
			if err != nil {
				return err
			}
			o.Hash = want
			vers = append(vers, federation.FeedVersion{ID: o.ID, Version: o.Modified, Body: body})
			changed = append(changed, o)
		}
	}
	if len(changed) > 0 {
		objs := make([]federation.FeedObject, len(changed))
		for i, o := range changed {
			objs[i] = *o
		}
		if err := f.Store.SaveFeed(ctx, objs, vers); err != nil {
			return fmt.Errorf("feed: %w", err)
		}
	}
	// Each active peer's collection: what its agreement allows now.
	byID := map[string]*federation.FeedObject{}
	for _, o := range r.bySlot {
		byID[o.ID] = o
	}
	revokedAt := map[string]time.Time{} // Id and version revoked → its revoked version, the same in every collection.
	for _, p := range peers {
		col := cols[p.Name]
		if col == nil {
			continue
		}
		want := map[string]time.Time{}
		add := func(item, slot string) {
			if o, ok := r.bySlot[slotKey(item, slot)]; ok {
				want[o.ID] = o.Modified
			}
		}
		add("", "identity")
		for _, l := range col.lines {
			if !l.Decision.Allow {
				continue
			}
			slots := SlotsOf(l.Item)
			for _, s := range slots {
				add(l.Item.Key, s.Slot)
			}
			if len(slots) > 0 {
				add("", "tlp:"+string(l.Item.TLP))
			}
			if l.Item.Kind == federation.KindStatistics {
				add("", "accord")
				add("", "stats-extension")
			}
		}
		state := col.state
		var es []federation.FeedEntry
		var ids []string
		for id := range want {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		// Node objects first, so a client reading in order meets the
		// identity and markings before what refers to them.
		sort.SliceStable(ids, func(i, j int) bool { return nodeFirst(ids[i]) < nodeFirst(ids[j]) })
		for _, id := range ids {
			if v, ok := state[id]; !ok || !v.Version.Equal(want[id]) {
				es = append(es, federation.FeedEntry{ID: id, Version: want[id]})
			}
		}
		var gone []string
		for id, e := range state {
			if _, ok := want[id]; !ok && !e.Revoked {
				gone = append(gone, id)
			}
		}
		sort.Strings(gone)
		// What leaves: a domain object or relationship of an item is
		// revoked (a new version, "revoked": true, that a client polling
		// with added_after gets once); an observable, which STIX does not
		// version, and the node's own objects just leave.
		var revoke []string
		for _, id := range gone {
			if o := byID[id]; o != nil && revocable(o) {
				revoke = append(revoke, id)
				continue
			}
			es = append(es, federation.FeedEntry{ID: id, Version: state[id].Version, Removed: true})
		}
		if len(revoke) > 0 {
			bodies, err := f.heldBodies(ctx, p.Name, revoke, state)
			if err != nil {
				return fmt.Errorf("feed: collection of %s: %w", p.Name, err)
			}
			var objs []federation.FeedObject
			var vers []federation.FeedVersion
			for _, id := range revoke {
				o, held := byID[id], state[id].Version
				k := id + "\x00" + held.String()
				at, ok := revokedAt[k]
				if !ok {
					body, ok := bodies[k]
					if !ok {
						return fmt.Errorf("feed: collection of %s: no body of %s at %s", p.Name, id, stamp(held))
					}
					at = after(vnow, o)
					rb, err := Revoke(body, at)
					if err != nil {
						return fmt.Errorf("feed: collection of %s: %w", p.Name, err)
					}
					revokedAt[k] = at
					o.Revoked = at
					objs = append(objs, *o)
					vers = append(vers, federation.FeedVersion{ID: id, Version: at, Body: rb})
				}
				es = append(es, federation.FeedEntry{ID: id, Version: at, Revoked: true})
			}
			if len(objs) > 0 {
				if err := f.Store.SaveFeed(ctx, objs, vers); err != nil {
					return fmt.Errorf("feed: %w", err)
				}
			}
		}
		if len(es) == 0 {
			continue
		}
		// Every entry its own microsecond, after the last: date_added is
		// unique and increasing within the collection.
		at := now
		if !at.After(col.last) {
			at = col.last.Add(time.Microsecond)
		}
		for i := range es {
			es[i].Added = at
			at = at.Add(time.Microsecond)
		}
		if err := f.Store.AppendCollection(ctx, p.Name, es); err != nil {
			return fmt.Errorf("feed: collection of %s: %w", p.Name, err)
		}
	}
	f.stamp = fp
	return nil
}

// node is the object of one of the node's own slots.
func (r *refs) node(slot, id string, created time.Time) *federation.FeedObject {
	o := r.bySlot[slotKey("", slot)]
	if o == nil {
		o = &federation.FeedObject{ID: id, Slot: slot, Created: created, Modified: created}
		r.bySlot[slotKey("", slot)] = o
		r.fresh[id] = true
	}
	return o
}

// nodeFirst orders the node's own objects before the rest.
func nodeFirst(id string) int {
	if strings.HasPrefix(id, "identity--") || strings.HasPrefix(id, "marking-definition--") || strings.HasPrefix(id, "extension-definition--") {
		return 0
	}
	return 1
}

func hashOf(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) }

// after is the next version time of o from now: after its latest version
// and after any revoked version it was given, in milliseconds (STIX
// timestamps).
func after(now time.Time, o *federation.FeedObject) time.Time {
	floor := o.Modified
	if o.Revoked.After(floor) {
		floor = o.Revoked
	}
	if now.After(floor) {
		return now
	}
	return floor.Truncate(time.Millisecond).Add(time.Millisecond)
}

// revocable reports whether an object is revoked when it leaves a
// collection: the domain objects and relationships that map an item.
// Observables have no "revoked" in STIX 2.1 (nor versions); the node's
// identity and the OASIS markings, the extension and its author are not
// the item's, and a marking or extension definition is never versioned.
func revocable(o *federation.FeedObject) bool {
	return o.ItemKey != "" && o.Slot != SlotObservable
}

// heldBodies reads the bodies of the versions a collection holds of the
// given objects, by id and version.
func (f *Feed) heldBodies(ctx context.Context, peer string, ids []string, state map[string]federation.FeedEntry) (map[string][]byte, error) {
	out := map[string][]byte{}
	for start := 0; start < len(ids); start += 500 {
		chunk := ids[start:min(len(ids), start+500)]
		var at []time.Time
		seen := map[time.Time]bool{}
		for _, id := range chunk {
			if v := state[id].Version; !seen[v] {
				seen[v] = true
				at = append(at, v)
			}
		}
		_, vs, err := f.Store.CollectionEntries(ctx, peer, federation.FeedQuery{IDs: chunk, At: at, Limit: len(chunk) * len(at)})
		if err != nil {
			return nil, err
		}
		for _, v := range vs {
			if v.Version.Equal(state[v.ID].Version) {
				out[v.ID+"\x00"+v.Version.String()] = v.Body
			}
		}
	}
	return out, nil
}

// Revoke is the revoked version of a STIX object at a time: the same id
// and created, "modified" at, "revoked" true — what STIX 2.1 asks of a
// producer that no longer stands by an object (a consumer treats it as no
// longer valid). It keeps only what STIX requires of its type, the
// common properties and its markings: the older versions may hold what
// the node no longer shares (an erased report's subject and origin), and
// the revoked one must not say it again. A report keeps its campaign in
// object_refs (required, not empty), not its origin's observable.
func Revoke(body []byte, at time.Time) ([]byte, error) {
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	var o map[string]any
	if err := d.Decode(&o); err != nil {
		return nil, fmt.Errorf("revoke: %w", err)
	}
	keep := []string{"type", "spec_version", "id", "created", "created_by_ref", "object_marking_refs", "extensions"}
	typ, _ := o["type"].(string)
	out := map[string]any{}
	switch typ {
	case "indicator":
		keep = append(keep, "pattern", "pattern_type", "valid_from")
	case "relationship":
		keep = append(keep, "relationship_type", "source_ref", "target_ref")
	case "campaign":
		out["name"] = "Withdrawn spam campaign"
	case "report":
		keep = append(keep, "published")
		out["name"] = "Withdrawn spam report"
		var refs []any
		list, _ := o["object_refs"].([]any)
		for _, r := range list {
			if s, _ := r.(string); strings.HasPrefix(s, "campaign--") {
				refs = append(refs, s)
			}
		}
		out["object_refs"] = refs
	case StatsType:
		keep = append(keep, "name", "min_count", "source")
	}
	for _, k := range keep {
		if v, ok := o[k]; ok {
			out[k] = v
		}
	}
	out["modified"] = stamp(at)
	out["revoked"] = true
	return json.Marshal(out)
}

// slotHash is what an item's object in a slot is mapped from, to see when
// it changes: the item's hash; an observable's, its key (its value); a url
// indicator published as a prefix, the item's hash and its pattern — so
// that the indicators a node published as exact patterns before URL
// prefixes were expressed get a new version with the true pattern once.
func slotHash(it federation.Item, slot string) string {
	switch slot {
	case SlotObservable:
		return hashOf(it.Key)
	case SlotIndicator:
		if indicatorType(it) == "url" {
			var in struct {
				Value string `json:"value"`
			}
			if json.Unmarshal(it.Body, &in) == nil {
				if p := URLPattern(in.Value); p != exactPattern("url", in.Value) {
					return hashOf(it.Hash + "\x00" + p)
				}
			}
		}
	}
	return it.Hash
}
