package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/accord-antispam/accord/internal/campaign"
	"github.com/accord-antispam/accord/internal/cases"
	"github.com/accord-antispam/accord/internal/intake"
)

// Case implements cases.Store.
func (s *Store) Case(ctx context.Context, campaignID string) (*cases.Case, error) {
	c := &cases.Case{}
	var status string
	var opened, updated, closed int64
	err := s.db.QueryRowContext(ctx, s.q(`SELECT campaign_id, status, assignee, opened_at, updated_at, closed_at, version FROM cases WHERE campaign_id = ?`),
		campaignID).Scan(&c.CampaignID, &status, &c.Assignee, &opened, &updated, &closed, &c.Version)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, cases.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("read case %s: %w", campaignID, err)
	}
	c.Status, c.Opened, c.Updated = cases.Status(status), fromNanos(opened), fromNanos(updated)
	if closed != 0 {
		c.Closed = fromNanos(closed)
	}
	// In time order, then by number (attack 11, F4): a merged case's
	// numbers are its version count — the absorbed case's events follow
	// the survivor's, renumbered — not the order things happened in.
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT n, at, actor, kind, status, text, ref FROM case_events WHERE campaign_id = ? ORDER BY at, n`), campaignID)
	if err != nil {
		return nil, fmt.Errorf("read case %s: %w", campaignID, err)
	}
	defer rows.Close()
	for rows.Next() {
		var e cases.Event
		var at int64
		var kind, st string
		if err := rows.Scan(&e.N, &at, &e.Actor, &kind, &st, &e.Text, &e.Ref); err != nil {
			return nil, fmt.Errorf("read case %s: %w", campaignID, err)
		}
		e.At, e.Kind, e.Status = fromNanos(at), cases.Kind(kind), cases.Status(st)
		c.Events = append(c.Events, e)
	}
	return c, rows.Err()
}

// AppendCaseEvent implements cases.Store. The event's number is the
// version: two people changing the same version race for one primary key,
// and the loser gets cases.ErrConflict with nothing stored.
func (s *Store) AppendCaseEvent(ctx context.Context, c *cases.Case, seen int, ev cases.Event) error {
	if ev.N != seen+1 || c.Version != ev.N {
		return fmt.Errorf("case %s: event %d does not follow version %d", c.CampaignID, ev.N, seen)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("case %s: %w", c.CampaignID, err)
	}
	defer tx.Rollback()
	if s.d.Name == "postgres" {
		// A case's first event seals its campaign: a commit about to
		// merge it waits for this one (campaigns_unsealed_locked takes
		// the same key exclusively) and then sees the case.
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock_shared(`+sealLockKey+`)`, c.CampaignID); err != nil {
			return fmt.Errorf("case %s: %w", c.CampaignID, err)
		}
	}
	// A merged campaign takes no event (its case moved to the survivor):
	// read under the campaign row's lock, which a merge takes too
	// (mergeStatements) — a merge that commits first is seen here, one
	// that comes later waits for this event and moves it with the case.
	// SQLite's immediate transactions serialize the two anyway. A case
	// whose campaign has no row (fixtures) is not refused.
	var into string
	err = tx.QueryRowContext(ctx, s.q(`SELECT merged_into FROM campaigns WHERE id = ?`+s.d.ForUpdate), c.CampaignID).Scan(&into)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return fmt.Errorf("case %s: %w", c.CampaignID, err)
	case into != "":
		return &cases.MergedError{Campaign: c.CampaignID, Into: into}
	}
	var have int
	err = tx.QueryRowContext(ctx, s.q(`SELECT version FROM cases WHERE campaign_id = ?`+s.d.ForUpdate), c.CampaignID).Scan(&have)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		have = 0
	case err != nil:
		return fmt.Errorf("case %s: %w", c.CampaignID, err)
	}
	if have != seen {
		return cases.ErrConflict
	}
	res, err := tx.ExecContext(ctx, s.q(`INSERT INTO case_events (campaign_id, n, at, actor, kind, status, text, ref) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (campaign_id, n) DO NOTHING`), c.CampaignID, ev.N, nanos(ev.At), ev.Actor, string(ev.Kind), string(ev.Status), ev.Text, ev.Ref)
	if err != nil {
		return fmt.Errorf("case %s: store event: %w", c.CampaignID, err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return cases.ErrConflict
	}
	var closed int64
	if !c.Closed.IsZero() {
		closed = nanos(c.Closed)
	}
	if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO cases (campaign_id, status, assignee, opened_at, updated_at, closed_at, version) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (campaign_id) DO UPDATE SET status = excluded.status, assignee = excluded.assignee, updated_at = excluded.updated_at,
		closed_at = excluded.closed_at, version = excluded.version`),
		c.CampaignID, string(c.Status), c.Assignee, nanos(c.Opened), nanos(c.Updated), closed, c.Version); err != nil {
		return fmt.Errorf("case %s: store: %w", c.CampaignID, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("case %s: commit: %w", c.CampaignID, err)
	}
	return nil
}

// CaseDurations implements cases.Store.
func (s *Store) CaseDurations(ctx context.Context, from, to time.Time) ([]time.Duration, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT opened_at, closed_at FROM cases WHERE status = 'closed' AND closed_at >= ? AND closed_at < ? ORDER BY closed_at`),
		nanos(from), nanos(to))
	if err != nil {
		return nil, fmt.Errorf("case durations: %w", err)
	}
	defer rows.Close()
	var out []time.Duration
	for rows.Next() {
		var o, c int64
		if err := rows.Scan(&o, &c); err != nil {
			return nil, err
		}
		out = append(out, time.Duration(c-o))
	}
	return out, rows.Err()
}

// ProposedLinks implements cases.Store.
func (s *Store) ProposedLinks(ctx context.Context, campaignID string) ([]cases.Link, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT campaign_id, other_id, report_id, at, reason FROM campaign_links
		WHERE campaign_id = ? OR other_id = ? ORDER BY at, report_id`), campaignID, campaignID)
	if err != nil {
		return nil, fmt.Errorf("proposed links of %s: %w", campaignID, err)
	}
	defer rows.Close()
	var out []cases.Link
	for rows.Next() {
		var l cases.Link
		var at int64
		if err := rows.Scan(&l.Campaign, &l.Other, &l.ReportID, &at, &l.Why); err != nil {
			return nil, fmt.Errorf("proposed links of %s: %w", campaignID, err)
		}
		l.At = fromNanos(at)
		out = append(out, l)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("proposed links of %s: %w", campaignID, err)
	}
	return out, nil
}

// MergeCampaigns implements cases.Store: the statements of an intake
// merge (mergeStatements) and its custody entry, chained under the
// custody head's lock like a commit's. The entry goes in the log of the
// report that proposed the link most recently, else of the absorbed
// campaign's founder.
func (s *Store) MergeCampaigns(ctx context.Context, from, into, actor, why string) error {
	if from == into {
		return fmt.Errorf("merge %s into itself: %w", from, cases.ErrInvalid)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("merge %s into %s: %w", from, into, err)
	}
	defer tx.Rollback()
	var headSeq int64
	var headHash string
	if err := tx.QueryRowContext(ctx, `SELECT seq, hash FROM custody_head WHERE id = 1`+s.d.ForUpdate).Scan(&headSeq, &headHash); err != nil {
		return fmt.Errorf("merge %s into %s: lock the custody head: %w", from, into, err)
	}
	var founder string
	for _, id := range []string{into, from} {
		var merged, f string
		err := tx.QueryRowContext(ctx, s.q(`SELECT merged_into, founder FROM campaigns WHERE id = ?`), id).Scan(&merged, &f)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return fmt.Errorf("campaign %s: %w", id, cases.ErrNotFound)
		case err != nil:
			return fmt.Errorf("merge %s into %s: %w", from, into, err)
		case merged != "":
			return fmt.Errorf("%w: campaign %s was merged into %s", cases.ErrInvalid, id, merged)
		}
		founder = f
	}
	report := founder
	err = tx.QueryRowContext(ctx, s.q(`SELECT report_id FROM campaign_links WHERE campaign_id = ? AND other_id = ? OR campaign_id = ? AND other_id = ?
		ORDER BY at DESC, report_id LIMIT 1`), from, into, into, from).Scan(&report)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("merge %s into %s: %w", from, into, err)
	}
	now := time.Now().UTC().Truncate(time.Nanosecond)
	m := merge{Merge: campaign.Merge{From: from, Into: into, Why: "merged by " + actor + ": " + why},
		report: &intake.Report{ID: report, ReceivedAt: now}, actor: actor}
	for _, st := range mergeStatements(m, nanos(now)) {
		if _, err := tx.ExecContext(ctx, s.q(st.query), st.args...); err != nil {
			return fmt.Errorf("merge %s into %s: %w", from, into, err)
		}
	}
	custody, headSeq, headHash := chainCustody([]intake.CustodyEntry{mergeCustody(m)}, headSeq, headHash)
	if err := s.insertTable(ctx, tx, custody); err != nil {
		return fmt.Errorf("merge %s into %s: %w", from, into, err)
	}
	if _, err := tx.ExecContext(ctx, s.q(`UPDATE custody_head SET seq = ?, hash = ? WHERE id = 1`), headSeq, headHash); err != nil {
		return fmt.Errorf("merge %s into %s: %w", from, into, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("merge %s into %s: %w", from, into, err)
	}
	return nil
}

var _ cases.Store = (*Store)(nil)
