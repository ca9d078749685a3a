package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/accord-antispam/accord/internal/outbound"
)

// The outbound half of the store: the node's mail queue and the bounces
// linked to it.

const mailColumns = `id, kind, ref, to_addr, from_addr, message_id, raw, state, attempts, created_at, next_at, updated_at, last_error`

func scanMail(row interface{ Scan(...any) error }) (outbound.Item, error) {
	var it outbound.Item
	var kind, state string
	var created, next, updated int64
	err := row.Scan(&it.ID, &kind, &it.Ref, &it.To, &it.From, &it.MessageID, &it.Raw, &state, &it.Attempts, &created, &next, &updated, &it.LastError)
	it.Kind, it.State = outbound.Kind(kind), outbound.State(state)
	it.CreatedAt, it.NextAt, it.UpdatedAt = fromNanos(created), fromNanos(next), fromNanos(updated)
	return it, err
}

// EnqueueMail implements outbound.Store.
func (s *Store) EnqueueMail(ctx context.Context, it outbound.Item) error {
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO outbound_mail (`+mailColumns+`, lease_owner, lease_until, mailbox, to_domain, sender)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '', 0, ?, ?, ?)`),
		it.ID, string(it.Kind), it.Ref, it.To, it.From, it.MessageID, it.Raw, string(it.State), it.Attempts,
		nanos(it.CreatedAt), nanos(it.NextAt), nanos(it.UpdatedAt), it.LastError, it.Mailbox, it.Domain, it.Sender)
	if err != nil {
		return fmt.Errorf("queue mail %s: %w", it.ID, err)
	}
	return nil
}

// ClaimMail implements outbound.Store. The lease is taken by one UPDATE
// whose own WHERE repeats the conditions, so that two instances racing
// for the same rows on PostgreSQL cannot both win (the second re-checks
// the row after the first committed); SKIP LOCKED lets them take
// different rows instead of waiting.
func (s *Store) ClaimMail(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]outbound.Item, error) {
	token := owner + "/" + randomHex(8)
	n := nanos(now)
	if _, err := s.db.ExecContext(ctx, s.q(`UPDATE outbound_mail SET lease_owner = ?, lease_until = ?
		WHERE state = 'queued' AND next_at <= ? AND lease_until < ? AND id IN (
			SELECT id FROM outbound_mail WHERE state = 'queued' AND next_at <= ? AND lease_until < ? ORDER BY next_at LIMIT ?`+s.d.SkipLocked+`)`),
		token, nanos(now.Add(lease)), n, n, n, n, limit); err != nil {
		return nil, fmt.Errorf("lease mail: %w", err)
	}
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT `+mailColumns+` FROM outbound_mail WHERE lease_owner = ? AND state = 'queued' ORDER BY next_at`), token)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []outbound.Item
	for rows.Next() {
		it, err := scanMail(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, it)
	}
	return out, rows.Err()
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// FinishMail implements outbound.Store.
func (s *Store) FinishMail(ctx context.Context, id string, state outbound.State, attempts int, next time.Time, lastError string, at time.Time) error {
	var nextN int64
	if !next.IsZero() {
		nextN = nanos(next)
	}
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE outbound_mail SET state = ?, attempts = ?, next_at = ?, last_error = ?, updated_at = ?, lease_owner = '', lease_until = 0
		WHERE id = ? AND state = 'queued'`), string(state), attempts, nextN, lastError, nanos(at), id)
	if err != nil {
		return fmt.Errorf("record delivery of mail %s: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("record delivery of mail %s: %w", id, outbound.ErrNotFound)
	}
	if state != outbound.Queued {
		// Delivered or given up: the text (status and confirmation links
		// in clear) has no use left.
		if _, err := s.db.ExecContext(ctx, s.q(`UPDATE outbound_mail SET raw = ? WHERE id = ?`), []byte{}, id); err != nil {
			return fmt.Errorf("drop the text of mail %s: %w", id, err)
		}
	}
	return nil
}

// finishedMail selects mails no longer queued.
const finishedMail = `state IN ('sent', 'failed', 'bounced')`

// PurgeMail implements outbound.Store.
func (s *Store) PurgeMail(ctx context.Context, cutoff time.Time, limit int) (int, error) {
	if _, err := s.db.ExecContext(ctx, s.q(`UPDATE outbound_mail SET raw = ? WHERE `+finishedMail+` AND LENGTH(raw) > 0`), []byte{}); err != nil {
		return 0, fmt.Errorf("drop the text of finished mail: %w", err)
	}
	ids, err := s.ids(ctx, `SELECT id FROM outbound_mail WHERE `+finishedMail+` AND updated_at < ? ORDER BY updated_at LIMIT `+fmt.Sprint(limit), nanos(cutoff))
	if err != nil {
		return 0, fmt.Errorf("purge mail: %w", err)
	}
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		for _, id := range ids {
			if err := deleteMail(ctx, s, tx, `id = ?`, id); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, s.q(`DELETE FROM outbound_bounces WHERE received_at < ? AND NOT EXISTS (SELECT 1 FROM outbound_mail m WHERE m.id = outbound_bounces.mail_id)`), nanos(cutoff))
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("purge mail: %w", err)
	}
	return len(ids), nil
}

// deleteMail deletes the mails matching where (a condition on
// outbound_mail's columns, with args) and their bounces.
func deleteMail(ctx context.Context, s *Store, tx *sql.Tx, where string, args ...any) error {
	if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM outbound_bounces WHERE mail_id IN (SELECT id FROM outbound_mail WHERE `+where+`)`), args...); err != nil {
		return fmt.Errorf("delete bounces: %w", err)
	}
	if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM outbound_mail WHERE `+where), args...); err != nil {
		return fmt.Errorf("delete mail: %w", err)
	}
	return nil
}

// Mail implements outbound.Store.
func (s *Store) Mail(ctx context.Context, id string) (outbound.Item, error) {
	it, err := scanMail(s.db.QueryRowContext(ctx, s.q(`SELECT `+mailColumns+` FROM outbound_mail WHERE id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return it, outbound.ErrNotFound
	}
	return it, err
}

// MailsTo implements outbound.Store.
func (s *Store) MailsTo(ctx context.Context, to string, since time.Time) (int, error) {
	var n int
	// The mailbox and its subaddresses (local+tag@domain): one person's
	// mailbox under many spellings is one mailbox.
	sub := ""
	if at := strings.LastIndexByte(to, '@'); at > 0 {
		esc := strings.NewReplacer("!", "!!", "%", "!%", "_", "!_")
		sub = esc.Replace(to[:at]) + "+%@" + esc.Replace(to[at+1:])
	}
	err := s.db.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM outbound_mail WHERE (to_addr = ? OR to_addr LIKE ? ESCAPE '!') AND created_at >= ?`),
		to, sub, nanos(since)).Scan(&n)
	return n, err
}

// CancelMails implements outbound.Store.
func (s *Store) CancelMails(ctx context.Context, kind outbound.Kind, sender, reason string, at time.Time) (int, error) {
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE outbound_mail SET state = 'failed', raw = ?, last_error = ?, updated_at = ?, lease_owner = '', lease_until = 0
		WHERE state = 'queued' AND kind = ? AND sender = ?`), []byte{}, reason, nanos(at), string(kind), sender)
	if err != nil {
		return 0, fmt.Errorf("cancel mails: %w", err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// ExpireMails implements outbound.Store.
func (s *Store) ExpireMails(ctx context.Context, queuedBefore time.Time, reason string, at time.Time) (int, error) {
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE outbound_mail SET state = 'failed', raw = ?, last_error = ?, updated_at = ?
		WHERE state = 'queued' AND created_at < ? AND lease_until < ?`), []byte{}, reason, nanos(at), nanos(queuedBefore), nanos(at))
	if err != nil {
		return 0, fmt.Errorf("expire mails: %w", err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// CountMails implements outbound.Store.
func (s *Store) CountMails(ctx context.Context, c outbound.MailCount) (int, error) {
	col, v := "mailbox", c.Mailbox
	if v == "" {
		col, v = "to_domain", c.Domain
	}
	if v == "" {
		return 0, errors.New("count mails: a mailbox or a domain is required")
	}
	q, args := `SELECT COUNT(*) FROM outbound_mail WHERE kind = ? AND `+col+` = ? AND created_at >= ?`, []any{string(c.Kind), v, nanos(c.Since)}
	if c.Sender != "" {
		q, args = q+` AND sender = ?`, append(args, c.Sender)
	}
	var n int
	err := s.db.QueryRowContext(ctx, s.q(q), args...).Scan(&n)
	return n, err
}

// MailQueue implements outbound.Store.
func (s *Store) MailQueue(ctx context.Context) (map[outbound.State]int, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT state, COUNT(*) FROM outbound_mail GROUP BY state`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[outbound.State]int{}
	for rows.Next() {
		var st string
		var n int
		if err := rows.Scan(&st, &n); err != nil {
			return nil, err
		}
		out[outbound.State(st)] = n
	}
	return out, rows.Err()
}

// Mails implements outbound.Store.
func (s *Store) Mails(ctx context.Context, f outbound.MailFilter) ([]outbound.Item, error) {
	q := `SELECT id, kind, ref, to_addr, from_addr, message_id, '', state, attempts, created_at, next_at, updated_at, last_error FROM outbound_mail WHERE 1 = 1`
	var args []any
	if f.State != "" {
		q += ` AND state = ?`
		args = append(args, string(f.State))
	}
	if f.Kind != "" {
		q += ` AND kind = ?`
		args = append(args, string(f.Kind))
	}
	if f.Limit <= 0 {
		f.Limit = 100
	}
	q += ` ORDER BY created_at DESC, id LIMIT ?`
	args = append(args, f.Limit)
	rows, err := s.db.QueryContext(ctx, s.q(q), args...)
	if err != nil {
		return nil, fmt.Errorf("list mail: %w", err)
	}
	defer rows.Close()
	var out []outbound.Item
	for rows.Next() {
		it, err := scanMail(rows)
		if err != nil {
			return nil, err
		}
		it.Raw = nil
		out = append(out, it)
	}
	return out, rows.Err()
}

// RecordBounce implements outbound.Store.
func (s *Store) RecordBounce(ctx context.Context, b outbound.Bounce) (bool, error) {
	dup := false
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM outbound_bounces WHERE mail_id = ? AND sha256 = ?`), b.MailID, b.SHA256).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			dup = true
			return nil
		}
		if b.ID == "" {
			b.ID = randomHex(10)
		}
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO outbound_bounces (id, mail_id, kind, action, status, recipient, diagnostic, reporting_mta, from_field, subject, sha256, received_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (mail_id, sha256) DO NOTHING`),
			b.ID, b.MailID, b.Kind, b.Action, b.Status, b.Recipient, b.Diagnostic, b.ReportingMTA, b.From, b.Subject, b.SHA256, nanos(b.ReceivedAt)); err != nil {
			return fmt.Errorf("record bounce: %w", err)
		}
		if b.MailID != "" && b.Failure() {
			msg := "bounced"
			if b.Status != "" {
				msg += " " + b.Status
			}
			if b.Diagnostic != "" {
				msg += ": " + b.Diagnostic
			}
			if _, err := tx.ExecContext(ctx, s.q(`UPDATE outbound_mail SET state = 'bounced', last_error = ?, updated_at = ? WHERE id = ? AND state IN ('sent', 'queued')`),
				msg, nanos(b.ReceivedAt), b.MailID); err != nil {
				return fmt.Errorf("mark mail %s bounced: %w", b.MailID, err)
			}
		}
		return nil
	})
	return dup, err
}

// Bounces implements outbound.Store.
func (s *Store) Bounces(ctx context.Context, mailID string) ([]outbound.Bounce, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT id, mail_id, kind, action, status, recipient, diagnostic, reporting_mta, from_field, subject, sha256, received_at
		FROM outbound_bounces WHERE mail_id = ? ORDER BY received_at, id`), mailID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []outbound.Bounce
	for rows.Next() {
		var b outbound.Bounce
		var at int64
		if err := rows.Scan(&b.ID, &b.MailID, &b.Kind, &b.Action, &b.Status, &b.Recipient, &b.Diagnostic, &b.ReportingMTA, &b.From, &b.Subject, &b.SHA256, &at); err != nil {
			return nil, err
		}
		b.ReceivedAt = fromNanos(at)
		out = append(out, b)
	}
	return out, rows.Err()
}
