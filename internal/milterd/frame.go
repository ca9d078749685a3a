package milterd

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// MaxPacket bounds one milter packet (its command byte and data). An MTA
// sends a body in chunks of at most 64 KiB (1 MiB when both sides
// negotiate it), Postfix a header field of at most header_size_limit
// (100 KiB), Sendmail one of at most MaxHeadersLength (32 KiB); a header
// larger than the filter reads (512 KiB) is refused anyway. go-milter
// itself would allocate up to 512 MiB for the length a client declares.
const MaxPacket = 1<<20 + 1024

// errFrame is a packet the door does not hand to the protocol library:
// the connection is closed, and nothing else is affected.
var errFrame = errors.New("milter: malformed packet")

// checkPacket says whether a packet has the shape the protocol library
// assumes without looking: go-milter v0.10.2 indexes into it without
// bounds checks in three places, in the goroutine of one connection and
// with no recover, so one malformed packet stopped the whole process —
//
//   - a packet of length 0 (it reads the command byte of an empty slice);
//   - a connect (C) whose host name has no NUL, or no family byte after it;
//   - a MAIL (M) or RCPT (R) whose address has no NUL.
//
// Everything else it reads is bounds-checked, or read with functions that
// accept any bytes (ReadCString, DecodeCStrings); OPTNEG is checked for
// its 12 bytes, a header (L) for two strings, a macro (D) for its code.
func checkPacket(data []byte) error {
	if len(data) == 0 {
		return fmt.Errorf("%w: length 0", errFrame)
	}
	code, args := data[0], data[1:]
	switch code {
	case 'C':
		i := bytes.IndexByte(args, 0)
		if i < 0 {
			return fmt.Errorf("%w: connect without a NUL after the host name", errFrame)
		}
		if i+1 >= len(args) {
			return fmt.Errorf("%w: connect without a family", errFrame)
		}
	case 'M', 'R':
		if bytes.IndexByte(args, 0) < 0 {
			return fmt.Errorf("%w: %c without a NUL after the address", errFrame, code)
		}
	}
	return nil
}

// guardConn hands the protocol library only whole packets that passed
// checkPacket: it reads each packet in full (within the deadline the
// library set), checks it, then serves its bytes. A packet that fails,
// or declares a length of 0 or over MaxPacket, ends the connection with
// errFrame.
//
// It also bounds the wait for the MTA's connect after the negotiation
// (connectWait): until a connect (C) arrives, every read deadline the
// library sets is cut to connectBy.
type guardConn struct {
	net.Conn
	buf []byte // the current packet, length prefix included
	off int    // bytes of buf already served
	err error  // sticky: the connection is over

	connectWait time.Duration
	mu          sync.Mutex
	connectBy   time.Time // set at the negotiation, zero once connected
}

func (c *guardConn) clamp(t time.Time) time.Time {
	c.mu.Lock()
	by := c.connectBy
	c.mu.Unlock()
	if by.IsZero() || (!t.IsZero() && t.Before(by)) {
		return t
	}
	return by
}

func (c *guardConn) SetReadDeadline(t time.Time) error { return c.Conn.SetReadDeadline(c.clamp(t)) }
func (c *guardConn) SetDeadline(t time.Time) error {
	if err := c.Conn.SetWriteDeadline(t); err != nil {
		return err
	}
	return c.SetReadDeadline(t)
}

// stage notes the negotiation and the connect.
func (c *guardConn) stage(code byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case code == 'O' && c.connectWait > 0:
		c.connectBy = time.Now().Add(c.connectWait)
	case code == 'C':
		c.connectBy = time.Time{}
	}
}

func (c *guardConn) Read(p []byte) (int, error) {
	if c.off == len(c.buf) {
		if c.err != nil {
			return 0, c.err
		}
		if err := c.next(); err != nil {
			c.err = err
			c.buf, c.off = nil, 0
			return 0, err
		}
	}
	n := copy(p, c.buf[c.off:])
	c.off += n
	return n, nil
}

// next reads and checks one packet into buf.
func (c *guardConn) next() error {
	var hdr [4]byte
	if _, err := io.ReadFull(c.Conn, hdr[:]); err != nil {
		return err // io.EOF between packets: the MTA closed, as usual
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n == 0 || n > MaxPacket {
		return fmt.Errorf("%w: length %d (1 to %d)", errFrame, n, MaxPacket)
	}
	// A body chunk's buffer is kept for the next; a rare large packet's
	// is not.
	if cap(c.buf) >= 4+int(n) && cap(c.buf) <= 70<<10 {
		c.buf = c.buf[:4+n]
	} else {
		c.buf = make([]byte, 4+n)
	}
	copy(c.buf, hdr[:])
	if _, err := io.ReadFull(c.Conn, c.buf[4:]); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	if err := checkPacket(c.buf[4:]); err != nil {
		return err
	}
	c.stage(c.buf[4])
	c.off = 0
	return nil
}

// guardListener wraps every accepted connection in a guardConn.
type guardListener struct {
	net.Listener
	connectWait time.Duration
}

func (l guardListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &guardConn{Conn: c, connectWait: l.connectWait}, nil
}
