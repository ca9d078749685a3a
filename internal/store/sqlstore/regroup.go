package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/accord-antispam/accord/internal/campaign"
	"github.com/accord-antispam/accord/internal/intake"
)

// regroupVersion is the migration that asks for regroup.
const regroupVersion = 32

// regroup groups the reports a database held before migration 32 by the
// new rule (the connected components of sharing a key), once, in one
// transaction under the custody head's lock: the first instance to open
// the database does it, the others find nothing pending. Nothing is
// deleted: each component keeps the oldest campaign id among its reports'
// that no older component kept (a founder-based campaign may span several
// components: its id stays with one); a component with none left gets a
// new campaign named after its first report; an old campaign no
// component kept is merged into the one its first report went to (its
// case, notes and decisions with it, as a merge at intake). Every report
// whose campaign changes gets a custody entry saying from which to which
// and why; every merge one, as at intake. A report whose signature cannot
// be read (or gives no key) stays in its campaign and follows it.
//
// A campaign a person has worked on (its case has an event) is sealed, as
// at intake: it keeps every report it has, and their keys; the other
// reports are grouped among themselves. Regrouping one would take
// reports out of the case — out of its retention hold and its evidence —
// or weld other campaigns into it, with nothing in its history to say so.
func (s *Store) regroup(ctx context.Context) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("regroup campaigns: %w", err)
	}
	defer tx.Rollback()
	var headSeq int64
	var headHash string
	if err := tx.QueryRowContext(ctx, `SELECT seq, hash FROM custody_head WHERE id = 1`+s.d.ForUpdate).Scan(&headSeq, &headHash); err != nil {
		return fmt.Errorf("regroup campaigns: lock the custody head: %w", err)
	}
	var pending int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM campaign_regroup`).Scan(&pending); err != nil {
		return fmt.Errorf("regroup campaigns: %w", err)
	}
	if pending == 0 {
		return nil
	}
	type rep struct {
		id, campaign, sig string
		at                int64
		keys              []campaign.Key
	}
	var reps []*rep
	rows, err := tx.QueryContext(ctx, `SELECT id, campaign_id, signature, received_at FROM reports ORDER BY received_at, id`)
	if err != nil {
		return fmt.Errorf("regroup campaigns: read reports: %w", err)
	}
	for rows.Next() {
		r := &rep{}
		if err := rows.Scan(&r.id, &r.campaign, &r.sig, &r.at); err != nil {
			rows.Close()
			return fmt.Errorf("regroup campaigns: read reports: %w", err)
		}
		var sig campaign.Signature
		if json.Unmarshal([]byte(r.sig), &sig) == nil {
			r.keys = sig.Keys()
		}
		reps = append(reps, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("regroup campaigns: read reports: %w", err)
	}
	born := map[string]campaign.Born{}
	rows, err = tx.QueryContext(ctx, `SELECT id, created_at FROM campaigns`)
	if err != nil {
		return fmt.Errorf("regroup campaigns: read campaigns: %w", err)
	}
	for rows.Next() {
		var b campaign.Born
		if err := rows.Scan(&b.ID, &b.At); err != nil {
			rows.Close()
			return fmt.Errorf("regroup campaigns: read campaigns: %w", err)
		}
		born[b.ID] = b
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("regroup campaigns: read campaigns: %w", err)
	}
	sealed := map[string]bool{}
	rows, err = tx.QueryContext(ctx, `SELECT campaign_id FROM cases`)
	if err != nil {
		return fmt.Errorf("regroup campaigns: read cases: %w", err)
	}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return fmt.Errorf("regroup campaigns: read cases: %w", err)
		}
		sealed[id] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("regroup campaigns: read cases: %w", err)
	}
	bornOf := func(id string) campaign.Born {
		if b, ok := born[id]; ok {
			return b
		}
		return campaign.Born{At: 1<<63 - 1, ID: id}
	}
	older := func(a, b string) int {
		x, y := bornOf(a), bornOf(b)
		return cmp.Or(cmp.Compare(x.At, y.At), cmp.Compare(x.ID, y.ID))
	}

	// The components, by union-find over the reports through their keys.
	parent := make([]int, len(reps))
	for i := range parent {
		parent[i] = i
	}
	var find func(int) int
	find = func(i int) int {
		for parent[i] != i {
			parent[i] = parent[parent[i]]
			i = parent[i]
		}
		return i
	}
	first := map[uint64]int{}
	sealedKeys := map[uint64]string{} // a sealed campaign's keys stay its own
	for _, r := range reps {
		if sealed[r.campaign] {
			for _, k := range r.keys {
				if _, ok := sealedKeys[k.Hash]; !ok {
					sealedKeys[k.Hash] = r.campaign
				}
			}
		}
	}
	for i, r := range reps {
		if sealed[r.campaign] {
			continue
		}
		for _, k := range r.keys {
			if j, ok := first[k.Hash]; ok {
				a, b := find(i), find(j)
				parent[max(a, b)] = min(a, b) // the root is the component's first report
			} else {
				first[k.Hash] = i
			}
		}
	}
	members := map[int][]int{}
	var roots []int
	for i, r := range reps {
		if len(r.keys) == 0 || sealed[r.campaign] {
			continue // stays in its campaign
		}
		root := find(i)
		if members[root] == nil {
			roots = append(roots, root)
		}
		members[root] = append(members[root], i)
	}
	slices.Sort(roots) // by first report: reports are in order of arrival

	// Each component's campaign.
	kept := map[string]bool{}
	for c := range sealed {
		kept[c] = true
	}
	survivor := map[int]string{}
	var newCamps [][]any
	for _, root := range roots {
		var cands []string
		for _, i := range members[root] {
			if c := reps[i].campaign; !slices.Contains(cands, c) {
				cands = append(cands, c)
			}
		}
		slices.SortFunc(cands, older)
		for _, c := range cands {
			if !kept[c] {
				survivor[root] = c
				kept[c] = true
				break
			}
		}
		if survivor[root] == "" {
			f := reps[root]
			id := "c-" + f.id
			survivor[root] = id
			kept[id] = true
			var subject string
			if err := tx.QueryRowContext(ctx, s.q(`SELECT subject FROM reports WHERE id = ?`), f.id).Scan(&subject); err != nil {
				return fmt.Errorf("regroup campaigns: %w", err)
			}
			newCamps = append(newCamps, []any{id, f.at, f.id, subject, f.sig})
		}
	}
	if err := s.insertTable(ctx, tx, tableRows{table: "campaigns", cols: "id, created_at, founder, subject, signature", rows: newCamps,
		extraCol: "founded_seq", extraExpr: "(SELECT seq + 1 FROM custody_head WHERE id = 1)"}); err != nil {
		return fmt.Errorf("regroup campaigns: %w", err)
	}

	// Reports to their component's campaign; keys to it.
	now := time.Now().UTC()
	var entries []intake.CustodyEntry
	var keys [][]any
	target := map[string]string{} // old campaign -> where its first report went
	for _, root := range roots {
		to := survivor[root]
		for _, i := range members[root] {
			r := reps[i]
			if _, ok := target[r.campaign]; !ok {
				target[r.campaign] = to
			}
			if r.campaign != to {
				why := "regrouped: " + r.keys[0].Why() + " the campaign (schema 32: campaigns are the components of shared keys)"
				if _, err := tx.ExecContext(ctx, s.q(`UPDATE reports SET campaign_id = ?, campaign_why = ? WHERE id = ?`), to, why, r.id); err != nil {
					return fmt.Errorf("regroup campaigns: %w", err)
				}
				entries = append(entries, intake.CustodyEntry{ReportID: r.id, At: now, Actor: "desk", Action: "campaign-regrouped",
					Detail: fmt.Sprintf("campaign %s -> %s: campaigns are now the connected components of shared grouping keys (schema 32)", r.campaign, to)})
			}
			for _, k := range r.keys {
				if _, taken := sealedKeys[k.Hash]; first[k.Hash] == i && !taken {
					keys = append(keys, []any{int64(k.Hash), to})
				}
			}
		}
	}
	for _, c := range slices.Sorted(maps.Keys(sealedKeys)) {
		keys = append(keys, []any{int64(c), sealedKeys[c]})
	}
	if err := s.insertTable(ctx, tx, tableRows{table: "campaign_keys", cols: "hash, campaign_id", rows: keys,
		extraCol: "seq", extraExpr: "(SELECT seq + 1 FROM custody_head WHERE id = 1)"}); err != nil {
		return fmt.Errorf("regroup campaigns: %w", err)
	}

	// Old campaigns no component kept: merged, as at intake.
	var old []string
	for c := range born {
		if !kept[c] {
			old = append(old, c)
		}
	}
	slices.SortFunc(old, older)
	for _, c := range old {
		to, ok := target[c]
		if !ok {
			continue // no report with keys: it stays as it is
		}
		var founder string
		if err := tx.QueryRowContext(ctx, s.q(`SELECT founder FROM campaigns WHERE id = ?`), c).Scan(&founder); err != nil && err != sql.ErrNoRows {
			return fmt.Errorf("regroup campaigns: %w", err)
		}
		m := merge{Merge: campaign.Merge{From: c, Into: to, Why: "regrouped: its reports share keys with campaign " + to + " (schema 32)"},
			report: &intake.Report{ID: founder, ReceivedAt: now}}
		for _, st := range mergeStatements(m, nanos(now)) {
			if _, err := tx.ExecContext(ctx, s.q(st.query), st.args...); err != nil {
				return fmt.Errorf("regroup campaigns: merge %s into %s: %w", c, to, err)
			}
		}
		entries = append(entries, mergeCustody(m))
	}
	custody, headSeq, headHash := chainCustody(entries, headSeq, headHash)
	if err := s.insertTable(ctx, tx, custody); err != nil {
		return fmt.Errorf("regroup campaigns: %w", err)
	}
	if _, err := tx.ExecContext(ctx, s.q(`UPDATE custody_head SET seq = ?, hash = ? WHERE id = 1`), headSeq, headHash); err != nil {
		return fmt.Errorf("regroup campaigns: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM campaign_regroup`); err != nil {
		return fmt.Errorf("regroup campaigns: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("regroup campaigns: %w", err)
	}
	return nil
}
