package storetest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/accord-antispam/accord/internal/access"
	"github.com/accord-antispam/accord/internal/consent"
	"github.com/accord-antispam/accord/internal/filter"
	"github.com/accord-antispam/accord/internal/intake"
	"github.com/accord-antispam/accord/internal/stats"
)

// noSilentCaps: a list asked for more rows than its maximum is an error,
// never a silently shorter list, and a list with no limit of its own
// (overdue opt-outs) returns every row.
func noSilentCaps(t *testing.T, s Store) {
	ctx := context.Background()
	for name, err := range map[string]error{
		"audit log": func() error { _, err := s.AuditLog(ctx, 0, access.MaxAuditLimit+1); return err }(),
		"quarantine": func() error {
			_, err := s.HeldMessages(ctx, filter.HeldFilter{Limit: filter.MaxHeldLimit + 1})
			return err
		}(),
		"filter audit": func() error { _, err := s.FilterAuditLog(ctx, "", filter.MaxAuditLimit+1); return err }(),
		"breakdown": func() error {
			_, err := s.Breakdown(ctx, intake.Browse{}, stats.Country, stats.MaxCells+1)
			return err
		}(),
	} {
		if err == nil || !errors.Is(err, access.ErrLimit) && !errors.Is(err, filter.ErrLimit) && !errors.Is(err, stats.ErrLimit) {
			t.Errorf("%s over its maximum: %v, want a limit error", name, err)
		}
	}
	for name, err := range map[string]error{
		"audit log":    func() error { _, err := s.AuditLog(ctx, 0, access.MaxAuditLimit); return err }(),
		"quarantine":   func() error { _, err := s.HeldMessages(ctx, filter.HeldFilter{Limit: filter.MaxHeldLimit}); return err }(),
		"filter audit": func() error { _, err := s.FilterAuditLog(ctx, "", filter.MaxAuditLimit); return err }(),
		"breakdown":    func() error { _, err := s.Breakdown(ctx, intake.Browse{}, stats.Country, stats.MaxCells); return err }(),
	} {
		if err != nil {
			t.Errorf("%s at its maximum: %v", name, err)
		}
	}

	// More overdue opt-outs than any page: all of them come back. (Rows
	// written in one statement: the suite stays fast on both databases.)
	db, ok := s.(interface{ DB() *sql.DB })
	if !ok {
		t.Fatal("the store does not expose its database")
	}
	const n = 10050
	if _, err := db.DB().ExecContext(ctx, fmt.Sprintf(`INSERT INTO consent_suppressions
		(sender, recipient, list, seq, reason, requested_at, deadline, jurisdiction, synced_at, lifted, lifted_at, changed_at)
		WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < %d)
		SELECT 'bulk.example', 'r' || CAST(i AS TEXT), '', i, '%s', 1, 2, 'EU', 0, 0, 0, 1 FROM k`, n, consent.ViaWithdrawal)); err != nil {
		t.Fatal(err)
	}
	od, err := s.Overdue(ctx, "bulk.example", time.Unix(1800000000, 0))
	if err != nil || len(od) != n {
		t.Fatalf("overdue opt-outs: %d of %d (%v)", len(od), n, err)
	}
}
