package filter

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

// A released message goes out through the node's outbound mail, and the
// relay that takes it is often the very MTA whose milter (or rspamd or
// spamd client) is this filter: without a mark it would be scored again
// and held again, every time it is released. So a release carries
//
//	X-Accord-Release: v=1; q=<held id>; r=<recipient>; x=<expiry, Unix>; s=<signature>
//
// where the signature is an HMAC keyed by the node's secret over the held
// id, the recipient, the expiry and a hash of the message's body. Every
// door runs Check, which verifies it before anything else: a valid mark
// for the envelope's one recipient delivers the message unscanned
// (X-Accord-Filter: released …). Anything else — a forged or expired mark,
// one copied onto another body, one for another recipient, one at a door
// that names no recipient — counts for nothing (the message is scanned
// like any other), and every door removes
// the field (RemoveHeaders), so it never reaches a mailbox.

// ReleaseField is the header field that marks the node's own releases.
const ReleaseField = "X-Accord-Release"

// releaseValidity is how long a release mark is honoured: the outbound
// queue gives up on a mail after four days.
const releaseValidity = 7 * 24 * time.Hour

// releaseMark is the field's value for a release of held message id to
// rcpt, valid until exp.
func (s *Service) releaseMark(id, rcpt string, body []byte, exp time.Time) string {
	x := strconv.FormatInt(exp.Unix(), 10)
	return "v=1; q=" + id + "; r=" + rcpt + "; x=" + x + "; s=" + s.releaseMAC(id, rcpt, x, body)
}

func (s *Service) releaseMAC(id, rcpt, x string, body []byte) string {
	h := sha256.Sum256(mail.CanonicalBody(body))
	mac := hmac.New(sha256.New, s.secret)
	mac.Write([]byte("accord-release-mark\x00" + id + "\x00" + strings.ToLower(rcpt) + "\x00" + x + "\x00"))
	mac.Write(h[:])
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil)[:24])
}

// markRelease puts the release mark on top of a held message.
func (s *Service) markRelease(h Held) []byte {
	header, body := mail.SplitHeader(h.Raw)
	nl := "\r\n"
	if !bytes.Contains(header, []byte("\r\n")) && bytes.Contains(header, []byte("\n")) {
		nl = "\n"
	}
	var b bytes.Buffer
	b.WriteString(ReleaseField + ": " + s.releaseMark(h.ID, h.Recipient, body, s.now().Add(releaseValidity)) + nl)
	b.Write(dropReleaseFields(h.Raw))
	return b.Bytes()
}

// dropReleaseFields removes any release mark a message already carries
// (one a sender put there, or an older release's).
func dropReleaseFields(raw []byte) []byte {
	header, body := mail.SplitHeader(raw)
	if !bytes.Contains(bytes.ToLower(header), []byte(strings.ToLower(ReleaseField))) {
		return raw
	}
	var out bytes.Buffer
	out.Write(mail.DropFields(header, ReleaseField))
	out.Write(raw[len(header) : len(raw)-len(body)])
	out.Write(body)
	return out.Bytes()
}

// Released is a verified release mark.
type Released struct {
	ID        string // The held message it released.
	Recipient string
}

// verifyRelease returns the release a message's mark proves for the
// envelope's recipients, or nil: the door must name at least one
// recipient, and every one it names must be the one the message was
// released to (a release is for one recipient), compared as the node
// maps recipients to mailboxes (Mailbox). With none named — spamd
// without a User or with a bare "-u bob", rspamd without Rcpt — the mark
// counts for nothing: honoured there, a message one user released (or
// had held to release it) passed unscanned to every other user.
func (s *Service) verifyRelease(raw []byte, env Envelope) *Released {
	if len(s.secret) == 0 {
		return nil
	}
	header, body := mail.SplitHeader(raw)
	for _, v := range mail.FieldValues(header, ReleaseField) {
		kv := map[string]string{}
		for _, p := range strings.Split(v, ";") {
			k, val, ok := strings.Cut(strings.TrimSpace(p), "=")
			if ok {
				kv[strings.ToLower(k)] = strings.TrimSpace(val)
			}
		}
		if kv["v"] != "1" || kv["q"] == "" || kv["r"] == "" {
			continue
		}
		exp, err := strconv.ParseInt(kv["x"], 10, 64)
		if err != nil || !s.now().Before(time.Unix(exp, 0)) {
			continue
		}
		want := s.releaseMAC(kv["q"], kv["r"], kv["x"], body)
		if !hmac.Equal([]byte(kv["s"]), []byte(want)) {
			continue
		}
		if s.namesOnly(env, kv["r"]) {
			return &Released{ID: kv["q"], Recipient: strings.ToLower(kv["r"])}
		}
	}
	return nil
}

// namesOnly reports whether the door named a recipient and every
// recipient it named is rcpt's mailbox (the node's normalisation: case,
// angle brackets, quoted local part, trailing dot, sub-address).
func (s *Service) namesOnly(env Envelope, rcpt string) bool {
	want := s.Mailbox(rcpt)
	rcpts := envRecipients(env)
	if want == "" || len(rcpts) == 0 {
		return false
	}
	for _, rc := range rcpts {
		if s.Mailbox(rc) != want {
			return false
		}
	}
	return true
}

// envRecipients are the recipients a door named: Deliver-To when given,
// else the envelope's.
func envRecipients(env Envelope) []string {
	if env.DeliverTo != "" {
		return []string{env.DeliverTo}
	}
	return env.Rcpts
}

// verifyOwn returns the outbound mail id that a valid own-mail mark on
// raw proves for the envelope's recipients (see package ownmail): only
// when the door names the recipient it was made for, as verifyRelease.
func (s *Service) verifyOwn(raw []byte, env Envelope) (string, bool) {
	if !s.own.Enabled() {
		return "", false
	}
	return s.own.Verify(raw, envRecipients(env), s.now(), s.Mailbox)
}
