// Package spool keeps what clients upload off the heap until it is its
// turn: a body is read to its end into memory up to a small size and into
// an unlinked temporary file beyond it, and comes back into memory only
// within a Budget of bytes shared by every door of the node (web form,
// API, mailbox). A crowd of large uploads then costs disk and waiting, not
// memory, and an upload over its limit is refused whole, never cut.
package spool

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"

	"golang.org/x/sync/semaphore"
)

// Memory is the body size kept in memory; larger bodies go to a
// temporary file while they arrive.
const Memory = 256 << 10

// ErrTooLarge is returned for a body over its limit: nothing of it is kept.
var ErrTooLarge = errors.New("spool: the body is over its size limit")

// Body is a body read to its end, in memory or in a temporary file.
type Body struct {
	mem  []byte
	file *os.File
	size int64
}

// Read reads r to its end, refusing more than limit bytes with ErrTooLarge
// (an *http.MaxBytesError from r counts as too large too). Past Memory
// the bytes go to a temporary file, removed from the directory at once,
// so it is gone when closed whatever happens. Close the body when done.
func Read(r io.Reader, limit int64) (*Body, error) {
	head := make([]byte, 0, 32<<10)
	buf := make([]byte, 32<<10)
	var b Body
	for {
		n, err := r.Read(buf)
		if n > 0 {
			b.size += int64(n)
			if b.size > limit {
				b.Close()
				return nil, ErrTooLarge
			}
			if b.file == nil && len(head)+n <= Memory {
				head = append(head, buf[:n]...)
			} else {
				if b.file == nil {
					f, ferr := os.CreateTemp("", "accord-upload-")
					if ferr != nil {
						return nil, ferr
					}
					os.Remove(f.Name())
					b.file = f
					if _, werr := f.Write(head); werr != nil {
						b.Close()
						return nil, werr
					}
					head = nil
				}
				if _, werr := b.file.Write(buf[:n]); werr != nil {
					b.Close()
					return nil, werr
				}
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			b.Close()
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return nil, ErrTooLarge
			}
			return nil, err
		}
	}
	b.mem = head
	return &b, nil
}

// Size is the body's length.
func (b *Body) Size() int64 { return b.size }

// Bytes returns the whole body in memory: call it within the budget.
func (b *Body) Bytes() ([]byte, error) {
	if b.file == nil {
		return b.mem, nil
	}
	out := make([]byte, b.size)
	if _, err := b.file.ReadAt(out, 0); err != nil && err != io.EOF {
		return nil, err
	}
	return out, nil
}

// Close removes the temporary file, if any.
func (b *Body) Close() {
	if b != nil && b.file != nil {
		b.file.Close()
		b.file = nil
	}
}

// Budget bounds the bytes of bodies in memory at once, across the node.
type Budget struct {
	sem  *semaphore.Weighted
	size int64
}

// NewBudget is a budget of size bytes (default 48 MiB when size <= 0).
func NewBudget(size int64) *Budget {
	if size <= 0 {
		size = 48 << 20
	}
	return &Budget{sem: semaphore.NewWeighted(size), size: size}
}

// Admit waits for n bytes of the budget (a body larger than the whole
// budget waits for all of it) and returns the function that gives them
// back.
func (b *Budget) Admit(ctx context.Context, n int64) (func(), error) {
	n = min(max(n, 1), b.size)
	if err := b.sem.Acquire(ctx, n); err != nil {
		return nil, err
	}
	return func() { b.sem.Release(n) }, nil
}

// BodyCost is how many times its size a body costs in memory while it is
// analysed and stored: its bytes, and its parts decoded (a base64
// attachment three quarters of its size again), with their text and the
// store's copy of the bytes on the way to the disk. Counting a body once
// let two 24 MB uploads be analysed at once in a 48 MiB budget, holding
// more than twice that, and the process grew past 340 MB.
const BodyCost = 2

// AdmitBody waits for what a body of size bytes costs in memory
// (BodyCost times its size, at most the whole budget), and returns the
// function that gives it back.
func (b *Budget) AdmitBody(ctx context.Context, size int64) (func(), error) {
	return b.Admit(ctx, BodyCost*size)
}

// Size is the whole budget.
func (b *Budget) Size() int64 { return b.size }
