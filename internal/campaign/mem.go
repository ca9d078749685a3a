package campaign

import (
	"context"
	"fmt"
)

// MemIndex is an in-memory Index, for tests and one-off grouping runs.
type MemIndex struct {
	camps   map[string]Signature
	bands   map[uint64][]string
	domains map[string][]string
	Members map[string][]string // campaign -> report ids
	next    int
}

// NewMemIndex returns an empty index.
func NewMemIndex() *MemIndex {
	return &MemIndex{camps: map[string]Signature{}, bands: map[uint64][]string{}, domains: map[string][]string{}, Members: map[string][]string{}}
}

func (m *MemIndex) cands(ids []string) []Candidate {
	var out []Candidate
	seen := map[string]bool{}
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			out = append(out, Candidate{ID: id, Signature: m.camps[id]})
		}
	}
	return out
}

// ByBands implements Index.
func (m *MemIndex) ByBands(_ context.Context, keys [Bands]uint64) ([]Candidate, error) {
	var ids []string
	for _, k := range keys {
		if k != 0 {
			ids = append(ids, m.bands[k]...)
		}
	}
	return m.cands(ids), nil
}

// ByDomains implements Index.
func (m *MemIndex) ByDomains(_ context.Context, domains []string) ([]Candidate, error) {
	var ids []string
	for _, d := range domains {
		ids = append(ids, m.domains[d]...)
	}
	return m.cands(ids), nil
}

// Add assigns a report and records it, returning its campaign.
func (m *MemIndex) Add(ctx context.Context, reportID string, s Signature) (string, error) {
	id, _, err := Assign(ctx, m, s)
	if err != nil {
		return "", err
	}
	if id == "" {
		m.next++
		id = fmt.Sprintf("c%d", m.next)
		m.camps[id] = s
		for _, k := range s.BandKeys() {
			if k != 0 {
				m.bands[k] = append(m.bands[k], id)
			}
		}
		for _, d := range s.Domains {
			m.domains[d] = append(m.domains[d], id)
		}
	}
	m.Members[id] = append(m.Members[id], reportID)
	return id, nil
}
