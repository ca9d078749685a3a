package privacy

import (
	"archive/zip"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"compress/zlib"
	"io"
	"regexp"
)

// Archives and compressed streams hide text from a byte scan: a zip
// attachment holding an HTML form pre-filled with the recipient's address
// shows nothing of it until it is opened. The redactor does not rewrite
// archives, so Leaks opens what it can read (zip, including office
// documents, gzip, bzip2, and PDF's deflated streams) and reports what it
// finds inside; what it cannot read (encrypted zip entries, rar, 7z, xz,
// cab, or more than the inspection budget) is reported as a leak too, so
// such evidence is withheld rather than shared unproven.

// inspectBudget bounds the bytes decompressed for one message, so a
// decompression bomb costs at most this much.
const inspectBudget = 32 << 20

// inspectDepth bounds archives nested in archives.
const inspectDepth = 4

var pdfStream = regexp.MustCompile(`stream\r?\n`)

// opened is what inspection found: the texts inside and, when something
// could not be read, why.
type opened struct {
	texts  [][]byte
	opaque string
	budget int64
}

// open reads b if it is an archive or compressed stream, recursively.
func (o *opened) open(b []byte, depth int) {
	if o.opaque != "" || len(b) < 4 {
		return
	}
	if depth > inspectDepth {
		if kindOf(b) != "" {
			o.opaque = "archives nested too deep"
		}
		return
	}
	switch kindOf(b) {
	case "zip":
		zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			o.opaque = "unreadable zip"
			return
		}
		for _, f := range zr.File {
			o.texts = append(o.texts, []byte(f.Name), []byte(f.Comment))
			if f.Flags&1 != 0 {
				o.opaque = "encrypted zip entry"
				return
			}
			rc, err := f.Open()
			if err != nil {
				o.opaque = "unreadable zip entry"
				return
			}
			o.read(rc, depth)
			rc.Close()
		}
		o.texts = append(o.texts, []byte(zr.Comment))
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			o.opaque = "unreadable gzip"
			return
		}
		o.texts = append(o.texts, []byte(zr.Name), []byte(zr.Comment))
		o.read(zr, depth)
	case "bzip2":
		o.read(bzip2.NewReader(bytes.NewReader(b)), depth)
	case "pdf":
		// Deflated content streams; others (images) are left as bytes.
		for _, loc := range pdfStream.FindAllIndex(b, -1) {
			rest := b[loc[1]:]
			if e := bytes.Index(rest, []byte("endstream")); e >= 0 {
				rest = rest[:e]
			}
			if zr, err := zlib.NewReader(bytes.NewReader(rest)); err == nil {
				o.read(zr, depth)
				if o.opaque != "" {
					return
				}
			}
		}
	case "opaque":
		o.opaque = "an archive that cannot be opened"
	}
}

// read takes a decompressed stream within the budget and opens it in turn.
func (o *opened) read(r io.Reader, depth int) {
	data, err := io.ReadAll(io.LimitReader(r, o.budget+1))
	if int64(len(data)) > o.budget {
		o.opaque = "more than the inspection budget"
		return
	}
	o.budget -= int64(len(data))
	if err != nil && len(data) == 0 {
		o.opaque = "unreadable compressed data"
		return
	}
	o.texts = append(o.texts, data)
	o.open(data, depth+1)
}

// kindOf names the container b is, from its first bytes ("" for none).
func kindOf(b []byte) string {
	switch {
	case bytes.HasPrefix(b, []byte("PK\x03\x04")), bytes.HasPrefix(b, []byte("PK\x05\x06")):
		return "zip"
	case bytes.HasPrefix(b, []byte("\x1f\x8b")):
		return "gzip"
	case bytes.HasPrefix(b, []byte("BZh")) && len(b) > 4 && b[3] >= '1' && b[3] <= '9':
		return "bzip2"
	case bytes.HasPrefix(b, []byte("%PDF-")):
		return "pdf"
	case bytes.HasPrefix(b, []byte("Rar!\x1a\x07")), bytes.HasPrefix(b, []byte("7z\xbc\xaf\x27\x1c")),
		bytes.HasPrefix(b, []byte("\xfd7zXZ\x00")), bytes.HasPrefix(b, []byte("MSCF\x00\x00\x00\x00")):
		return "opaque"
	}
	return ""
}
