// Package label is the compliance label: a header by which a node vouches
// that a registered sender in good standing sent this message body under
// its DKIM domain, until an expiry. Filters — Accord's own and anyone's —
// verify it offline with the issuing node's published key, and check a
// signed, dated status list for revocations. The format is in
// docs/label.md.
//
// The label signs the sender's DKIM domain, the message's body hash (the
// DKIM bh= value, RFC 6376 3.7) and a hash of the header fields lint
// judged and those that decide how the body reads (BoundHeaders: From,
// Sender, Reply-To, To, Cc, Subject, List-Unsubscribe,
// List-Unsubscribe-Post, MIME-Version, Content-Type,
// Content-Transfer-Encoding), so it cannot be moved to another message
// (the body or those fields differ: same body, another From, another
// recipient, another boundary or no opt-out is another message) or to
// another domain (the signing domain must match, pass DKIM and align with
// From). A label is one message to one recipient: its opt-out token,
// bound through List-Unsubscribe, is that recipient's.
package label

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Header is the label's field name.
const Header = "Accord-Label"

// Label is one label's content.
type Label struct {
	Issuer    string    // n=: the fingerprint of the issuing node's key (KeyID).
	ID        string    // i=: the label's id, for revocation.
	Sender    string    // s=: the registered sender.
	Domain    string    // d=: the DKIM signing domain it is bound to.
	Canon     string    // c=: body canonicalization, "relaxed" or "simple" (RFC 6376 3.4).
	BodyHash  string    // bh=: base64 SHA-256 of the canonical body.
	HeadHash  string    // hh=: HeaderHash of the bound header fields.
	Issued    time.Time // t=
	Expires   time.Time // x=
	StatusURL string    // u=: where the issuer's status list is.
	Signature []byte    // b=
}

// KeyID is how a label names its issuer's key: the first 16 bytes of
// SHA-256 of the Ed25519 public key, in hex (the fingerprint the node
// shows).
func KeyID(pub ed25519.PublicKey) string {
	s := sha256.Sum256(pub)
	return hex.EncodeToString(s[:16])
}

// signed is the text the signature covers: every tag but b=, in a fixed
// order, without spaces.
func (l *Label) signed() string {
	return "v=3;n=" + l.Issuer + ";i=" + l.ID + ";s=" + l.Sender + ";d=" + l.Domain + ";c=" + l.Canon + ";bh=" + l.BodyHash +
		";hh=" + l.HeadHash + ";t=" + strconv.FormatInt(l.Issued.Unix(), 10) + ";x=" + strconv.FormatInt(l.Expires.Unix(), 10) + ";u=" + l.StatusURL
}

// Sign fills Issuer and Signature with the node's key.
func (l *Label) Sign(key ed25519.PrivateKey) {
	l.Issuer = KeyID(key.Public().(ed25519.PublicKey))
	l.Signature = ed25519.Sign(key, []byte(l.signed()))
}

// Value is the header field's value.
func (l *Label) Value() string {
	return "v=3; n=" + l.Issuer + "; i=" + l.ID + "; s=" + l.Sender + "; d=" + l.Domain + "; c=" + l.Canon + "; bh=" + l.BodyHash +
		"; hh=" + l.HeadHash + "; t=" + strconv.FormatInt(l.Issued.Unix(), 10) + "; x=" + strconv.FormatInt(l.Expires.Unix(), 10) + "; u=" + l.StatusURL +
		"; b=" + base64.StdEncoding.EncodeToString(l.Signature)
}

// Field is the whole header field, folded, with CRLF.
func (l *Label) Field() string {
	v := l.Value()
	var b strings.Builder
	b.WriteString(Header + ": ")
	col := len(Header) + 2
	for i, part := range strings.Split(v, "; ") {
		if i > 0 {
			b.WriteString(";")
			col++
			if col+len(part) > 76 {
				b.WriteString("\r\n\t")
				col = 1
			} else {
				b.WriteString(" ")
				col++
			}
		}
		// A part longer than a line (b=) is split: folding whitespace
		// inside a value is ignored when it is read.
		for len(part) > 0 {
			n := min(len(part), max(76-col, 20))
			b.WriteString(part[:n])
			col += n
			part = part[n:]
			if len(part) > 0 {
				b.WriteString("\r\n\t")
				col = 1
			}
		}
	}
	b.WriteString("\r\n")
	return b.String()
}

// VerifySignature checks the signature with the issuer's key.
func (l *Label) VerifySignature(pub ed25519.PublicKey) bool {
	return KeyID(pub) == l.Issuer && ed25519.Verify(pub, []byte(l.signed()), l.Signature)
}

// ErrMalformed is a label that does not parse.
var ErrMalformed = errors.New("label: malformed")

// maxValue bounds a label's value.
const maxValue = 2048

// Parse reads a header field's value. Folding whitespace is ignored;
// unknown tags are an error (a label is all or nothing).
func Parse(v string) (*Label, error) {
	if len(v) > maxValue {
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrMalformed, maxValue)
	}
	tags := map[string]string{}
	for _, kv := range strings.Split(v, ";") {
		if strings.TrimSpace(kv) == "" {
			continue
		}
		k, val, ok := strings.Cut(kv, "=")
		if !ok {
			return nil, fmt.Errorf("%w: %q is not tag=value", ErrMalformed, strings.TrimSpace(kv))
		}
		k = strings.TrimSpace(k)
		val = strings.Join(strings.Fields(val), "")
		if _, dup := tags[k]; dup {
			return nil, fmt.Errorf("%w: tag %s twice", ErrMalformed, k)
		}
		tags[k] = val
	}
	for k := range tags {
		switch k {
		case "v", "n", "i", "s", "d", "c", "bh", "hh", "t", "x", "u", "b":
		default:
			return nil, fmt.Errorf("%w: unknown tag %q", ErrMalformed, k)
		}
	}
	switch tags["v"] {
	case "3":
	case "2":
		return nil, fmt.Errorf("%w: version 2 labels do not bind the recipient (To) nor the MIME structure and are no longer accepted; the sender must ask for a new label", ErrMalformed)
	case "1":
		return nil, fmt.Errorf("%w: version 1 labels bind the body only and are no longer accepted; the sender must ask for a new label", ErrMalformed)
	default:
		return nil, fmt.Errorf("%w: version %q, want 3", ErrMalformed, tags["v"])
	}
	l := &Label{Issuer: tags["n"], ID: tags["i"], Sender: tags["s"], Domain: strings.ToLower(tags["d"]), Canon: tags["c"], BodyHash: tags["bh"],
		HeadHash: tags["hh"], StatusURL: tags["u"]}
	for name, val := range map[string]string{"n": l.Issuer, "i": l.ID, "s": l.Sender, "d": l.Domain, "bh": l.BodyHash, "hh": l.HeadHash} {
		if val == "" || strings.ContainsAny(val, "; \t\r\n") {
			return nil, fmt.Errorf("%w: tag %s is missing", ErrMalformed, name)
		}
	}
	if l.Canon != "relaxed" && l.Canon != "simple" {
		return nil, fmt.Errorf("%w: c=%q, want relaxed or simple", ErrMalformed, l.Canon)
	}
	t, err1 := strconv.ParseInt(tags["t"], 10, 64)
	x, err2 := strconv.ParseInt(tags["x"], 10, 64)
	if err1 != nil || err2 != nil || x <= t {
		return nil, fmt.Errorf("%w: t= and x= must be times, x after t", ErrMalformed)
	}
	l.Issued, l.Expires = time.Unix(t, 0).UTC(), time.Unix(x, 0).UTC()
	sig, err := base64.StdEncoding.DecodeString(tags["b"])
	if err != nil || len(sig) != ed25519.SignatureSize {
		return nil, fmt.Errorf("%w: b= is not a signature", ErrMalformed)
	}
	l.Signature = sig
	return l, nil
}
