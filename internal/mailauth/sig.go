package mailauth

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/accord-antispam/accord/internal/resolve"
)

// This file verifies DKIM-style signatures (RFC 6376 section 3.7) for what
// go-msgauth leaves out: ARC's seals and message signatures (RFC 8617),
// and DKIM signatures with a body length (l=), which it refuses outright.
// Keys are looked up through the resolver, like every DNS question.

// rawField is one header field as it was written: name and the whole
// field, folding kept, with CRLF line ends.
type rawField struct {
	name string // lower case
	text string // "Name: value\r\n\tcontinued\r\n"
}

// rawHeader splits the header block of a message (CRLF line ends) into its
// fields, in order.
func rawHeader(msg []byte) ([]rawField, []byte) {
	var fields []rawField
	rest := msg
	for len(rest) > 0 {
		if bytes.HasPrefix(rest, []byte("\r\n")) {
			return fields, rest[2:]
		}
		end := 0
		for {
			i := bytes.Index(rest[end:], []byte("\r\n"))
			if i < 0 {
				end = len(rest)
				break
			}
			end += i + 2
			if end >= len(rest) || (rest[end] != ' ' && rest[end] != '\t') {
				break
			}
		}
		text := string(rest[:end])
		if name, _, ok := strings.Cut(text, ":"); ok {
			fields = append(fields, rawField{name: strings.ToLower(strings.TrimSpace(name)), text: text})
		}
		rest = rest[end:]
	}
	return fields, nil
}

// relaxedHeader canonicalizes one field (RFC 6376 section 3.4.2).
func relaxedHeader(text string) string {
	name, value, _ := strings.Cut(text, ":")
	value = strings.ReplaceAll(value, "\r\n", "")
	value = strings.Join(strings.FieldsFunc(value, func(r rune) bool { return r == ' ' || r == '\t' }), " ")
	return strings.ToLower(strings.TrimSpace(name)) + ":" + value + "\r\n"
}

func canonHeader(text, c string) string {
	if c == "simple" {
		return text
	}
	return relaxedHeader(text)
}

// canonBody canonicalizes the body (RFC 6376 section 3.4.3 and 3.4.4).
func canonBody(body []byte, c string) []byte {
	lines := bytes.Split(body, []byte("\r\n"))
	if len(lines) > 0 && len(lines[len(lines)-1]) == 0 {
		lines = lines[:len(lines)-1] // the text after the last CRLF
	}
	var out bytes.Buffer
	for _, l := range lines {
		if c == "relaxed" {
			l = bytes.TrimRight(l, " \t")
			var b []byte
			ws := false
			for _, ch := range l {
				if ch == ' ' || ch == '\t' {
					ws = true
					continue
				}
				if ws {
					b = append(b, ' ')
					ws = false
				}
				b = append(b, ch)
			}
			l = b
		}
		out.Write(l)
		out.WriteString("\r\n")
	}
	b := out.Bytes()
	for bytes.HasSuffix(b, []byte("\r\n\r\n")) {
		b = b[:len(b)-2]
	}
	if c == "relaxed" && bytes.Equal(b, []byte("\r\n")) {
		return nil
	}
	if c != "relaxed" && len(b) == 0 {
		return []byte("\r\n")
	}
	return b
}

// sigTags parses a tag-list; whitespace inside b= and bh= is removed.
func sigTags(v string) map[string]string { return parseTags(v) }

// withoutB returns the field with the value of its b= tag emptied, as it
// is hashed (RFC 6376 section 3.7).
func withoutB(text string) string {
	i := 0
	for {
		j := strings.Index(text[i:], "b=")
		if j < 0 {
			return text
		}
		j += i
		// b= must start a tag: preceded by ';', ':' or whitespace.
		k := j - 1
		for k >= 0 && (text[k] == ' ' || text[k] == '\t' || text[k] == '\r' || text[k] == '\n') {
			k--
		}
		if k >= 0 && (text[k] == ';' || text[k] == ':') {
			end := strings.IndexByte(text[j:], ';')
			if end < 0 {
				// to the end of the field, keeping the final CRLF
				rest := text[j+2:]
				tail := ""
				if strings.HasSuffix(rest, "\r\n") {
					tail = "\r\n"
				}
				return text[:j+2] + tail
			}
			return text[:j+2] + text[j+end:]
		}
		i = j + 2
	}
}

// pickHeaders returns the fields named in h=, each taken from the bottom
// up among the fields of that name not yet used (RFC 6376 section 5.4.2).
func pickHeaders(fields []rawField, names []string) []rawField {
	used := map[int]bool{}
	var out []rawField
	for _, n := range names {
		n = strings.ToLower(strings.TrimSpace(n))
		for i := len(fields) - 1; i >= 0; i-- {
			if fields[i].name == n && !used[i] {
				used[i] = true
				out = append(out, fields[i])
				break
			}
		}
	}
	return out
}

var errNoKey = errors.New("no key for signature")

// pubKey fetches and parses the key at selector._domainkey.domain.
func pubKey(ctx context.Context, r resolve.Resolver, selector, domain string) (crypto.PublicKey, error) {
	txts, err := r.LookupTXT(ctx, selector+"._domainkey."+domain)
	if err != nil || len(txts) == 0 {
		if err == nil {
			err = errNoKey
		}
		return nil, fmt.Errorf("key %s._domainkey.%s: %w", selector, domain, err)
	}
	tags := parseTags(strings.Join(txts, ""))
	p := tags["p"]
	if p == "" {
		return nil, fmt.Errorf("key %s._domainkey.%s: revoked", selector, domain)
	}
	der, err := base64.StdEncoding.DecodeString(p)
	if err != nil {
		return nil, fmt.Errorf("key %s._domainkey.%s: %w", selector, domain, err)
	}
	switch tags["k"] {
	case "", "rsa":
		pk, err := x509.ParsePKIXPublicKey(der)
		if err != nil {
			k, err2 := x509.ParsePKCS1PublicKey(der)
			if err2 != nil {
				return nil, fmt.Errorf("key %s._domainkey.%s: %w", selector, domain, err)
			}
			return k, nil
		}
		if k, ok := pk.(*rsa.PublicKey); ok {
			return k, nil
		}
		return nil, fmt.Errorf("key %s._domainkey.%s: not RSA", selector, domain)
	case "ed25519":
		if len(der) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("key %s._domainkey.%s: bad Ed25519 key", selector, domain)
		}
		return ed25519.PublicKey(der), nil
	}
	return nil, fmt.Errorf("key %s._domainkey.%s: unknown key type %q", selector, domain, tags["k"])
}

// verifySig checks signature b over data with the key, for algorithm a
// (rsa-sha256 or ed25519-sha256; rsa-sha1 is refused, RFC 8301).
func verifySig(key crypto.PublicKey, a string, data []byte, b string) error {
	sig, err := base64.StdEncoding.DecodeString(b)
	if err != nil {
		return fmt.Errorf("signature: %w", err)
	}
	sum := sha256.Sum256(data)
	switch a {
	case "rsa-sha256":
		k, ok := key.(*rsa.PublicKey)
		if !ok {
			return errors.New("key is not RSA")
		}
		return rsa.VerifyPKCS1v15(k, crypto.SHA256, sum[:], sig)
	case "ed25519-sha256":
		k, ok := key.(ed25519.PublicKey)
		if !ok {
			return errors.New("key is not Ed25519")
		}
		if !ed25519.Verify(k, sum[:], sig) {
			return errors.New("signature did not verify")
		}
		return nil
	}
	return fmt.Errorf("algorithm %q not accepted", a)
}

// bodyHash computes bh= for the body under canonicalization c, cut at l
// octets when l >= 0. It returns the hash and the canonical body's length.
func bodyHash(body []byte, c string, l int) (string, int) {
	cb := canonBody(body, c)
	n := len(cb)
	if l >= 0 && l < len(cb) {
		cb = cb[:l]
	}
	sum := sha256.Sum256(cb)
	return base64.StdEncoding.EncodeToString(sum[:]), n
}

// verifyMessageSig verifies one DKIM-Signature or ARC-Message-Signature
// field (sig, among fields) over the message. It returns the number of
// canonical body octets after l= that the signature does not cover.
func verifyMessageSig(ctx context.Context, r resolve.Resolver, fields []rawField, body []byte, sig rawField) (unsigned int, err error) {
	tags := sigTags(strings.SplitN(sig.text, ":", 2)[1])
	hc, bc, _ := strings.Cut(tags["c"], "/")
	if hc == "" {
		hc = "simple"
	}
	if bc == "" {
		bc = "simple"
	}
	l := -1
	if s, ok := tags["l"]; ok {
		if l, err = strconv.Atoi(s); err != nil || l < 0 {
			return 0, fmt.Errorf("bad l= %q", s)
		}
	}
	bh, n := bodyHash(body, bc, l)
	if bh != tags["bh"] {
		return 0, errors.New("body hash did not verify")
	}
	if l >= 0 && l > n {
		return 0, fmt.Errorf("l=%d is longer than the body (%d octets)", l, n)
	}
	var data strings.Builder
	for _, f := range pickHeaders(fields, strings.Split(tags["h"], ":")) {
		data.WriteString(canonHeader(f.text, hc))
	}
	data.WriteString(strings.TrimSuffix(canonHeader(withoutB(sig.text), hc), "\r\n"))
	key, err := pubKey(ctx, r, tags["s"], tags["d"])
	if err != nil {
		return 0, err
	}
	if err := verifySig(key, tags["a"], []byte(data.String()), tags["b"]); err != nil {
		return 0, err
	}
	if l >= 0 {
		unsigned = n - l
	}
	return unsigned, nil
}
