package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/accord-antispam/accord/internal/lease"
)

// TakeLease implements lease.Store: one statement, so two instances
// asking at once cannot both get it (the row's lock on PostgreSQL, the
// write lock on SQLite).
func (s *Store) TakeLease(ctx context.Context, name, holder string, now time.Time, ttl time.Duration) (bool, error) {
	res, err := s.db.ExecContext(ctx, s.q(`INSERT INTO leases (name, holder, expires_at) VALUES (?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
		WHERE leases.holder = excluded.holder OR leases.expires_at < ?`), name, holder, nanos(now.Add(ttl)), nanos(now))
	if err != nil {
		return false, fmt.Errorf("take lease %s: %w", name, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("take lease %s: %w", name, err)
	}
	return n == 1, nil
}

// DropLease implements lease.Store.
func (s *Store) DropLease(ctx context.Context, name, holder string) error {
	if _, err := s.db.ExecContext(ctx, s.q(`DELETE FROM leases WHERE name = ? AND holder = ?`), name, holder); err != nil {
		return fmt.Errorf("drop lease %s: %w", name, err)
	}
	return nil
}

var _ lease.Store = (*Store)(nil)
