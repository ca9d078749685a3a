package intake

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"time"
)

// Privacy by construction: each kind of data the desk holds has its own
// retention, after which it is purged automatically, leaving in the
// custody log a tombstone with the hashes of what was deleted (the chain
// stays whole and proves what existed); and a reporter can see, export and
// erase what the desk holds about them through their status link.
//
// Kinds of data:
//   - identity: the reporter's address and the complaint as they sent it
//     (their forward names them);
//   - evidence: the reported message, byte for byte, and its analysis;
//   - statistics: what is left of a report (date, channel, form, origin
//     country and network, sender and link domains, findings, campaign).
//
// Evidence and statistics of a campaign whose case is being worked
// (triage, investigating, referred) are held until the case closes.

// Retention is how long the desk keeps each kind of data; zero keeps it.
type Retention struct {
	Identity   time.Duration
	Evidence   time.Duration
	Statistics time.Duration
	// Mail is how long the record of the node's outbound mail is kept
	// once sent or failed (the outbound queue applies it, not Purge;
	// the desk's answers to a reporter go sooner, with their identity).
	Mail time.Duration
}

// Purged counts what one purge removed.
type Purged struct {
	Identities int // Complaints whose bytes and reporter were deleted.
	Evidence   int // Reports whose message and analysis were deleted.
	Reports    int // Reports deleted altogether.
}

// Held lists the case statuses under which a campaign's reports are kept
// whatever their age.
var Held = []string{"triage", "investigating", "referred"}

// RetentionStore is what retention and erasure need from a store. Each
// call is atomic per complaint or report, appends the tombstones in the
// same transaction, and is safe to run from several instances at once
// (what another already purged is skipped).
type RetentionStore interface {
	// PurgeIdentity deletes, for up to limit complaints received before
	// cutoff, the complaint's bytes and the link to its reporter (and the
	// reporter's address once no complaint names them).
	PurgeIdentity(ctx context.Context, cutoff, now time.Time, why string, limit int) (int, error)
	// PurgeEvidence deletes the message and analysis of up to limit
	// reports received before cutoff, outside held campaigns.
	PurgeEvidence(ctx context.Context, cutoff, now time.Time, why string, limit int) (int, error)
	// PurgeReports deletes up to limit reports received before cutoff,
	// outside held campaigns, with their complaints and campaigns once
	// empty.
	PurgeReports(ctx context.Context, cutoff, now time.Time, why string, limit int) (int, error)
	// EraseComplaint erases what a reporter sent in one complaint: its
	// bytes and identity, and each report's message and analysis unless
	// its campaign is held (then the message stays, unlinked from them).
	EraseComplaint(ctx context.Context, complaintID string, now time.Time) (Erasure, error)
}

// Scrubber is a store that can make deleted bytes unrecoverable from its
// files once a purge or an erasure deleted them (SQLite: its free pages
// and write-ahead log). Purge and Erase call it after deleting.
type Scrubber interface {
	Scrub(ctx context.Context) error
}

// scrub asks the store, when it can, to drop what was just deleted from
// its files; a failure is logged, not returned: the deletion stands.
func (d *Desk) scrub(ctx context.Context) {
	if sc, ok := d.store.(Scrubber); ok {
		if err := sc.Scrub(ctx); err != nil && ctx.Err() == nil {
			d.log.Warn("retention: scrub the store after a deletion", "err", err)
		}
	}
}

// Erasure says what an erasure did.
type Erasure struct {
	Reports int // Reports of the complaint.
	Held    int // Of which the message is kept, for a case being worked.
}

const purgeBatch = 500

// Purge applies the retention once, in batches, until nothing is due.
func (d *Desk) Purge(ctx context.Context, r Retention) (Purged, error) {
	var p Purged
	rs, ok := d.store.(RetentionStore)
	if !ok {
		return p, fmt.Errorf("intake: the store does not purge")
	}
	now := d.now().UTC()
	days := func(t time.Duration) int { return int(t / (24 * time.Hour)) }
	steps := []struct {
		keep time.Duration
		n    *int
		run  func(context.Context, time.Time, time.Time, string, int) (int, error)
		why  string
	}{
		{r.Identity, &p.Identities, rs.PurgeIdentity, "retention of reporter identity: %d days"},
		{r.Evidence, &p.Evidence, rs.PurgeEvidence, "retention of evidence: %d days"},
		{r.Statistics, &p.Reports, rs.PurgeReports, "retention of statistics: %d days"},
	}
	for _, s := range steps {
		if s.keep <= 0 {
			continue
		}
		cutoff := now.Add(-s.keep)
		for {
			n, err := s.run(ctx, cutoff, now, fmt.Sprintf(s.why, days(s.keep)), purgeBatch)
			*s.n += n
			if err != nil {
				return p, err
			}
			if n < purgeBatch {
				break
			}
		}
	}
	if p != (Purged{}) {
		d.scrub(ctx)
	}
	return p, nil
}

// Mine is what the desk holds about the holder of a status link.
type Mine struct {
	Report    *Report
	Complaint *Complaint
	Address   string // The reporter's address, when the desk knows it.
	Custody   []CustodyEntry
}

// checkToken returns the report when token is its status token; a wrong
// token and an unknown report are the same ErrNotFound.
func (d *Desk) checkToken(ctx context.Context, id, token string) (*Report, error) {
	r, err := d.store.Report(ctx, id)
	if err != nil {
		return nil, err
	}
	th := sha256.Sum256([]byte(token))
	if token == "" || subtle.ConstantTimeCompare([]byte(hex.EncodeToString(th[:])), []byte(r.StatusHash)) != 1 {
		return nil, ErrNotFound
	}
	return r, nil
}

// Mine returns everything the desk holds about the holder of a report's
// status link, and records the export in the custody log.
func (d *Desk) Mine(ctx context.Context, id, token string) (*Mine, error) {
	r, err := d.checkToken(ctx, id, token)
	if err != nil {
		return nil, err
	}
	Unlink(r)
	m := &Mine{Report: r}
	if m.Complaint, err = d.store.Complaint(ctx, r.ComplaintID); err != nil {
		return nil, fmt.Errorf("complaint of report %s: %w", id, err)
	}
	if !r.ErasedAt.IsZero() {
		// A complaint sent as the message itself has the held message's
		// hash: unlinked too.
		m.Complaint.SHA256 = ""
	}
	if r.ReporterID != "" {
		if m.Address, err = d.store.ReporterAddress(ctx, r.ReporterID); err != nil && err != ErrNotFound {
			return nil, err
		}
	}
	if _, err := d.store.AppendCustody(ctx, CustodyEntry{ReportID: id, At: d.now().UTC(), Actor: "reporter", Action: "status-exported",
		Detail: "the reporter downloaded what the desk holds about them"}); err != nil {
		return nil, fmt.Errorf("log export of report %s: %w", id, err)
	}
	if m.Custody, err = d.store.Custody(ctx, id); err != nil {
		return nil, err
	}
	return m, nil
}

// Erase erases what the holder of a report's status link sent in its
// complaint (a complaint is one submission by one person; its other
// reports go too). Reports the person sent in other complaints are not
// touched: each has its own link.
func (d *Desk) Erase(ctx context.Context, id, token string) (Erasure, error) {
	r, err := d.checkToken(ctx, id, token)
	if err != nil {
		return Erasure{}, err
	}
	rs, ok := d.store.(RetentionStore)
	if !ok {
		return Erasure{}, fmt.Errorf("intake: the store does not erase")
	}
	e, err := rs.EraseComplaint(ctx, r.ComplaintID, d.now().UTC())
	if err == nil {
		d.scrub(ctx)
	}
	return e, err
}
