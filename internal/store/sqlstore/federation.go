package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/accord-antispam/accord/internal/analysis"
	"github.com/accord-antispam/accord/internal/federation"
	"github.com/accord-antispam/accord/internal/intake"
)

// The federation half of the store: peers, agreements, links, custody
// logs and assistance requests.

func (s *Store) tx(ctx context.Context, f func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := f(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// AddPeer implements federation.Store.
func (s *Store) AddPeer(ctx context.Context, p federation.Peer) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM fed_peers WHERE name = ?`), p.Name).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("peer %s already exists", p.Name)
		}
		if p.Collection == "" {
			p.Collection = federation.NewUUID()
		}
		ver, raw := 0, ""
		if p.Agreement != nil {
			ver, raw = p.Agreement.Version, p.Agreement.Raw
		}
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO fed_peers (name, url, jurisdiction, status, added, agreement_version, agreement, collection) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
			p.Name, p.URL, p.Jurisdiction, string(p.Status), nanos(p.Added), ver, raw, p.Collection); err != nil {
			return fmt.Errorf("add peer %s: %w", p.Name, err)
		}
		for _, k := range p.Keys {
			if err := s.keyFree(ctx, tx, k.Key); err != nil {
				return fmt.Errorf("add peer %s: %w", p.Name, err)
			}
			if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO fed_peer_keys (peer, pubkey, status, added, changed) VALUES (?, ?, ?, ?, ?)`),
				p.Name, k.Key, string(k.Status), nanos(k.Added), nanos(k.Added)); err != nil {
				return fmt.Errorf("add peer %s: key: %w (a key belongs to one peer only)", p.Name, err)
			}
		}
		if p.Agreement != nil {
			if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO fed_agreements (peer, version, at, raw) VALUES (?, ?, ?, ?)`), p.Name, ver, nanos(p.Added), raw); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, s.q(`INSERT INTO fed_links (peer, out_seq, in_seq) VALUES (?, 0, 0)`), p.Name)
		return err
	})
}

func (s *Store) loadPeer(ctx context.Context, where string, arg any) (*federation.Peer, error) {
	var p federation.Peer
	var status, raw string
	var added, statusAt int64
	var ver int
	err := s.db.QueryRowContext(ctx, s.q(`SELECT name, url, jurisdiction, status, status_at, added, agreement_version, agreement, collection FROM fed_peers WHERE `+where), arg).
		Scan(&p.Name, &p.URL, &p.Jurisdiction, &status, &statusAt, &added, &ver, &raw, &p.Collection)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, federation.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	p.Status, p.Added = federation.Status(status), fromNanos(added)
	if statusAt != 0 {
		p.StatusAt = fromNanos(statusAt)
	}
	if raw != "" {
		a, err := federation.ParseAgreement([]byte(raw))
		if err != nil {
			return nil, fmt.Errorf("peer %s: stored agreement: %w", p.Name, err)
		}
		p.Agreement = a
	}
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT pubkey, status, added, changed, retired_at, revoked_at FROM fed_peer_keys WHERE peer = ? ORDER BY added, pubkey`), p.Name)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var k federation.PeerKey
		var st string
		var a, c, ret, rev int64
		if err := rows.Scan(&k.Key, &st, &a, &c, &ret, &rev); err != nil {
			return nil, err
		}
		k.Status, k.Added, k.Changed = federation.KeyStatus(st), fromNanos(a), fromNanos(c)
		if ret != 0 {
			k.RetiredAt = fromNanos(ret)
		}
		if rev != 0 {
			k.RevokedAt = fromNanos(rev)
		}
		p.Keys = append(p.Keys, k)
	}
	return &p, rows.Err()
}

// Peer implements federation.Store.
func (s *Store) Peer(ctx context.Context, name string) (*federation.Peer, error) {
	return s.loadPeer(ctx, "name = ?", name)
}

// PeerByKey implements federation.Store.
func (s *Store) PeerByKey(ctx context.Context, key string) (*federation.Peer, error) {
	var name string
	err := s.db.QueryRowContext(ctx, s.q(`SELECT peer FROM fed_peer_keys WHERE pubkey = ?`), key).Scan(&name)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, federation.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return s.Peer(ctx, name)
}

// Peers implements federation.Store.
func (s *Store) Peers(ctx context.Context) ([]federation.Peer, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT name FROM fed_peers ORDER BY name`)
	if err != nil {
		return nil, err
	}
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return nil, err
		}
		names = append(names, n)
	}
	rows.Close()
	var out []federation.Peer
	for _, n := range names {
		p, err := s.Peer(ctx, n)
		if err != nil {
			return nil, err
		}
		out = append(out, *p)
	}
	return out, nil
}

func (s *Store) exec1(ctx context.Context, what, query string, args ...any) error {
	res, err := s.db.ExecContext(ctx, s.q(query), args...)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return federation.ErrNotFound
	}
	return nil
}

// SetPeerStatus implements federation.Store.
func (s *Store) SetPeerStatus(ctx context.Context, name string, st federation.Status, at time.Time) error {
	return s.exec1(ctx, "set peer status", `UPDATE fed_peers SET status = ?, status_at = ? WHERE name = ?`, string(st), nanos(at), name)
}

// SetPeerURL implements federation.Store.
func (s *Store) SetPeerURL(ctx context.Context, name, url string) error {
	return s.exec1(ctx, "set peer URL", `UPDATE fed_peers SET url = ? WHERE name = ?`, url, name)
}

// RemovePeer implements federation.Store.
func (s *Store) RemovePeer(ctx context.Context, name string, at time.Time) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`UPDATE fed_peers SET status = ? WHERE name = ?`), string(federation.StatusRemoved), name)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return federation.ErrNotFound
		}
		for _, q := range []string{`DELETE FROM fed_pending WHERE peer = ?`, `DELETE FROM fed_outbox WHERE peer = ?`, `DELETE FROM fed_reads WHERE peer = ? AND logged_seq = 0`} {
			if _, err := tx.ExecContext(ctx, s.q(q), name); err != nil {
				return err
			}
		}
		return nil
	})
}

// AddPeerKey implements federation.Store.
func (s *Store) AddPeerKey(ctx context.Context, name, key string, at time.Time) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		var owner, status string
		err := tx.QueryRowContext(ctx, s.q(`SELECT peer, status FROM fed_peer_keys WHERE pubkey = ?`), key).Scan(&owner, &status)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return err
		case owner != name:
			return fmt.Errorf("%w: it is peer %s's", federation.ErrKeyTaken, owner)
		case status == string(federation.KeyActive):
			return fmt.Errorf("%w: it is already %s's key in force", federation.ErrKeyTaken, name)
		case status == string(federation.KeyRevoked):
			return fmt.Errorf("%w: it was revoked for %s and is never trusted again", federation.ErrKeyTaken, name)
		}
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE fed_peer_keys SET status = ?, changed = ?, retired_at = ? WHERE peer = ? AND status = ?`),
			string(federation.KeyRetired), nanos(at), nanos(at), name, string(federation.KeyActive)); err != nil {
			return err
		}
		if status == string(federation.KeyRetired) {
			// Back to a key rotated out (a rotation undone): in force again
			// from now; it signed nothing accepted while it was retired.
			_, err := tx.ExecContext(ctx, s.q(`UPDATE fed_peer_keys SET status = ?, changed = ?, retired_at = 0 WHERE peer = ? AND pubkey = ?`),
				string(federation.KeyActive), nanos(at), name, key)
			return err
		}
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO fed_peer_keys (peer, pubkey, status, added, changed) VALUES (?, ?, ?, ?, ?)`),
			name, key, string(federation.KeyActive), nanos(at), nanos(at)); err != nil {
			return fmt.Errorf("add key: %w", err)
		}
		return nil
	})
}

// keyFree refuses a key some peer (removed ones included) already holds.
func (s *Store) keyFree(ctx context.Context, tx *sql.Tx, key string) error {
	var owner, status string
	err := tx.QueryRowContext(ctx, s.q(`SELECT k.peer, p.status FROM fed_peer_keys k JOIN fed_peers p ON p.name = k.peer WHERE k.pubkey = ?`), key).Scan(&owner, &status)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil
	case err != nil:
		return err
	case status == string(federation.StatusRemoved):
		return fmt.Errorf("%w: it was peer %s's, removed for good (its custody logs still name that key)", federation.ErrKeyTaken, owner)
	}
	return fmt.Errorf("%w: it is peer %s's", federation.ErrKeyTaken, owner)
}

// SetKeyStatus implements federation.Store.
func (s *Store) SetKeyStatus(ctx context.Context, name, key string, st federation.KeyStatus, at time.Time) error {
	switch st {
	case federation.KeyRetired:
		return s.exec1(ctx, "set key status", `UPDATE fed_peer_keys SET status = ?, changed = ?, retired_at = CASE WHEN retired_at = 0 THEN ? ELSE retired_at END
			WHERE peer = ? AND pubkey = ?`, string(st), nanos(at), nanos(at), name, key)
	case federation.KeyRevoked:
		return s.RevokeKey(ctx, name, key, at)
	}
	return s.exec1(ctx, "set key status", `UPDATE fed_peer_keys SET status = ?, changed = ?, retired_at = 0, revoked_at = 0 WHERE peer = ? AND pubkey = ?`,
		string(st), nanos(at), name, key)
}

// RevokeKey implements federation.Store.
func (s *Store) RevokeKey(ctx context.Context, name, key string, at time.Time) error {
	return s.exec1(ctx, "revoke key", `UPDATE fed_peer_keys SET status = ?, changed = ?, revoked_at = ? WHERE peer = ? AND pubkey = ?`,
		string(federation.KeyRevoked), nanos(at), nanos(at), name, key)
}

// SetPeerCollection implements federation.Store.
func (s *Store) SetPeerCollection(ctx context.Context, name, id string) error {
	return s.exec1(ctx, "set collection", `UPDATE fed_peers SET collection = ? WHERE name = ?`, id, name)
}

// NodeIdentity implements federation.Store.
func (s *Store) NodeIdentity(ctx context.Context) (federation.NodeIdentity, error) {
	var n federation.NodeIdentity
	var at int64
	err := s.db.QueryRowContext(ctx, `SELECT id, created FROM fed_node ORDER BY created LIMIT 1`).Scan(&n.ID, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return n, federation.ErrNotFound
	}
	n.Created = fromNanos(at)
	return n, err
}

// SaveNodeIdentity implements federation.Store.
func (s *Store) SaveNodeIdentity(ctx context.Context, n federation.NodeIdentity) error {
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO fed_node (id, created) VALUES (?, ?)`), n.ID, nanos(n.Created))
	return err
}

// SetAgreement implements federation.Store.
func (s *Store) SetAgreement(ctx context.Context, name string, a *federation.Agreement, at time.Time) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		var cur int
		err := tx.QueryRowContext(ctx, s.q(`SELECT agreement_version FROM fed_peers WHERE name = ?`), name).Scan(&cur)
		if errors.Is(err, sql.ErrNoRows) {
			return federation.ErrNotFound
		}
		if err != nil {
			return err
		}
		if a.Version <= cur {
			return fmt.Errorf("agreement version %d is not newer than the one in force (%d)", a.Version, cur)
		}
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO fed_agreements (peer, version, at, raw) VALUES (?, ?, ?, ?)`), name, a.Version, nanos(at), a.Raw); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, s.q(`UPDATE fed_peers SET agreement_version = ?, agreement = ? WHERE name = ?`), a.Version, a.Raw, name)
		return err
	})
}

// AgreementHistory implements federation.Store.
func (s *Store) AgreementHistory(ctx context.Context, name string) ([]federation.AgreementRecord, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT version, at, raw FROM fed_agreements WHERE peer = ? ORDER BY version`), name)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []federation.AgreementRecord
	for rows.Next() {
		var r federation.AgreementRecord
		var at int64
		if err := rows.Scan(&r.Version, &at, &r.Raw); err != nil {
			return nil, err
		}
		r.At = fromNanos(at)
		out = append(out, r)
	}
	return out, rows.Err()
}

// OwnKeys implements federation.Store.
func (s *Store) OwnKeys(ctx context.Context) ([]federation.OwnKey, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT pubkey, added, retired FROM fed_own_keys ORDER BY added`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []federation.OwnKey
	for rows.Next() {
		var k federation.OwnKey
		var a, r int64
		if err := rows.Scan(&k.Key, &a, &r); err != nil {
			return nil, err
		}
		k.Added = fromNanos(a)
		if r != 0 {
			k.Retired = fromNanos(r)
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// RecordOwnKey implements federation.Store.
func (s *Store) RecordOwnKey(ctx context.Context, k federation.OwnKey) error {
	var retired int64
	if !k.Retired.IsZero() {
		retired = nanos(k.Retired)
	}
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO fed_own_keys (pubkey, added, retired) VALUES (?, ?, ?)
		ON CONFLICT (pubkey) DO UPDATE SET retired = excluded.retired`), k.Key, nanos(k.Added), retired)
	return err
}

// Link implements federation.Store.
func (s *Store) Link(ctx context.Context, peer string) (federation.Link, error) {
	var l federation.Link
	var o, i, v, ov, iv int64
	err := s.db.QueryRowContext(ctx, s.q(`SELECT out_seq, in_seq, in_agreement, in_version, out_void, in_void FROM fed_links WHERE peer = ?`), peer).Scan(&o, &i, &l.InAgreement, &v, &ov, &iv)
	if errors.Is(err, sql.ErrNoRows) {
		return l, federation.ErrNotFound
	}
	l.OutSeq, l.InSeq, l.InVersion, l.OutVoid, l.InVoid = uint64(o), uint64(i), int(v), uint64(ov), uint64(iv)
	return l, err
}

// Sent implements federation.Store.
func (s *Store) Sent(ctx context.Context, peer string) (map[string]string, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT item_key, hash FROM fed_sent WHERE peer = ?`), peer)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var k, h string
		if err := rows.Scan(&k, &h); err != nil {
			return nil, err
		}
		out[k] = h
	}
	return out, rows.Err()
}

// SavePending implements federation.Store.
func (s *Store) SavePending(ctx context.Context, peer string, p federation.Pending) error {
	d, err := json.Marshal(p.Delivery)
	if err != nil {
		return err
	}
	_, err = s.db.ExecContext(ctx, s.q(`INSERT INTO fed_pending (peer, seq, payload, delivery) VALUES (?, ?, ?, ?)
		ON CONFLICT (peer) DO UPDATE SET seq = excluded.seq, payload = excluded.payload, delivery = excluded.delivery`), peer, int64(p.Seq), p.Payload, string(d))
	return err
}

// Pending implements federation.Store.
func (s *Store) Pending(ctx context.Context, peer string) (*federation.Pending, error) {
	var p federation.Pending
	var seq int64
	var d string
	err := s.db.QueryRowContext(ctx, s.q(`SELECT seq, payload, delivery FROM fed_pending WHERE peer = ?`), peer).Scan(&seq, &p.Payload, &d)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	p.Seq = uint64(seq)
	if err := json.Unmarshal([]byte(d), &p.Delivery); err != nil {
		return nil, fmt.Errorf("pending envelope for %s: %w", peer, err)
	}
	return &p, nil
}

// DropPending implements federation.Store.
func (s *Store) DropPending(ctx context.Context, peer string) error {
	_, err := s.db.ExecContext(ctx, s.q(`DELETE FROM fed_pending WHERE peer = ?`), peer)
	return err
}

// AbandonPending implements federation.Store.
func (s *Store) AbandonPending(ctx context.Context, peer string, confirmed bool, at time.Time) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		var seq int64
		var payload []byte
		var d string
		err := tx.QueryRowContext(ctx, s.q(`SELECT seq, payload, delivery FROM fed_pending WHERE peer = ?`), peer).Scan(&seq, &payload, &d)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		var c int64
		if confirmed {
			c = nanos(at)
		}
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO fed_abandoned (peer, seq, payload, delivery, at, confirmed) VALUES (?, ?, ?, ?, ?, ?)`),
			peer, seq, payload, d, nanos(at), c); err != nil {
			return fmt.Errorf("set envelope %d for %s aside: %w", seq, peer, err)
		}
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE fed_links SET out_void = ? WHERE peer = ? AND out_void < ?`), seq, peer, seq); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, s.q(`DELETE FROM fed_pending WHERE peer = ?`), peer)
		return err
	})
}

// Abandoned implements federation.Store.
func (s *Store) Abandoned(ctx context.Context, peer string) ([]federation.Pending, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT seq, payload, delivery FROM fed_abandoned WHERE peer = ? AND confirmed = 0 ORDER BY seq`), peer)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []federation.Pending
	for rows.Next() {
		var p federation.Pending
		var seq int64
		var d string
		if err := rows.Scan(&seq, &p.Payload, &d); err != nil {
			return nil, err
		}
		p.Seq = uint64(seq)
		if err := json.Unmarshal([]byte(d), &p.Delivery); err != nil {
			return nil, fmt.Errorf("envelope %d set aside for %s: %w", seq, peer, err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// ConfirmAbandoned implements federation.Store.
func (s *Store) ConfirmAbandoned(ctx context.Context, peer string, upTo uint64, at time.Time) error {
	_, err := s.db.ExecContext(ctx, s.q(`UPDATE fed_abandoned SET confirmed = ? WHERE peer = ? AND seq <= ? AND confirmed = 0`), nanos(at), peer, int64(upTo))
	return err
}

// VoidInbound implements federation.Store.
func (s *Store) VoidInbound(ctx context.Context, peer string, upTo uint64) error {
	_, err := s.db.ExecContext(ctx, s.q(`UPDATE fed_links SET in_void = ? WHERE peer = ? AND in_seq < ? AND in_void < ?`), int64(upTo), peer, int64(upTo), int64(upTo))
	return err
}

// RecordRead implements federation.Store.
func (s *Store) RecordRead(ctx context.Context, peer string, r federation.Read) error {
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO fed_reads (peer, at, request, objects, hash, logged_seq) VALUES (?, ?, ?, ?, ?, 0)`),
		peer, nanos(r.At), r.Request, int64(r.Objects), r.Hash)
	if err != nil {
		return fmt.Errorf("record a TAXII read: %w", err)
	}
	return nil
}

// UnloggedReads implements federation.Store.
func (s *Store) UnloggedReads(ctx context.Context, peer string) ([]federation.Read, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT id, at, request, objects, hash FROM fed_reads WHERE peer = ? AND logged_seq = 0 ORDER BY id`), peer)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []federation.Read
	for rows.Next() {
		var r federation.Read
		var at, n int64
		if err := rows.Scan(&r.ID, &at, &r.Request, &n, &r.Hash); err != nil {
			return nil, err
		}
		r.At, r.Objects = fromNanos(at), int(n)
		out = append(out, r)
	}
	return out, rows.Err()
}

func (s *Store) appendLog(ctx context.Context, tx *sql.Tx, peer string, dir federation.Direction, es []federation.LogEntry) error {
	var next int64
	if err := tx.QueryRowContext(ctx, s.q(`SELECT COALESCE(MAX(idx) + 1, 0) FROM fed_log WHERE peer = ? AND dir = ?`), peer, string(dir)).Scan(&next); err != nil {
		return err
	}
	for i, e := range es {
		if uint64(next)+uint64(i) != e.Index {
			return fmt.Errorf("custody log %s/%s: entry %d would land at %d (the log moved)", peer, dir, e.Index, uint64(next)+uint64(i))
		}
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO fed_log (peer, dir, idx, seq, what, item_key, hash, at, leaf) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			peer, string(dir), int64(e.Index), int64(e.Seq), e.What, e.Key, e.Hash, nanos(e.At), e.Leaf); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) putCheckpoint(ctx context.Context, tx *sql.Tx, peer string, dir federation.Direction, cp federation.Checkpoint, payloadHash string) error {
	b, err := json.Marshal(cp)
	if err != nil {
		return err
	}
	rec := cp.Recorded
	if rec.IsZero() {
		rec = time.Now()
	}
	_, err = tx.ExecContext(ctx, s.q(`INSERT INTO fed_checkpoints (peer, dir, seq, body, payload_hash, recorded_at) VALUES (?, ?, ?, ?, ?, ?)`),
		peer, string(dir), int64(cp.Seq), string(b), payloadHash, nanos(rec))
	return err
}

// CommitSent implements federation.Store.
func (s *Store) CommitSent(ctx context.Context, d federation.Delivery) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		var cur, void int64
		if err := tx.QueryRowContext(ctx, s.q(`SELECT out_seq, out_void FROM fed_links WHERE peer = ?`), d.Peer).Scan(&cur, &void); err != nil {
			return fmt.Errorf("link %s: %w", d.Peer, err)
		}
		// The next sequence, or one past those set aside (whose numbers
		// are skipped), or one set aside the peer turned out to hold.
		if uint64(cur) >= d.Seq || d.Seq > uint64(max(cur, void))+1 {
			return fmt.Errorf("link %s: delivered envelope %d, but the last was %d (set aside up to %d)", d.Peer, d.Seq, cur, void)
		}
		// An envelope set aside that the peer turned out to hold is
		// recorded as delivered: it is no longer set aside.
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM fed_abandoned WHERE peer = ? AND seq = ?`), d.Peer, int64(d.Seq)); err != nil {
			return err
		}
		for _, it := range d.Items {
			if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO fed_sent (peer, item_key, hash, seq) VALUES (?, ?, ?, ?)
				ON CONFLICT (peer, item_key) DO UPDATE SET hash = excluded.hash, seq = excluded.seq`), d.Peer, it.Key, it.Hash, int64(d.Seq)); err != nil {
				return err
			}
		}
		if err := s.appendLog(ctx, tx, d.Peer, federation.Out, d.Entries); err != nil {
			return err
		}
		if err := s.putCheckpoint(ctx, tx, d.Peer, federation.Out, d.Checkpoint, ""); err != nil {
			return err
		}
		for _, k := range d.Withdrawn {
			if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM fed_sent WHERE peer = ? AND item_key = ?`), d.Peer, k); err != nil {
				return err
			}
		}
		for _, id := range d.Delivered {
			if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM fed_outbox WHERE id = ?`), id); err != nil {
				return err
			}
		}
		for _, id := range d.Reads {
			if _, err := tx.ExecContext(ctx, s.q(`UPDATE fed_reads SET logged_seq = ? WHERE id = ?`), int64(d.Seq), id); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM fed_pending WHERE peer = ?`), d.Peer); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, s.q(`UPDATE fed_links SET out_seq = ? WHERE peer = ?`), int64(d.Seq), d.Peer)
		return err
	})
}

// CommitReceived implements federation.Store.
func (s *Store) CommitReceived(ctx context.Context, r federation.Receipt) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		var cur, void int64
		if err := tx.QueryRowContext(ctx, s.q(`SELECT in_seq, in_void FROM fed_links WHERE peer = ?`+s.d.ForUpdate), r.Peer).Scan(&cur, &void); err != nil {
			return fmt.Errorf("link %s: %w", r.Peer, err)
		}
		if uint64(cur) >= r.Seq {
			return fmt.Errorf("link %s: envelope %d already received", r.Peer, r.Seq)
		}
		if uint64(void) >= r.Seq {
			return fmt.Errorf("link %s: envelope %d: %w (up to %d)", r.Peer, r.Seq, federation.ErrVoided, void)
		}
		for _, it := range r.Items {
			b, err := json.Marshal(it.Item)
			if err != nil {
				return err
			}
			terms, err := json.Marshal(it.Terms)
			if err != nil {
				return err
			}
			var expires int64
			if !it.ExpiresAt.IsZero() {
				expires = nanos(it.ExpiresAt)
			}
			var proof []byte
			if it.Proof != nil {
				if proof, err = json.Marshal(it.Proof); err != nil {
					return err
				}
			}
			if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO fed_received (peer, item_key, kind, item, package, root, signature, signed_at, seq, received_at, terms, expires_at, proof)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
				ON CONFLICT (peer, item_key) DO UPDATE SET kind = excluded.kind, item = excluded.item, package = excluded.package, root = excluded.root,
				signature = excluded.signature, signed_at = excluded.signed_at, seq = excluded.seq, received_at = excluded.received_at,
				terms = excluded.terms, expires_at = excluded.expires_at, proof = excluded.proof, withdrawn_at = 0, withdrawn_why = '', purged_at = 0`),
				r.Peer, it.Item.Key, string(it.Item.Kind), string(b), it.Package, it.Root, it.Signature, nanos(it.SignedAt), int64(it.Seq), nanos(it.ReceivedAt),
				string(terms), expires, string(proof)); err != nil {
				return err
			}
		}
		for _, w := range r.Withdrawals {
			// The item stays (marked) until the terms let it go: with
			// keep_withdrawn_days = 0, not past this transaction (below).
			at := r.At
			var keep int
			if r.Terms != nil {
				keep = r.Terms.KeepWithdrawnDays
			}
			until := nanos(at.AddDate(0, 0, keep))
			if _, err := tx.ExecContext(ctx, s.q(`UPDATE fed_received SET withdrawn_at = ?, withdrawn_why = ?,
				expires_at = CASE WHEN expires_at = 0 OR expires_at > ? THEN ? ELSE expires_at END
				WHERE peer = ? AND item_key = ? AND withdrawn_at = 0`),
				nanos(at), w.Clause+": "+w.Reason, until, until, r.Peer, w.Key); err != nil {
				return err
			}
		}
		if len(r.Withdrawals) > 0 && (r.Terms == nil || r.Terms.KeepWithdrawnDays == 0) {
			// "0: purged at once": what the sender no longer lets this
			// node hold — evidence, personal data — is not readable until
			// the next scheduled purge, up to an hour later.
			if _, err := s.purgeDue(ctx, tx, r.At); err != nil {
				return err
			}
		}
		for _, q := range r.Requests {
			if err := s.saveRequest(ctx, tx, q); err != nil {
				return err
			}
		}
		for _, m := range r.Replies {
			if err := s.queue(ctx, tx, r.Peer, m); err != nil {
				return err
			}
		}
		if err := s.appendLog(ctx, tx, r.Peer, federation.In, r.Entries); err != nil {
			return err
		}
		if err := s.putCheckpoint(ctx, tx, r.Peer, federation.In, r.Checkpoint, r.PayloadHash); err != nil {
			return err
		}
		if t := r.Terms; t != nil {
			if _, err := tx.ExecContext(ctx, s.q(`UPDATE fed_links SET in_agreement = ?, in_version = ? WHERE peer = ? AND (in_agreement <> ? OR in_version < ?)`),
				t.Agreement, int64(t.Version), r.Peer, t.Agreement, int64(t.Version)); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, s.q(`UPDATE fed_links SET in_seq = ? WHERE peer = ?`), int64(r.Seq), r.Peer)
		return err
	})
}

// ReceivedCheckpoint implements federation.Store.
func (s *Store) ReceivedCheckpoint(ctx context.Context, peer string, seq uint64) (*federation.Checkpoint, string, error) {
	var body, ph string
	err := s.db.QueryRowContext(ctx, s.q(`SELECT body, payload_hash FROM fed_checkpoints WHERE peer = ? AND dir = ? AND seq = ?`), peer, string(federation.In), int64(seq)).Scan(&body, &ph)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, "", federation.ErrNotFound
	}
	if err != nil {
		return nil, "", err
	}
	var cp federation.Checkpoint
	if err := json.Unmarshal([]byte(body), &cp); err != nil {
		return nil, "", err
	}
	return &cp, ph, nil
}

// Received implements federation.Store.
func (s *Store) Received(ctx context.Context, f federation.ReceivedFilter) ([]federation.ReceivedItem, error) {
	q := `SELECT peer, item_key, kind, item, package, root, signature, signed_at, seq, received_at, terms, expires_at, withdrawn_at, withdrawn_why, purged_at, proof
		FROM fed_received WHERE 1 = 1`
	var args []any
	if f.Peer != "" {
		q += ` AND peer = ?`
		args = append(args, f.Peer)
	}
	if f.Kind != "" {
		q += ` AND kind = ?`
		args = append(args, string(f.Kind))
	}
	q += ` ORDER BY received_at DESC, item_key`
	if f.Limit < 0 || f.Offset < 0 {
		return nil, fmt.Errorf("received items: a negative limit or offset")
	}
	if f.Limit > 0 {
		q += fmt.Sprintf(` LIMIT %d OFFSET %d`, f.Limit, f.Offset)
	}
	rows, err := s.db.QueryContext(ctx, s.q(q), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []federation.ReceivedItem
	for rows.Next() {
		var r federation.ReceivedItem
		var item, terms, kind, proof string
		var signed, seq, recv, expires, withdrawn, purged int64
		if err := rows.Scan(&r.Peer, &r.FiledKey, &kind, &item, &r.Package, &r.Root, &r.Signature, &signed, &seq, &recv, &terms, &expires, &withdrawn, &r.Why, &purged, &proof); err != nil {
			return nil, err
		}
		if proof != "" {
			r.Proof = new(federation.ItemProof)
			if err := json.Unmarshal([]byte(proof), r.Proof); err != nil {
				// Unreadable: custody verify says the proof does not verify.
				r.Proof = &federation.ItemProof{}
			}
		}
		if withdrawn != 0 {
			r.Withdrawn = fromNanos(withdrawn)
		}
		if purged != 0 {
			r.Purged = fromNanos(purged)
		}
		if err := json.Unmarshal([]byte(item), &r.Item); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(terms), &r.Terms); err != nil {
			return nil, err
		}
		if expires != 0 {
			r.ExpiresAt = fromNanos(expires)
		}
		r.SignedAt, r.Seq, r.ReceivedAt, r.FiledKind = fromNanos(signed), uint64(seq), fromNanos(recv), federation.Kind(kind)
		out = append(out, r)
	}
	return out, rows.Err()
}

// PurgeExpired implements federation.Store: the body goes, a tombstone
// with the key, kind and hash stays.
func (s *Store) PurgeExpired(ctx context.Context, now time.Time) (int, error) {
	n := 0
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		n, err = s.purgeDue(ctx, tx, now)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("purge expired items: %w", err)
	}
	return n, nil
}

// purgeDue purges, in tx, the received items whose time is up at now.
func (s *Store) purgeDue(ctx context.Context, tx *sql.Tx, now time.Time) (int, error) {
	rows, err := tx.QueryContext(ctx, s.q(`SELECT peer, item_key, item FROM fed_received WHERE expires_at <> 0 AND expires_at <= ? AND purged_at = 0`), nanos(now))
	if err != nil {
		return 0, err
	}
	type row struct{ peer, key, item string }
	var due []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.peer, &r.key, &r.item); err != nil {
			rows.Close()
			return 0, err
		}
		due = append(due, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	for _, r := range due {
		var it federation.Item
		if err := json.Unmarshal([]byte(r.item), &it); err != nil {
			return 0, fmt.Errorf("received item %s/%s: %w", r.peer, r.key, err)
		}
		it.Body = nil
		b, _ := json.Marshal(it)
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE fed_received SET item = ?, purged_at = ? WHERE peer = ? AND item_key = ?`),
			string(b), nanos(now), r.peer, r.key); err != nil {
			return 0, err
		}
	}
	return len(due), nil
}

// Log implements federation.Store.
func (s *Store) Log(ctx context.Context, peer string, dir federation.Direction) ([]federation.LogEntry, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT idx, seq, what, item_key, hash, at, leaf FROM fed_log WHERE peer = ? AND dir = ? ORDER BY idx`), peer, string(dir))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []federation.LogEntry
	for rows.Next() {
		var e federation.LogEntry
		var idx, seq, at int64
		if err := rows.Scan(&idx, &seq, &e.What, &e.Key, &e.Hash, &at, &e.Leaf); err != nil {
			return nil, err
		}
		e.Index, e.Seq, e.At = uint64(idx), uint64(seq), fromNanos(at)
		out = append(out, e)
	}
	return out, rows.Err()
}

// Checkpoints implements federation.Store.
func (s *Store) Checkpoints(ctx context.Context, peer string, dir federation.Direction) ([]federation.Checkpoint, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT body, recorded_at FROM fed_checkpoints WHERE peer = ? AND dir = ? ORDER BY seq`), peer, string(dir))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []federation.Checkpoint
	for rows.Next() {
		var b string
		var rec int64
		if err := rows.Scan(&b, &rec); err != nil {
			return nil, err
		}
		var cp federation.Checkpoint
		if err := json.Unmarshal([]byte(b), &cp); err != nil {
			return nil, err
		}
		if rec != 0 {
			cp.Recorded = fromNanos(rec)
		}
		out = append(out, cp)
	}
	return out, rows.Err()
}

func (s *Store) queue(ctx context.Context, tx *sql.Tx, peer string, m federation.AssistMsg) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, s.q(`INSERT INTO fed_outbox (peer, msg) VALUES (?, ?)`), peer, string(b))
	return err
}

// Outbox implements federation.Store.
func (s *Store) Outbox(ctx context.Context, peer string) ([]federation.Queued, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT id, msg FROM fed_outbox WHERE peer = ? ORDER BY id`), peer)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []federation.Queued
	for rows.Next() {
		var q federation.Queued
		var b string
		if err := rows.Scan(&q.ID, &b); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(b), &q.Msg); err != nil {
			return nil, err
		}
		out = append(out, q)
	}
	return out, rows.Err()
}

func (s *Store) saveRequest(ctx context.Context, tx *sql.Tx, r *federation.Request) error {
	var deadline int64
	if !r.Deadline.IsZero() {
		deadline = nanos(r.Deadline)
	}
	if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO fed_requests (id, peer, role, type, subject, body, campaign, legal_basis, created, deadline, state, updated)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET state = excluded.state, updated = excluded.updated`),
		r.ID, r.Peer, string(r.Role), string(r.Type), r.Subject, r.Body, r.Campaign, r.LegalBasis, nanos(r.Created), deadline, string(r.State), nanos(r.Updated)); err != nil {
		return fmt.Errorf("save request %s: %w", r.ID, err)
	}
	var have int
	if err := tx.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM fed_request_events WHERE request = ?`), r.ID).Scan(&have); err != nil {
		return err
	}
	for i := have; i < len(r.Events); i++ {
		e := r.Events[i]
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO fed_request_events (request, n, at, action, state, by_whom, note, msg) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
			r.ID, i, nanos(e.At), string(e.Action), string(e.State), e.By, e.Note, string(e.Msg)); err != nil {
			return err
		}
	}
	return nil
}

// SaveRequest implements federation.Store.
func (s *Store) SaveRequest(ctx context.Context, r *federation.Request, m *federation.AssistMsg) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if err := s.saveRequest(ctx, tx, r); err != nil {
			return err
		}
		if m != nil {
			return s.queue(ctx, tx, r.Peer, *m)
		}
		return nil
	})
}

const requestCols = `id, peer, role, type, subject, body, campaign, legal_basis, created, deadline, state, updated`

func (s *Store) scanRequests(ctx context.Context, query string, args ...any) ([]federation.Request, error) {
	rows, err := s.db.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, err
	}
	var out []federation.Request
	for rows.Next() {
		var r federation.Request
		var role, typ, state string
		var created, deadline, updated int64
		if err := rows.Scan(&r.ID, &r.Peer, &role, &typ, &r.Subject, &r.Body, &r.Campaign, &r.LegalBasis, &created, &deadline, &state, &updated); err != nil {
			rows.Close()
			return nil, err
		}
		r.Role, r.Type, r.State = federation.Role(role), federation.RequestType(typ), federation.State(state)
		r.Created, r.Updated = fromNanos(created), fromNanos(updated)
		if deadline != 0 {
			r.Deadline = fromNanos(deadline)
		}
		out = append(out, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i := range out {
		ev, err := s.db.QueryContext(ctx, s.q(`SELECT at, action, state, by_whom, note, msg FROM fed_request_events WHERE request = ? ORDER BY n`), out[i].ID)
		if err != nil {
			return nil, err
		}
		for ev.Next() {
			var e federation.Event
			var at int64
			var a, st, msg string
			if err := ev.Scan(&at, &a, &st, &e.By, &e.Note, &msg); err != nil {
				ev.Close()
				return nil, err
			}
			e.At, e.Action, e.State = fromNanos(at), federation.Action(a), federation.State(st)
			if msg != "" {
				e.Msg = []byte(msg)
			}
			out[i].Events = append(out[i].Events, e)
		}
		ev.Close()
	}
	return out, nil
}

// Request implements federation.Store.
func (s *Store) Request(ctx context.Context, id string) (*federation.Request, error) {
	rs, err := s.scanRequests(ctx, `SELECT `+requestCols+` FROM fed_requests WHERE id = ?`, id)
	if err != nil {
		return nil, err
	}
	if len(rs) == 0 {
		return nil, federation.ErrNotFound
	}
	return &rs[0], nil
}

// Requests implements federation.Store.
func (s *Store) Requests(ctx context.Context, peer string) ([]federation.Request, error) {
	if peer == "" {
		return s.scanRequests(ctx, `SELECT `+requestCols+` FROM fed_requests ORDER BY created DESC, id`)
	}
	return s.scanRequests(ctx, `SELECT `+requestCols+` FROM fed_requests WHERE peer = ? ORDER BY created DESC, id`, peer)
}

// The store implements every interface the node needs.
var (
	_ federation.Store  = (*Store)(nil)
	_ federation.Source = (*Store)(nil)
)

// SharedIndex implements federation.Source: every report's reference in
// one query, in campaign order — no message, no analysis.
func (s *Store) SharedIndex(ctx context.Context, fn func(r federation.ReportRef) error) error {
	// An erased report is gone from what the node shares: what was sent
	// of it is withdrawn, new peers get nothing of it. The desk keeps its
	// row (its counts), the federation does not.
	rows, err := s.db.QueryContext(ctx, `SELECT r.id, r.campaign_id, r.received_at, r.sha256, r.purged_at, COALESCE(p.address, '')
		FROM reports r LEFT JOIN reporters p ON p.id = r.reporter_id WHERE r.erased_at = 0 ORDER BY r.campaign_id, r.received_at, r.id`)
	if err != nil {
		return fmt.Errorf("read the index of the reports to share: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var r federation.ReportRef
		var at, purged int64
		if err := rows.Scan(&r.ID, &r.CampaignID, &at, &r.SHA256, &purged, &r.Reporter); err != nil {
			return fmt.Errorf("read the index of the reports to share: %w", err)
		}
		r.ReceivedAt = fromNanos(at)
		if purged != 0 {
			r.PurgedAt = fromNanos(purged)
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	return rows.Err()
}

// SharedReports implements federation.Source: the reports of ids in full,
// with their reporter's address, in one query.
func (s *Store) SharedReports(ctx context.Context, ids []string, fn func(r *intake.Report, reporter string) error) error {
	if len(ids) == 0 {
		return nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	// The complaint's first bytes too, for the reporter's From field: their
	// display name is redacted with their address (intake.ReporterMailbox).
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT r.id, r.complaint_id, r.received_at, r.channel, r.form, r.unverifiable, r.forwarders, r.sha256, r.raw,
		r.reporter_id, r.verdict, r.campaign_id, r.purged_at, COALESCE(p.address, ''),
		CASE WHEN p.address IS NULL THEN NULL ELSE substr(`+complaintRaw("c")+`, 1, `+strconv.Itoa(intake.ReporterHead)+`) END
		FROM reports r LEFT JOIN reporters p ON p.id = r.reporter_id LEFT JOIN complaints c ON c.id = r.complaint_id
		WHERE r.id IN (`+placeholders(len(ids))+`)`), args...)
	if err != nil {
		return fmt.Errorf("read reports to share: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var r intake.Report
		var at, purged int64
		var ch, unv, fwd, verdict, reporter string
		var head []byte
		if err := rows.Scan(&r.ID, &r.ComplaintID, &at, &ch, &r.Form, &unv, &fwd, &r.SHA256, &r.Raw, &r.ReporterID, &verdict, &r.CampaignID, &purged, &reporter, &head); err != nil {
			return fmt.Errorf("read reports to share: %w", err)
		}
		r.ReceivedAt, r.Channel = fromNanos(at), intake.Channel(ch)
		if purged != 0 {
			r.PurgedAt = fromNanos(purged)
		}
		json.Unmarshal([]byte(unv), &r.Unverifiable)
		json.Unmarshal([]byte(fwd), &r.Forwarders)
		r.Verdict = &analysis.Verdict{}
		if err := json.Unmarshal([]byte(verdict), r.Verdict); err != nil {
			return fmt.Errorf("report %s: bad verdict: %w", r.ID, err)
		}
		if err := fn(&r, intake.ReporterMailbox(head, reporter)); err != nil {
			return err
		}
	}
	return rows.Err()
}

// SharedVersion implements federation.Source: it changes when a report is
// added, erased or purged (an erasure keeps the report's row and time, so
// counting rows and times alone missed it, and the TAXII collection kept
// serving the erased report).
func (s *Store) SharedVersion(ctx context.Context) (string, error) {
	var n, last, sum, erased, purged int64
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(MAX(received_at), 0), CAST(COALESCE(SUM(received_at % 1000003), 0) AS BIGINT),
		CAST(COALESCE(SUM(erased_at % 1000003), 0) AS BIGINT), CAST(COALESCE(SUM(purged_at % 1000003), 0) AS BIGINT) FROM reports`).Scan(&n, &last, &sum, &erased, &purged)
	if err != nil {
		return "", fmt.Errorf("reports version: %w", err)
	}
	return fmt.Sprintf("%d:%d:%d:%d:%d", n, last, sum, erased, purged), nil
}

// Withheld implements federation.Store.
func (s *Store) Withheld(ctx context.Context) ([]federation.Withheld, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT domain, reason, marked_by, marked_at FROM fed_withheld ORDER BY domain`)
	if err != nil {
		return nil, fmt.Errorf("withheld domains: %w", err)
	}
	defer rows.Close()
	var out []federation.Withheld
	for rows.Next() {
		var w federation.Withheld
		var at int64
		if err := rows.Scan(&w.Domain, &w.Reason, &w.By, &at); err != nil {
			return nil, fmt.Errorf("withheld domains: %w", err)
		}
		w.At = fromNanos(at)
		out = append(out, w)
	}
	return out, rows.Err()
}

// AddWithheld implements federation.Store.
func (s *Store) AddWithheld(ctx context.Context, w federation.Withheld) error {
	res, err := s.db.ExecContext(ctx, s.q(`INSERT INTO fed_withheld (domain, reason, marked_by, marked_at) VALUES (?, ?, ?, ?) ON CONFLICT (domain) DO NOTHING`),
		w.Domain, w.Reason, w.By, nanos(w.At))
	if err != nil {
		return fmt.Errorf("withhold %s: %w", w.Domain, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("%s is already withheld: %w", w.Domain, federation.ErrExists)
	}
	return nil
}

// RemoveWithheld implements federation.Store.
func (s *Store) RemoveWithheld(ctx context.Context, domain string) error {
	res, err := s.db.ExecContext(ctx, s.q(`DELETE FROM fed_withheld WHERE domain = ?`), domain)
	if err != nil {
		return fmt.Errorf("unwithhold %s: %w", domain, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("%s is not withheld: %w", domain, federation.ErrNotFound)
	}
	return nil
}
