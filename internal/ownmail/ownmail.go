// Package ownmail marks the node's own outbound mail so that the node's
// filter recognises it and lets it through unscanned.
//
// The node's outbound mail (quarantine digests, acknowledgements, consent
// confirmations, answers) goes out through the configured relay, and that
// relay is often the very MTA whose milter (or rspamd or spamd client) is
// the node's filter. Scanned there, a digest that lists a held message's
// subject carries that subject's words — GTUBE, a spammer's phrases — and
// was held or tagged itself: any sender could suppress a recipient's
// digest with a spammy Subject. So the outbound queue puts one field on
// top of each mail it delivers,
//
//	X-Accord-Mail: v=1; m=<mail id>; r=<recipient>; x=<expiry, Unix>; s=<signature>
//
// where the signature is an HMAC keyed by a secret derived from the node's
// key over the mail id, the recipient, the expiry, the fields a reader
// sees or a sender could use to change what the body says (From,
// Subject, Message-ID, Content-Type, Content-Transfer-Encoding: each
// occurrence, unfolded) and a hash of the body. A mark is therefore good
// for that one message to that one recipient: copied onto another body,
// another subject, another sender or another recipient it verifies
// nothing, and the message is scanned like any other. It counts only
// where the door names that recipient: a door that names none (spamd
// without a User address, rspamd without Rcpt) scans the message. Every
// door removes the field, valid or not, so it never reaches a mailbox.
//
// This is the design of the quarantine's release mark (filter's
// X-Accord-Release), widened to every mail the queue sends.
package ownmail

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"strings"
	"time"

	"github.com/accord-antispam/accord/internal/mail"
)

// Field is the header field that marks the node's own mail.
const Field = "X-Accord-Mail"

// Validity is how long a mark is honoured after the delivery attempt
// that made it: the relay may hand the mail on to the node's own MX, and
// the outbound queue gives up on a mail after four days.
const Validity = 7 * 24 * time.Hour

// bound are the fields the signature covers besides the body.
var bound = []string{"from", "subject", "message-id", "content-type", "content-transfer-encoding"}

// Marker makes and verifies marks with one key.
type Marker struct{ key []byte }

// New returns a Marker for key (derived from the node's key; every
// instance of a node has the same). A nil key makes a Marker that marks
// nothing and verifies nothing.
func New(key []byte) *Marker { return &Marker{key: key} }

// Enabled reports whether the Marker has a key.
func (m *Marker) Enabled() bool { return m != nil && len(m.key) > 0 }

// Mark returns raw with a mark for mail id to rcpt on top, valid until
// now+Validity. Any mark raw already carries is removed first.
func (m *Marker) Mark(raw []byte, id, rcpt string, now time.Time) []byte {
	if !m.Enabled() {
		return raw
	}
	raw = Strip(raw)
	header, body := mail.SplitHeader(raw)
	nl := "\r\n"
	if !bytes.Contains(header, []byte("\r\n")) && bytes.Contains(header, []byte("\n")) {
		nl = "\n"
	}
	rcpt = normAddr(rcpt)
	x := strconv.FormatInt(now.Add(Validity).Unix(), 10)
	v := "v=1; m=" + id + "; r=" + rcpt + "; x=" + x + "; s=" + m.mac(id, rcpt, x, header, body)
	out := make([]byte, 0, len(raw)+len(Field)+len(v)+4)
	out = append(out, Field+": "+v+nl...)
	return append(out, raw...)
}

// Verify returns the mail id a valid mark on raw proves, and true, when
// the door named the recipient the mark was made for: rcpts is not empty
// and every address in it is the mark's recipient, compared as mailbox
// maps them (the node's recipient normalisation; nil: lower-cased,
// without angle brackets; "" is no address). A door that names no
// recipient — spamd without a User or with a bare local name, rspamd
// without Rcpt — proves nothing: a mark is good for one recipient, and
// honoured without one, a message released to one user (or a digest)
// passed unscanned to every other user of such a door.
func (m *Marker) Verify(raw []byte, rcpts []string, now time.Time, mailbox func(string) string) (string, bool) {
	if !m.Enabled() || len(rcpts) == 0 {
		return "", false
	}
	if mailbox == nil {
		mailbox = normAddr
	}
	header, body := mail.SplitHeader(raw)
	for _, v := range mail.FieldValues(header, Field) {
		kv := map[string]string{}
		for _, p := range strings.Split(v, ";") {
			if k, val, ok := strings.Cut(strings.TrimSpace(p), "="); ok {
				kv[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(val)
			}
		}
		if kv["v"] != "1" || kv["m"] == "" || kv["r"] == "" {
			continue
		}
		exp, err := strconv.ParseInt(kv["x"], 10, 64)
		if err != nil || !now.Before(time.Unix(exp, 0)) {
			continue
		}
		if !hmac.Equal([]byte(kv["s"]), []byte(m.mac(kv["m"], kv["r"], kv["x"], header, body))) {
			continue
		}
		want := mailbox(kv["r"])
		ok := want != ""
		for _, rc := range rcpts {
			if mailbox(rc) != want {
				ok = false
			}
		}
		if ok {
			return kv["m"], true
		}
	}
	return "", false
}

func (m *Marker) mac(id, rcpt, x string, header, body []byte) string {
	h := hmac.New(sha256.New, m.key)
	h.Write([]byte("accord-own-mail\x00" + id + "\x00" + normAddr(rcpt) + "\x00" + x + "\x00"))
	for _, name := range bound {
		for _, v := range mail.FieldValues(header, name) {
			h.Write([]byte(name + ":" + strings.Join(strings.Fields(v), " ") + "\x00"))
		}
	}
	b := sha256.Sum256(mail.CanonicalBody(body))
	h.Write(b[:])
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:24])
}

func normAddr(a string) string {
	return strings.ToLower(strings.Trim(strings.TrimSpace(a), "<>"))
}

// Strip removes every mark from raw's header, keeping every other byte.
func Strip(raw []byte) []byte {
	header, _ := mail.SplitHeader(raw)
	if len(mail.FieldValues(header, Field)) == 0 {
		return raw
	}
	return append(mail.DropFields(header, Field), raw[len(header):]...)
}
