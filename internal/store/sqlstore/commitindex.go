package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"slices"

	"github.com/accord-antispam/accord/internal/campaign"
	"github.com/accord-antispam/accord/internal/intake"
)

// commitIndex is the campaign grouping seen from inside one commit, built
// so that a commit costs a fixed number of round trips whatever its size:
// the owners of every grouping key of the commit's reports (each key
// belongs to one campaign, campaign_keys) are read with one query at the
// start, the reports are placed in memory (campaign.Partition: a report
// whose keys several campaigns own merges them into the largest — only
// when one does are the sizes of the campaigns it merges read, with a
// second query: sizeQuery), and the keys, campaigns and merges are
// written at the end. No candidate limit:
// a key has one owner, so every campaign a report belongs with is read,
// however many reports share its keys.
type commitIndex struct {
	keys    [][]campaign.Key // Per report of the commit, in order.
	allKeys []int64          // The keys to read, each once.
	part    *campaign.Partition
	// merged are the campaigns the commit's merges join (both sides),
	// filled by commitRows: on PostgreSQL none of them may have been
	// sealed since the snapshot (campaigns_unsealed_locked).
	merged []string
	// sized are the stored campaigns whose sizes were read (sizes), and
	// the sizes read.
	sized map[string]int
}

// newCommitIndex notes the keys the reports of a commit have; their
// owners are read next (prefetch, or commitPostgres) and added with own.
func newCommitIndex(batches []*intake.Batch) *commitIndex {
	x := &commitIndex{part: campaign.NewPartition()}
	seen := map[uint64]bool{}
	for _, b := range batches {
		for _, r := range b.Reports {
			ks := r.Signature.Keys()
			x.keys = append(x.keys, ks)
			for _, k := range ks {
				if !seen[k.Hash] {
					seen[k.Hash] = true
					x.allKeys = append(x.allKeys, int64(k.Hash))
				}
			}
		}
	}
	return x
}

// own records that campaign id, created at, owns key k; sealed (1) when
// a person has worked on it (sealedExpr).
func (x *commitIndex) own(k int64, id string, created, sealed int64) {
	x.part.Own(uint64(k), id, created)
	if sealed != 0 {
		x.part.Seal(id)
	}
}

// sealedExpr is 1 when the campaign of key row k is sealed, else 0: a
// person has worked on it — its case has an event (a status, an
// assignment, a note, a decision, an export, a referral; a case row
// exists only once it has one). Intake never merges a sealed campaign
// (campaign.Partition.Seal).
const sealedExpr = `CASE WHEN EXISTS (SELECT 1 FROM cases s WHERE s.campaign_id = k.campaign_id) THEN 1 ELSE 0 END`

// keyOwners reads the owners of keys (%s: the condition on the key).
const keyOwners = `SELECT k.hash, k.campaign_id, c.created_at, ` + sealedExpr + ` FROM campaign_keys k JOIN campaigns c ON c.id = k.campaign_id WHERE k.hash %s`

// keyOwnersPG is keyOwners on PostgreSQL, key by key by the primary key's
// index whatever the planner believes of the tables' sizes.
const keyOwnersPG = `SELECT u.h, k.campaign_id, c.created_at, ` + sealedExpr + ` FROM unnest($1::bigint[]) AS u(h)
	CROSS JOIN LATERAL (SELECT campaign_id FROM campaign_keys WHERE hash = u.h) AS k
	CROSS JOIN LATERAL (SELECT created_at FROM campaigns WHERE id = k.campaign_id LIMIT 1) AS c`

// prefetch reads the owners of every key of x inside tx (in pieces under
// the parameter limit).
func (s *Store) prefetch(ctx context.Context, tx *sql.Tx, x *commitIndex) error {
	for start := 0; start < len(x.allKeys); start += maxParams {
		part := x.allKeys[start:min(len(x.allKeys), start+maxParams)]
		args := make([]any, len(part))
		for i, k := range part {
			args[i] = k
		}
		rows, err := tx.QueryContext(ctx, s.q(fmt.Sprintf(keyOwners, "IN ("+placeholders(len(args))+")")), args...)
		if err != nil {
			return fmt.Errorf("campaign keys: %w", err)
		}
		for rows.Next() {
			var k, created, sealed int64
			var id string
			if err := rows.Scan(&k, &id, &created, &sealed); err != nil {
				rows.Close()
				return fmt.Errorf("campaign keys: %w", err)
			}
			x.own(k, id, created, sealed)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("campaign keys: %w", err)
		}
	}
	return nil
}

// sizeQuery counts the reports of campaigns (%s: the condition on
// campaign_id), by the reports_campaign index.
const sizeQuery = `SELECT campaign_id, COUNT(*) FROM reports WHERE campaign_id %s GROUP BY campaign_id`

// sizes reads the sizes of the stored campaigns the commit's reports
// would merge, if any (campaign.Partition.Merging): the survivor of a
// merge is the larger, whose rows then stay where they are. query runs
// sizeQuery with the ids.
func (x *commitIndex) sizes(query func(ids []string) (map[string]int, error)) error {
	ids := x.part.Merging(x.keys)
	if len(ids) == 0 {
		return nil
	}
	n, err := query(ids)
	if err != nil {
		return fmt.Errorf("campaign sizes: %w", err)
	}
	x.sized = map[string]int{}
	for _, id := range ids {
		x.part.SetSize(id, n[id])
		x.sized[id] = n[id]
	}
	return nil
}

// expectedSizes are the sizes read (sizes) with the commit's own reports
// added to their campaign's, once placed: what counting the campaigns
// finds inside the commit's transaction, before its merges, if no other
// commit changed them since they were read (campaign_sizes_locked).
func (x *commitIndex) expectedSizes(batches []*intake.Batch) ([]string, []int64) {
	if len(x.sized) == 0 {
		return nil, nil
	}
	n := map[string]int64{}
	for id, c := range x.sized {
		n[id] = int64(c)
	}
	for _, b := range batches {
		for _, r := range b.Reports {
			if _, ok := n[r.CampaignID]; ok {
				n[r.CampaignID]++
			}
		}
	}
	ids := slices.Sorted(maps.Keys(n))
	sizes := make([]int64, len(ids))
	for i, id := range ids {
		sizes[i] = n[id]
	}
	return ids, sizes
}

// readSizes is commitIndex.sizes' query inside tx (SQLite; in pieces
// under the parameter limit).
func (s *Store) readSizes(ctx context.Context, tx *sql.Tx, x *commitIndex) error {
	return x.sizes(func(ids []string) (map[string]int, error) {
		out := map[string]int{}
		for start := 0; start < len(ids); start += maxParams {
			part := ids[start:min(len(ids), start+maxParams)]
			args := make([]any, len(part))
			for i, id := range part {
				args[i] = id
			}
			rows, err := tx.QueryContext(ctx, s.q(fmt.Sprintf(sizeQuery, "IN ("+placeholders(len(args))+")")), args...)
			if err != nil {
				return nil, err
			}
			for rows.Next() {
				var id string
				var n int
				if err := rows.Scan(&id, &n); err != nil {
					rows.Close()
					return nil, err
				}
				out[id] = n
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return nil, err
			}
		}
		return out, nil
	})
}

// noCandidates is the campaign.Index the assigner is given for a report
// that founds a campaign: the grouping is the store's (by keys), the
// assigner only names the new campaign.
type noCandidates struct{}

func (noCandidates) ByBands(context.Context, [campaign.Bands]uint64) ([]campaign.Candidate, error) {
	return nil, nil
}
func (noCandidates) ByDomains(context.Context, []string) ([]campaign.Candidate, error) {
	return nil, nil
}

// merge is one campaign absorbed by another in a commit, with the report
// that joined both, and who merged them ("" : the desk, at intake).
type merge struct {
	campaign.Merge
	report *intake.Report
	actor  string
}

// by is who made merge m.
func (m merge) by() string {
	if m.actor == "" {
		return "desk"
	}
	return m.actor
}

// placed is what a commit's grouping did: the campaigns it founds (their
// founders), the keys now owned, the merges in order, and the links
// proposed (campaign_links rows).
type placed struct {
	founded []*intake.Report
	keys    [][]any // hash, campaign_id
	merges  []merge
	links   [][]any // campaign_id, other_id, report_id, at, reason
}

// linkCols are campaign_links' columns, as placed.links fills them.
const linkCols = "campaign_id, other_id, report_id, at, reason"

// place groups the commit's reports in order: each joins the campaign
// owning its keys (merging several into the largest) or founds one (named
// by assign). A campaign founded and merged away within the commit is
// never written: its reports are the survivor's.
func (x *commitIndex) place(ctx context.Context, batches []*intake.Batch, assign intake.Assigner) (placed, error) {
	var out placed
	newKeys := map[uint64]bool{}
	var keyOrder []uint64
	fresh := map[string]bool{}
	i := 0
	var reports []*intake.Report
	for _, b := range batches {
		for _, r := range b.Reports {
			reports = append(reports, r)
			pl := x.part.Place(x.keys[i])
			i++
			if pl.Campaign == "" {
				if err := assign(ctx, noCandidates{}, r); err != nil {
					return out, fmt.Errorf("assign campaign of report %s: %w", r.ID, err)
				}
				if r.CampaignID == "" {
					return out, fmt.Errorf("assign campaign of report %s: the assigner named no campaign", r.ID)
				}
				if r.CampaignNew {
					x.part.Found(r.CampaignID, nanos(r.ReceivedAt), pl.NewKeys)
					fresh[r.CampaignID] = true
					out.founded = append(out.founded, r)
				} else {
					// An existing campaign the assigner chose (fixtures
					// only: the desk's assigner always founds one).
					x.part.Claim(r.CampaignID, nanos(r.ReceivedAt), pl.NewKeys)
				}
			} else {
				r.CampaignID, r.CampaignNew, r.CampaignWhy = pl.Campaign, false, pl.Why
			}
			for _, k := range pl.NewKeys {
				if !newKeys[k] {
					newKeys[k] = true
					keyOrder = append(keyOrder, k)
				}
			}
			for _, m := range pl.Merges {
				out.merges = append(out.merges, merge{Merge: m, report: r})
			}
			for _, l := range pl.Links {
				out.links = append(out.links, []any{l.Campaign, l.Other, r.ID, nanos(r.ReceivedAt), l.Why})
			}
		}
	}
	for _, l := range out.links {
		l[1] = x.part.Find(l[1].(string))
	}
	// What merges within the commit changed.
	founded := out.founded[:0]
	for _, r := range out.founded {
		if now := x.part.Find(r.CampaignID); now != r.CampaignID {
			r.CampaignWhy = "founded campaign " + r.CampaignID + ", merged in the same commit into " + now
			r.CampaignID, r.CampaignNew = now, false
			continue
		}
		founded = append(founded, r)
	}
	out.founded = founded
	for _, r := range reports {
		r.CampaignID = x.part.Find(r.CampaignID)
	}
	merges := out.merges[:0]
	for _, m := range out.merges {
		if fresh[m.From] {
			continue // never written
		}
		m.Into = x.part.Find(m.Into)
		merges = append(merges, m)
	}
	out.merges = merges
	for _, k := range keyOrder {
		owner, ok := x.part.Owner(k)
		if !ok {
			return out, fmt.Errorf("campaign key %x has no owner", k)
		}
		out.keys = append(out.keys, []any{int64(k), owner})
	}
	return out, nil
}

// mergeStatements are the statements that merge campaign m.From into
// m.Into, in order, the same on both stores: its reports, keys and case
// go to the absorbing campaign, it points at it (as do campaigns merged
// into it before), the links proposed for it are the absorbing one's,
// and the merge is recorded. A case of the absorbed campaign is kept
// whole: its events follow the absorbing case's, renumbered, their text
// marked as the absorbed campaign's (its closing decision is not the
// survivor's), then a "merge" event by whoever merged (m.by); the merged
// case's status is the one further along the work of the two, an open
// one over a closed one (a closed case must not hide one still being
// worked, nor its new reports), and its assignee the absorbing case's,
// else the absorbed's. When only the absorbing campaign has a case, the
// merge is an event of it all the same.
func mergeStatements(m merge, at int64) []stmt {
	f, i := m.From, m.Into
	rank := func(col string) string {
		return `CASE ` + col + ` WHEN 'referred' THEN 4 WHEN 'investigating' THEN 3 WHEN 'triage' THEN 2 WHEN 'new' THEN 1 ELSE 0 END`
	}
	seq := `(SELECT seq + 1 FROM custody_head WHERE id = 1)`
	return []stmt{
		{`UPDATE reports SET campaign_id = ? WHERE campaign_id = ?`, []any{i, f}},
		{`UPDATE campaign_keys SET campaign_id = ?, seq = ` + seq + ` WHERE campaign_id = ?`, []any{i, f}},
		// The absorbed campaign's row, which AppendCaseEvent takes for
		// update on PostgreSQL before it reads merged_into: an event
		// being appended to its case is committed before this goes on,
		// and the statements below, which read afresh, move it with the
		// case; one appended after finds the merge (cases.MergedError).
		// Taken here, after the reports, as retention takes a report
		// before its campaign.
		{`UPDATE campaigns SET merged_into = ? WHERE id = ? OR merged_into = ?`, []any{i, f, f}},
		{`UPDATE campaign_merges SET into_id = ? WHERE into_id = ?`, []any{i, f}},
		{`INSERT INTO campaign_merges (campaign_id, into_id, at, report_id, reason) VALUES (?, ?, ?, ?, ?)`, []any{f, i, at, m.report.ID, m.Why}},
		{`UPDATE campaign_links SET campaign_id = ? WHERE campaign_id = ?`, []any{i, f}},
		{`UPDATE campaign_links SET other_id = ? WHERE other_id = ?`, []any{i, f}},
		{`DELETE FROM campaign_links WHERE campaign_id = ? AND other_id = ?`, []any{i, i}}, // the two are one now
		// The case: a copy of the absorbed one when the absorbing
		// campaign has none (version 0: the events are moved next).
		{`INSERT INTO cases (campaign_id, status, assignee, opened_at, updated_at, closed_at, version)
			SELECT CAST(? AS TEXT), status, assignee, opened_at, updated_at, closed_at, 0 FROM cases WHERE campaign_id = ?
			AND NOT EXISTS (SELECT 1 FROM cases WHERE campaign_id = ?)`, []any{i, f, i}},
		{`UPDATE case_events SET campaign_id = ?, n = n + (SELECT version FROM cases WHERE campaign_id = ?),
			text = CAST(? AS TEXT) || text WHERE campaign_id = ?`, []any{i, i, "[campaign " + f + "] ", f}},
		{`UPDATE cases SET
			status = CASE WHEN ` + rank(`(SELECT o.status FROM cases o WHERE o.campaign_id = ?)`) + ` > ` + rank(`status`) + `
				THEN (SELECT o.status FROM cases o WHERE o.campaign_id = ?) ELSE status END,
			assignee = CASE WHEN assignee = '' THEN (SELECT o.assignee FROM cases o WHERE o.campaign_id = ?) ELSE assignee END,
			opened_at = CASE WHEN (SELECT o.opened_at FROM cases o WHERE o.campaign_id = ?) < opened_at THEN (SELECT o.opened_at FROM cases o WHERE o.campaign_id = ?) ELSE opened_at END,
			updated_at = ?,
			version = version + (SELECT o.version FROM cases o WHERE o.campaign_id = ?) + 1
			WHERE campaign_id = ? AND EXISTS (SELECT 1 FROM cases o WHERE o.campaign_id = ?)`, []any{f, f, f, f, f, at, f, i, f}},
		{`UPDATE cases SET version = version + 1, updated_at = ? WHERE campaign_id = ? AND NOT EXISTS (SELECT 1 FROM cases o WHERE o.campaign_id = ?)`, []any{at, i, f}},
		{`UPDATE cases SET closed_at = 0 WHERE campaign_id = ? AND status <> 'closed' AND EXISTS (SELECT 1 FROM cases o WHERE o.campaign_id = ?)`, []any{i, f}},
		{`INSERT INTO case_events (campaign_id, n, at, actor, kind, status, text, ref)
			SELECT campaign_id, version, CAST(? AS BIGINT), CAST(? AS TEXT), 'merge', status, CAST(? AS TEXT), CAST(? AS TEXT) FROM cases WHERE campaign_id = ?`,
			[]any{at, m.by(), "campaign " + f + " merged into this one: " + m.Why, f, i}},
		{`DELETE FROM cases WHERE campaign_id = ?`, []any{f}},
	}
}

// stmt is one statement with its arguments (? placeholders).
type stmt struct {
	query string
	args  []any
}

// mergeCustody is the custody entry of a merge: in the log of the report
// that joined both campaigns.
func mergeCustody(m merge) intake.CustodyEntry {
	return intake.CustodyEntry{ReportID: m.report.ID, At: m.report.ReceivedAt, Actor: m.by(), Action: "campaign-merged",
		Detail: fmt.Sprintf("campaign %s merged into %s: %s", m.From, m.Into, m.Why)}
}
