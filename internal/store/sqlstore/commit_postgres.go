package sqlstore

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/accord-antispam/accord/internal/intake"
)

// commitPostgres is Commit on PostgreSQL. The custody head's row lock is
// what every instance on one database waits for, so it is held for one
// exchange with the server and nothing the application does:
//
//  1. without a lock, one pipelined exchange reads the head's sequence
//     and the owners of every report's grouping keys (a snapshot); the
//     reports are grouped in memory (campaign.Partition);
//  2. one pipelined exchange, one implicit transaction: the rows no
//     other commit touches (reporters, complaints, reports, their domains
//     and findings), written while another commit may hold the lock; then
//     lock the head, check that none of this commit's keys was taken or
//     moved since the snapshot (campaign_keys_since_locked raises AC001
//     if one was: a campaign founded with it, campaigns merged), the
//     campaigns merged, the campaigns founded and keys taken, and the
//     custody entries chained after the head and the head moved, in SQL
//     (one statement). The lock is held from there to the commit's disk
//     sync.
//
// A commit that finds such a key is rolled back by the server and
// starts again from a new snapshot (it now sees that key's owner, so two
// instances taking the first reports of one spam run at once found one
// campaign, not two, and two instances bridging campaigns at once merge
// them once); after snapshotTries it takes the lock first and reads
// under it (commitLocked), which always goes through. Each statement's
// text depends on its table only (rows go as one array per column, keys
// as one array), so pgx prepares it once per connection.
func (s *Store) commitPostgres(ctx context.Context, batches []*intake.Batch, assign intake.Assigner) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		pc, ok := dc.(interface{ Conn() *pgx.Conn })
		if !ok {
			return fmt.Errorf("commit: not a pgx connection (%T)", dc)
		}
		c := pc.Conn()
		err := s.commitOn(ctx, c, batches, assign)
		if err != nil && c.PgConn().TxStatus() != 'I' {
			// A failed pipeline leaves the transaction open (aborted):
			// roll it back to keep the connection (the pool drops one
			// still in a transaction), or drop it.
			if _, rerr := c.Exec(context.WithoutCancel(ctx), "ROLLBACK"); rerr != nil || c.PgConn().TxStatus() != 'I' {
				return errors.Join(err, driver.ErrBadConn)
			}
		}
		return err
	})
}

// SnapshotCommits says whether commits assign campaigns on a snapshot
// read before they take the custody head (PostgreSQL, where other
// instances commit meanwhile), rather than under the database's one
// write lock (SQLite).
func (s *Store) SnapshotCommits() bool { return s.d.Name == "postgres" }

// snapshotTries is how many times a commit assigns its campaigns on a
// snapshot before it reads them under the lock.
const snapshotTries = 2

// errCampaignsMoved is the SQLSTATE campaign_keys_since_locked raises;
// errCampaignsSealed campaigns_unsealed_locked's.
const (
	errCampaignsMoved   = "AC001"
	errCampaignsSealed  = "AC002"
	errCampaignsResized = "AC003" // campaign_sizes_locked
)

// lockedTries is how many times a commit reading under the lock starts
// again because a campaign it would merge was sealed meanwhile (a case's
// first event, which does not wait for the head): each retry reads the
// seal, so a second failure needs another case opened in that instant.
const lockedTries = 3

// startAgain says whether err is a commit's "start again" (a key moved,
// a campaign sealed, a campaign to merge grown or shrunk since it read
// them).
func startAgain(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == errCampaignsMoved || pe.Code == errCampaignsSealed || pe.Code == errCampaignsResized)
}

// LockFirst makes every later PostgreSQL commit take the custody head
// before it reads the campaign candidates, the path a commit takes when
// its snapshots keep meeting new campaigns: tests run it on its own, and
// benchmarks compare the two.
func (s *Store) LockFirst() { s.lockFirst.Store(true) }

func (s *Store) snapshotTries() int {
	if s.lockFirst.Load() {
		return 0
	}
	return snapshotTries
}

// CommitRetries counts the PostgreSQL commits that started again because
// a campaign sharing one of their keys was founded after their snapshot,
// and those that then read under the lock (for benchmarks).
func (s *Store) CommitRetries() (again, locked int64) {
	return s.snapshotAgain.Load(), s.snapshotLocked.Load()
}

func (s *Store) commitOn(ctx context.Context, c *pgx.Conn, batches []*intake.Batch, assign intake.Assigner) error {
	// Everything that does not depend on the database is done first.
	enc, err := encodeReports(batches)
	if err != nil {
		return err
	}
	rollback := func() error {
		// A commit with a large message, or one reading under the lock,
		// opened its transaction itself: it is aborted, not ended.
		if c.PgConn().TxStatus() != 'I' {
			if _, err := c.Exec(ctx, "ROLLBACK"); err != nil {
				return fmt.Errorf("commit: roll back to start again: %w", err)
			}
		}
		return nil
	}
	for range s.snapshotTries() {
		err := s.commitSnapshot(ctx, c, batches, enc, assign)
		if !startAgain(err) {
			return err
		}
		if err := rollback(); err != nil {
			return err
		}
		s.snapshotAgain.Add(1)
	}
	s.snapshotLocked.Add(1)
	for range lockedTries {
		if err = s.commitLocked(ctx, c, batches, enc, assign); !startAgain(err) {
			return err
		}
		if err := rollback(); err != nil {
			return err
		}
	}
	return err
}

// commitSnapshot is the commit in two exchanges, the lock held in the
// second only.
func (s *Store) commitSnapshot(ctx context.Context, c *pgx.Conn, batches []*intake.Batch, enc []encodedReport, assign intake.Assigner) error {
	idx := newCommitIndex(batches)
	var first pgx.Batch
	first.Queue(snapshotQuery, idx.allKeys)
	var since int64
	err := exchange(ctx, c, &first, "campaign candidates", func(br pgx.BatchResults) error {
		var err error
		since, err = readSnapshot(br, idx)
		return err
	})
	if err != nil {
		return err
	}
	if err := idx.sizes(pgSizes(ctx, c)); err != nil {
		return err
	}
	writes, merges, entries, err := commitRows(ctx, batches, enc, assign, idx)
	if err != nil {
		return err
	}
	// No BEGIN: the statements up to the pipeline's end are one implicit
	// transaction, committed there, rolled back whole if one fails —
	// unless a message is large: then the transaction is opened first,
	// its complaints and reports streamed with COPY, and the pipeline
	// ends with COMMIT.
	large := hasLarge(writes)
	if large {
		if err := copyFirst(ctx, c, writes); err != nil {
			return err
		}
	}
	var before, under []tableRows
	for _, w := range writes {
		switch {
		case len(w.rows) == 0, large && copiedTable(w.table):
		case campaignTable(w.table):
			under = append(under, w)
		default:
			before = append(before, w)
		}
	}
	// Three statements (each a round trip's worth of the server's and
	// the driver's work when they were one per table):
	var second pgx.Batch
	var what []string
	// the rows no other commit reads or writes (complaints, reports and
	// theirs), before the lock, while another commit may hold it;
	if len(before) > 0 {
		ctes, args, _, err := insertsCTEs(before, 1)
		if err != nil {
			return err
		}
		second.Queue("WITH "+ctes+" SELECT 1", args...)
		what = append(what, "store the reports")
	}
	// the lock, and the check that no key of this commit was taken or
	// moved (a campaign founded, campaigns merged) since the snapshot;
	second.Queue(`SELECT campaign_keys_since_locked($1, $2::bigint[])`, since, idx.allKeys)
	what = append(what, "lock the custody head and check the campaign keys")
	// that no campaign to merge was sealed since (a case's first event);
	if len(idx.merged) > 0 {
		second.Queue(`SELECT campaigns_unsealed_locked($1::text[])`, idx.merged)
		what = append(what, "check the campaigns to merge are not sealed")
	}
	// that the campaigns to merge have the sizes the survivors were
	// chosen by (read after the snapshot, without the lock);
	if ids, sizes := idx.expectedSizes(batches); len(ids) > 0 {
		second.Queue(`SELECT campaign_sizes_locked($1::text[], $2::bigint[])`, ids, sizes)
		what = append(what, "check the sizes of the campaigns to merge")
	}
	// the campaigns merged (reports, keys and cases moved);
	for _, m := range merges {
		second.Queue(s.q(m.query), m.args...)
		what = append(what, "merge campaigns")
	}
	// the campaigns founded, the custody entries chained, the head moved.
	ctes, args, next, err := insertsCTEs(under, 1)
	if err != nil {
		return err
	}
	if ctes != "" {
		ctes += ", "
	}
	second.Queue("WITH RECURSIVE "+ctes+chainCTEs(next)+chainHead, append(args, custodyArrays(entries)...)...)
	what = append(what, "found campaigns and append custody")
	if large {
		second.Queue("COMMIT")
		what = append(what, "commit reports")
	}
	// Close reads to the pipeline's end: the commit, and its error if the
	// transaction could not commit.
	return exchange(ctx, c, &second, "commit reports", func(br pgx.BatchResults) error {
		return readTags(br, what)
	})
}

// snapshotQuery reads, in one statement and so from one snapshot, the
// custody head's sequence (kind 0) and the owners of the commit's
// campaign keys (kind 1).
var snapshotQuery = `SELECT 0, seq, '', CAST(0 AS BIGINT), 0 FROM custody_head WHERE id = 1
UNION ALL SELECT 1, u.h, k.campaign_id, c.created_at, ` + sealedExpr + ` FROM unnest($1::bigint[]) AS u(h)
	CROSS JOIN LATERAL (SELECT campaign_id FROM campaign_keys WHERE hash = u.h) AS k
	CROSS JOIN LATERAL (SELECT created_at FROM campaigns WHERE id = k.campaign_id LIMIT 1) AS c`

// readSnapshot reads snapshotQuery's rows into idx and returns the head.
func readSnapshot(br pgx.BatchResults, idx *commitIndex) (int64, error) {
	var kind int
	var head, v, created, sealed int64
	var id string
	seen := false
	err := readRows(br, []any{&kind, &v, &id, &created, &sealed}, func() error {
		if kind == 0 {
			head, seen = v, true
			return nil
		}
		idx.own(v, id, created, sealed)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("campaign keys: %w", err)
	}
	if !seen {
		return 0, fmt.Errorf("campaign keys: no custody head")
	}
	return head, nil
}

// copyFirst opens a commit's transaction and streams its complaints and
// reports with COPY (a commit with a large message).
func copyFirst(ctx context.Context, c *pgx.Conn, writes []tableRows) error {
	if _, err := c.Exec(ctx, "BEGIN"); err != nil {
		return fmt.Errorf("begin commit: %w", err)
	}
	for _, w := range writes {
		if copiedTable(w.table) {
			if err := copyRows(ctx, c, w); err != nil {
				return err
			}
		}
	}
	return nil
}

// readTags reads the results of a pipeline's statements, named by what;
// a COMMIT must answer COMMIT (a transaction that failed answers
// ROLLBACK).
func readTags(br pgx.BatchResults, what []string) error {
	for _, w := range what {
		tag, err := br.Exec()
		if err != nil {
			return fmt.Errorf("%s: %w", w, err)
		}
		if w == "commit reports" && tag.String() != "COMMIT" {
			return fmt.Errorf("commit reports: the database answered %q", tag.String())
		}
	}
	return nil
}

// campaignTable says whether a table holds campaigns: their rows are
// written under the custody head's lock, after the check that no campaign
// sharing their keys was founded since the snapshot (a campaign founded
// by this commit is not one of those), with the head they are founded
// after (founded_seq).
func campaignTable(table string) bool { return strings.HasPrefix(table, "campaign") }

// exchange sends one pipelined batch, lets read take its results, and
// closes it (reading to the pipeline's end); read's error comes first,
// else the close's, wrapped with what.
func exchange(ctx context.Context, c *pgx.Conn, b *pgx.Batch, what string, read func(pgx.BatchResults) error) error {
	br := c.SendBatch(ctx, b)
	err := read(br)
	if cerr := br.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("%s: %w", what, cerr)
	}
	return err
}

// chainInSQL appends custody entries after the head and moves the head,
// in one statement: each entry's hash is SHA-256 of the previous hash,
// "\n", its sequence number, "\n" and its tail (intake.ChainTail, built
// by the application), exactly as intake.ChainHash computes it. Its
// parameters are custodyArrays.
var chainInSQL = "WITH RECURSIVE " + chainCTEs(1) + chainHead

// chainCTEs are chainInSQL's common table expressions, their parameters
// numbered from first (six of them), for a statement that does more.
func chainCTEs(first int) string {
	p := func(i int) string { return "$" + strconv.Itoa(first+i) }
	return `e AS (
	SELECT * FROM unnest(` + p(0) + `::text[], ` + p(1) + `::bigint[], ` + p(2) + `::text[], ` + p(3) + `::text[], ` + p(4) + `::text[]) WITH ORDINALITY AS e(report_id, at, actor, action, detail, n)
), chain (n, seq, prev, hash) AS (
	SELECT 0::bigint, seq, ''::text, hash FROM custody_head WHERE id = 1
	UNION ALL
	SELECT c.n + 1, c.seq + 1, c.hash,
		encode(sha256(convert_to(c.hash || E'\n' || (c.seq + 1)::text || E'\n', 'UTF8') || (` + p(5) + `::bytea[])[c.n + 1]), 'hex')
	FROM chain c WHERE c.n < cardinality(` + p(5) + `::bytea[])
), ins AS (
	INSERT INTO custody (seq, report_id, at, actor, action, detail, prev_hash, hash)
	SELECT c.seq, e.report_id, e.at, e.actor, e.action, e.detail, c.prev, c.hash FROM chain c JOIN e ON e.n = c.n
)`
}

// chainHead moves the head to the last entry chained.
const chainHead = `
UPDATE custody_head SET seq = l.seq, hash = l.hash
FROM (SELECT seq, hash FROM chain ORDER BY n DESC LIMIT 1) AS l WHERE custody_head.id = 1`

// insertsCTEs are the INSERTs of the tables with rows, as common table
// expressions of one statement ("w0 AS (INSERT …), w1 AS (…)"), their
// parameters numbered from first; it returns the parameters and the next
// number.
func insertsCTEs(ws []tableRows, first int) (string, []any, int, error) {
	var b strings.Builder
	var args []any
	for i, w := range ws {
		q, a, err := unnestInsertFrom(w, first)
		if err != nil {
			return "", nil, 0, err
		}
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "w%d AS (%s)", i, q)
		args = append(args, a...)
		first += len(a)
	}
	return b.String(), args, first, nil
}

// custodyArrays are chainInSQL's arguments.
func custodyArrays(entries []intake.CustodyEntry) []any {
	n := len(entries)
	ids, at, actors, actions, details, tails := make([]string, n), make([]int64, n), make([]string, n), make([]string, n), make([]string, n), make([][]byte, n)
	for i, e := range entries {
		ids[i], at[i], actors[i], actions[i], details[i], tails[i] = e.ReportID, nanos(e.At), e.Actor, e.Action, e.Detail, intake.ChainTail(e)
	}
	return []any{ids, at, actors, actions, details, tails}
}

// readCandidates reads the band and link domain candidates, the next two
// results of br, into idx.
func readCandidates(br pgx.BatchResults, idx *commitIndex) error {
	var k, created, sealed int64
	var id string
	if err := readRows(br, []any{&k, &id, &created, &sealed}, func() error { idx.own(k, id, created, sealed); return nil }); err != nil {
		return fmt.Errorf("campaign keys: %w", err)
	}
	return nil
}

// commitLocked is the commit that cannot meet a campaign founded behind
// its back: BEGIN, lock the head and read the candidates in the first
// exchange, the rows, head and COMMIT in the second. The lock is held
// across the assignment in between.
func (s *Store) commitLocked(ctx context.Context, c *pgx.Conn, batches []*intake.Batch, enc []encodedReport, assign intake.Assigner) error {
	idx := newCommitIndex(batches)
	var first pgx.Batch
	first.Queue("BEGIN")
	first.Queue(`SELECT seq, hash FROM custody_head WHERE id = 1 FOR UPDATE`)
	first.Queue(keyOwnersPG, idx.allKeys)
	var headSeq int64
	var headHash string
	err := exchange(ctx, c, &first, "begin commit", func(br pgx.BatchResults) error {
		if _, err := br.Exec(); err != nil {
			return fmt.Errorf("begin commit: %w", err)
		}
		if err := br.QueryRow().Scan(&headSeq, &headHash); err != nil {
			return fmt.Errorf("lock the custody head: %w", err)
		}
		return readCandidates(br, idx)
	})
	if err != nil {
		return err
	}
	// Under the lock, in the transaction: the sizes cannot change before
	// the merges are written (an intake commit holds the head to its end).
	if err := idx.sizes(pgSizes(ctx, c)); err != nil {
		return err
	}
	writes, merges, entries, err := commitRows(ctx, batches, enc, assign, idx)
	if err != nil {
		return err
	}
	custody, headSeq, headHash := chainCustody(entries, headSeq, headHash)
	large := hasLarge(writes)
	if large {
		// The transaction is open (and the head held): the messages go by
		// COPY first.
		for _, w := range writes {
			if copiedTable(w.table) {
				if err := copyRows(ctx, c, w); err != nil {
					return err
				}
			}
		}
	}
	var second pgx.Batch
	var what []string
	for _, w := range writes {
		if len(w.rows) == 0 || large && copiedTable(w.table) {
			continue
		}
		q, args, err := unnestInsert(w)
		if err != nil {
			return err
		}
		second.Queue(q, args...)
		what = append(what, "store "+w.table)
	}
	if len(idx.merged) > 0 {
		// Case events do not wait for the head: see commitSnapshot.
		second.Queue(`SELECT campaigns_unsealed_locked($1::text[])`, idx.merged)
		what = append(what, "check the campaigns to merge are not sealed")
	}
	for _, m := range merges {
		second.Queue(s.q(m.query), m.args...)
		what = append(what, "merge campaigns")
	}
	if len(custody.rows) > 0 {
		q, args, err := unnestInsert(custody)
		if err != nil {
			return err
		}
		second.Queue(q, args...)
		what = append(what, "store custody")
	}
	second.Queue(`UPDATE custody_head SET seq = $1, hash = $2 WHERE id = 1`, headSeq, headHash)
	second.Queue("COMMIT")
	what = append(what, "move the custody head", "commit reports")
	return exchange(ctx, c, &second, "commit reports", func(br pgx.BatchResults) error {
		return readTags(br, what)
	})
}

// pgSizes is commitIndex.sizes' query on c: one more round trip, made
// only by a commit that merges stored campaigns.
func pgSizes(ctx context.Context, c *pgx.Conn) func([]string) (map[string]int, error) {
	return func(ids []string) (map[string]int, error) {
		rows, err := c.Query(ctx, fmt.Sprintf(sizeQuery, "= ANY($1::text[])"), ids)
		if err != nil {
			return nil, err
		}
		out := map[string]int{}
		var id string
		var n int
		_, err = pgx.ForEachRow(rows, []any{&id, &n}, func() error { out[id] = n; return nil })
		return out, err
	}
}

// readRows reads the next query's rows of a batch into dest, calling each
// for every row.
func readRows(br pgx.BatchResults, dest []any, each func() error) error {
	rows, err := br.Query()
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			return err
		}
		if err := each(); err != nil {
			return err
		}
	}
	return rows.Err()
}

// unnestInsert is the INSERT of a table's rows as one array per column
// (INSERT … SELECT FROM unnest), so its text does not change with the
// number of rows.
func unnestInsert(w tableRows) (string, []any, error) { return unnestInsertFrom(w, 1) }

// unnestInsertFrom is unnestInsert with its parameters numbered from first
// (to be one of several statements in one).
func unnestInsertFrom(w tableRows, first int) (string, []any, error) {
	width := len(w.rows[0])
	args := make([]any, width)
	casts := make([]string, width)
	for col := range width {
		switch w.rows[0][col].(type) {
		case string:
			args[col], casts[col] = column[string](w.rows, col), "text[]"
		case int64:
			args[col], casts[col] = column[int64](w.rows, col), "bigint[]"
		case float64:
			args[col], casts[col] = column[float64](w.rows, col), "double precision[]"
		case []byte:
			args[col], casts[col] = column[[]byte](w.rows, col), "bytea[]"
		default:
			return "", nil, fmt.Errorf("store %s: column %d of type %T", w.table, col, w.rows[0][col])
		}
		if args[col] == nil {
			return "", nil, fmt.Errorf("store %s: column %d mixes types", w.table, col)
		}
	}
	var q strings.Builder
	fmt.Fprintf(&q, "INSERT INTO %s (%s) SELECT * FROM unnest(", w.table, w.cols)
	for i, c := range casts {
		if i > 0 {
			q.WriteString(", ")
		}
		fmt.Fprintf(&q, "$%d::%s", first+i, c)
	}
	q.WriteString(")" + w.suffix)
	if w.extraCol != "" {
		// The same rows, with one more column from an expression.
		return fmt.Sprintf("INSERT INTO %s (%s, %s) SELECT *, %s FROM (%s) AS r", w.table, w.cols, w.extraCol, w.extraExpr,
			strings.TrimPrefix(q.String(), fmt.Sprintf("INSERT INTO %s (%s) ", w.table, w.cols))), args, nil
	}
	return q.String(), args, nil
}

// column is one column of rows, or nil if a row holds another type there.
func column[T any](rows [][]any, col int) any {
	out := make([]T, len(rows))
	for i, r := range rows {
		v, ok := r[col].(T)
		if !ok {
			return nil
		}
		out[i] = v
	}
	return out
}
