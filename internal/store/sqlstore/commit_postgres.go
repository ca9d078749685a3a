package sqlstore

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/accord-antispam/accord/internal/intake"
)

// commitPostgres is Commit on PostgreSQL in two pipelined round trips,
// whatever the number of complaints: (1) BEGIN, lock and read the custody
// head, read the campaign candidates of every report; then, in memory, the
// campaigns are assigned and the custody entries chained; (2) every
// table's rows, the head's update and COMMIT. Each statement's text
// depends on its table only (rows go as one array per column, keys as one
// array), so pgx prepares it once per connection instead of parsing and
// planning a new text at every commit. The head's row lock is held for
// what lies between the two exchanges and no longer: that is the time
// several instances on one database wait for each other.
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

// CommitWriters implements intake.ConcurrentCommitter: on PostgreSQL two
// commits may be under way at once — the second sends its first exchange
// while the first holds the custody head, and runs as soon as it is
// released, so the head is rarely idle; SQLite writes one at a time.
func (s *Store) CommitWriters() int {
	if s.d.Name == "postgres" {
		return 2
	}
	return 1
}

func (s *Store) commitOn(ctx context.Context, c *pgx.Conn, batches []*intake.Batch, assign intake.Assigner) error {
	// Everything that does not depend on what is under the lock is done
	// before taking it.
	enc, err := encodeReports(batches)
	if err != nil {
		return err
	}
	idx := newCommitIndex(batches)
	var first pgx.Batch
	first.Queue("BEGIN")
	first.Queue(`SELECT seq, hash FROM custody_head WHERE id = 1 FOR UPDATE`)
	first.Queue(fmt.Sprintf(bandCandidates, "= ANY($1::bigint[])"), idx.bandKeys)
	first.Queue(fmt.Sprintf(domainCandidates, "= ANY($1::text[])"), idx.domainKeys)
	br := c.SendBatch(ctx, &first)
	var headSeq int64
	var headHash string
	err = func() error {
		if _, err := br.Exec(); err != nil {
			return fmt.Errorf("begin commit: %w", err)
		}
		if err := br.QueryRow().Scan(&headSeq, &headHash); err != nil {
			return fmt.Errorf("lock the custody head: %w", err)
		}
		var k int64
		var d, id, sig string
		if err := readRows(br, []any{&k, &id, &sig}, func() error { return idx.addBand(k, id, sig) }); err != nil {
			return fmt.Errorf("campaign candidates by text: %w", err)
		}
		if err := readRows(br, []any{&d, &id, &sig}, func() error { return idx.addDomain(d, id, sig) }); err != nil {
			return fmt.Errorf("campaign candidates by link domain: %w", err)
		}
		return nil
	}()
	if cerr := br.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("begin commit: %w", cerr)
	}
	if err != nil {
		return err
	}
	writes, headSeq, headHash, err := commitRows(ctx, batches, enc, assign, idx, headSeq, headHash)
	if err != nil {
		return err
	}
	var second pgx.Batch
	var what []string
	for _, w := range writes {
		if len(w.rows) == 0 {
			continue
		}
		q, args, err := unnestInsert(w)
		if err != nil {
			return err
		}
		second.Queue(q, args...)
		what = append(what, "store "+w.table)
	}
	second.Queue(`UPDATE custody_head SET seq = $1, hash = $2 WHERE id = 1`, headSeq, headHash)
	second.Queue("COMMIT")
	what = append(what, "move the custody head", "commit reports")
	br = c.SendBatch(ctx, &second)
	err = func() error {
		for i := range second.QueuedQueries {
			tag, err := br.Exec()
			if err != nil {
				return fmt.Errorf("%s: %w", what[i], err)
			}
			// COMMIT of a transaction that failed answers ROLLBACK.
			if i == len(second.QueuedQueries)-1 && tag.String() != "COMMIT" {
				return fmt.Errorf("commit reports: the database answered %q", tag.String())
			}
		}
		return nil
	}()
	if cerr := br.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("commit reports: %w", cerr)
	}
	return err
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
func unnestInsert(w tableRows) (string, []any, error) {
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
		fmt.Fprintf(&q, "$%d::%s", i+1, c)
	}
	q.WriteString(")" + w.suffix)
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
