package sqlstore

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math"

	"github.com/jackc/pgx/v5"
)

// copyLarge is the size of a message from which a PostgreSQL commit sends
// the complaints and reports with COPY, streamed in pieces of 64 KiB,
// instead of as arrays of bound parameters: pgx builds a bound parameter
// whole, then again inside the message it sends, so a 25 MB message cost
// some 110 MB of buffers (the complaint's copy and the report's), and
// eight uploads at once took the process to 650 MB.
const copyLarge = 1 << 20

// hasLarge says whether a commit's complaints or reports hold a message
// of copyLarge bytes or more.
func hasLarge(writes []tableRows) bool {
	for _, w := range writes {
		if !copiedTable(w.table) {
			continue
		}
		for _, r := range w.rows {
			for _, v := range r {
				if b, ok := v.([]byte); ok && len(b) >= copyLarge {
					return true
				}
			}
		}
	}
	return false
}

// copiedTable says which tables a commit with a large message sends by
// COPY: those holding messages.
func copiedTable(table string) bool { return table == "complaints" || table == "reports" }

// copyRows streams a table's rows to the server with COPY … FROM STDIN in
// the binary format, inside the transaction c has open.
func copyRows(ctx context.Context, c *pgx.Conn, w tableRows) error {
	if len(w.rows) == 0 {
		return nil
	}
	r := &copyReader{rows: w.rows, col: -1}
	if _, err := c.PgConn().CopyFrom(ctx, r, fmt.Sprintf("COPY %s (%s) FROM STDIN (FORMAT binary)", w.table, w.cols)); err != nil {
		if r.err != nil {
			return fmt.Errorf("store %s: %w", w.table, r.err)
		}
		return fmt.Errorf("store %s: %w", w.table, err)
	}
	return nil
}

// copyReader is COPY's binary format of rows (strings, int64s, float64s
// and byte slices), made as it is read: a field's bytes are copied from
// where they are into the reader's buffer, never gathered first.
type copyReader struct {
	rows    [][]any
	row     int  // the row being sent
	col     int  // its next field; -1: its field count is next
	started bool // the signature was sent
	ended   bool // the trailer was sent
	head    []byte
	body    []byte
	scratch [19]byte
	err     error
}

// copySignature starts the binary format: the signature, no flags, no
// header extension.
var copySignature = []byte("PGCOPY\n\xff\r\n\x00\x00\x00\x00\x00\x00\x00\x00\x00")

func (r *copyReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		switch {
		case len(r.head) > 0:
			k := copy(p[n:], r.head)
			r.head = r.head[k:]
			n += k
		case len(r.body) > 0:
			k := copy(p[n:], r.body)
			r.body = r.body[k:]
			n += k
		case !r.next():
			if n > 0 {
				return n, nil
			}
			if r.err != nil {
				return 0, r.err
			}
			return 0, io.EOF
		}
	}
	return n, nil
}

// next sets head (and body) to the next piece of the stream; false at its
// end or on a field it cannot encode.
func (r *copyReader) next() bool {
	if r.err != nil {
		return false
	}
	if !r.started {
		r.started, r.head = true, copySignature
		return true
	}
	if r.row >= len(r.rows) {
		if r.ended {
			return false
		}
		r.ended = true
		r.head = binary.BigEndian.AppendUint16(r.scratch[:0], 0xffff) // -1: no more rows
		return true
	}
	row := r.rows[r.row]
	if r.col < 0 {
		r.col = 0
		r.head = binary.BigEndian.AppendUint16(r.scratch[:0], uint16(len(row)))
		return true
	}
	v := row[r.col]
	if r.col++; r.col == len(row) {
		r.row, r.col = r.row+1, -1
	}
	switch x := v.(type) {
	case string:
		r.head, r.body = binary.BigEndian.AppendUint32(r.scratch[:0], uint32(len(x))), []byte(x)
	case []byte:
		r.head, r.body = binary.BigEndian.AppendUint32(r.scratch[:0], uint32(len(x))), x
	case int64:
		r.head = binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint32(r.scratch[:0], 8), uint64(x))
	case float64:
		r.head = binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint32(r.scratch[:0], 8), math.Float64bits(x))
	default:
		r.err = fmt.Errorf("a field of type %T", v)
		return false
	}
	return true
}
