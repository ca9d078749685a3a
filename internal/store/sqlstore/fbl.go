package sqlstore

import (
	"context"

	"github.com/accord-antispam/accord/internal/fbl"
)

// The feedback loop's cursor over the custody log.

// ReceivedAfter implements fbl.Store.
func (s *Store) ReceivedAfter(ctx context.Context, seq int64, limit int) ([]fbl.Received, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT seq, report_id FROM custody WHERE seq > ? AND action = 'received' ORDER BY seq LIMIT ?`), seq, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []fbl.Received
	for rows.Next() {
		var r fbl.Received
		if err := rows.Scan(&r.Seq, &r.ReportID); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// CustodySeq implements fbl.Store.
func (s *Store) CustodySeq(ctx context.Context) (int64, error) {
	var n int64
	err := s.db.QueryRowContext(ctx, `SELECT seq FROM custody_head WHERE id = 1`).Scan(&n)
	return n, err
}

// FeedbackCursor implements fbl.Store.
func (s *Store) FeedbackCursor(ctx context.Context) (int64, bool, error) {
	var n int64
	err := s.db.QueryRowContext(ctx, `SELECT seq FROM feedback_cursor WHERE id = 1`).Scan(&n)
	if isNoRows(err) {
		return 0, false, nil
	}
	return n, err == nil, err
}

// SetFeedbackCursor implements fbl.Store.
func (s *Store) SetFeedbackCursor(ctx context.Context, seq int64) error {
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO feedback_cursor (id, seq) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET seq = excluded.seq`), seq)
	return err
}

// FeedbackState implements fbl.Store.
func (s *Store) FeedbackState(ctx context.Context) (int64, bool, error) {
	var head int64
	var senders bool
	err := s.db.QueryRowContext(ctx, `SELECT (SELECT seq FROM custody_head WHERE id = 1), EXISTS (SELECT 1 FROM consent_senders)`).Scan(&head, &senders)
	return head, senders, err
}

var _ fbl.Store = (*Store)(nil)
