package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/accord-antispam/accord/internal/consent"
)

// The consent half of the store: senders, consent records, their log,
// suppressions, campaigns and complaints fed back.

// optNanos stores a zero time as 0.
func optNanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return nanos(t)
}

func optTime(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return fromNanos(n)
}

func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }

// AddSender implements consent.Store.
func (s *Store) AddSender(ctx context.Context, sd consent.Sender, ev consent.Event) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM consent_senders WHERE id = ?`), sd.ID).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return &consent.InvalidError{Field: "domain", Reason: "sender " + sd.ID + " is registered already"}
		}
		for _, d := range sd.Domains {
			var owner string
			err := tx.QueryRowContext(ctx, s.q(`SELECT sender FROM consent_sender_domains WHERE domain = ?`), d).Scan(&owner)
			if err == nil {
				return &consent.InvalidError{Field: "domains", Reason: "domain " + d + " belongs to sender " + owner}
			}
			if !isNoRows(err) {
				return err
			}
			if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO consent_sender_domains (domain, sender) VALUES (?, ?)`), d, sd.ID); err != nil {
				return fmt.Errorf("add sender domain %s: %w", d, err)
			}
		}
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO consent_senders (id, name, contact, feedback_to, postal_address, jurisdictions,
			status, reason, created, changed, log_seq, log_hash, sup_seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, 0)`),
			sd.ID, sd.Name, sd.Contact, sd.FeedbackTo, sd.PostalAddress, strings.Join(sd.Jurisdictions, ","), sd.Status, sd.Reason,
			nanos(sd.Created), nanos(sd.Changed), consent.GenesisHash(sd.ID)); err != nil {
			return fmt.Errorf("add sender %s: %w", sd.ID, err)
		}
		_, err := s.appendEvents(ctx, tx, sd.ID, []consent.Event{ev})
		return err
	})
}

// UpdateSender implements consent.Store: status and reason.
func (s *Store) UpdateSender(ctx context.Context, sd consent.Sender, ev consent.Event) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		r, err := tx.ExecContext(ctx, s.q(`UPDATE consent_senders SET status = ?, reason = ?, changed = ? WHERE id = ?`),
			sd.Status, sd.Reason, nanos(sd.Changed), sd.ID)
		if err != nil {
			return err
		}
		if n, _ := r.RowsAffected(); n == 0 {
			return consent.ErrNotFound
		}
		_, err = s.appendEvents(ctx, tx, sd.ID, []consent.Event{ev})
		return err
	})
}

const senderCols = `id, name, contact, feedback_to, postal_address, jurisdictions, status, reason, created, changed`

func (s *Store) scanSender(ctx context.Context, row interface{ Scan(...any) error }) (consent.Sender, error) {
	var sd consent.Sender
	var js string
	var created, changed int64
	if err := row.Scan(&sd.ID, &sd.Name, &sd.Contact, &sd.FeedbackTo, &sd.PostalAddress, &js, &sd.Status, &sd.Reason, &created, &changed); err != nil {
		if isNoRows(err) {
			return sd, consent.ErrNotFound
		}
		return sd, err
	}
	sd.Created, sd.Changed = fromNanos(created), fromNanos(changed)
	if js != "" {
		sd.Jurisdictions = strings.Split(js, ",")
	}
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT domain FROM consent_sender_domains WHERE sender = ? ORDER BY domain`), sd.ID)
	if err != nil {
		return sd, err
	}
	defer rows.Close()
	sd.Domains = []string{sd.ID}
	for rows.Next() {
		var d string
		if err := rows.Scan(&d); err != nil {
			return sd, err
		}
		if d != sd.ID {
			sd.Domains = append(sd.Domains, d)
		}
	}
	return sd, rows.Err()
}

// Sender implements consent.Store.
func (s *Store) Sender(ctx context.Context, id string) (consent.Sender, error) {
	return s.scanSender(ctx, s.db.QueryRowContext(ctx, s.q(`SELECT `+senderCols+` FROM consent_senders WHERE id = ?`), id))
}

// SenderByDomain implements consent.Store.
func (s *Store) SenderByDomain(ctx context.Context, domain string) (consent.Sender, error) {
	return s.scanSender(ctx, s.db.QueryRowContext(ctx, s.q(`SELECT `+prefixed("s.", senderCols)+` FROM consent_senders s
		JOIN consent_sender_domains d ON d.sender = s.id WHERE d.domain = ?`), domain))
}

func prefixed(p, cols string) string {
	parts := strings.Split(cols, ", ")
	for i := range parts {
		parts[i] = p + parts[i]
	}
	return strings.Join(parts, ", ")
}

// Senders implements consent.Store.
func (s *Store) Senders(ctx context.Context) ([]consent.Sender, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id FROM consent_senders ORDER BY id`)
	if err != nil {
		return nil, err
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return nil, err
		}
		ids = append(ids, id)
	}
	rows.Close()
	out := []consent.Sender{}
	for _, id := range ids {
		sd, err := s.Sender(ctx, id)
		if err != nil {
			return nil, err
		}
		out = append(out, sd)
	}
	return out, nil
}

// ref returns the id of a (sender, name) row in a table with an
// auto-increment id, creating the row at first use.
func (s *Store) ref(ctx context.Context, table, col string, sender, name string) (int64, error) {
	sel := s.q(`SELECT id FROM ` + table + ` WHERE sender = ? AND ` + col + ` = ?`)
	var id int64
	err := s.db.QueryRowContext(ctx, sel, sender, name).Scan(&id)
	if err == nil {
		return id, nil
	}
	if !isNoRows(err) {
		return 0, err
	}
	if _, err := s.db.ExecContext(ctx, s.q(`INSERT INTO `+table+` (sender, `+col+`) VALUES (?, ?) ON CONFLICT DO NOTHING`), sender, name); err != nil {
		return 0, fmt.Errorf("add to %s: %w", table, err)
	}
	err = s.db.QueryRowContext(ctx, sel, sender, name).Scan(&id)
	return id, err
}

// RecipientRef implements consent.Store: a read for a recipient filed
// with its mailbox, a write only for a new one or one filed before
// mailboxes were (schema 39).
func (s *Store) RecipientRef(ctx context.Context, sender, hash, mailbox string) (int64, error) {
	sel := s.q(`SELECT id, mailbox FROM consent_recipients WHERE sender = ? AND hash = ?`)
	var id int64
	var filed string
	err := s.db.QueryRowContext(ctx, sel, sender, hash).Scan(&id, &filed)
	if isNoRows(err) {
		if _, err := s.db.ExecContext(ctx, s.q(`INSERT INTO consent_recipients (sender, hash, mailbox) VALUES (?, ?, ?) ON CONFLICT DO NOTHING`),
			sender, hash, mailbox); err != nil {
			return 0, fmt.Errorf("add to consent_recipients: %w", err)
		}
		err = s.db.QueryRowContext(ctx, sel, sender, hash).Scan(&id, &filed)
	}
	if err != nil {
		return 0, err
	}
	if filed == "" && mailbox != "" {
		return id, s.NoteMailbox(ctx, sender, hash, mailbox)
	}
	return id, nil
}

// Recipient implements consent.Store.
func (s *Store) Recipient(ctx context.Context, ref int64) (string, string, error) {
	var sender, hash string
	err := s.db.QueryRowContext(ctx, s.q(`SELECT sender, hash FROM consent_recipients WHERE id = ?`), ref).Scan(&sender, &hash)
	if isNoRows(err) {
		return "", "", consent.ErrNotFound
	}
	return sender, hash, err
}

// ListRef implements consent.Store.
func (s *Store) ListRef(ctx context.Context, sender, name string) (int64, error) {
	return s.ref(ctx, "consent_lists", "name", sender, name)
}

// ListName implements consent.Store.
func (s *Store) ListName(ctx context.Context, ref int64) (string, string, error) {
	var sender, name string
	err := s.db.QueryRowContext(ctx, s.q(`SELECT sender, name FROM consent_lists WHERE id = ?`), ref).Scan(&sender, &name)
	if isNoRows(err) {
		return "", "", consent.ErrNotFound
	}
	return sender, name, err
}

// CampaignRef implements consent.Store.
func (s *Store) CampaignRef(ctx context.Context, sender, list, name string, issued int64) (int64, error) {
	var id int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO consent_campaigns (sender, list, name, issued, reported, complaints, created)
			VALUES (?, ?, ?, 0, 0, 0, ?) ON CONFLICT DO NOTHING`), sender, list, name, nanos(time.Now())); err != nil {
			return fmt.Errorf("add campaign: %w", err)
		}
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE consent_campaigns SET issued = issued + ? WHERE sender = ? AND list = ? AND name = ?`),
			issued, sender, list, name); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, s.q(`SELECT id FROM consent_campaigns WHERE sender = ? AND list = ? AND name = ?`), sender, list, name).Scan(&id)
	})
	return id, err
}

// CountIssued implements consent.Store.
func (s *Store) CountIssued(ctx context.Context, campaign int64, recipients []int64) (int64, error) {
	if len(recipients) == 0 {
		return 0, nil
	}
	var added int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		added = 0
		for _, r := range recipients {
			res, err := tx.ExecContext(ctx, s.q(`INSERT INTO consent_campaign_recipients (campaign, recipient) VALUES (?, ?) ON CONFLICT DO NOTHING`), campaign, r)
			if err != nil {
				return fmt.Errorf("count a campaign's recipient: %w", err)
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			added += n
		}
		if added == 0 {
			return nil
		}
		_, err := tx.ExecContext(ctx, s.q(`UPDATE consent_campaigns SET issued = issued + ? WHERE id = ?`), added, campaign)
		return err
	})
	return added, err
}

// ReportSent implements consent.Store.
func (s *Store) ReportSent(ctx context.Context, sender, list, name string, sent int64) error {
	if _, err := s.CampaignRef(ctx, sender, list, name, 0); err != nil {
		return err
	}
	_, err := s.db.ExecContext(ctx, s.q(`UPDATE consent_campaigns SET reported = ? WHERE sender = ? AND list = ? AND name = ?`), sent, sender, list, name)
	return err
}

const campaignCols = `id, sender, list, name, issued, reported, complaints, created`

func scanCampaign(row interface{ Scan(...any) error }) (consent.Campaign, error) {
	var c consent.Campaign
	var created int64
	err := row.Scan(&c.ID, &c.Sender, &c.List, &c.Name, &c.Issued, &c.Reported, &c.Complaints, &created)
	if isNoRows(err) {
		return c, consent.ErrNotFound
	}
	c.Created = fromNanos(created)
	return c, err
}

// CampaignByRef implements consent.Store.
func (s *Store) CampaignByRef(ctx context.Context, ref int64) (consent.Campaign, error) {
	return scanCampaign(s.db.QueryRowContext(ctx, s.q(`SELECT `+campaignCols+` FROM consent_campaigns WHERE id = ?`), ref))
}

// SenderCampaigns implements consent.Store.
func (s *Store) SenderCampaigns(ctx context.Context, sender string) ([]consent.Campaign, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT `+campaignCols+` FROM consent_campaigns WHERE sender = ? ORDER BY list, created, name`), sender)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []consent.Campaign{}
	for rows.Next() {
		c, err := scanCampaign(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// appendEvents chains events onto the sender's log inside tx.
func (s *Store) appendEvents(ctx context.Context, tx *sql.Tx, sender string, evs []consent.Event) ([]consent.Event, error) {
	if len(evs) == 0 {
		return nil, nil
	}
	var seq int64
	var head string
	err := tx.QueryRowContext(ctx, s.q(`SELECT log_seq, log_hash FROM consent_senders WHERE id = ?`+s.d.ForUpdate), sender).Scan(&seq, &head)
	if isNoRows(err) {
		return nil, consent.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("consent log head: %w", err)
	}
	out := make([]consent.Event, len(evs))
	for i, e := range evs {
		seq++
		e.Seq, e.Sender, e.PrevHash = seq, sender, head
		e.At = e.At.UTC()
		if len(e.Detail) == 0 {
			e.Detail = nil
		}
		e.Hash = consent.ChainHash(head, e)
		detail, err := json.Marshal(e.Detail)
		if err != nil {
			return nil, err
		}
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO consent_events (sender, seq, at, kind, recipient, list, record, detail, prev_hash, hash)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`), sender, e.Seq, nanos(e.At), e.Kind, e.Recipient, e.List, e.Record, string(detail), e.PrevHash, e.Hash); err != nil {
			return nil, fmt.Errorf("append consent event: %w", err)
		}
		head = e.Hash
		out[i] = e
	}
	if _, err := tx.ExecContext(ctx, s.q(`UPDATE consent_senders SET log_seq = ?, log_hash = ? WHERE id = ?`), seq, head, sender); err != nil {
		return nil, err
	}
	return out, nil
}

// Apply implements consent.Store: one change, in one transaction, under
// the sender's lock (its log head row).
func (s *Store) Apply(ctx context.Context, c consent.Change) ([]consent.Event, error) {
	var out []consent.Event
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var supSeq int64
		err := tx.QueryRowContext(ctx, s.q(`SELECT sup_seq FROM consent_senders WHERE id = ?`+s.d.ForUpdate), c.Sender).Scan(&supSeq)
		if isNoRows(err) {
			return consent.ErrNotFound
		}
		if err != nil {
			return err
		}
		for _, r := range c.NewRecords {
			capture, _ := json.Marshal(r.Capture)
			customer := []byte("")
			if r.Customer != nil {
				customer, _ = json.Marshal(r.Customer)
			}
			if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO consent_records (id, sender, recipient, list, basis, status, confirmed, capture,
				customer, created, confirmed_at, withdrawn_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
				r.ID, c.Sender, r.Recipient, r.List, r.Basis, r.Status, boolInt(r.Confirmed), string(capture), string(customer),
				nanos(r.Created), optNanos(r.ConfirmedAt), optNanos(r.WithdrawnAt)); err != nil {
				return fmt.Errorf("add consent record: %w", err)
			}
		}
		for _, t := range c.Transitions {
			res, err := tx.ExecContext(ctx, s.q(`UPDATE consent_records SET status = ?, confirmed = ?, confirmed_at = ?, withdrawn_at = ?
				WHERE id = ? AND sender = ? AND status = ?`), t.To.Status, boolInt(t.To.Confirmed), optNanos(t.To.ConfirmedAt), optNanos(t.To.WithdrawnAt),
				t.Record, c.Sender, t.From)
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n != 1 {
				return consent.ErrConflict
			}
		}
		added := 0
		for _, x := range c.Suppress {
			var lifted int64
			err := tx.QueryRowContext(ctx, s.q(`SELECT lifted FROM consent_suppressions WHERE sender = ? AND recipient = ? AND list = ?`),
				c.Sender, x.Recipient, x.List).Scan(&lifted)
			switch {
			case isNoRows(err):
				supSeq++
				if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO consent_suppressions (sender, recipient, list, seq, reason, requested_at, deadline,
					jurisdiction, synced_at, lifted, lifted_at, changed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, 0, 0, ?)`),
					c.Sender, x.Recipient, x.List, supSeq, x.Reason, nanos(x.RequestedAt), nanos(x.Deadline), x.Jurisdiction, nanos(x.RequestedAt)); err != nil {
					return fmt.Errorf("add suppression: %w", err)
				}
				added++
			case err != nil:
				return err
			case lifted != 0:
				supSeq++
				if _, err := tx.ExecContext(ctx, s.q(`UPDATE consent_suppressions SET seq = ?, reason = ?, requested_at = ?, deadline = ?, jurisdiction = ?,
					synced_at = 0, lifted = 0, lifted_at = 0, changed_at = ? WHERE sender = ? AND recipient = ? AND list = ?`),
					supSeq, x.Reason, nanos(x.RequestedAt), nanos(x.Deadline), x.Jurisdiction, nanos(x.RequestedAt), c.Sender, x.Recipient, x.List); err != nil {
					return err
				}
				added++
			}
		}
		if c.RequireNew && len(c.Suppress) > 0 && added == 0 {
			return consent.ErrDuplicate
		}
		for _, x := range c.Lift {
			supSeq++
			if _, err := tx.ExecContext(ctx, s.q(`UPDATE consent_suppressions SET seq = ?, synced_at = 0, lifted = 1, lifted_at = ?, changed_at = ?
				WHERE sender = ? AND recipient = ? AND list = ? AND lifted = 0`),
				supSeq, nanos(x.LiftedAt), nanos(x.LiftedAt), c.Sender, x.Recipient, x.List); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, s.q(`UPDATE consent_senders SET sup_seq = ? WHERE id = ?`), supSeq, c.Sender); err != nil {
			return err
		}
		if x := c.Complaint; x != nil {
			res, err := tx.ExecContext(ctx, s.q(`INSERT INTO consent_complaints (report_id, sender, at, recipient, list, campaign, how, consent_on_record,
				consent_record, after_opt_out, forwarded, message_key, token_recipient, flags) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`),
				x.ReportID, c.Sender, nanos(x.At), x.Recipient, x.List, x.Campaign, x.How, boolInt(x.ConsentOnRecord), x.ConsentRecord,
				boolInt(x.AfterOptOut), x.Forwarded, x.MessageKey, x.TokenRecipient, strings.Join(x.Flags, ","))
			if err != nil {
				return fmt.Errorf("add complaint: %w", err)
			}
			if n, _ := res.RowsAffected(); n == 0 {
				return consent.ErrDuplicate // this report was counted already
			}
			// A campaign counts a message once, however many report it.
			repeat := 0
			if x.MessageKey != "" {
				if err := tx.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM consent_complaints WHERE sender = ? AND message_key = ? AND report_id <> ?
					AND how NOT IN (?, ?)`), c.Sender, x.MessageKey, x.ReportID, consent.HowDKIMUnverified, consent.HowTokenUnverified).Scan(&repeat); err != nil {
					return err
				}
			}
			if x.Campaign != "" && x.Counted() && repeat == 0 {
				if _, err := tx.ExecContext(ctx, s.q(`UPDATE consent_campaigns SET complaints = complaints + 1 WHERE sender = ? AND list = ? AND name = ?`),
					c.Sender, x.List, x.Campaign); err != nil {
					return err
				}
			}
		}
		out, err = s.appendEvents(ctx, tx, c.Sender, c.Events)
		return err
	})
	return out, err
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

const recordCols = `id, sender, recipient, list, basis, status, confirmed, capture, customer, created, confirmed_at, withdrawn_at`

func scanRecord(row interface{ Scan(...any) error }) (consent.Record, error) {
	var r consent.Record
	var confirmed, created, confirmedAt, withdrawnAt int64
	var capture, customer string
	err := row.Scan(&r.ID, &r.Sender, &r.Recipient, &r.List, &r.Basis, &r.Status, &confirmed, &capture, &customer, &created, &confirmedAt, &withdrawnAt)
	if isNoRows(err) {
		return r, consent.ErrNotFound
	}
	if err != nil {
		return r, err
	}
	r.Confirmed = confirmed != 0
	r.Created, r.ConfirmedAt, r.WithdrawnAt = fromNanos(created), optTime(confirmedAt), optTime(withdrawnAt)
	if err := json.Unmarshal([]byte(capture), &r.Capture); err != nil {
		return r, fmt.Errorf("consent record %s: capture: %w", r.ID, err)
	}
	if customer != "" {
		r.Customer = &consent.Customer{}
		if err := json.Unmarshal([]byte(customer), r.Customer); err != nil {
			return r, fmt.Errorf("consent record %s: customer: %w", r.ID, err)
		}
	}
	return r, nil
}

// Record implements consent.Store.
func (s *Store) Record(ctx context.Context, id string) (consent.Record, error) {
	return scanRecord(s.db.QueryRowContext(ctx, s.q(`SELECT `+recordCols+` FROM consent_records WHERE id = ?`), id))
}

// Records implements consent.Store.
func (s *Store) Records(ctx context.Context, sender, recipient string) ([]consent.Record, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT `+recordCols+` FROM consent_records WHERE sender = ? AND recipient = ? ORDER BY created, id`), sender, recipient)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []consent.Record
	for rows.Next() {
		r, err := scanRecord(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// ActiveRecords implements consent.Store.
func (s *Store) ActiveRecords(ctx context.Context, sender string) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM consent_records WHERE sender = ? AND status = ?`), sender, consent.RecordActive).Scan(&n)
	return n, err
}

// PendingBefore implements consent.Store, through the partial index of
// pending records (schema 41).
func (s *Store) PendingBefore(ctx context.Context, before time.Time, limit int) ([]consent.Record, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT `+recordCols+` FROM consent_records WHERE status = 'pending' AND created < ? ORDER BY created LIMIT ?`),
		nanos(before), limit)
	if err != nil {
		return nil, fmt.Errorf("pending consent records: %w", err)
	}
	defer rows.Close()
	var out []consent.Record
	for rows.Next() {
		r, err := scanRecord(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// ConfirmedRecipients implements consent.Store.
func (s *Store) ConfirmedRecipients(ctx context.Context, sender string) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, s.q(`SELECT COUNT(DISTINCT recipient) FROM consent_records WHERE sender = ? AND status = ? AND confirmed <> 0`),
		sender, consent.RecordActive).Scan(&n)
	return n, err
}

// CountEvents implements consent.Store.
func (s *Store) CountEvents(ctx context.Context, sender string, f consent.EventQuery) (int, error) {
	q := `SELECT COUNT(*) FROM consent_events WHERE sender = ?`
	args := []any{sender}
	if f.Recipient != "" {
		q += ` AND recipient = ?`
		args = append(args, f.Recipient)
	}
	q += ` AND kind = ? AND at >= ?`
	args = append(args, f.Kind, nanos(f.Since))
	if f.Record != "" {
		q += ` AND record = ?`
		args = append(args, f.Record)
	}
	var n int
	err := s.db.QueryRowContext(ctx, s.q(q), args...).Scan(&n)
	return n, err
}

// Events implements consent.Store.
func (s *Store) Events(ctx context.Context, sender, recipient string, after int64, limit int) ([]consent.Event, error) {
	if limit <= 0 {
		limit = 1000
	}
	q := `SELECT seq, at, kind, recipient, list, record, detail, prev_hash, hash FROM consent_events WHERE sender = ? AND seq > ?`
	args := []any{sender, after}
	if recipient != "" {
		q += ` AND recipient = ?`
		args = append(args, recipient)
	}
	q += ` ORDER BY seq LIMIT ?`
	args = append(args, limit)
	rows, err := s.db.QueryContext(ctx, s.q(q), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []consent.Event{}
	for rows.Next() {
		e := consent.Event{Sender: sender}
		var at int64
		var detail string
		if err := rows.Scan(&e.Seq, &at, &e.Kind, &e.Recipient, &e.List, &e.Record, &detail, &e.PrevHash, &e.Hash); err != nil {
			return nil, err
		}
		e.At = fromNanos(at)
		if err := json.Unmarshal([]byte(detail), &e.Detail); err != nil {
			return nil, fmt.Errorf("consent event %d: %w", e.Seq, err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// Head implements consent.Store.
func (s *Store) Head(ctx context.Context, sender string) (int64, string, error) {
	var seq int64
	var h string
	err := s.db.QueryRowContext(ctx, s.q(`SELECT log_seq, log_hash FROM consent_senders WHERE id = ?`), sender).Scan(&seq, &h)
	if isNoRows(err) {
		return 0, "", consent.ErrNotFound
	}
	return seq, h, err
}

const supCols = `sender, recipient, list, seq, reason, requested_at, deadline, jurisdiction, synced_at, lifted, lifted_at`

func scanSuppression(row interface{ Scan(...any) error }) (consent.Suppression, error) {
	var x consent.Suppression
	var req, dl, synced, lifted, liftedAt int64
	if err := row.Scan(&x.Sender, &x.Recipient, &x.List, &x.Seq, &x.Reason, &req, &dl, &x.Jurisdiction, &synced, &lifted, &liftedAt); err != nil {
		return x, err
	}
	x.RequestedAt, x.Deadline, x.SyncedAt = fromNanos(req), fromNanos(dl), optTime(synced)
	x.Lifted, x.LiftedAt = lifted != 0, optTime(liftedAt)
	return x, nil
}

func (s *Store) suppressions(ctx context.Context, q string, args ...any) ([]consent.Suppression, error) {
	rows, err := s.db.QueryContext(ctx, s.q(q), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []consent.Suppression{}
	for rows.Next() {
		x, err := scanSuppression(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, x)
	}
	return out, rows.Err()
}

// Suppressed implements consent.Store.
func (s *Store) Suppressed(ctx context.Context, sender, recipient string) ([]consent.Suppression, error) {
	return s.suppressions(ctx, `SELECT `+supCols+` FROM consent_suppressions WHERE sender = ? AND recipient = ? ORDER BY seq`, sender, recipient)
}

// NoteMailbox implements consent.Store.
func (s *Store) NoteMailbox(ctx context.Context, sender, recipient, mailbox string) error {
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO consent_recipients (sender, hash, mailbox) VALUES (?, ?, ?)
		ON CONFLICT (sender, hash) DO UPDATE SET mailbox = excluded.mailbox WHERE consent_recipients.mailbox = ''`), sender, recipient, mailbox)
	if err != nil {
		return fmt.Errorf("file a recipient's mailbox: %w", err)
	}
	return nil
}

// MailboxSuppressions implements consent.Store.
func (s *Store) MailboxSuppressions(ctx context.Context, sender, mailbox string) ([]consent.Suppression, error) {
	return s.suppressions(ctx, `SELECT `+supCols+` FROM consent_suppressions WHERE sender = ? AND recipient IN
		(SELECT hash FROM consent_recipients WHERE sender = ? AND mailbox = ?) ORDER BY seq`, sender, sender, mailbox)
}

// batchSize bounds the values of one IN list: far under SQLite's and
// PostgreSQL's limits on parameters.
const batchSize = 500

// inBatches calls f with the distinct values of vs, batchSize at a time,
// with the placeholders of an IN list for them.
func inBatches(vs []string, f func(in string, args []any) error) error {
	seen := make(map[string]bool, len(vs))
	var batch []any
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := f(strings.TrimSuffix(strings.Repeat("?, ", len(batch)), ", "), batch)
		batch = nil
		return err
	}
	for _, v := range vs {
		if seen[v] {
			continue
		}
		seen[v] = true
		if batch = append(batch, v); len(batch) == batchSize {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

// SuppressedMany implements consent.Store.
func (s *Store) SuppressedMany(ctx context.Context, sender string, recipients []string) (map[string][]consent.Suppression, error) {
	out := map[string][]consent.Suppression{}
	err := inBatches(recipients, func(in string, args []any) error {
		sups, err := s.suppressions(ctx, `SELECT `+supCols+` FROM consent_suppressions WHERE sender = ? AND recipient IN (`+in+`) ORDER BY seq`,
			append([]any{sender}, args...)...)
		for _, x := range sups {
			out[x.Recipient] = append(out[x.Recipient], x)
		}
		return err
	})
	return out, err
}

// MailboxRecipients implements consent.Store.
func (s *Store) MailboxRecipients(ctx context.Context, sender string, mailboxes []string) (map[string][]string, error) {
	out := map[string][]string{}
	err := inBatches(mailboxes, func(in string, args []any) error {
		rows, err := s.db.QueryContext(ctx, s.q(`SELECT mailbox, hash FROM consent_recipients WHERE sender = ? AND mailbox IN (`+in+`)`),
			append([]any{sender}, args...)...)
		if err != nil {
			return fmt.Errorf("recipients by mailbox: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var m, h string
			if err := rows.Scan(&m, &h); err != nil {
				return err
			}
			out[m] = append(out[m], h)
		}
		return rows.Err()
	})
	return out, err
}

// RecordsMany implements consent.Store.
func (s *Store) RecordsMany(ctx context.Context, sender string, recipients []string) (map[string][]consent.Record, error) {
	out := map[string][]consent.Record{}
	err := inBatches(recipients, func(in string, args []any) error {
		rows, err := s.db.QueryContext(ctx, s.q(`SELECT `+recordCols+` FROM consent_records WHERE sender = ? AND recipient IN (`+in+`) ORDER BY created, id`),
			append([]any{sender}, args...)...)
		if err != nil {
			return fmt.Errorf("records: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			r, err := scanRecord(rows)
			if err != nil {
				return err
			}
			out[r.Recipient] = append(out[r.Recipient], r)
		}
		return rows.Err()
	})
	return out, err
}

// RecipientRefs implements consent.Store: one read per batch; a new
// recipient, or one filed before mailboxes were, goes through
// RecipientRef (a write).
func (s *Store) RecipientRefs(ctx context.Context, sender string, hashes, mailboxes []string) ([]int64, error) {
	type filed struct {
		id      int64
		mailbox string
	}
	known := map[string]filed{}
	err := inBatches(hashes, func(in string, args []any) error {
		rows, err := s.db.QueryContext(ctx, s.q(`SELECT hash, id, mailbox FROM consent_recipients WHERE sender = ? AND hash IN (`+in+`)`),
			append([]any{sender}, args...)...)
		if err != nil {
			return fmt.Errorf("recipient refs: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			var h string
			var f filed
			if err := rows.Scan(&h, &f.id, &f.mailbox); err != nil {
				return err
			}
			known[h] = f
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	out := make([]int64, len(hashes))
	for i, h := range hashes {
		f, ok := known[h]
		if ok && (f.mailbox != "" || mailboxes[i] == "") {
			out[i] = f.id
			continue
		}
		if out[i], err = s.RecipientRef(ctx, sender, h, mailboxes[i]); err != nil {
			return nil, err
		}
		known[h] = filed{id: out[i], mailbox: mailboxes[i]}
	}
	return out, nil
}

// SuppressionFeed implements consent.Store.
func (s *Store) SuppressionFeed(ctx context.Context, sender string, fq consent.FeedQuery, now time.Time) ([]consent.Suppression, error) {
	out, err := s.suppressions(ctx, `SELECT `+supCols+` FROM consent_suppressions WHERE sender = ? AND seq > ? AND changed_at >= ? ORDER BY seq LIMIT ?`,
		sender, fq.After, optNanos(fq.Since), fq.Limit)
	if err != nil || len(out) == 0 {
		return out, err
	}
	// Mark what this answer hands over, in one statement per answer.
	var unsynced []any
	for _, x := range out {
		if x.SyncedAt.IsZero() {
			unsynced = append(unsynced, x.Seq)
		}
	}
	for len(unsynced) > 0 {
		n := min(len(unsynced), 500)
		args := append([]any{nanos(now), sender}, unsynced[:n]...)
		if _, err := s.db.ExecContext(ctx, s.q(`UPDATE consent_suppressions SET synced_at = ? WHERE sender = ? AND synced_at = 0 AND seq IN (?`+
			strings.Repeat(", ?", n-1)+`)`), args...); err != nil {
			return nil, fmt.Errorf("mark suppressions synced: %w", err)
		}
		unsynced = unsynced[n:]
	}
	return out, nil
}

// Overdue implements consent.Store.
func (s *Store) Overdue(ctx context.Context, sender string, now time.Time) ([]consent.Suppression, error) {
	q := `SELECT ` + supCols + ` FROM consent_suppressions WHERE lifted = 0 AND ((synced_at = 0 AND deadline < ?) OR synced_at > deadline)`
	args := []any{nanos(now)}
	if sender != "" {
		q += ` AND sender = ?`
		args = append(args, sender)
	}
	// Every one: an opt-out missed is a legal fault, and a shortened
	// list would hide some.
	return s.suppressions(ctx, q+` ORDER BY deadline`, args...)
}

const complaintCols = `report_id, sender, at, recipient, list, campaign, how, consent_on_record, consent_record, after_opt_out, forwarded, message_key,
	token_recipient, flags`

func (s *Store) complaints(ctx context.Context, q string, args ...any) ([]consent.Complaint, error) {
	rows, err := s.db.QueryContext(ctx, s.q(q), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []consent.Complaint{}
	for rows.Next() {
		var c consent.Complaint
		var at, cor, aoo int64
		var flags string
		if err := rows.Scan(&c.ReportID, &c.Sender, &at, &c.Recipient, &c.List, &c.Campaign, &c.How, &cor, &c.ConsentRecord, &aoo, &c.Forwarded,
			&c.MessageKey, &c.TokenRecipient, &flags); err != nil {
			return nil, err
		}
		if flags != "" {
			c.Flags = strings.Split(flags, ",")
		}
		c.At, c.ConsentOnRecord, c.AfterOptOut = fromNanos(at), cor != 0, aoo != 0
		out = append(out, c)
	}
	return out, rows.Err()
}

// SenderComplaints implements consent.Store.
func (s *Store) SenderComplaints(ctx context.Context, sender string, limit int) ([]consent.Complaint, error) {
	if limit <= 0 {
		limit = 1000
	}
	return s.complaints(ctx, `SELECT `+complaintCols+` FROM consent_complaints WHERE sender = ? ORDER BY at DESC LIMIT ?`, sender, limit)
}

// ComplaintsByReport implements consent.Store.
func (s *Store) ComplaintsByReport(ctx context.Context, reportID string) ([]consent.Complaint, error) {
	return s.complaints(ctx, `SELECT `+complaintCols+` FROM consent_complaints WHERE report_id = ? ORDER BY sender`, reportID)
}

// CountComplaints implements consent.Store: the counted complaints, one
// per reported message.
func (s *Store) CountComplaints(ctx context.Context, sender string, since time.Time) (int64, error) {
	var n int64
	err := s.db.QueryRowContext(ctx, s.q(`SELECT COUNT(DISTINCT CASE WHEN message_key = '' THEN 'report:' || report_id ELSE message_key END)
		FROM consent_complaints WHERE sender = ? AND at >= ? AND how NOT IN (?, ?)`),
		sender, nanos(since), consent.HowDKIMUnverified, consent.HowTokenUnverified).Scan(&n)
	return n, err
}

// complainantGroups groups a sender's counted complaints since a time by
// complainant: a named one by the folded mailbox filed for their key (one
// person's spellings are one complainant), else by the key; a complaint
// naming nobody by its message, as CountComplaints counts it.
const complainantGroups = `SELECT MAX(c.at) AS latest FROM consent_complaints c
	LEFT JOIN consent_recipients r ON r.sender = c.sender AND r.hash = c.recipient
	WHERE c.sender = ? AND c.at >= ? AND c.how NOT IN (?, ?)
	GROUP BY CASE WHEN c.recipient = '' THEN 'message:' || CASE WHEN c.message_key = '' THEN 'report:' || c.report_id ELSE c.message_key END
		ELSE 'mailbox:' || COALESCE(NULLIF(r.mailbox, ''), c.recipient) END`

// Complainants implements consent.Store.
func (s *Store) Complainants(ctx context.Context, sender string, since time.Time, top int) (int64, []time.Time, error) {
	args := []any{sender, nanos(since), consent.HowDKIMUnverified, consent.HowTokenUnverified}
	var n int64
	if err := s.db.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM (`+complainantGroups+`) g`), args...).Scan(&n); err != nil {
		return 0, nil, fmt.Errorf("count complainants: %w", err)
	}
	rows, err := s.db.QueryContext(ctx, s.q(complainantGroups+` ORDER BY latest DESC LIMIT ?`), append(args, top)...)
	if err != nil {
		return 0, nil, fmt.Errorf("latest complaints: %w", err)
	}
	defer rows.Close()
	var latest []time.Time
	for rows.Next() {
		var at int64
		if err := rows.Scan(&at); err != nil {
			return 0, nil, err
		}
		latest = append(latest, fromNanos(at))
	}
	return n, latest, rows.Err()
}

// MessageComplaints implements consent.Store.
func (s *Store) MessageComplaints(ctx context.Context, sender, key string) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM consent_complaints WHERE sender = ? AND message_key = ? AND how NOT IN (?, ?)`),
		sender, key, consent.HowDKIMUnverified, consent.HowTokenUnverified).Scan(&n)
	return n, err
}

// MarkForwarded implements consent.Store.
func (s *Store) MarkForwarded(ctx context.Context, reportID, sender, mailID string) error {
	_, err := s.db.ExecContext(ctx, s.q(`UPDATE consent_complaints SET forwarded = ? WHERE report_id = ? AND sender = ?`), mailID, reportID, sender)
	return err
}

var _ consent.Store = (*Store)(nil)
