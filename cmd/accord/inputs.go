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
	"strings"

	"github.com/accord-antispam/accord/internal/analysis"
	"github.com/accord-antispam/accord/internal/mail"
)

// rawMessage is one message read from the inputs, with where it came from.
type rawMessage struct {
	source    string
	raw       []byte
	truncated bool
	wrapper   *analysis.Wrapper // the report it was recovered from, if any
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
	// note, when set, is told about inputs skipped on purpose (Maildir
	// control files, archives).
	note func(source, why string)
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
		st, err := os.Stat(a) // follows a symbolic link
		if err != nil {
			r.fail(a, err)
			continue
		}
		if !st.IsDir() {
			if why := skipFile(a); why != "" {
				r.skip(a, why)
				continue
			}
			if err := r.file(a); err != nil {
				return err
			}
			continue
		}
		n, err := r.dir(ctx, a, map[string]bool{})
		if err != nil {
			return err
		}
		if n == 0 {
			r.fail(a, errors.New("no message in this directory (nothing but control files, archives or empty folders)"))
		}
	}
	return nil
}

func (r *inputReader) skip(src, why string) {
	if r.note != nil {
		r.note(src, why)
	}
}

// dir reads every message file beneath dir, in lexical order, following
// symbolic links to files and directories (each real directory once, so a
// link loop ends), and returns how many files it read. Names keep the path
// as given: DIR/LINK/FILE.
func (r *inputReader) dir(ctx context.Context, dir string, seen map[string]bool) (int, error) {
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		r.fail(dir, err)
		return 0, nil
	}
	if seen[real] {
		return 0, nil
	}
	seen[real] = true
	n := 0
	err = filepath.WalkDir(real, func(p string, d fs.DirEntry, err error) error {
		shown := filepath.Join(dir, strings.TrimPrefix(strings.TrimPrefix(p, real), string(filepath.Separator)))
		if err != nil {
			r.fail(shown, err)
			return nil
		}
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		if d.IsDir() {
			if p != real && skipDir(p) {
				r.skip(shown, "a Maildir's tmp/ holds messages still being delivered")
				return filepath.SkipDir
			}
			if p != real && seen[p] {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Type()&fs.ModeSymlink != 0 {
			st, err := os.Stat(p)
			if err != nil {
				r.fail(shown, err)
				return nil
			}
			if st.IsDir() {
				k, err := r.dir(ctx, shown, seen)
				n += k
				return err
			}
			if !st.Mode().IsRegular() {
				return nil
			}
		} else if !d.Type().IsRegular() {
			return nil
		}
		if why := skipFile(p); why != "" {
			r.skip(shown, why)
			return nil
		}
		n++
		return r.file2(p, shown)
	})
	return n, err
}

// maildirControl are files a mail store keeps beside the messages.
var maildirControl = []string{"dovecot-uidlist", "dovecot-uidvalidity", "dovecot-keywords", "dovecot.index", "dovecot.list.index",
	"dovecot.mailbox.log", "maildirsize", "maildirfolder", "subscriptions", "courierimapuiddb", "courierimapkeywords",
	"courierimapacl", ".ds_store", "thumbs.db"}

// archiveExt are containers check does not open.
var archiveExt = []string{".zip", ".gz", ".tgz", ".tar", ".bz2", ".xz", ".zst", ".7z", ".rar"}

// skipFile says why a file is not a message to analyse, or "".
func skipFile(p string) string {
	base := strings.ToLower(filepath.Base(p))
	for _, c := range maildirControl {
		if base == c || strings.HasPrefix(base, c+".") || strings.HasPrefix(base, "dovecot.index") || strings.HasPrefix(base, "dovecot-uidvalidity") {
			return "a mail store's control file, not a message"
		}
	}
	for _, e := range archiveExt {
		if strings.HasSuffix(base, e) {
			return "an archive: unpack it and check the messages inside"
		}
	}
	return ""
}

// skipDir reports a Maildir's tmp/ folder (beside cur/ and new/).
func skipDir(p string) bool {
	if filepath.Base(p) != "tmp" {
		return false
	}
	parent := filepath.Dir(p)
	for _, sib := range []string{"cur", "new"} {
		if st, err := os.Stat(filepath.Join(parent, sib)); err == nil && st.IsDir() {
			return true
		}
	}
	return false
}

// file reads one file; only errors from emit (the consumer) stop the walk.
func (r *inputReader) file(p string) error { return r.file2(p, p) }

// file2 reads the file at p, naming it shown.
func (r *inputReader) file2(p, shown string) error {
	f, err := os.Open(p)
	if err != nil {
		r.fail(shown, err)
		return nil
	}
	defer f.Close()
	size := int64(0)
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() {
		size = st.Size()
	}
	return r.streamSized(shown, f, size)
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
