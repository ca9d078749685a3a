package sqlstore

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/accord-antispam/accord/internal/access"
	"github.com/accord-antispam/accord/internal/campaign"
	"github.com/accord-antispam/accord/internal/filter"
)

// The filter half of the store: policies, the quarantine, the audit log of
// confidential reads, learned features and shared model snapshots.

// PutPolicy implements filter.Store.
func (s *Store) PutPolicy(ctx context.Context, p filter.Policy) error {
	body, err := json.Marshal(p)
	if err != nil {
		return err
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM filter_policies WHERE kind = ? AND scope_key = ?`), p.Kind, p.Key); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, s.q(`INSERT INTO filter_policies (kind, scope_key, body, updated_at, updated_by) VALUES (?, ?, ?, ?, ?)`),
			p.Kind, p.Key, string(body), nanos(p.UpdatedAt), p.UpdatedBy)
		return err
	})
}

func scanPolicy(kind, key, body string) (filter.Policy, error) {
	var p filter.Policy
	if err := json.Unmarshal([]byte(body), &p); err != nil {
		return p, fmt.Errorf("policy %s %s: %w", kind, key, err)
	}
	p.Kind, p.Key = kind, key
	return p, nil
}

// Policy implements filter.Store.
func (s *Store) Policy(ctx context.Context, kind, key string) (filter.Policy, error) {
	var body string
	err := s.db.QueryRowContext(ctx, s.q(`SELECT body FROM filter_policies WHERE kind = ? AND scope_key = ?`), kind, key).Scan(&body)
	if isNoRows(err) {
		return filter.Policy{}, filter.ErrNotFound
	}
	if err != nil {
		return filter.Policy{}, err
	}
	return scanPolicy(kind, key, body)
}

// Policies implements filter.Store.
func (s *Store) Policies(ctx context.Context) ([]filter.Policy, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT kind, scope_key, body FROM filter_policies ORDER BY kind, scope_key`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []filter.Policy
	for rows.Next() {
		var kind, key, body string
		if err := rows.Scan(&kind, &key, &body); err != nil {
			return nil, err
		}
		p, err := scanPolicy(kind, key, body)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// DeletePolicy implements filter.Store.
func (s *Store) DeletePolicy(ctx context.Context, kind, key string) error {
	res, err := s.db.ExecContext(ctx, s.q(`DELETE FROM filter_policies WHERE kind = ? AND scope_key = ?`), kind, key)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return filter.ErrNotFound
	}
	return nil
}

// Hold implements filter.Store: the bytes go once into filter_held_raw
// (by their SHA-256), the recipient's row points at them.
func (s *Store) Hold(ctx context.Context, h filter.Held) error {
	syms, err := json.Marshal(h.Symbols)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(h.Raw)
	key := hex.EncodeToString(sum[:])
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO filter_held_raw (sha256, raw, size) VALUES (?, ?, ?) ON CONFLICT (sha256) DO NOTHING`),
			key, h.Raw, len(h.Raw)); err != nil {
			return fmt.Errorf("hold %s: bytes: %w", h.ID, err)
		}
		_, err = tx.ExecContext(ctx, s.q(`INSERT INTO filter_held (id, recipient, mail_from, from_addr, subject, received_at, expires_at, score,
		symbols, reference, size, raw, state, acted_at, acted_by, raw_sha256, client_ip, client_helo, client_name, client_no_rdns) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, '', ?, ?, ?, ?, ?)`),
			h.ID, h.Recipient, h.MailFrom, h.From, h.Subject, nanos(h.ReceivedAt), nanos(h.ExpiresAt), h.Score, string(syms),
			h.Reference, len(h.Raw), []byte{}, h.State, key, h.Session.IP, h.Session.Helo, h.Session.Name, boolInt(h.Session.NoRDNS))
		if err != nil {
			return fmt.Errorf("hold %s: %w", h.ID, err)
		}
		return nil
	})
}

// HeldUsage implements filter.Store.
func (s *Store) HeldUsage(ctx context.Context, recipient string) (n int, size, total int64, err error) {
	err = s.db.QueryRowContext(ctx, s.q(`SELECT COUNT(*), COALESCE(SUM(size), 0) FROM filter_held WHERE recipient = ? AND state IN ('held', 'releasing', 'queued')`),
		recipient).Scan(&n, &size)
	if err != nil {
		return 0, 0, 0, err
	}
	var old int64
	if err = s.db.QueryRowContext(ctx, `SELECT COALESCE(SUM(size), 0) FROM filter_held_raw`).Scan(&total); err != nil {
		return 0, 0, 0, err
	}
	if err = s.db.QueryRowContext(ctx, `SELECT COALESCE(SUM(size), 0) FROM filter_held WHERE raw_sha256 = ''`).Scan(&old); err != nil {
		return 0, 0, 0, err
	}
	return n, size, total + old, nil
}

const heldCols = `id, recipient, mail_from, from_addr, subject, received_at, expires_at, score, symbols, reference, size, state, acted_at, acted_by, client_ip, client_helo, client_name, client_no_rdns`

func scanHeld(sc interface{ Scan(...any) error }, extra ...any) (filter.Held, error) {
	var h filter.Held
	var recv, exp, acted, noRDNS int64
	var syms string
	dest := []any{&h.ID, &h.Recipient, &h.MailFrom, &h.From, &h.Subject, &recv, &exp, &h.Score, &syms, &h.Reference, &h.Size, &h.State, &acted, &h.ActedBy,
		&h.Session.IP, &h.Session.Helo, &h.Session.Name, &noRDNS}
	dest = append(dest, extra...)
	if err := sc.Scan(dest...); err != nil {
		return h, err
	}
	h.ReceivedAt, h.ExpiresAt, h.ActedAt = fromNanos(recv), fromNanos(exp), optTime(acted)
	h.Session.NoRDNS = noRDNS != 0
	if err := json.Unmarshal([]byte(syms), &h.Symbols); err != nil {
		return h, fmt.Errorf("held %s: symbols: %w", h.ID, err)
	}
	return h, nil
}

// HeldMessage implements filter.Store.
func (s *Store) HeldMessage(ctx context.Context, id string) (filter.Held, error) {
	var raw []byte
	var key string
	h, err := scanHeld(s.db.QueryRowContext(ctx, s.q(`SELECT `+heldCols+`, raw, raw_sha256 FROM filter_held WHERE id = ?`), id), &raw, &key)
	if isNoRows(err) {
		return filter.Held{}, filter.ErrNotFound
	}
	if err == nil && key != "" && key != erasedRaw {
		err = s.db.QueryRowContext(ctx, s.q(`SELECT raw FROM filter_held_raw WHERE sha256 = ?`), key).Scan(&raw)
		if isNoRows(err) {
			err = fmt.Errorf("held %s: its bytes are missing", id)
		}
	}
	h.Raw = raw
	return h, err
}

// HeldMessages implements filter.Store.
func (s *Store) HeldMessages(ctx context.Context, f filter.HeldFilter) ([]filter.Held, error) {
	q := `SELECT ` + heldCols + ` FROM filter_held WHERE 1 = 1`
	var args []any
	if f.Recipient != "" {
		q += ` AND recipient = ?`
		args = append(args, f.Recipient)
	}
	if f.State != "" {
		q += ` AND state = ?`
		args = append(args, f.State)
	}
	limit, err := limitOf(f.Limit, 1000, filter.MaxHeldLimit, filter.ErrLimit)
	if err != nil {
		return nil, err
	}
	q += ` ORDER BY received_at DESC, id LIMIT ` + strconv.Itoa(limit)
	rows, err := s.db.QueryContext(ctx, s.q(q), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []filter.Held
	for rows.Next() {
		h, err := scanHeld(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, rows.Err()
}

// SetHeldState implements filter.Store: a conditional update, so that two
// releases of one message never both proceed.
func (s *Store) SetHeldState(ctx context.Context, id, from, to, by string, at time.Time) error {
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE filter_held SET state = ?, acted_at = ?, acted_by = ? WHERE id = ? AND state = ?`),
		to, nanos(at), by, id, from)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return filter.ErrNotFound
	}
	return nil
}

// PurgeHeld implements filter.Store.
func (s *Store) PurgeHeld(ctx context.Context, t time.Time) (int, error) {
	res, err := s.db.ExecContext(ctx, s.q(`DELETE FROM filter_held WHERE expires_at <= ? OR (state IN ('released', 'deleted') AND acted_at < ?)`),
		nanos(t), nanos(t))
	if err != nil {
		return 0, err
	}
	n, _ := res.RowsAffected()
	// Bytes no row points at any more.
	if _, err := s.db.ExecContext(ctx, `DELETE FROM filter_held_raw WHERE NOT EXISTS (SELECT 1 FROM filter_held h WHERE h.raw_sha256 = filter_held_raw.sha256)`); err != nil {
		return int(n), err
	}
	return int(n), nil
}

// erasedRaw is the raw_sha256 of a row whose bytes were erased ("" is a
// row from before the bytes were shared, which keeps them in its raw).
const erasedRaw = "erased"

// DropHeldBytes implements filter.Store: the row no longer points at its
// bytes, and the bytes go when no other row does.
func (s *Store) DropHeldBytes(ctx context.Context, id string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		var key string
		err := tx.QueryRowContext(ctx, s.q(`SELECT raw_sha256 FROM filter_held WHERE id = ?`+s.d.ForUpdate), id).Scan(&key)
		if isNoRows(err) {
			return filter.ErrNotFound
		}
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE filter_held SET raw_sha256 = ?, raw = ? WHERE id = ?`), erasedRaw, []byte{}, id); err != nil {
			return fmt.Errorf("drop the bytes of %s: %w", id, err)
		}
		if key == "" || key == erasedRaw {
			return nil
		}
		_, err = tx.ExecContext(ctx, s.q(`DELETE FROM filter_held_raw WHERE sha256 = ? AND NOT EXISTS (SELECT 1 FROM filter_held h WHERE h.raw_sha256 = ?)`), key, key)
		return err
	})
}

// AnnounceHeld implements filter.Store: each candidate is marked by a
// conditional update (announced_at still 0), so of two instances claiming
// at once each message goes to one — on PostgreSQL the second update waits
// for the first's commit and then finds the mark set.
func (s *Store) AnnounceHeld(ctx context.Context, at time.Time, limit int) ([]filter.Held, error) {
	limit, err := limitOf(limit, 1000, filter.MaxHeldLimit, filter.ErrLimit)
	if err != nil {
		return nil, err
	}
	var out []filter.Held
	err = s.tx(ctx, func(tx *sql.Tx) error {
		out = nil
		rows, err := tx.QueryContext(ctx, s.q(`SELECT `+heldCols+` FROM filter_held WHERE announced_at = 0 AND state = ?
			ORDER BY received_at, id LIMIT `+strconv.Itoa(limit)), filter.StateHeld)
		if err != nil {
			return err
		}
		var cand []filter.Held
		for rows.Next() {
			h, err := scanHeld(rows)
			if err != nil {
				rows.Close()
				return err
			}
			cand = append(cand, h)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, h := range cand {
			res, err := tx.ExecContext(ctx, s.q(`UPDATE filter_held SET announced_at = ? WHERE id = ? AND announced_at = 0 AND state = ?`),
				nanos(at), h.ID, filter.StateHeld)
			if err != nil {
				return fmt.Errorf("announce %s: %w", h.ID, err)
			}
			if n, _ := res.RowsAffected(); n == 1 {
				out = append(out, h)
			}
		}
		return nil
	})
	return out, err
}

// UnannounceHeld implements filter.Store.
func (s *Store) UnannounceHeld(ctx context.Context, ids []string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		for _, id := range ids {
			if _, err := tx.ExecContext(ctx, s.q(`UPDATE filter_held SET announced_at = 0 WHERE id = ?`), id); err != nil {
				return fmt.Errorf("unannounce %s: %w", id, err)
			}
		}
		return nil
	})
}

// FilterAudit implements filter.Store: the filter's entries go to the
// node's one audit log (access.Event); their actions start "quarantine."
// or "policy.".
func (s *Store) FilterAudit(ctx context.Context, e filter.AuditEntry) error {
	return s.AppendAudit(ctx, access.Event{At: e.At, Actor: e.Actor, Action: e.Action, Target: e.Target, Detail: e.Detail})
}

// FilterAuditLog implements filter.Store: the newest entries about a
// target ("" for all the filter's).
func (s *Store) FilterAuditLog(ctx context.Context, target string, limit int) ([]filter.AuditEntry, error) {
	limit, err := limitOf(limit, 1000, filter.MaxAuditLimit, filter.ErrLimit)
	if err != nil {
		return nil, err
	}
	q := `SELECT at, actor, action, target, detail FROM audit_log WHERE (action LIKE 'quarantine.%' OR action LIKE 'policy.%')`
	var args []any
	if target != "" {
		q += ` AND target = ?`
		args = append(args, target)
	}
	q += ` ORDER BY seq DESC LIMIT ` + strconv.Itoa(limit)
	rows, err := s.db.QueryContext(ctx, s.q(q), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []filter.AuditEntry
	for rows.Next() {
		var e filter.AuditEntry
		var at int64
		if err := rows.Scan(&at, &e.Actor, &e.Action, &e.Target, &e.Detail); err != nil {
			return nil, err
		}
		e.At = fromNanos(at)
		out = append(out, e)
	}
	return out, rows.Err()
}

// AddLearned implements filter.Store.
func (s *Store) AddLearned(ctx context.Context, l filter.Learned) (int64, error) {
	spam := 0
	if l.Spam {
		spam = 1
	}
	var seq int64
	err := s.db.QueryRowContext(ctx, s.q(`INSERT INTO filter_learned (digest, spam, at, source, model_id, sample) VALUES (?, ?, ?, ?, ?, ?) RETURNING seq`),
		strconv.FormatUint(l.Digest, 16), spam, nanos(l.At), l.Source, l.ModelID, l.Sample).Scan(&seq)
	return seq, err
}

// LearnedSince implements filter.Store.
func (s *Store) LearnedSince(ctx context.Context, seq int64, modelID string) ([]filter.Learned, int64, error) {
	top := seq
	if err := s.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(seq), 0) FROM filter_learned`).Scan(&top); err != nil {
		return nil, 0, err
	}
	if top < seq {
		top = seq
	}
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT seq, digest, spam, at, source, model_id, sample FROM filter_learned
		WHERE seq > ? AND seq <= ? AND model_id = ? AND sample IS NOT NULL ORDER BY seq`), seq, top, modelID)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	var out []filter.Learned
	for rows.Next() {
		var l filter.Learned
		var n, at, spam int64
		var dg string
		if err := rows.Scan(&n, &dg, &spam, &at, &l.Source, &l.ModelID, &l.Sample); err != nil {
			return nil, 0, err
		}
		l.Digest, _ = strconv.ParseUint(dg, 16, 64)
		l.Spam, l.At = spam == 1, fromNanos(at)
		out = append(out, l)
	}
	return out, top, rows.Err()
}

// PurgeLearned implements filter.Store: the features go, the sequence
// numbers stay (so instances never mistake an old number for a new one).
func (s *Store) PurgeLearned(ctx context.Context, before time.Time) (int, error) {
	res, err := s.db.ExecContext(ctx, s.q(`UPDATE filter_learned SET sample = NULL WHERE at < ? AND sample IS NOT NULL`), nanos(before))
	if err != nil {
		return 0, err
	}
	n, _ := res.RowsAffected()
	return int(n), nil
}

// PutSnapshot implements filter.Store; only the newest two are kept. Two
// instances saving the same version at once save the same model: the
// second insert does nothing.
func (s *Store) PutSnapshot(ctx context.Context, sn filter.Snapshot) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO filter_snapshots (version, at, model) VALUES (?, ?, ?) ON CONFLICT (version) DO NOTHING`),
			sn.Version, nanos(sn.At), sn.Model); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM filter_snapshots WHERE version < (SELECT MIN(version) FROM (SELECT version FROM filter_snapshots ORDER BY version DESC LIMIT 2) AS newest)`)
		return err
	})
}

// LatestSnapshot implements filter.Store.
func (s *Store) LatestSnapshot(ctx context.Context) (filter.Snapshot, error) {
	var sn filter.Snapshot
	var at int64
	err := s.db.QueryRowContext(ctx, `SELECT version, at, model FROM filter_snapshots ORDER BY version DESC LIMIT 1`).Scan(&sn.Version, &at, &sn.Model)
	if isNoRows(err) {
		return sn, filter.ErrNotFound
	}
	sn.At = fromNanos(at)
	return sn, err
}

// ConfirmedCampaigns implements filter.CampaignSource: the campaigns an
// analyst took up — a case in triage, investigating or referred — with
// reports from at least minReports distinct reporters, with their founding
// signature and that count. A campaign nobody opened (new) is only the
// grouping of what came in, which anyone can make by forwarding a message
// three times; a closed case is left out, since closing records a free-text
// decision that may as well be "not spam" and the desk stopped working it
// (reopened, it counts again). Reporters are told apart by their
// pseudonymous id; reports without one (web and API submissions, erased
// reporters) count once per submitter, so one client's repeated forwards
// are one reporter.
func (s *Store) ConfirmedCampaigns(ctx context.Context, minReports int) ([]filter.Campaign, error) {
	const reporter = `COUNT(DISTINCT CASE WHEN r.reporter_id <> '' THEN 'id:' || r.reporter_id ELSE 'by:' || r.submitted_by END)`
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT c.id, c.signature, `+reporter+` FROM campaigns c
		JOIN cases k ON k.campaign_id = c.id AND k.status IN ('triage', 'investigating', 'referred')
		JOIN reports r ON r.campaign_id = c.id
		GROUP BY c.id, c.signature HAVING `+reporter+` >= ? ORDER BY c.id`), minReports)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []filter.Campaign
	for rows.Next() {
		var c filter.Campaign
		var sig string
		if err := rows.Scan(&c.ID, &sig, &c.Reports); err != nil {
			return nil, err
		}
		var sg campaign.Signature
		if err := json.Unmarshal([]byte(sig), &sg); err != nil {
			continue
		}
		c.Signature = sg
		out = append(out, c)
	}
	return out, rows.Err()
}
