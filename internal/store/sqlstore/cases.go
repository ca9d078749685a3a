package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/accord-antispam/accord/internal/cases"
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
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT n, at, actor, kind, status, text, ref FROM case_events WHERE campaign_id = ? ORDER BY n`), campaignID)
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

var _ cases.Store = (*Store)(nil)
