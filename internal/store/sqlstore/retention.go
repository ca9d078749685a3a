package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/accord-antispam/accord/internal/intake"
	"github.com/accord-antispam/accord/internal/outbound"
)

// heldCond is true for reports whose campaign's case is being worked.
func heldCond(a string) string {
	return a + `.campaign_id IN (SELECT campaign_id FROM cases WHERE status IN ('` + strings.Join(intake.Held, "', '") + `'))`
}

// ids runs a query of one text column.
func (s *Store) ids(ctx context.Context, query string, args ...any) ([]string, error) {
	rows, err := s.db.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// inTx runs f in one transaction.
func (s *Store) inTx(ctx context.Context, f func(tx *sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := f(tx); err != nil {
		return err
	}
	return tx.Commit()
}

type reportRef struct {
	id, sha   string
	size      int64
	reporter  string
	complaint string
}

func (s *Store) reportsOf(ctx context.Context, tx *sql.Tx, complaintID string) ([]reportRef, error) {
	rows, err := tx.QueryContext(ctx, s.q(`SELECT id, sha256, LENGTH(raw), reporter_id FROM reports WHERE complaint_id = ? ORDER BY id`), complaintID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []reportRef
	for rows.Next() {
		r := reportRef{complaint: complaintID}
		if err := rows.Scan(&r.id, &r.sha, &r.size, &r.reporter); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// dropIdentity deletes a complaint's bytes and its link to its reporter,
// and the reporter's address once no complaint names them. It returns
// false when another purge got there first.
func (s *Store) dropIdentity(ctx context.Context, tx *sql.Tx, complaintID string, now time.Time) (sha string, size int64, ok bool, err error) {
	// The acknowledgement went to the reporter's address with the status
	// links: it goes with the identity, queued or sent (and is looked for
	// even when the complaint went before acknowledgements went with it).
	if err := deleteMail(ctx, s, tx, `ref = ?`, "complaint:"+complaintID); err != nil {
		return "", 0, false, err
	}
	var reporter string
	var purged int64
	err = tx.QueryRowContext(ctx, s.q(`SELECT c.sha256, LENGTH(`+complaintRaw("c")+`), c.reporter_id, c.purged_at FROM complaints c WHERE c.id = ?`+s.d.ForUpdate), complaintID).Scan(&sha, &size, &reporter, &purged)
	if err == sql.ErrNoRows || (err == nil && purged != 0) {
		return sha, size, false, nil
	}
	if err != nil {
		return "", 0, false, err
	}
	if _, err := tx.ExecContext(ctx, s.q(`UPDATE complaints SET raw = ?, raw_report = '', reporter_id = '', purged_at = ? WHERE id = ?`), []byte{}, nanos(now), complaintID); err != nil {
		return "", 0, false, err
	}
	if _, err := tx.ExecContext(ctx, s.q(`UPDATE reports SET reporter_id = '' WHERE complaint_id = ?`), complaintID); err != nil {
		return "", 0, false, err
	}
	if reporter != "" {
		if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM reporters WHERE id = ? AND NOT EXISTS (SELECT 1 FROM complaints WHERE reporter_id = ?)`), reporter, reporter); err != nil {
			return "", 0, false, err
		}
	}
	return sha, size, true, nil
}

// dropEvidence deletes a report's message and analysis, keeping the
// indexed figures statistics use, and with them its grouping signature
// and the keys only it gave its campaign (forgetKeys). A complaint whose
// bytes are that message's (migration 27) and that still keeps them gets
// its own copy first: the message and the complaint have retentions of
// their own.
func (s *Store) dropEvidence(ctx context.Context, tx *sql.Tx, live liveKeys, id string, now time.Time) (bool, error) {
	if _, err := tx.ExecContext(ctx, s.q(`UPDATE complaints SET raw = (SELECT raw FROM reports WHERE id = ?), raw_report = ''
		WHERE id = (SELECT complaint_id FROM reports WHERE id = ?) AND raw_report = ?`), id, id, id); err != nil {
		return false, err
	}
	res, err := tx.ExecContext(ctx, s.q(`UPDATE reports SET raw = ?, verdict = '{}', subject = '', feedback = '{}', unverifiable = '[]', forwarders = '[]', origin_ip = '', purged_at = ?
		WHERE id = ? AND purged_at = 0`), []byte{}, nanos(now), id)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	if err != nil || n != 1 {
		return false, err
	}
	// Its grouping keys and signature go too, read now that the row is
	// this transaction's (a merge moving it has committed or waits), and
	// in a merge's order: the report, then the keys, then the campaign.
	var camp, sig string
	if err := tx.QueryRowContext(ctx, s.q(`SELECT campaign_id, signature FROM reports WHERE id = ?`), id).Scan(&camp, &sig); err != nil {
		return false, err
	}
	if err := s.forgetKeys(ctx, tx, live, id, camp, sig); err != nil {
		return false, err
	}
	if _, err := tx.ExecContext(ctx, s.q(`UPDATE reports SET signature = '{}' WHERE id = ?`), id); err != nil {
		return false, err
	}
	// The campaign shows its founder's subject, which often names the
	// recipient: it takes the subject of its earliest report still
	// holding its message, or none.
	if _, err := tx.ExecContext(ctx, s.q(`UPDATE campaigns SET subject = COALESCE((SELECT r.subject FROM reports r
			WHERE r.campaign_id = campaigns.id AND r.purged_at = 0 AND r.subject <> '' ORDER BY r.received_at, r.id LIMIT 1), '')
		WHERE id = (SELECT campaign_id FROM reports WHERE id = ?)`), id); err != nil {
		return false, fmt.Errorf("campaign subject: %w", err)
	}
	// A campaign this report founded and that was merged away is no
	// report's campaign, so the statement above never reaches it; it
	// keeps its founder's subject and signature only to answer for its
	// id (attack 11, F5): both go with the report's message.
	if _, err := tx.ExecContext(ctx, s.q(`UPDATE campaigns SET subject = '', signature = '{}' WHERE founder = ? AND merged_into <> ''`), id); err != nil {
		return false, fmt.Errorf("merged campaign of %s: %w", id, err)
	}
	return true, nil
}

// dropIdentityWithLast drops a complaint's bytes and reporter when the
// report id, about to lose its message, is the last of the complaint's
// reports that keeps one; each of its reports gets the tombstone of the
// complaint's deletion (its bundle names the complaint as removed by it).
func (s *Store) dropIdentityWithLast(ctx context.Context, tx *sql.Tx, cid, id string, now time.Time, why string) error {
	var others int
	if err := tx.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM reports WHERE complaint_id = ? AND id <> ? AND purged_at = 0`), cid, id).Scan(&others); err != nil {
		return err
	}
	if others > 0 {
		return nil
	}
	reps, err := s.reportsOf(ctx, tx, cid)
	if err != nil {
		return err
	}
	sha, size, ok, err := s.dropIdentity(ctx, tx, cid, now)
	if err != nil || !ok {
		return err
	}
	for _, r := range reps {
		if err := s.tombstone(ctx, tx, r.id, "purged-identity",
			fmt.Sprintf("complaint %s (sha256 %s, %d bytes) and the reporter's identity deleted with the complaint's last message; %s", cid, sha, size, why), now); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) tombstone(ctx context.Context, tx *sql.Tx, reportID, action, detail string, now time.Time) error {
	_, err := s.appendCustody(ctx, tx, intake.CustodyEntry{ReportID: reportID, At: now, Actor: "system", Action: action, Detail: detail})
	return err
}

// PurgeIdentity implements intake.RetentionStore.
func (s *Store) PurgeIdentity(ctx context.Context, cutoff, now time.Time, why string, limit int) (int, error) {
	cs, err := s.ids(ctx, `SELECT id FROM complaints WHERE purged_at = 0 AND received_at < ? ORDER BY received_at LIMIT `+fmt.Sprint(limit), nanos(cutoff))
	if err != nil {
		return 0, fmt.Errorf("purge identities: %w", err)
	}
	// The desk's answers name the person they went to: how-to answers
	// (that person sent nothing to report) and acknowledgements go with
	// the identities of their age (an acknowledgement also goes with its
	// complaint, erased or purged, whatever its age).
	if err := s.inTx(ctx, func(tx *sql.Tx) error {
		return deleteMail(ctx, s, tx, `kind IN (?, ?) AND created_at < ?`, string(outbound.KindHowTo), string(outbound.KindAck), nanos(cutoff))
	}); err != nil {
		return 0, fmt.Errorf("purge identities: how-to answers: %w", err)
	}
	done := 0
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		for _, cid := range cs {
			reps, err := s.reportsOf(ctx, tx, cid)
			if err != nil {
				return err
			}
			sha, size, ok, err := s.dropIdentity(ctx, tx, cid, now)
			if err != nil || !ok {
				return err
			}
			done++
			for _, r := range reps {
				if err := s.tombstone(ctx, tx, r.id, "purged-identity",
					fmt.Sprintf("complaint %s (sha256 %s, %d bytes) and the reporter's identity deleted; %s", cid, sha, size, why), now); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("purge identities: %w", err)
	}
	return done, nil
}

// PurgeEvidence implements intake.RetentionStore.
func (s *Store) PurgeEvidence(ctx context.Context, cutoff, now time.Time, why string, limit int) (int, error) {
	rs, err := s.ids(ctx, `SELECT r.id FROM reports r WHERE r.purged_at = 0 AND r.received_at < ? AND NOT `+heldCond("r")+
		` ORDER BY r.received_at LIMIT `+fmt.Sprint(limit), nanos(cutoff))
	if err != nil {
		return 0, fmt.Errorf("purge evidence: %w", err)
	}
	done := 0
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		live := liveKeys{}
		for _, id := range rs {
			var sha, cid string
			var size int64
			if err := tx.QueryRowContext(ctx, s.q(`SELECT sha256, LENGTH(raw), complaint_id FROM reports WHERE id = ?`), id).Scan(&sha, &size, &cid); err != nil {
				return err
			}
			// The complaint goes with its last message, if its own
			// retention has not already taken it — first, so that a
			// complaint whose bytes are the message's (migration 27) is
			// not given a copy of them only to lose it. While another
			// report of it keeps its message (a case holds it, or it is
			// younger), the complaint and its reporter stay.
			if err := s.dropIdentityWithLast(ctx, tx, cid, id, now, why); err != nil {
				return err
			}
			ok, err := s.dropEvidence(ctx, tx, live, id, now)
			if err != nil || !ok {
				return err
			}
			done++
			if err := s.tombstone(ctx, tx, id, "purged-evidence",
				fmt.Sprintf("message (sha256 %s, %d bytes) and its analysis deleted, statistics kept; %s", sha, size, why), now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("purge evidence: %w", err)
	}
	return done, nil
}

// PurgeReports implements intake.RetentionStore.
func (s *Store) PurgeReports(ctx context.Context, cutoff, now time.Time, why string, limit int) (int, error) {
	rs, err := s.ids(ctx, `SELECT r.id FROM reports r WHERE r.received_at < ? AND NOT `+heldCond("r")+
		` ORDER BY r.received_at LIMIT `+fmt.Sprint(limit), nanos(cutoff))
	if err != nil {
		return 0, fmt.Errorf("purge reports: %w", err)
	}
	done := 0
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		live := liveKeys{}
		for _, id := range rs {
			var sha, cid, camp, sig string
			err := tx.QueryRowContext(ctx, s.q(`SELECT sha256, complaint_id, campaign_id FROM reports WHERE id = ?`), id).Scan(&sha, &cid, &camp)
			if err == sql.ErrNoRows {
				continue // another instance deleted it
			}
			if err != nil {
				return err
			}
			if err := s.dropIdentityWithLast(ctx, tx, cid, id, now, why); err != nil {
				return err
			}
			// A report deleted with its message (no evidence purge
			// before): its keys go as dropEvidence's would — its row
			// taken first, as a merge takes a campaign's reports before
			// their keys.
			err = tx.QueryRowContext(ctx, s.q(`SELECT campaign_id, signature FROM reports WHERE id = ?`+s.d.ForUpdate), id).Scan(&camp, &sig)
			if err == sql.ErrNoRows {
				continue
			}
			if err != nil {
				return err
			}
			if err := s.forgetKeys(ctx, tx, live, id, camp, sig); err != nil {
				return err
			}
			for _, q := range []string{`DELETE FROM report_domains WHERE report_id = ?`, `DELETE FROM report_findings WHERE report_id = ?`, `DELETE FROM reports WHERE id = ?`} {
				if _, err := tx.ExecContext(ctx, s.q(q), id); err != nil {
					return err
				}
			}
			if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM complaints WHERE id = ? AND NOT EXISTS (SELECT 1 FROM reports WHERE complaint_id = ?)`), cid, cid); err != nil {
				return err
			}
			// A retry's key answers with a complaint's receipt: gone with it.
			if _, err := tx.ExecContext(ctx, s.q(`DELETE FROM idempotency WHERE complaint_id = ? AND NOT EXISTS (SELECT 1 FROM complaints WHERE id = ?)`), cid, cid); err != nil {
				return err
			}
			var left int
			if err := tx.QueryRowContext(ctx, s.q(`SELECT COUNT(*) FROM reports WHERE campaign_id = ?`), camp).Scan(&left); err != nil {
				return err
			}
			if left == 0 {
				for _, q := range []string{`DELETE FROM campaign_keys WHERE campaign_id = ?`,
					`DELETE FROM campaigns WHERE id = ? AND NOT EXISTS (SELECT 1 FROM cases WHERE campaign_id = ?)`,
					// The campaigns merged into it go with it: their ids
					// would answer with a redirect to nothing.
					`DELETE FROM campaigns WHERE merged_into = ? AND merged_into <> '' AND NOT EXISTS (SELECT 1 FROM campaigns WHERE id = ?)`} {
					args := []any{camp}
					if strings.Count(q, "?") == 2 {
						args = append(args, camp)
					}
					if _, err := tx.ExecContext(ctx, s.q(q), args...); err != nil {
						return err
					}
				}
			}
			done++
			if err := s.tombstone(ctx, tx, id, "deleted", fmt.Sprintf("report deleted (message sha256 %s, campaign %s); %s", sha, camp, why), now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("purge reports: %w", err)
	}
	return done, nil
}

// EraseComplaint implements intake.RetentionStore.
func (s *Store) EraseComplaint(ctx context.Context, complaintID string, now time.Time) (intake.Erasure, error) {
	var e intake.Erasure
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		live := liveKeys{}
		reps, err := s.reportsOf(ctx, tx, complaintID)
		if err != nil {
			return err
		}
		sha, size, _, err := s.dropIdentity(ctx, tx, complaintID, now)
		if err != nil {
			return err
		}
		held := map[string]bool{}
		hs, err := tx.QueryContext(ctx, s.q(`SELECT r.id FROM reports r WHERE r.complaint_id = ? AND `+heldCond("r")), complaintID)
		if err != nil {
			return err
		}
		for hs.Next() {
			var id string
			hs.Scan(&id)
			held[id] = true
		}
		hs.Close()
		for _, r := range reps {
			e.Reports++
			res, err := tx.ExecContext(ctx, s.q(`UPDATE reports SET erased_at = ? WHERE id = ? AND erased_at = 0`), nanos(now), r.id)
			if err != nil {
				return err
			}
			newly, err := res.RowsAffected()
			if err != nil {
				return err
			}
			var purged int64
			if err := tx.QueryRowContext(ctx, s.q(`SELECT purged_at FROM reports WHERE id = ?`), r.id).Scan(&purged); err != nil {
				return err
			}
			detail := fmt.Sprintf("erased at the reporter's request: complaint %s (sha256 %s, %d bytes) and the reporter's identity deleted", complaintID, sha, size)
			if newly == 0 {
				// Erased before: a second erasure adds a tombstone only
				// when it deletes something — a message kept then for a
				// case that is no longer worked.
				if held[r.id] || purged != 0 {
					if held[r.id] {
						e.Held++
					}
					continue
				}
				detail = "erased again at the reporter's request"
			}
			if held[r.id] {
				e.Held++
				detail += fmt.Sprintf("; message (sha256 %s) kept, unlinked from the reporter, as evidence of a case being worked", r.sha)
			} else {
				if _, err := s.dropEvidence(ctx, tx, live, r.id, now); err != nil {
					return err
				}
				detail += fmt.Sprintf("; message (sha256 %s, %d bytes) and its analysis deleted, statistics kept", r.sha, r.size)
			}
			if err := s.tombstone(ctx, tx, r.id, "erased", detail, now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return e, fmt.Errorf("erase complaint %s: %w", complaintID, err)
	}
	return e, nil
}

// Scrub implements intake.Scrubber. On SQLite (whose connections zero
// freed content, secure_delete) it gives the pages a purge freed back to
// the file system (incremental_vacuum, on a file created with
// auto_vacuum) and truncates the write-ahead log, whose frames still hold
// the pages as they were before the deletion. On PostgreSQL it does
// nothing: a plain VACUUM only marks dead rows reusable without zeroing
// them (autovacuum does as much), and the write-ahead log is recycled by
// the server; docs/desk.md says what the operator must do.
func (s *Store) Scrub(ctx context.Context) error {
	if s.d.Name != SQLite.Name {
		return nil
	}
	if _, err := s.db.ExecContext(ctx, `PRAGMA incremental_vacuum`); err != nil {
		return fmt.Errorf("scrub: incremental vacuum: %w", err)
	}
	if _, err := s.db.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		return fmt.Errorf("scrub: checkpoint: %w", err)
	}
	return nil
}

var (
	_ intake.RetentionStore = (*Store)(nil)
	_ intake.Scrubber       = (*Store)(nil)
)
