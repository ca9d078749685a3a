package mail

import (
	"bytes"
	"encoding/base64"
	"math/rand/v2"
	"strings"
	"testing"
)

// FuzzMultipartBounds checks that splitting a multipart body never keeps
// more bodies than asked for (a flood of delimiter lines once cost a span
// per line), that the bodies are ordered slices of the input, and that the
// whole parser keeps its part, depth, decoded and text budgets on any input.
func FuzzMultipartBounds(f *testing.F) {
	f.Add([]byte("--a\r\n--a\r\n--a\r\n--a--\r\n"), "a", uint8(2))
	f.Add([]byte(strings.Repeat("--a\n", 1000)), "a", uint8(7))
	f.Add([]byte("preamble\n--b\nx\n--bb\ny\n--b--\nepilogue"), "b", uint8(1))
	f.Add([]byte("--\n--\n----\n"), "", uint8(3))
	f.Fuzz(func(t *testing.T, body []byte, boundary string, limit uint8) {
		n := int(limit%16) + 1
		parts, found, closed, cut := splitMultipart(body, boundary, n)
		if len(parts) > n {
			t.Fatalf("%d bodies kept, limit %d", len(parts), n)
		}
		if cut && (closed || len(parts) != n) || closed && !found {
			t.Fatalf("found %v closed %v cut %v with %d bodies", found, closed, cut, len(parts))
		}
		end := 0
		for _, p := range parts {
			if p.off < end || p.off+len(p.data) > len(body) || !bytes.Equal(body[p.off:p.off+len(p.data)], p.data) {
				t.Fatalf("body at %d (%d bytes) is not an ordered slice of the input", p.off, len(p.data))
			}
			end = p.off + len(p.data)
		}

		lim := Limits{MaxBytes: 1 << 16, MaxParts: 8, MaxDepth: 3, MaxDecodedBytes: 1 << 12, MaxTextBytes: 256}
		raw := append([]byte("Content-Type: multipart/mixed; boundary=\""+strings.ReplaceAll(boundary, "\"", "")+"\"\r\n\r\n"), body...)
		m := ParseBytes(raw, lim)
		if len(m.Parts) > lim.MaxParts {
			t.Fatalf("%d parts over the limit", len(m.Parts))
		}
		text := 0
		for _, p := range m.Parts {
			text += len(p.Text)
		}
		// UTF-8 may take three bytes for one, and every cut part adds a marker.
		if max := 3*lim.MaxTextBytes + int64(len(m.Parts))*8; int64(text) > max {
			t.Fatalf("%d bytes of text, over %d", text, max)
		}
	})
}

// TestTextBudget: text beyond Limits.MaxTextBytes keeps its start and its
// end, with a defect.
func TestTextBudget(t *testing.T) {
	body := "Dear customer\n" + strings.Repeat("filler ", 10000) + "\nTo unsubscribe visit https://x.example/u\n"
	m := ParseBytes([]byte("Content-Type: text/plain\r\n\r\n"+body), Limits{MaxTextBytes: 1000})
	if !m.HasDefect(DefectTextLimit) {
		t.Fatalf("no text-limit defect: %+v", m.Defects)
	}
	txt := m.Parts[0].Text
	if len(txt) > 1100 || !strings.HasPrefix(txt, "Dear customer") || !strings.Contains(txt, "https://x.example/u") {
		t.Errorf("text kept (%d bytes): %q…%q", len(txt), txt[:40], txt[len(txt)-60:])
	}
	c := Extract(m)
	if len(c.URLs) != 1 {
		t.Errorf("the footer link was lost: %+v", c.URLs)
	}
}

// TestDecodeBase64MatchesReference compares the chunked decoder with the
// plain one it replaced (clean the whole input, then decode) on random
// inputs around the chunk size, with noise, padding and bad characters.
func TestDecodeBase64MatchesReference(t *testing.T) {
	ref := func(b []byte) ([]byte, bool) {
		bad := false
		clean := make([]byte, 0, len(b))
		for _, c := range b {
			switch {
			case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '+', c == '/':
				clean = append(clean, c)
			case c == '=', c == ' ', c == '\t', c == '\r', c == '\n':
			default:
				bad = true
			}
		}
		if len(clean)%4 == 1 {
			clean = clean[:len(clean)-1]
			bad = true
		}
		out := make([]byte, base64.RawStdEncoding.DecodedLen(len(clean)))
		n, err := base64.RawStdEncoding.Decode(out, clean)
		if err != nil {
			bad = true
		}
		return out[:n], bad
	}
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 300; i++ {
		data := make([]byte, r.IntN(9000))
		for j := range data {
			data[j] = byte(r.IntN(256))
		}
		enc := []byte(base64.StdEncoding.EncodeToString(data))
		var in []byte
		for j, c := range enc {
			in = append(in, c)
			if j%76 == 75 {
				in = append(in, '\r', '\n')
			}
			if r.IntN(500) == 0 {
				in = append(in, "!= \x00"[r.IntN(4)])
			}
		}
		if r.IntN(4) == 0 && len(in) > 0 {
			in = in[:r.IntN(len(in))]
		}
		got, gbad := decodeBase64(in)
		want, wbad := ref(in)
		if !bytes.Equal(got, want) || gbad != wbad {
			t.Fatalf("input %d (%d bytes): got %d bytes bad=%v, want %d bytes bad=%v", i, len(in), len(got), gbad, len(want), wbad)
		}
	}
}
