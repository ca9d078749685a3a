// Package sqlstore implements Accord's stores over database/sql, for SQLite
// and PostgreSQL alike: one set of queries, written with "?" placeholders
// and rebound for PostgreSQL, and a Dialect for the few types that differ.
// store/sqlite and store/postgres open the databases; store/storetest is
// the conformance suite both must pass.
package sqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/accord-antispam/accord/internal/access"
	"github.com/accord-antispam/accord/internal/analysis"
	"github.com/accord-antispam/accord/internal/campaign"
	"github.com/accord-antispam/accord/internal/intake"
	"github.com/accord-antispam/accord/internal/rules"
)

// Store is a node's database.
type Store struct {
	db *sql.DB
	d  Dialect
	// PostgreSQL commits started again (CommitRetries).
	snapshotAgain, snapshotLocked atomic.Int64
	lockFirst                     atomic.Bool // LockFirst.
	throttleTakes                 atomic.Int64
}

// Open wraps an opened database and brings its schema up to date.
func Open(ctx context.Context, db *sql.DB, d Dialect) (*Store, error) {
	return OpenAt(ctx, db, d, LatestVersion())
}

// OpenAt is Open with the schema migrated up to version v at most: a
// test of a migration fills a database the way an earlier version stored
// it, then Open takes it the rest of the way.
func OpenAt(ctx context.Context, db *sql.DB, d Dialect, v int) (*Store, error) {
	s := &Store{db: db, d: d}
	if err := s.migrate(ctx, v); err != nil {
		return nil, err
	}
	if v >= regroupVersion {
		if err := s.regroup(ctx); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// DB returns the underlying database.
func (s *Store) DB() *sql.DB { return s.db }

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// q rebinds "?" placeholders for the dialect.
func (s *Store) q(query string) string {
	if !s.d.Numbered {
		return query
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(query); i++ {
		if query[i] == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteByte(query[i])
	}
	return b.String()
}

// migrationLock is the PostgreSQL advisory lock key under which schema
// migrations run ("accord-m"): several instances starting at once on one
// database migrate one after another, and the later ones find the work
// done.
const migrationLock = 0x6163636f72642d6d

func (s *Store) migrate(ctx context.Context, upTo int) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer conn.Close()
	if s.d.Name == "postgres" {
		if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, int64(migrationLock)); err != nil {
			return fmt.Errorf("migrate: take the migration lock: %w", err)
		}
		defer conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, int64(migrationLock))
	}
	if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL, applied_at BIGINT NOT NULL)`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	var have int
	if err := conn.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&have); err != nil {
		return fmt.Errorf("migrate: read version: %w", err)
	}
	ms := migrations(s.d)
	if have > len(ms) {
		return fmt.Errorf("migrate: the database is at schema version %d, newer than this accord (%d)", have, len(ms))
	}
	for v := have + 1; v <= min(len(ms), upTo); v++ {
		tx, err := conn.BeginTx(ctx, nil)
		if err != nil {
			return fmt.Errorf("migrate to %d: %w", v, err)
		}
		// Another process may have migrated while this one waited for
		// its write lock (SQLite): read the version again inside.
		var now int
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&now); err != nil {
			tx.Rollback()
			return fmt.Errorf("migrate: read version: %w", err)
		}
		if now >= v {
			tx.Rollback()
			continue
		}
		for _, stmt := range strings.Split(ms[v-1], ";\n") {
			if strings.TrimSpace(stmt) == "" {
				continue
			}
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				tx.Rollback()
				return fmt.Errorf("migrate to %d: %w\n%s", v, err, stmt)
			}
		}
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO schema_version (version, applied_at) VALUES (?, ?)`), v, time.Now().UnixNano()); err != nil {
			tx.Rollback()
			return fmt.Errorf("migrate to %d: %w", v, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("migrate to %d: %w", v, err)
		}
	}
	return nil
}

// SchemaVersion returns the applied schema version.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := s.db.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&v)
	return v, err
}

func nanos(t time.Time) int64 { return t.UTC().UnixNano() }
func fromNanos(n int64) time.Time {
	return time.Unix(0, n).UTC()
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}

// Commit implements intake.Store. Its round trips are few and do not grow
// with the group of complaints, which is what lets PostgreSQL (where each
// is a network exchange) keep pace with SQLite. Commits from every
// instance on one database write one at a time, under the custody head's
// row lock, so the custody chain never forks; each assigns its reports
// knowing every campaign committed before it (one campaign per spam run,
// whichever instance saw its first report). The campaign candidates of
// every report are read with two queries (commitIndex), the reports are
// assigned in memory, and everything written — campaigns founded,
// reporters, complaints, reports, their domains and findings, custody
// entries, the head — goes with one statement per table. On SQLite, in
// process, that is one transaction; on PostgreSQL the candidates are read
// before the lock and the lock is held for one exchange only
// (commitPostgres).
func (s *Store) Commit(ctx context.Context, batches []*intake.Batch, assign intake.Assigner) error {
	if s.d.Name == "postgres" {
		return s.commitPostgres(ctx, batches, assign)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin commit: %w", err)
	}
	defer tx.Rollback()
	// SQLite's immediate transactions already serialize; the head is read
	// first all the same, as on PostgreSQL.
	var headSeq int64
	var headHash string
	if err := tx.QueryRowContext(ctx, `SELECT seq, hash FROM custody_head WHERE id = 1`+s.d.ForUpdate).Scan(&headSeq, &headHash); err != nil {
		return fmt.Errorf("lock the custody head: %w", err)
	}
	idx := newCommitIndex(batches)
	if err := s.prefetch(ctx, tx, idx); err != nil {
		return err
	}
	if err := s.readSizes(ctx, tx, idx); err != nil {
		return err
	}
	enc, err := encodeReports(batches)
	if err != nil {
		return err
	}
	writes, merges, entries, err := commitRows(ctx, batches, enc, assign, idx)
	if err != nil {
		return err
	}
	custody, headSeq, headHash := chainCustody(entries, headSeq, headHash)
	for _, w := range writes {
		if err := s.insertTable(ctx, tx, w); err != nil {
			return err
		}
	}
	for _, m := range merges {
		if _, err := tx.ExecContext(ctx, s.q(m.query), m.args...); err != nil {
			return fmt.Errorf("merge campaigns: %w", err)
		}
	}
	if err := s.insertTable(ctx, tx, custody); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, s.q(`UPDATE custody_head SET seq = ?, hash = ? WHERE id = 1`), headSeq, headHash); err != nil {
		return fmt.Errorf("append custody: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit reports: %w", err)
	}
	return nil
}

// encodedReport is a report's rows, encoded before the commit takes its
// lock; only the campaign is filled in under it.
type encodedReport struct {
	row               []any
	domains, findings [][]any
}

// encodeReports encodes the reports of a commit, in order.
func encodeReports(batches []*intake.Batch) ([]encodedReport, error) {
	var out []encodedReport
	for _, b := range batches {
		for _, r := range b.Reports {
			row, ds, fs, err := reportRows(r)
			if err != nil {
				return nil, err
			}
			out = append(out, encodedReport{row, ds, fs})
		}
	}
	return out, nil
}

// commitRows groups every report of a commit into its campaign (idx
// holds the owners of their keys), and returns the rows to write per
// table, the statements of the campaign merges, and the custody entries
// to chain after the head, in order (their time in the precision
// stored).
func commitRows(ctx context.Context, batches []*intake.Batch, enc []encodedReport, assign intake.Assigner, idx *commitIndex) ([]tableRows, []stmt, []intake.CustodyEntry, error) {
	pl, err := idx.place(ctx, batches, assign)
	if err != nil {
		return nil, nil, nil, err
	}
	idx.merged = idx.merged[:0]
	for _, m := range pl.merges {
		idx.merged = append(idx.merged, m.From, m.Into)
	}
	var reporters, complaints, reports, domains, findings, camps, idem [][]any
	var entries []intake.CustodyEntry
	n := 0
	for _, b := range batches {
		c := b.Complaint
		if b.Reporter != nil {
			reporters = append(reporters, []any{b.Reporter.ID, b.Reporter.Address, nanos(c.ReceivedAt)})
		}
		complaints = append(complaints, complaintRow(b))
		if b.Idempotency != nil {
			idem = append(idem, idempotencyRow(b.Idempotency))
		}
		for _, r := range b.Reports {
			e := enc[n]
			n++
			e.row[reportCampaignCol], e.row[reportCampaignCol+1] = r.CampaignID, r.CampaignWhy
			reports = append(reports, e.row)
			domains = append(domains, e.domains...)
			findings = append(findings, e.findings...)
		}
		for _, e := range b.Custody {
			e.At = e.At.UTC().Truncate(time.Nanosecond)
			entries = append(entries, e)
		}
	}
	for _, r := range pl.founded {
		sig, err := json.Marshal(r.Signature)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("campaign of report %s: %w", r.ID, err)
		}
		camps = append(camps, []any{r.CampaignID, nanos(r.ReceivedAt), r.ID, r.Subject(), string(sig)})
	}
	var merges []stmt
	for _, m := range pl.merges {
		merges = append(merges, mergeStatements(m, nanos(m.report.ReceivedAt))...)
		e := mergeCustody(m)
		e.At = e.At.UTC().Truncate(time.Nanosecond)
		entries = append(entries, e)
	}
	// founded_seq, seq: the head the commit chains after, plus one, read
	// where the head is held (see migrations 19 and 32).
	const nextSeq = "(SELECT seq + 1 FROM custody_head WHERE id = 1)"
	return []tableRows{
		{table: "campaigns", cols: "id, created_at, founder, subject, signature", rows: camps, extraCol: "founded_seq", extraExpr: nextSeq},
		{table: "campaign_keys", cols: "hash, campaign_id", rows: pl.keys, extraCol: "seq", extraExpr: nextSeq},
		{table: "reporters", cols: "id, address, first_seen", suffix: " ON CONFLICT (id) DO NOTHING", rows: reporters},
		{table: "complaints", cols: complaintRowCols, rows: complaints},
		{table: "reports", cols: reportCols, rows: reports},
		{table: "report_domains", cols: "report_id, domain", rows: domains},
		{table: "report_findings", cols: "report_id, code", rows: findings},
		{table: "idempotency", cols: idempotencyCols, rows: idem},
		{table: "campaign_links", cols: linkCols, rows: pl.links},
	}, merges, entries, nil
}

// complaintRowCols are the complaints table's columns, as complaintRow fills
// them.
const complaintRowCols = "id, received_at, channel, sha256, reporter_id, raw, raw_report"

// complaintRow is a complaint's row. A complaint that is the reported
// message itself (a raw upload) keeps no bytes of its own: they are its
// report's, which it names (migration 27) — each message is written once.
func complaintRow(b *intake.Batch) []any {
	c := b.Complaint
	raw, of := c.Raw, ""
	for _, r := range b.Reports {
		if len(c.Raw) > 0 && bytes.Equal(r.Raw, c.Raw) {
			raw, of = []byte{}, r.ID
			break
		}
	}
	return []any{c.ID, nanos(c.ReceivedAt), string(c.Channel), c.SHA256, c.ReporterID, raw, of}
}

// custodyCols are the custody table's columns, as chainCustody fills them.
const custodyCols = "seq, report_id, at, actor, action, detail, prev_hash, hash"

// chainCustody chains entries after the head (seq, hash): the custody
// table's rows and the new head.
func chainCustody(entries []intake.CustodyEntry, seq int64, hash string) (tableRows, int64, string) {
	rows := make([][]any, 0, len(entries))
	for _, e := range entries {
		e.Seq, e.PrevHash = seq+1, hash
		e.Hash = intake.ChainHash(e.PrevHash, e)
		seq, hash = e.Seq, e.Hash
		rows = append(rows, []any{e.Seq, e.ReportID, nanos(e.At), e.Actor, e.Action, e.Detail, e.PrevHash, e.Hash})
	}
	return tableRows{table: "custody", cols: custodyCols, rows: rows}, seq, hash
}

// tableRows are rows to insert into one table; extraCol, when set, is one
// more column whose value every row takes from the SQL expression
// extraExpr.
type tableRows struct {
	table, cols, suffix string
	rows                [][]any
	extraCol, extraExpr string
}

// maxParams keeps one statement under both databases' limits on bound
// parameters (SQLite 32766, PostgreSQL 65535).
const maxParams = 30000

// insertRows writes rows with as few multi-row INSERTs as the parameter
// limit allows.
func (s *Store) insertRows(ctx context.Context, tx *sql.Tx, table, cols, suffix string, rows [][]any) error {
	return s.insertTable(ctx, tx, tableRows{table: table, cols: cols, suffix: suffix, rows: rows})
}

// insertTable is insertRows of a tableRows.
func (s *Store) insertTable(ctx context.Context, tx *sql.Tx, w tableRows) error {
	table, cols, suffix, rows := w.table, w.cols, w.suffix, w.rows
	if len(rows) == 0 {
		return nil
	}
	width := len(rows[0])
	per := max(1, maxParams/width)
	one := "(" + placeholders(width) + ")"
	if w.extraCol != "" {
		cols += ", " + w.extraCol
		one = "(" + placeholders(width) + ", " + w.extraExpr + ")"
	}
	for start := 0; start < len(rows); start += per {
		chunk := rows[start:min(len(rows), start+per)]
		var q strings.Builder
		q.WriteString("INSERT INTO " + table + " (" + cols + ") VALUES ")
		args := make([]any, 0, len(chunk)*width)
		for i, r := range chunk {
			if i > 0 {
				q.WriteString(", ")
			}
			q.WriteString(one)
			args = append(args, r...)
		}
		q.WriteString(suffix)
		if _, err := tx.ExecContext(ctx, s.q(q.String()), args...); err != nil {
			return fmt.Errorf("store %s: %w", table, err)
		}
	}
	return nil
}

const reportCols = `id, complaint_id, received_at, channel, form, unverifiable, feedback, sha256, raw,
		reporter_id, submitted_by, consent, customer, status_hash, verdict, signature, campaign_id, campaign_why, subject, from_domain,
		origin_ip, country, asn, network, spam_score, reporter_auth, forwarders`

// reportCampaignCol is where campaign_id is in reportCols (campaign_why
// follows).
const reportCampaignCol = 16

// reportRows is a report's row and the rows of its link domains and
// findings.
func reportRows(r *intake.Report) (row []any, domains, findings [][]any, err error) {
	unv, _ := json.Marshal(r.Unverifiable)
	fwd := []byte("[]")
	if len(r.Forwarders) > 0 {
		fwd, _ = json.Marshal(r.Forwarders)
	}
	fb, _ := json.Marshal(r.Feedback)
	verdict, err := json.Marshal(r.Verdict)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("encode verdict of report %s: %w", r.ID, err)
	}
	sig, _ := json.Marshal(r.Signature)
	v := r.Verdict
	var fromDomain, originIP, country, network string
	var asn int64
	score := -1.0
	if v != nil {
		fromDomain, originIP, country = v.Sender.Domains.From, v.Origin.IP, v.Origin.Country
		if v.Origin.Network != nil {
			asn = int64(v.Origin.Network.ASN)
			network = v.Origin.Network.Name
		}
		if v.Spam != nil {
			score = v.Spam.Score
		}
		for _, d := range v.Content.Domains {
			domains = append(domains, []any{r.ID, d})
		}
		seen := map[analysis.ReasonCode]bool{}
		for _, x := range v.Reasons {
			if !seen[x.Code] {
				seen[x.Code] = true
				findings = append(findings, []any{r.ID, string(x.Code)})
			}
		}
	}
	row = []any{r.ID, r.ComplaintID, nanos(r.ReceivedAt), string(r.Channel), r.Form, string(unv), string(fb), r.SHA256, r.Raw,
		r.ReporterID, r.SubmittedBy, r.Consent.String(), r.Customer.String(), r.StatusHash, string(verdict), string(sig),
		r.CampaignID, r.CampaignWhy, r.Subject(), fromDomain, originIP, country, asn, network, score, r.ReporterAuth, string(fwd)}
	return row, domains, findings, nil
}

func (s *Store) appendCustody(ctx context.Context, tx *sql.Tx, e intake.CustodyEntry) (intake.CustodyEntry, error) {
	var seq int64
	var prev string
	if err := tx.QueryRowContext(ctx, `SELECT seq, hash FROM custody_head WHERE id = 1`+s.d.ForUpdate).Scan(&seq, &prev); err != nil {
		return e, fmt.Errorf("custody head: %w", err)
	}
	e.Seq, e.PrevHash = seq+1, prev
	e.At = e.At.UTC().Truncate(time.Nanosecond)
	e.Hash = intake.ChainHash(prev, e)
	if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO custody (seq, report_id, at, actor, action, detail, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
		e.Seq, e.ReportID, nanos(e.At), e.Actor, e.Action, e.Detail, e.PrevHash, e.Hash); err != nil {
		return e, fmt.Errorf("append custody: %w", err)
	}
	if _, err := tx.ExecContext(ctx, s.q(`UPDATE custody_head SET seq = ?, hash = ? WHERE id = 1`), e.Seq, e.Hash); err != nil {
		return e, fmt.Errorf("append custody: %w", err)
	}
	return e, nil
}

// AppendCustody implements intake.Store.
func (s *Store) AppendCustody(ctx context.Context, e intake.CustodyEntry) (intake.CustodyEntry, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return e, err
	}
	defer tx.Rollback()
	e, err = s.appendCustody(ctx, tx, e)
	if err != nil {
		return e, err
	}
	return e, tx.Commit()
}

// Custody implements intake.Store.
func (s *Store) Custody(ctx context.Context, reportID string) ([]intake.CustodyEntry, error) {
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT seq, report_id, at, actor, action, detail, prev_hash, hash FROM custody WHERE report_id = ? ORDER BY seq`), reportID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []intake.CustodyEntry
	for rows.Next() {
		var e intake.CustodyEntry
		var at int64
		if err := rows.Scan(&e.Seq, &e.ReportID, &at, &e.Actor, &e.Action, &e.Detail, &e.PrevHash, &e.Hash); err != nil {
			return nil, err
		}
		e.At = fromNanos(at)
		out = append(out, e)
	}
	return out, rows.Err()
}

func parseTri(s string) rules.Tri {
	switch s {
	case "true":
		return rules.True
	case "false":
		return rules.False
	}
	return rules.Unknown
}

// Report implements intake.Store.
func (s *Store) Report(ctx context.Context, id string) (*intake.Report, error) {
	return s.report(ctx, id, "raw")
}

// ReportHead implements fbl.Store: the report with only the first n bytes
// of its message (substr works on bytes in both databases), for readers
// that need its header and verdict but not a body of up to 25 MB.
func (s *Store) ReportHead(ctx context.Context, id string, n int) (*intake.Report, error) {
	return s.report(ctx, id, fmt.Sprintf("substr(raw, 1, %d)", max(n, 0)))
}

// report reads a report, its message as the SQL expression raw gives it.
func (s *Store) report(ctx context.Context, id, raw string) (*intake.Report, error) {
	var r intake.Report
	var at int64
	var ch, unv, fwd, fb, consent, customer, verdict, sig string
	var purged, erased int64
	err := s.db.QueryRowContext(ctx, s.q(`SELECT id, complaint_id, received_at, channel, form, unverifiable, forwarders, feedback, sha256, `+raw+`, reporter_id,
		submitted_by, consent, customer, status_hash, verdict, signature, campaign_id, campaign_why, purged_at, erased_at, reporter_auth FROM reports WHERE id = ?`), id).Scan(
		&r.ID, &r.ComplaintID, &at, &ch, &r.Form, &unv, &fwd, &fb, &r.SHA256, &r.Raw, &r.ReporterID, &r.SubmittedBy, &consent, &customer,
		&r.StatusHash, &verdict, &sig, &r.CampaignID, &r.CampaignWhy, &purged, &erased, &r.ReporterAuth)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, intake.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("read report %s: %w", id, err)
	}
	r.ReceivedAt, r.Channel = fromNanos(at), intake.Channel(ch)
	r.PurgedAt, r.ErasedAt = optTime(purged), optTime(erased)
	r.Consent, r.Customer = parseTri(consent), parseTri(customer)
	json.Unmarshal([]byte(unv), &r.Unverifiable)
	json.Unmarshal([]byte(fwd), &r.Forwarders)
	json.Unmarshal([]byte(fb), &r.Feedback)
	json.Unmarshal([]byte(sig), &r.Signature)
	r.Verdict = &analysis.Verdict{}
	if err := json.Unmarshal([]byte(verdict), r.Verdict); err != nil {
		return nil, fmt.Errorf("report %s: bad verdict: %w", id, err)
	}
	return &r, nil
}

// Complaint implements intake.Store.
func (s *Store) Complaint(ctx context.Context, id string) (*intake.Complaint, error) {
	var c intake.Complaint
	var at int64
	var ch string
	var purged int64
	err := s.db.QueryRowContext(ctx, s.q(`SELECT c.id, c.received_at, c.channel, c.sha256, c.reporter_id, `+complaintRaw("c")+`, c.purged_at FROM complaints c WHERE c.id = ?`), id).Scan(
		&c.ID, &at, &ch, &c.SHA256, &c.ReporterID, &c.Raw, &purged)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, intake.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("read complaint %s: %w", id, err)
	}
	c.ReceivedAt, c.Channel = fromNanos(at), intake.Channel(ch)
	c.PurgedAt = optTime(purged)
	return &c, nil
}

// ReporterAddress implements intake.Store.
func (s *Store) ReporterAddress(ctx context.Context, id string) (string, error) {
	var a string
	err := s.db.QueryRowContext(ctx, s.q(`SELECT address FROM reporters WHERE id = ?`), id).Scan(&a)
	if errors.Is(err, sql.ErrNoRows) {
		return "", intake.ErrNotFound
	}
	return a, err
}

// CountReports implements intake.Store.
func (s *Store) CountReports(ctx context.Context) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM reports`).Scan(&n)
	return n, err
}

// Stats implements intake.Store.
func (s *Store) Stats(ctx context.Context) (intake.Stats, error) {
	st := intake.Stats{ByChannel: map[intake.Channel]int{}}
	for _, q := range []struct {
		sql string
		v   *int
	}{
		{`SELECT COUNT(*) FROM reports`, &st.Reports},
		{`SELECT COUNT(*) FROM complaints`, &st.Complaints},
		{`SELECT COUNT(*) FROM campaigns WHERE merged_into = ''`, &st.Campaigns},
		{`SELECT COUNT(*) FROM (SELECT campaign_id FROM reports GROUP BY campaign_id HAVING COUNT(*) > 1) m`, &st.CampaignsMulti},
		{`SELECT COALESCE(MAX(n), 0) FROM (SELECT COUNT(*) AS n FROM reports GROUP BY campaign_id) m`, &st.LargestCampaign},
	} {
		if err := s.db.QueryRowContext(ctx, s.q(q.sql)).Scan(q.v); err != nil {
			return st, fmt.Errorf("stats: %w", err)
		}
	}
	rows, err := s.db.QueryContext(ctx, `SELECT channel, COUNT(*) FROM reports GROUP BY channel`)
	if err != nil {
		return st, fmt.Errorf("stats: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var ch string
		var n int
		if err := rows.Scan(&ch, &n); err != nil {
			return st, fmt.Errorf("stats: %w", err)
		}
		st.ByChannel[intake.Channel(ch)] = n
	}
	return st, rows.Err()
}

// listLimit is a list's row count: 100 when none is asked, and an error
// (never a shorter list) above intake.MaxLimit.
func listLimit(n int) (int, error) { return limitOf(n, 100, intake.MaxLimit, intake.ErrLimit) }

// limitOf is a list's row count: def when none is asked, and errLimit
// (never a silently shorter list) above most.
func limitOf(n, def, most int, errLimit error) (int, error) {
	switch {
	case n <= 0:
		return def, nil
	case n > most:
		return 0, fmt.Errorf("%w (asked for %d)", errLimit, n)
	}
	return n, nil
}

const summaryCols = `r.id, r.received_at, r.channel, r.form, r.subject, r.from_domain, r.origin_ip, r.country, r.asn, r.spam_score, r.campaign_id`

func scanSummaries(rows *sql.Rows) ([]intake.ReportSummary, error) {
	defer rows.Close()
	var out []intake.ReportSummary
	for rows.Next() {
		var r intake.ReportSummary
		var at int64
		var ch string
		if err := rows.Scan(&r.ID, &at, &ch, &r.Form, &r.Subject, &r.FromDomain, &r.OriginIP, &r.Country, &r.ASN, &r.SpamScore, &r.CampaignID); err != nil {
			return nil, err
		}
		r.ReceivedAt, r.Channel = fromNanos(at), intake.Channel(ch)
		out = append(out, r)
	}
	return out, rows.Err()
}

// mergedInto answers for a campaign merged into another: an
// *intake.MergedError naming the survivor, or an error wrapping
// intake.ErrNotFound when the survivor's reports are gone too (an answer
// pointing at it would lead to a 404); nil when id was not merged.
func (s *Store) mergedInto(ctx context.Context, id string) error {
	var into string
	err := s.db.QueryRowContext(ctx, s.q(`SELECT merged_into FROM campaigns WHERE id = ?`), id).Scan(&into)
	if errors.Is(err, sql.ErrNoRows) || err == nil && into == "" {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read campaign %s: %w", id, err)
	}
	var one int
	err = s.db.QueryRowContext(ctx, s.q(`SELECT 1 FROM reports WHERE campaign_id = ? LIMIT 1`), into).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("campaign %s was merged into %s, which has no reports left: %w", id, into, intake.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("read campaign %s: %w", into, err)
	}
	return &intake.MergedError{ID: id, Into: into}
}

// Reports implements intake.Store.
func (s *Store) Reports(ctx context.Context, f intake.ReportFilter) ([]intake.ReportSummary, error) {
	if f.CampaignID != "" {
		// A merged campaign has no reports of its own: they are its
		// survivor's, and an empty list would say the campaign had none.
		// (Merged into a campaign gone too: no reports, as for any id.)
		var merged *intake.MergedError
		if err := s.mergedInto(ctx, f.CampaignID); errors.As(err, &merged) || err != nil && !errors.Is(err, intake.ErrNotFound) {
			return nil, err
		}
	}
	return s.reports(ctx, f)
}

// reports is Reports for a campaign known not to be merged (or none).
func (s *Store) reports(ctx context.Context, f intake.ReportFilter) ([]intake.ReportSummary, error) {
	if err := f.Browse.Check(); err != nil {
		return nil, err
	}
	where := []string{"1 = 1"}
	var args []any
	if f.CampaignID != "" {
		where = append(where, "r.campaign_id = ?")
		args = append(args, f.CampaignID)
	}
	if f.SubmittedBy != "" {
		where = append(where, "r.submitted_by = ?")
		args = append(args, f.SubmittedBy)
	}
	if !f.Before.IsZero() {
		where = append(where, "r.received_at < ?")
		args = append(args, nanos(f.Before))
	}
	bw, ba := reportConds(f.Browse, "r", true)
	where, args = append(where, bw...), append(args, ba...)
	if !f.After.IsZero() {
		// Keyset paging in the list's order: newest first, then by id.
		// The bound on received_at alone lets the index start at the
		// cursor (an OR of the two would scan the table).
		where = append(where, "r.received_at <= ? AND (r.received_at < ? OR r.id > ?)")
		args = append(args, nanos(f.After.At), nanos(f.After.At), f.After.ID)
	}
	limit, err := listLimit(f.Limit)
	if err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT `+summaryCols+` FROM reports r WHERE `+strings.Join(where, " AND ")+
		` ORDER BY r.received_at DESC, r.id LIMIT `+strconv.Itoa(limit)), args...)
	if err != nil {
		return nil, fmt.Errorf("list reports: %w", err)
	}
	return scanSummaries(rows)
}

// Campaigns implements intake.Store.
func (s *Store) Campaigns(ctx context.Context, f intake.CampaignFilter) ([]intake.CampaignSummary, error) {
	if err := f.Browse.Check(); err != nil {
		return nil, err
	}
	limit, err := listLimit(f.Limit)
	if err != nil {
		return nil, err
	}
	where, args := campaignConds(f.Browse)
	if len(where) == 0 {
		where = []string{"1 = 1"}
	}
	having := "COUNT(r.id) >= ?"
	args = append(args, max(f.MinCount, 1))
	if !f.After.IsZero() {
		// Keyset paging in the list's order: most reports first, then
		// the most recently active, then by id.
		having += ` AND (COUNT(r.id) < ? OR (COUNT(r.id) = ? AND (MAX(r.received_at) < ? OR (MAX(r.received_at) = ? AND c.id > ?))))`
		args = append(args, f.After.N, f.After.N, nanos(f.After.At), nanos(f.After.At), f.After.ID)
	}
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT c.id, c.subject, COUNT(r.id), MIN(r.received_at), MAX(r.received_at),
		COALESCE(k.status, 'new'), COALESCE(k.assignee, ''), COALESCE(k.closed_at, 0)
		FROM campaigns c JOIN reports r ON r.campaign_id = c.id LEFT JOIN cases k ON k.campaign_id = c.id
		WHERE `+strings.Join(where, " AND ")+`
		GROUP BY c.id, c.subject, k.status, k.assignee, k.closed_at HAVING `+having+`
		ORDER BY COUNT(r.id) DESC, MAX(r.received_at) DESC, c.id LIMIT `+strconv.Itoa(limit)), args...)
	if err != nil {
		return nil, fmt.Errorf("list campaigns: %w", err)
	}
	defer rows.Close()
	var out []intake.CampaignSummary
	for rows.Next() {
		var c intake.CampaignSummary
		var first, last, closed int64
		if err := rows.Scan(&c.ID, &c.Subject, &c.Reports, &first, &last, &c.Status, &c.Assignee, &closed); err != nil {
			return nil, err
		}
		c.FirstSeen, c.LastSeen = fromNanos(first), fromNanos(last)
		if closed != 0 {
			c.Closed = fromNanos(closed)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

func (s *Store) counts(ctx context.Context, query string, args ...any) ([]intake.Count, error) {
	rows, err := s.db.QueryContext(ctx, s.q(query), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []intake.Count
	for rows.Next() {
		var c intake.Count
		if err := rows.Scan(&c.Value, &c.N); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// Campaign implements intake.Store.
func (s *Store) Campaign(ctx context.Context, id string) (*intake.CampaignDetail, error) {
	d := &intake.CampaignDetail{}
	var first, last int64
	var sig string
	err := s.db.QueryRowContext(ctx, s.q(`SELECT c.id, c.subject, c.founder, c.signature, COUNT(r.id), MIN(r.received_at), MAX(r.received_at)
		FROM campaigns c JOIN reports r ON r.campaign_id = c.id WHERE c.id = ? GROUP BY c.id, c.subject, c.founder, c.signature`), id).Scan(
		&d.ID, &d.Subject, &d.FoundedBy, &sig, &d.Reports, &first, &last)
	if errors.Is(err, sql.ErrNoRows) {
		// Merged into another (migration 32): its id still answers.
		if err := s.mergedInto(ctx, id); err != nil {
			return nil, err
		}
		return nil, intake.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("read campaign %s: %w", id, err)
	}
	mr, err := s.db.QueryContext(ctx, s.q(`SELECT campaign_id, at, report_id, reason FROM campaign_merges WHERE into_id = ? ORDER BY at, campaign_id`), id)
	if err != nil {
		return nil, fmt.Errorf("read the merges of campaign %s: %w", id, err)
	}
	for mr.Next() {
		var m intake.CampaignMerge
		var at int64
		if err := mr.Scan(&m.Campaign, &at, &m.Report, &m.Reason); err != nil {
			mr.Close()
			return nil, fmt.Errorf("read the merges of campaign %s: %w", id, err)
		}
		m.At = fromNanos(at)
		d.Merged = append(d.Merged, m)
	}
	mr.Close()
	if err := mr.Err(); err != nil {
		return nil, fmt.Errorf("read the merges of campaign %s: %w", id, err)
	}
	d.FirstSeen, d.LastSeen = fromNanos(first), fromNanos(last)
	var cs campaign.Signature
	if json.Unmarshal([]byte(sig), &cs) == nil {
		d.Fingerprint = fmt.Sprintf("%08x%08x%08x%08x", cs.MinHash[0], cs.MinHash[1], cs.MinHash[2], cs.MinHash[3])
	}
	// Per day: group in Go, so both databases agree on calendar days (UTC).
	rows, err := s.db.QueryContext(ctx, s.q(`SELECT received_at FROM reports WHERE campaign_id = ? ORDER BY received_at`), id)
	if err != nil {
		return nil, err
	}
	perDay := map[string]int{}
	var days []string
	for rows.Next() {
		var at int64
		if err := rows.Scan(&at); err != nil {
			rows.Close()
			return nil, err
		}
		day := fromNanos(at).Format("2006-01-02")
		if perDay[day] == 0 {
			days = append(days, day)
		}
		perDay[day]++
	}
	rows.Close()
	for _, day := range days {
		d.PerDay = append(d.PerDay, intake.Count{Value: day, N: perDay[day]})
	}
	top := ` GROUP BY v ORDER BY COUNT(*) DESC, v LIMIT 20`
	if d.Countries, err = s.counts(ctx, `SELECT country AS v, COUNT(*) FROM reports WHERE campaign_id = ? AND country <> ''`+top, id); err != nil {
		return nil, err
	}
	if d.Networks, err = s.counts(ctx, `SELECT 'AS' || CAST(asn AS TEXT) || ' ' || network AS v, COUNT(*) FROM reports WHERE campaign_id = ? AND asn <> 0`+top, id); err != nil {
		return nil, err
	}
	if d.Senders, err = s.counts(ctx, `SELECT from_domain AS v, COUNT(*) FROM reports WHERE campaign_id = ? AND from_domain <> ''`+top, id); err != nil {
		return nil, err
	}
	if d.Domains, err = s.counts(ctx, `SELECT d.domain AS v, COUNT(*) FROM report_domains d JOIN reports r ON r.id = d.report_id WHERE r.campaign_id = ?`+top, id); err != nil {
		return nil, err
	}
	if d.Findings, err = s.counts(ctx, `SELECT f.code AS v, COUNT(*) FROM report_findings f JOIN reports r ON r.id = f.report_id WHERE r.campaign_id = ?`+top, id); err != nil {
		return nil, err
	}
	if d.Samples, err = s.reports(ctx, intake.ReportFilter{CampaignID: id, Limit: 10}); err != nil { // its own reports: not merged
		return nil, err
	}
	return d, nil
}

// Access store.

// CreateToken implements access.Store.
func (s *Store) CreateToken(ctx context.Context, t access.Token) error {
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO tokens (id, hash, role, label, created_at) VALUES (?, ?, ?, ?, ?)`),
		t.ID, t.Hash, string(t.Role), t.Label, nanos(t.CreatedAt))
	if err != nil {
		return fmt.Errorf("store token: %w", err)
	}
	return nil
}

// TokenByHash implements access.Store.
func (s *Store) TokenByHash(ctx context.Context, hash string) (access.Token, error) {
	t, err := scanToken(s.db.QueryRowContext(ctx, s.q(`SELECT `+tokenColumns+` FROM tokens WHERE hash = ? AND revoked_at = 0`), hash))
	if errors.Is(err, sql.ErrNoRows) {
		return t, access.ErrNotFound
	}
	return t, err
}

const tokenColumns = `id, hash, role, label, created_at, last_used_at, revoked_at`

func scanToken(row interface{ Scan(...any) error }) (access.Token, error) {
	var t access.Token
	var role string
	var at, used, revoked int64
	err := row.Scan(&t.ID, &t.Hash, &role, &t.Label, &at, &used, &revoked)
	t.Role, t.CreatedAt = access.Role(role), fromNanos(at)
	if used != 0 {
		t.LastUsedAt = fromNanos(used)
	}
	if revoked != 0 {
		t.RevokedAt = fromNanos(revoked)
	}
	return t, err
}

// CreateUser implements access.Store.
func (s *Store) CreateUser(ctx context.Context, u access.User) error {
	res, err := s.db.ExecContext(ctx, s.q(`INSERT INTO users (name, password_hash, role, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (name) DO NOTHING`),
		u.Name, u.PasswordHash, string(u.Role), nanos(u.CreatedAt))
	if err != nil {
		return fmt.Errorf("store user: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("user %s: %w", u.Name, access.ErrExists)
	}
	return nil
}

// UserByName implements access.Store.
func (s *Store) UserByName(ctx context.Context, name string) (access.User, error) {
	u, err := scanUser(s.db.QueryRowContext(ctx, s.q(`SELECT name, password_hash, role, created_at, disabled_at FROM users WHERE name = ?`), name))
	if errors.Is(err, sql.ErrNoRows) {
		// Names are one person's whatever their case (user add refuses
		// "ANA" beside "ana"), and a mailbox account is its address,
		// which people type as they like: Ana@Example.org signs in as
		// ana@example.org. (lower() folds ASCII on SQLite.)
		u, err = scanUser(s.db.QueryRowContext(ctx, s.q(`SELECT name, password_hash, role, created_at, disabled_at FROM users WHERE lower(name) = lower(?) ORDER BY name LIMIT 1`), name))
	}
	if errors.Is(err, sql.ErrNoRows) {
		return u, access.ErrNotFound
	}
	return u, err
}

func scanUser(row interface{ Scan(...any) error }) (access.User, error) {
	var u access.User
	var role string
	var at, disabled int64
	err := row.Scan(&u.Name, &u.PasswordHash, &role, &at, &disabled)
	u.Role, u.CreatedAt = access.Role(role), fromNanos(at)
	if disabled != 0 {
		u.DisabledAt = fromNanos(disabled)
	}
	return u, err
}

// CreateSession implements access.Store.
func (s *Store) CreateSession(ctx context.Context, se access.Session) error {
	_, err := s.db.ExecContext(ctx, s.q(`INSERT INTO sessions (hash, user_name, csrf, expires_at) VALUES (?, ?, ?, ?)`),
		se.Hash, se.User, se.CSRF, nanos(se.ExpiresAt))
	return err
}

// SessionByHash implements access.Store.
func (s *Store) SessionByHash(ctx context.Context, hash string) (access.Session, error) {
	var se access.Session
	var exp int64
	err := s.db.QueryRowContext(ctx, s.q(`SELECT hash, user_name, csrf, expires_at FROM sessions WHERE hash = ?`), hash).Scan(&se.Hash, &se.User, &se.CSRF, &exp)
	if errors.Is(err, sql.ErrNoRows) {
		return se, access.ErrNotFound
	}
	se.ExpiresAt = fromNanos(exp)
	return se, err
}

// DeleteSession implements access.Store.
func (s *Store) DeleteSession(ctx context.Context, hash string) error {
	_, err := s.db.ExecContext(ctx, s.q(`DELETE FROM sessions WHERE hash = ?`), hash)
	return err
}

var (
	_ intake.Store    = (*Store)(nil)
	_ access.Store    = (*Store)(nil)
	_ access.Accounts = (*Store)(nil)
	_ access.Auditor  = (*Store)(nil)
)
