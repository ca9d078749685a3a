package mail

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// MboxReader splits an mbox stream into messages. A message starts at a
// "From sender date" line at the start of the stream or after an empty line. Body lines
// escaped as ">From " (mboxrd) lose one ">" so the message bytes are the ones
// that were delivered. Each message returned still begins with its "From "
// line, which ParseBytes records as EnvelopeFrom.
type MboxReader struct {
	r       *bufio.Reader
	max     int64
	pending []byte // the "From " line of the next message
	started bool
	done    bool
}

// NewMboxReader reads messages from r; each is cut at max bytes.
func NewMboxReader(r io.Reader, max int64) *MboxReader {
	if max <= 0 {
		max = DefaultLimits().MaxBytes
	}
	return &MboxReader{r: bufio.NewReaderSize(r, 64<<10), max: max}
}

// ErrNotMbox is returned when the stream does not start with a "From " line.
var ErrNotMbox = errors.New("mail: not an mbox: the first line is not a \"From \" line")

// Next returns the next message, io.EOF after the last. truncated reports that
// the message was longer than the limit and was cut.
func (m *MboxReader) Next() (msg []byte, truncated bool, err error) {
	if m.done {
		return nil, false, io.EOF
	}
	var buf bytes.Buffer
	if !m.started {
		m.started = true
		line, err := m.readLine()
		if err != nil && len(line) == 0 {
			m.done = true
			if err == io.EOF {
				return nil, false, io.EOF
			}
			return nil, false, fmt.Errorf("read mbox: %w", err)
		}
		if !bytes.HasPrefix(line, []byte("From ")) {
			m.done = true
			return nil, false, ErrNotMbox
		}
		m.pending = line
	}
	if m.pending == nil {
		m.done = true
		return nil, false, io.EOF
	}
	buf.Write(m.pending)
	m.pending = nil
	prevBlank := false
	for {
		line, err := m.readLine()
		if len(line) > 0 {
			if prevBlank && isSeparator(line) {
				m.pending = line
				return trimFinalBlank(buf.Bytes()), truncated, nil
			}
			if isEscapedFrom(line) {
				line = line[1:]
			}
			if int64(buf.Len()+len(line)) <= m.max {
				buf.Write(line)
			} else {
				truncated = true
			}
			prevBlank = len(bytes.TrimRight(line, "\r\n")) == 0
		}
		if err == io.EOF {
			m.done = true
			return buf.Bytes(), truncated, nil
		}
		if err != nil {
			m.done = true
			return nil, false, fmt.Errorf("read mbox: %w", err)
		}
	}
}

func (m *MboxReader) readLine() ([]byte, error) {
	line, err := m.r.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		// A very long line: gather it whole, bounded by the message limit.
		out := append([]byte(nil), line...)
		for err == bufio.ErrBufferFull {
			line, err = m.r.ReadSlice('\n')
			if int64(len(out)) <= m.max {
				out = append(out, line...)
			}
		}
		return out, err
	}
	return append([]byte(nil), line...), err
}

// isSeparator recognises "From sender date" lines; an unescaped body line
// starting with "From " rarely carries a date's digits.
func isSeparator(line []byte) bool {
	if !bytes.HasPrefix(line, []byte("From ")) {
		return false
	}
	return len(bytes.Fields(line)) >= 3 && bytes.ContainsAny(line, "0123456789")
}

func isEscapedFrom(line []byte) bool {
	i := 0
	for i < len(line) && line[i] == '>' {
		i++
	}
	return i > 0 && bytes.HasPrefix(line[i:], []byte("From "))
}

// trimFinalBlank drops the empty line that separates a message from the
// next "From " line; it belongs to the mbox format, not the message.
func trimFinalBlank(b []byte) []byte {
	if bytes.HasSuffix(b, []byte("\r\n\r\n")) {
		return b[:len(b)-2]
	}
	if bytes.HasSuffix(b, []byte("\n\n")) {
		return b[:len(b)-1]
	}
	return b
}
