package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"

	"github.com/accord-antispam/accord/internal/mail"
)

// rawMessage is one message read from the inputs, with where it came from.
type rawMessage struct {
	source    string
	raw       []byte
	truncated bool
}

// inputReader walks the command-line inputs: files, directories (every
// regular file beneath, in lexical order, which covers Maildir), mbox files
// (split into messages, named "path#N" when there are several) and "-" for
// standard input.
type inputReader struct {
	stdin    io.Reader
	maxBytes int64
	emit     func(rawMessage) error
	fail     func(source string, err error)
}

func (r *inputReader) run(ctx context.Context, args []string) error {
	for _, a := range args {
		if err := ctx.Err(); err != nil {
			return err
		}
		if a == "-" {
			if err := r.stream(a, r.stdin); err != nil {
				return err
			}
			continue
		}
		st, err := os.Stat(a)
		if err != nil {
			r.fail(a, err)
			continue
		}
		if !st.IsDir() {
			if err := r.file(a); err != nil {
				return err
			}
			continue
		}
		err = filepath.WalkDir(a, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				r.fail(p, err)
				return nil
			}
			if cerr := ctx.Err(); cerr != nil {
				return cerr
			}
			if d.Type().IsRegular() {
				return r.file(p)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// file reads one file; only errors from emit (the consumer) stop the walk.
func (r *inputReader) file(p string) error {
	f, err := os.Open(p)
	if err != nil {
		r.fail(p, err)
		return nil
	}
	defer f.Close()
	size := int64(0)
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
		size = st.Size()
	}
	return r.streamSized(p, f, size)
}

// readAll reads at most limit+1 bytes. For a file of known size it reads
// into one buffer of that size: growing a buffer while reading 32 MiB
// allocates about twice as much again.
func readAll(in io.Reader, size, limit int64) ([]byte, error) {
	if size <= 0 {
		return io.ReadAll(io.LimitReader(in, limit+1))
	}
	buf := make([]byte, 0, min(size, limit)+1)
	for {
		if len(buf) == cap(buf) {
			if int64(len(buf)) > limit {
				return buf, nil
			}
			buf = append(buf, 0)[:len(buf)] // the file grew while we read it
		}
		n, err := in.Read(buf[len(buf):min(cap(buf), int(limit)+1)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return buf, err
		}
		if int64(len(buf)) > limit {
			return buf, nil
		}
	}
}

var errStop = errors.New("stop")

func (r *inputReader) stream(src string, in io.Reader) error { return r.streamSized(src, in, 0) }

// streamSized reads one input; size is its length when known (a regular
// file), else 0.
func (r *inputReader) streamSized(src string, in io.Reader, size int64) error {
	br := bufio.NewReaderSize(in, 64<<10)
	head, err := br.Peek(5)
	if err != nil && err != io.EOF && !errors.Is(err, bufio.ErrBufferFull) {
		r.fail(src, fmt.Errorf("read: %w", err))
		return nil
	}
	if string(head) != "From " {
		raw, err := readAll(br, size, r.maxBytes)
		if err != nil {
			r.fail(src, fmt.Errorf("read: %w", err))
			return nil
		}
		if len(raw) == 0 {
			r.fail(src, errors.New("empty input: no message to analyse"))
			return nil
		}
		trunc := int64(len(raw)) > r.maxBytes
		// Drain the rest so a pipe writer is not blocked; it is not analysed.
		if trunc {
			io.Copy(io.Discard, br)
		}
		return r.emit(rawMessage{source: src, raw: raw, truncated: trunc})
	}
	mb := mail.NewMboxReader(br, r.maxBytes)
	first, t1, err := mb.Next()
	if err != nil {
		r.fail(src, err)
		return nil
	}
	second, t2, err := mb.Next()
	if err == io.EOF {
		return r.emit(rawMessage{source: src, raw: first, truncated: t1})
	}
	if err != nil {
		r.fail(src, err)
		return nil
	}
	if err := r.emit(rawMessage{source: src + "#1", raw: first, truncated: t1}); err != nil {
		return err
	}
	if err := r.emit(rawMessage{source: src + "#2", raw: second, truncated: t2}); err != nil {
		return err
	}
	for n := 3; ; n++ {
		m, t, err := mb.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			r.fail(src+"#"+strconv.Itoa(n), err)
			return nil
		}
		if err := r.emit(rawMessage{source: src + "#" + strconv.Itoa(n), raw: m, truncated: t}); err != nil {
			return err
		}
	}
}
