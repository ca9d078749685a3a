package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/accord-antispam/accord/internal/access"
	"github.com/accord-antispam/accord/internal/intake"
)

// The administration of tokens and accounts, and the audit log.

// Tokens implements access.Accounts.
func (s *Store) Tokens(ctx context.Context) ([]access.Token, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+tokenColumns+` FROM tokens ORDER BY created_at, id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []access.Token
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, err
		}
		t.Hash = "" // never leaves the store through a listing
		out = append(out, t)
	}
	return out, rows.Err()
}

// RevokeToken implements access.Accounts.
func (s *Store) RevokeToken(ctx context.Context, id string, at time.Time) error {
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at = 0`), nanos(at), id)
	if err != nil {
		return fmt.Errorf("revoke token %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("token %s (or already revoked): %w", id, access.ErrNotFound)
	}
	return nil
}

// TokenUsed implements access.Accounts.
func (s *Store) TokenUsed(ctx context.Context, id string, at time.Time) error {
	_, err := s.db.ExecContext(ctx, s.q(`UPDATE tokens SET last_used_at = ? WHERE id = ?`), nanos(at), id)
	return err
}

// Users implements access.Accounts.
func (s *Store) Users(ctx context.Context) ([]access.User, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT name, password_hash, role, created_at, disabled_at FROM users ORDER BY name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []access.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, err
		}
		u.PasswordHash = ""
		out = append(out, u)
	}
	return out, rows.Err()
}

func (s *Store) userChange(ctx context.Context, name, query string, args ...any) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(query), args...)
		if err != nil {
			return fmt.Errorf("user %s: %w", name, err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("user %s: %w", name, access.ErrNotFound)
		}
		_, err = tx.ExecContext(ctx, s.q(`DELETE FROM sessions WHERE user_name = ?`), name)
		return err
	})
}

// SetPassword implements access.Accounts.
func (s *Store) SetPassword(ctx context.Context, name, hash string) error {
	return s.userChange(ctx, name, `UPDATE users SET password_hash = ? WHERE name = ?`, hash, name)
}

// DisableUser implements access.Accounts.
func (s *Store) DisableUser(ctx context.Context, name string, at time.Time) error {
	var n int64
	if !at.IsZero() {
		n = nanos(at)
	}
	return s.userChange(ctx, name, `UPDATE users SET disabled_at = ? WHERE name = ?`, n, name)
}

// RemoveUser implements access.Accounts.
func (s *Store) RemoveUser(ctx context.Context, name string) error {
	return s.userChange(ctx, name, `DELETE FROM users WHERE name = ?`, name)
}

// AppendAudit implements access.Auditor.
func (s *Store) AppendAudit(ctx context.Context, e access.Event) error {
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO audit_log (at, actor, action, target, ip, detail) VALUES (?, ?, ?, ?, ?, ?)`),
		nanos(e.At), e.Actor, e.Action, e.Target, e.IP, e.Detail)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	return nil
}

// AuditHead is the sequence number of the newest audit event (0: none).
func (s *Store) AuditHead(ctx context.Context) (int64, error) {
	var n int64
	err := s.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) FROM audit_log`).Scan(&n)
	return n, err
}

// AuditLog implements access.Auditor.
func (s *Store) AuditLog(ctx context.Context, after int64, limit int) ([]access.Event, error) {
	limit, err := limitOf(limit, access.MaxAuditLimit, access.MaxAuditLimit, access.ErrLimit)
	if err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT seq, at, actor, action, target, ip, detail FROM audit_log WHERE seq > ? ORDER BY seq LIMIT ?`), after, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []access.Event
	for rows.Next() {
		var e access.Event
		var at int64
		if err := rows.Scan(&e.Seq, &at, &e.Actor, &e.Action, &e.Target, &e.IP, &e.Detail); err != nil {
			return nil, err
		}
		e.At = fromNanos(at)
		out = append(out, e)
	}
	return out, rows.Err()
}

// VerifyCustodyLog replays the desk's whole custody log in order: every
// entry's hash, every link to the entry before it, no gap and no second
// entry at a sequence number (a fork), and the head at the last entry. It
// reads in pages, so a large log costs little memory.
func (s *Store) VerifyCustodyLog(ctx context.Context) (entries int64, problems []string, err error) {
	var headSeq int64
	var headHash string
	if err := s.db.QueryRowContext(ctx, `SELECT seq, hash FROM custody_head WHERE id = 1`).Scan(&headSeq, &headHash); err != nil {
		return 0, nil, fmt.Errorf("custody head: %w", err)
	}
	prev, last := "", int64(0)
	for {
		rows, err := s.db.QueryContext(ctx, s.q(`SELECT seq, report_id, at, actor, action, detail, prev_hash, hash FROM custody WHERE seq > ? ORDER BY seq LIMIT 5000`), last)
		if err != nil {
			return entries, problems, err
		}
		n := 0
		for rows.Next() {
			var e intake.CustodyEntry
			var at int64
			if err := rows.Scan(&e.Seq, &e.ReportID, &at, &e.Actor, &e.Action, &e.Detail, &e.PrevHash, &e.Hash); err != nil {
				rows.Close()
				return entries, problems, err
			}
			e.At = fromNanos(at)
			n++
			entries++
			switch {
			case e.Seq != last+1:
				problems = append(problems, fmt.Sprintf("custody entry %d follows %d: a gap", e.Seq, last))
			case e.PrevHash != prev:
				problems = append(problems, fmt.Sprintf("custody entry %d does not link to entry %d (a fork or an edit)", e.Seq, last))
			}
			if intake.ChainHash(e.PrevHash, e) != e.Hash {
				problems = append(problems, fmt.Sprintf("custody entry %d (%s) does not match its hash", e.Seq, e.Action))
			}
			prev, last = e.Hash, e.Seq
			if len(problems) > 100 {
				rows.Close()
				return entries, problems, nil
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return entries, problems, err
		}
		if n == 0 {
			break
		}
	}
	if last != headSeq || prev != headHash {
		problems = append(problems, fmt.Sprintf("the custody head (%d) is not the last entry (%d)", headSeq, last))
	}
	return entries, problems, nil
}
