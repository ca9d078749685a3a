package sqlstore

import (
	"context"
	"time"

	"github.com/accord-antispam/accord/internal/label"
)

// The labels half of the store: what the node issued, and revocations.

// AddLabel implements label.Store.
func (s *Store) AddLabel(ctx context.Context, l label.Issued) error {
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO labels (id, sender, domain, body_hash, issued, expires, revoked_at, reason) VALUES (?, ?, ?, ?, ?, ?, 0, '')`),
		l.ID, l.Sender, l.Domain, l.BodyHash, nanos(l.Issued), nanos(l.Expires))
	return err
}

// RevokeLabel implements label.Store.
func (s *Store) RevokeLabel(ctx context.Context, id string, at time.Time, reason string) error {
	var n int
	if err := s.db.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM labels WHERE id = ?`), id).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		return label.ErrNotFound
	}
	_, err := s.db.ExecContext(ctx, s.q(`UPDATE labels SET revoked_at = ?, reason = ? WHERE id = ? AND revoked_at = 0`), nanos(at), reason, id)
	return err
}

// RevokeSenderLabels implements label.Store.
func (s *Store) RevokeSenderLabels(ctx context.Context, sender string, at time.Time, reason string) error {
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO label_sender_revocations (sender, at, reason) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`),
		sender, nanos(at), reason)
	return err
}

// Revocations implements label.Store.
func (s *Store) Revocations(ctx context.Context, now time.Time, keep time.Duration) ([]label.RevokedLabel, []label.RevokedSender, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT id, revoked_at, reason FROM labels WHERE revoked_at > 0 AND expires > ? ORDER BY revoked_at, id`), nanos(now))
	if err != nil {
		return nil, nil, err
	}
	ls := []label.RevokedLabel{}
	for rows.Next() {
		var r label.RevokedLabel
		var at int64
		if err := rows.Scan(&r.ID, &at, &r.Reason); err != nil {
			rows.Close()
			return nil, nil, err
		}
		r.At = fromNanos(at)
		ls = append(ls, r)
	}
	rows.Close()
	rows, err = s.db.QueryContext(ctx, s.q(`SELECT sender, at, reason FROM label_sender_revocations WHERE at > ? ORDER BY at, sender`), nanos(now.Add(-keep)))
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	ss := []label.RevokedSender{}
	for rows.Next() {
		var r label.RevokedSender
		var at int64
		if err := rows.Scan(&r.Sender, &at, &r.Reason); err != nil {
			return nil, nil, err
		}
		r.At = fromNanos(at)
		ss = append(ss, r)
	}
	return ls, ss, rows.Err()
}

// IssuedLabels implements label.Store.
func (s *Store) IssuedLabels(ctx context.Context, sender string, limit int) ([]label.Issued, error) {
	if limit <= 0 {
		limit = 100
	}
	q := `SELECT id, sender, domain, body_hash, issued, expires, revoked_at, reason FROM labels`
	args := []any{}
	if sender != "" {
		q += ` WHERE sender = ?`
		args = append(args, sender)
	}
	q += ` ORDER BY issued DESC, id LIMIT ?`
	args = append(args, limit)
	rows, err := s.db.QueryContext(ctx, s.q(q), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []label.Issued{}
	for rows.Next() {
		var l label.Issued
		var issued, expires, revoked int64
		if err := rows.Scan(&l.ID, &l.Sender, &l.Domain, &l.BodyHash, &issued, &expires, &revoked, &l.Reason); err != nil {
			return nil, err
		}
		l.Issued, l.Expires, l.RevokedAt = fromNanos(issued), fromNanos(expires), optTime(revoked)
		out = append(out, l)
	}
	return out, rows.Err()
}

var _ label.Store = (*Store)(nil)
