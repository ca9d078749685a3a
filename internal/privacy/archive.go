package privacy

import (
	"archive/zip"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"compress/zlib"
	"io"
	"math"
	"regexp"
	"strings"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/unicode/utf32"
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
	case "zlib":
		zr, err := zlib.NewReader(bytes.NewReader(b))
		if err != nil {
			// Two bytes that only looked like a zlib header.
			if depth == 0 && opaqueBinary(b) {
				o.opaque = "binary data that looks compressed or encrypted and cannot be read"
			}
			return
		}
		o.read(zr, depth)
	case "opaque":
		o.opaque = "an archive that cannot be opened"
	default:
		if depth == 0 && opaqueBinary(b) {
			o.opaque = "binary data that looks compressed or encrypted and cannot be read"
		}
	}
}

// utf32Text decodes a text part declared UTF-32 (with or without a byte
// order mark).
func utf32Text(charset string, b []byte) ([]byte, bool) {
	var e encoding.Encoding
	switch strings.ToLower(strings.Trim(strings.TrimSpace(charset), `"'`)) {
	case "utf-32", "utf32", "ucs-4":
		e = utf32.UTF32(utf32.BigEndian, utf32.UseBOM)
	case "utf-32be":
		e = utf32.UTF32(utf32.BigEndian, utf32.IgnoreBOM)
	case "utf-32le":
		e = utf32.UTF32(utf32.LittleEndian, utf32.IgnoreBOM)
	default:
		return nil, false
	}
	out, err := e.NewDecoder().Bytes(b)
	return out, err == nil
}

// opaqueBinary reports whether an attachment of no known container looks
// like compressed or encrypted data (raw deflate, an unknown packer): near
// 8 bits of entropy per byte over its first 4 KiB. Media formats that are
// compressed by nature (images, audio, video) are known by their magic and
// left to the byte scan.
func opaqueBinary(b []byte) bool {
	if len(b) < 256 || media(b) {
		return false
	}
	n := min(len(b), 4096)
	var count [256]int
	for _, c := range b[:n] {
		count[c]++
	}
	h := 0.0
	for _, c := range count {
		if c > 0 {
			p := float64(c) / float64(n)
			h -= p * math.Log2(p)
		}
	}
	return h > 7.2
}

// media names the compressed media formats by their magic numbers.
func media(b []byte) bool {
	for _, m := range []string{"\x89PNG", "\xff\xd8\xff", "GIF8", "II*\x00", "MM\x00*", "ID3", "\xff\xfb", "OggS", "fLaC", "\x1aE\xdf\xa3"} {
		if bytes.HasPrefix(b, []byte(m)) {
			return true
		}
	}
	if len(b) >= 12 && (string(b[:4]) == "RIFF" || string(b[4:8]) == "ftyp") {
		return true // WebP, WAV, AVI; MP4, HEIC
	}
	return false
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
	case b[0]&0x0f == 8 && b[0]>>4 <= 7 && (int(b[0])<<8|int(b[1]))%31 == 0 && b[1]&0x20 == 0:
		// A raw zlib stream (RFC 1950: deflate, a valid check, no dictionary).
		return "zlib"
	case bytes.HasPrefix(b, []byte("Rar!\x1a\x07")), bytes.HasPrefix(b, []byte("7z\xbc\xaf\x27\x1c")),
		bytes.HasPrefix(b, []byte("\xfd7zXZ\x00")), bytes.HasPrefix(b, []byte("MSCF\x00\x00\x00\x00")),
		bytes.HasPrefix(b, []byte("\x28\xb5\x2f\xfd")), // zstd
		bytes.HasPrefix(b, []byte("\x04\x22\x4d\x18")), // lz4
		bytes.HasPrefix(b, []byte("LZIP")), bytes.HasPrefix(b, []byte("\x1f\x9d")), bytes.HasPrefix(b, []byte("\x5d\x00\x00")):
		return "opaque"
	}
	return ""
}
