package stix

import (
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
	version, err := f.Fed.Source.SharedVersion(ctx)
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
	bump := func(o *federation.FeedObject) {
		at := vnow
		if !at.After(o.Modified) {
			at = o.Modified.Truncate(time.Millisecond).Add(time.Millisecond)
		}
		o.Modified = at
	}
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
			want := it.Hash
			if s.Slot == SlotObservable {
				want = hashOf(k)
			}
			if !ok || o.Hash != want {
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
			want := it.Hash
			if s.Slot == SlotObservable {
				want = hashOf(k)
			}
			if o.Hash != want && !r.fresh[o.ID] {
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
			want := it.Hash
			if s.Slot == SlotObservable {
				want = hashOf(k)
			}
			if o.Hash == want && !r.fresh[o.ID] {
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
	tlpID := map[federation.TLP]string{}
	for _, level := range []federation.TLP{federation.TLPClear, federation.TLPGreen, federation.TLPAmber, federation.TLPAmberStrict, federation.TLPRed} {
		_, id, _ := Marking(level)
		tlpID[level] = id
	}
	for _, p := range peers {
		if p.Status != federation.StatusActive {
			continue
		}
		lines, err := f.Fed.PreviewShared(ctx, sh, p.Name, nil)
		if err != nil {
			return err
		}
		want := map[string]time.Time{}
		add := func(item, slot string) {
			if o, ok := r.bySlot[slotKey(item, slot)]; ok {
				want[o.ID] = o.Modified
			}
		}
		add("", "identity")
		for _, l := range lines {
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
		state, last, err := f.Store.Collection(ctx, p.Name)
		if err != nil {
			return err
		}
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
			if v, ok := state[id]; !ok || !v.Equal(want[id]) {
				es = append(es, federation.FeedEntry{ID: id, Version: want[id]})
			}
		}
		var gone []string
		for id := range state {
			if _, ok := want[id]; !ok {
				gone = append(gone, id)
			}
		}
		sort.Strings(gone)
		for _, id := range gone {
			es = append(es, federation.FeedEntry{ID: id, Version: state[id], Removed: true})
		}
		if len(es) == 0 {
			continue
		}
		// Every entry its own microsecond, after the last: date_added is
		// unique and increasing within the collection.
		at := now
		if !at.After(last) {
			at = last.Add(time.Microsecond)
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
