package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/accord-antispam/accord/internal/intake"
)

// idempotencyCols are the idempotency table's columns, as idempotencyRow
// fills them (migration 31).
const idempotencyCols = "lookup, request, complaint_id, sealed, created_at"

func idempotencyRow(i *intake.Idempotency) []any {
	return []any{i.Lookup, i.Request, i.ComplaintID, i.Sealed, nanos(i.CreatedAt)}
}

// Idempotent implements intake.Store.
func (s *Store) Idempotent(ctx context.Context, lookup string) (*intake.Idempotency, error) {
	i := &intake.Idempotency{Lookup: lookup, Campaigns: map[string]string{}}
	var at int64
	err := s.db.QueryRowContext(ctx, s.q(`SELECT request, complaint_id, sealed, created_at FROM idempotency WHERE lookup = ?`), lookup).
		Scan(&i.Request, &i.ComplaintID, &i.Sealed, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, intake.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("read idempotency key: %w", err)
	}
	i.CreatedAt = fromNanos(at)
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT id, campaign_id FROM reports WHERE complaint_id = ?`), i.ComplaintID)
	if err != nil {
		return nil, fmt.Errorf("read the campaigns of complaint %s: %w", i.ComplaintID, err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, c string
		if err := rows.Scan(&id, &c); err != nil {
			return nil, err
		}
		i.Campaigns[id] = c
	}
	return i, rows.Err()
}
