package filter

import (
	"context"
	"crypto/sha256"
	"fmt"
	"sort"
	"sync"
	"time"
)

// MemStore is an in-memory Store, for tests, benchmarks and one-off runs.
type MemStore struct {
	mu        sync.Mutex
	policies  map[string]Policy
	held      map[string]Held
	announced map[string]bool     // held ids a digest listed
	raws      map[[32]byte][]byte // held bytes, once per content
	audit     []AuditEntry
	learned   []Learned
	snap      *Snapshot
}

// NewMemStore returns an empty store.
func NewMemStore() *MemStore {
	return &MemStore{policies: map[string]Policy{}, held: map[string]Held{}}
}

// PutPolicy implements Store.
func (m *MemStore) PutPolicy(_ context.Context, p Policy) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.policies[p.Scope()] = p
	return nil
}

// Policy implements Store.
func (m *MemStore) Policy(_ context.Context, kind, key string) (Policy, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	p, ok := m.policies[Policy{Kind: kind, Key: key}.Scope()]
	if !ok {
		return Policy{}, ErrNotFound
	}
	return p, nil
}

// Policies implements Store.
func (m *MemStore) Policies(context.Context) ([]Policy, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Policy
	for _, p := range m.policies {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Scope() < out[j].Scope() })
	return out, nil
}

// DeletePolicy implements Store.
func (m *MemStore) DeletePolicy(_ context.Context, kind, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	sc := Policy{Kind: kind, Key: key}.Scope()
	if _, ok := m.policies[sc]; !ok {
		return ErrNotFound
	}
	delete(m.policies, sc)
	return nil
}

// Hold implements Store: the bytes are kept once per content.
func (m *MemStore) Hold(_ context.Context, h Held) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.raws == nil {
		m.raws = map[[32]byte][]byte{}
	}
	k := sha256.Sum256(h.Raw)
	if _, ok := m.raws[k]; !ok {
		m.raws[k] = append([]byte(nil), h.Raw...)
	}
	h.Raw = m.raws[k]
	h.Size = len(h.Raw)
	m.held[h.ID] = h
	return nil
}

// HeldUsage implements Store.
func (m *MemStore) HeldUsage(_ context.Context, recipient string) (n int, size, total int64, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, h := range m.held {
		if h.Recipient == recipient && (h.State == StateHeld || h.State == StateReleasing || h.State == "queued") {
			n++
			size += int64(h.Size)
		}
	}
	for _, r := range m.raws {
		total += int64(len(r))
	}
	return n, size, total, nil
}

// HeldMessage implements Store.
func (m *MemStore) HeldMessage(_ context.Context, id string) (Held, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	h, ok := m.held[id]
	if !ok {
		return Held{}, ErrNotFound
	}
	return h, nil
}

// HeldMessages implements Store.
func (m *MemStore) HeldMessages(_ context.Context, f HeldFilter) ([]Held, error) {
	if f.Limit > MaxHeldLimit {
		return nil, fmt.Errorf("%w (asked for %d)", ErrLimit, f.Limit)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Held
	for _, h := range m.held {
		if (f.Recipient == "" || h.Recipient == f.Recipient) && (f.State == "" || h.State == f.State) {
			h.Raw = nil
			out = append(out, h)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].ReceivedAt.After(out[j].ReceivedAt) || out[i].ReceivedAt.Equal(out[j].ReceivedAt) && out[i].ID < out[j].ID
	})
	if f.Limit > 0 && len(out) > f.Limit {
		out = out[:f.Limit]
	}
	return out, nil
}

// SetHeldState implements Store.
func (m *MemStore) SetHeldState(_ context.Context, id, from, to, by string, at time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	h, ok := m.held[id]
	if !ok || h.State != from {
		return ErrNotFound
	}
	h.State, h.ActedBy, h.ActedAt = to, by, at
	m.held[id] = h
	return nil
}

// PurgeHeld implements Store.
func (m *MemStore) PurgeHeld(_ context.Context, t time.Time) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for id, h := range m.held {
		if !t.Before(h.ExpiresAt) || (h.State == StateReleased || h.State == StateDeleted) && h.ActedAt.Before(t) {
			delete(m.held, id)
			delete(m.announced, id)
			n++
		}
	}
	used := map[[32]byte]bool{}
	for _, h := range m.held {
		used[sha256.Sum256(h.Raw)] = true
	}
	for k := range m.raws {
		if !used[k] {
			delete(m.raws, k)
		}
	}
	return n, nil
}

// DropHeldBytes implements Store.
func (m *MemStore) DropHeldBytes(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	h, ok := m.held[id]
	if !ok {
		return ErrNotFound
	}
	if h.Raw == nil {
		return nil
	}
	k := sha256.Sum256(h.Raw)
	h.Raw = nil
	m.held[id] = h
	for _, o := range m.held {
		if o.Raw != nil && sha256.Sum256(o.Raw) == k {
			return nil
		}
	}
	delete(m.raws, k)
	return nil
}

// AnnounceHeld implements Store.
func (m *MemStore) AnnounceHeld(_ context.Context, _ time.Time, limit int) ([]Held, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.announced == nil {
		m.announced = map[string]bool{}
	}
	var out []Held
	for id, h := range m.held {
		if h.State == StateHeld && !m.announced[id] {
			h.Raw = nil
			out = append(out, h)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].ReceivedAt.Before(out[j].ReceivedAt) || out[i].ReceivedAt.Equal(out[j].ReceivedAt) && out[i].ID < out[j].ID
	})
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	for _, h := range out {
		m.announced[h.ID] = true
	}
	return out, nil
}

// UnannounceHeld implements Store.
func (m *MemStore) UnannounceHeld(_ context.Context, ids []string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, id := range ids {
		delete(m.announced, id)
	}
	return nil
}

// FilterAudit implements Store.
func (m *MemStore) FilterAudit(_ context.Context, e AuditEntry) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.audit = append(m.audit, e)
	return nil
}

// FilterAuditLog implements Store.
func (m *MemStore) FilterAuditLog(_ context.Context, target string, limit int) ([]AuditEntry, error) {
	if limit > MaxAuditLimit {
		return nil, fmt.Errorf("%w (asked for %d)", ErrLimit, limit)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []AuditEntry
	for i := len(m.audit) - 1; i >= 0; i-- {
		if target == "" || m.audit[i].Target == target {
			out = append(out, m.audit[i])
		}
		if limit > 0 && len(out) >= limit {
			break
		}
	}
	return out, nil
}

// AddLearned implements Store.
func (m *MemStore) AddLearned(_ context.Context, l Learned) (int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.learned = append(m.learned, l)
	return int64(len(m.learned)), nil
}

// LearnedSince implements Store.
func (m *MemStore) LearnedSince(_ context.Context, seq int64, modelID string) ([]Learned, int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []Learned
	top := seq
	for i, l := range m.learned {
		s := int64(i + 1)
		if s > seq && l.Sample != nil && l.ModelID == modelID {
			out = append(out, l)
		}
		if s > top {
			top = s
		}
	}
	return out, top, nil
}

// PurgeLearned implements Store.
func (m *MemStore) PurgeLearned(_ context.Context, before time.Time) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for i, l := range m.learned {
		if l.Sample != nil && l.At.Before(before) {
			m.learned[i].Sample = nil // keep the sequence numbers
			n++
		}
	}
	return n, nil
}

// PutSnapshot implements Store.
func (m *MemStore) PutSnapshot(_ context.Context, s Snapshot) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.snap == nil || s.Version >= m.snap.Version {
		m.snap = &s
	}
	return nil
}

// LatestSnapshot implements Store.
func (m *MemStore) LatestSnapshot(context.Context) (Snapshot, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.snap == nil {
		return Snapshot{}, ErrNotFound
	}
	return *m.snap, nil
}
