package filter

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// The quarantine: messages held for a recipient, with the decision that
// held them, until the recipient (or an administrator, which the audit log
// records) releases or deletes them, or they expire.

// ErrNoOutbound is returned by Release when the node has no outbound mail.
var ErrNoOutbound = errors.New("filter: no outbound relay is configured: a released message cannot be delivered")

// ErrNotHeld is returned by Release for a message that is in the
// quarantine but no longer held (released, on its way, or deleted); the
// error names its state.
var ErrNotHeld = errors.New("filter: the message is no longer held")

// ErrNoBytes says that a message's bytes are no longer kept: it was
// deleted or released (Show returns it without them).
var ErrNoBytes = errors.New("filter: the message was deleted or released: its bytes are no longer kept")

// ErrForbidden is returned when a principal may not act on a held message.
var ErrForbidden = errors.New("filter: not your message")

// Actor is who reads or acts on quarantined mail.
type Actor struct {
	Label   string // "user:ana", "token:ab12", "cli", "digest-link"
	Mailbox string // The address the actor owns ("" for an administrator).
	Admin   bool
}

func (a Actor) may(h Held) bool {
	return a.Admin || (a.Mailbox != "" && strings.EqualFold(a.Mailbox, h.Recipient))
}

// Quarantine holds the message for the recipients of the decision whose
// outcome is quarantine (and those rejected, when rejecting was not
// possible because others accepted the message). It returns the held ids.
// The bytes are stored once for all of them. A recipient over a quota
// (see Config) is not held but listed in d.NotHeld, for the door to
// deliver their copy tagged as spam.
func (s *Service) Quarantine(ctx context.Context, d *Decision, recipients []string) ([]string, error) {
	if len(recipients) == 0 {
		return nil, nil
	}
	hold, over, err := s.overQuota(ctx, d, recipients)
	if err != nil {
		return nil, fmt.Errorf("quarantine: %w", err)
	}
	d.NotHeld = over
	if len(over) > 0 {
		s.log.Warn("filter quarantine over quota: delivered tagged instead", "ref", d.Reference, "recipients", len(over))
	}
	now := s.now()
	from, subject := "", ""
	if d.verdict != nil {
		if len(d.verdict.Sender.From) > 0 {
			from = d.verdict.Sender.From[0].Addr
		}
		subject = d.verdict.Message.Subject
	}
	var ids []string
	for _, rc := range hold {
		if rc == "" {
			// Nobody could release it, see it on a page or in a digest:
			// recipients() never asks for it (NoRecipient); a door that
			// did is told so rather than given a copy nobody can reach.
			return ids, ErrNoRecipient
		}
		score, symbols := d.Score, d.Symbols
		if rd, ok := d.recipientDecision(rc); ok {
			// This recipient's score and reasons: a block list entry
			// held it, not the message's score alone.
			score, symbols = rd.Score, d.SymbolsFor(rd)
		}
		h := Held{ID: "q-" + newRef(), Recipient: rc, MailFrom: d.env.MailFrom, From: from, Subject: subject,
			ReceivedAt: now, ExpiresAt: now.AddDate(0, 0, s.cfg.QuarantineDays), Score: score, Symbols: symbols,
			Reference: d.Reference, Raw: d.raw, Size: len(d.raw), State: StateHeld, Session: d.session()}
		if err := s.store.Hold(ctx, h); err != nil {
			return ids, fmt.Errorf("quarantine: %w", err)
		}
		ids = append(ids, h.ID)
	}
	s.log.Info("filter quarantined", "ref", d.Reference, "held", len(ids))
	return ids, nil
}

// session is the door's SMTP client, kept with a held copy.
func (d *Decision) session() Session {
	if !d.env.IP.IsValid() {
		return Session{Helo: d.env.Helo}
	}
	return Session{IP: d.env.IP.String(), Helo: d.env.Helo, Name: d.env.Hostname, NoRDNS: d.env.NoRDNS}
}

// OverQuota returns the recipients the quarantine could not hold the
// message for now, without holding anything: a door that answers once for
// every recipient (rspamd) holds for all of them or for none.
func (s *Service) OverQuota(ctx context.Context, d *Decision, recipients []string) ([]string, error) {
	_, over, err := s.overQuota(ctx, d, recipients)
	return over, err
}

func (s *Service) overQuota(ctx context.Context, d *Decision, recipients []string) (hold, over []string, err error) {
	size := int64(len(d.raw))
	for i, rc := range recipients {
		n, used, total, err := s.store.HeldUsage(ctx, rc)
		if err != nil {
			return nil, nil, err
		}
		if i == 0 && total+size > s.cfg.QuarantineMaxBytes {
			// The bytes are stored once: over the total, nobody holds them.
			return nil, recipients, nil
		}
		if n+1 > s.cfg.QuarantineMaxPerRecipient || used+size > s.cfg.QuarantineMaxRecipientBytes {
			over = append(over, rc)
			continue
		}
		hold = append(hold, rc)
	}
	return hold, over, nil
}

// List returns the held messages an actor may see: a mailbox owner's own,
// an administrator's all (or one recipient's). An administrator's list
// carries each message's envelope and decision (recipient, envelope
// sender, score, symbols, state, dates) but not what its sender wrote —
// Subject and From are left empty, but for the administrator's own
// mailbox — since a list is not audited: Show, which writes an audit
// entry first, gives one message whole. (Auditing each listed message
// instead would write up to MaxHeldLimit entries per list and drown the
// reads the log is for.)
func (s *Service) List(ctx context.Context, a Actor, f HeldFilter) ([]Held, error) {
	if !a.Admin {
		if a.Mailbox == "" {
			return nil, ErrForbidden
		}
		f.Recipient = strings.ToLower(a.Mailbox)
	}
	hs, err := s.store.HeldMessages(ctx, f)
	if err != nil {
		return nil, err
	}
	if a.Admin {
		for i := range hs {
			if a.Mailbox == "" || !strings.EqualFold(a.Mailbox, hs[i].Recipient) {
				hs[i].Subject, hs[i].From = "", ""
			}
		}
		return hs, nil
	}
	for i := range hs {
		hs[i] = redacted(hs[i])
	}
	return hs, nil
}

// redacted is a held message as its mailbox owner sees it: evidence
// shared under TLP:AMBER or above (its partner, agreement and indicator)
// stays on the node, summed into one anonymous symbol as in the headers;
// TLP:CLEAR and GREEN evidence is shown in full.
func redacted(h Held) Held {
	var out []Symbol
	restricted, any := 0.0, false
	for _, sy := range h.Symbols {
		if sy.Restricted {
			restricted += sy.Score
			any = true
			continue
		}
		out = append(out, sy)
	}
	if any {
		out = append(out, Symbol{Name: "ACCORD_INTEL_RESTRICTED", Score: round2(restricted),
			Description: "indicators shared under TLP:AMBER or above (details stay with the provider)"})
	}
	h.Symbols = out
	return h
}

// Show returns a held message with its bytes — none once it was deleted
// or released (ErrNoBytes is for callers to say so). The recipient reads it
// freely; an administrator's read is written to the audit log first (and
// refused if the audit log cannot be written).
func (s *Service) Show(ctx context.Context, a Actor, id string) (Held, error) {
	h, err := s.store.HeldMessage(ctx, id)
	if err != nil {
		return Held{}, err
	}
	if !a.may(h) {
		return Held{}, ErrNotFound // do not tell others that it exists
	}
	if a.Mailbox == "" || !strings.EqualFold(a.Mailbox, h.Recipient) {
		// Anyone but the recipient, whatever the recipient is (a copy
		// held for no usable recipient, from before such copies were
		// tagged instead, has none: its reads are audited too).
		if err := s.store.FilterAudit(ctx, AuditEntry{At: s.now(), Actor: a.Label, Action: "quarantine.read", Target: h.ID,
			Detail: "administrator read a message held for another recipient"}); err != nil {
			return Held{}, fmt.Errorf("audit: %w", err)
		}
	}
	if h.State == StateReleased || h.State == StateDeleted {
		// Its bytes are erased when it is deleted or delivered; a row
		// whose erasure failed (or from before it was done at once)
		// serves none either.
		h.Raw = nil
	}
	if !a.Admin {
		h = redacted(h)
	}
	return h, nil
}

// Release re-delivers a held message to its recipient through the node's
// outbound mail, marked as the node's own release (see ReleaseField) so
// that the filter in the relay's path does not hold it again, and teaches
// the filter it is ham. It returns the message's new state: "queued" while
// it waits in the outbound queue (ReleaseDone moves it on), "released"
// once delivered. Two releases of one message never both deliver: the
// state moves held → releasing first.
func (s *Service) Release(ctx context.Context, a Actor, id string) (string, error) {
	h, err := s.store.HeldMessage(ctx, id)
	if err != nil {
		return "", err
	}
	if !a.may(h) {
		return "", ErrNotFound
	}
	if h.State != StateHeld {
		return "", fmt.Errorf("%w: it is %s", ErrNotHeld, h.State)
	}
	if s.out == nil {
		return "", ErrNoOutbound
	}
	now := s.now()
	if err := s.store.SetHeldState(ctx, id, StateHeld, StateReleasing, a.Label, now); err != nil {
		return "", fmt.Errorf("release %s: %w", id, err)
	}
	queued, err := s.out.Deliver(ctx, id, h.MailFrom, []string{h.Recipient}, s.markRelease(h))
	if err != nil {
		// Back to held, so it can be tried again.
		if e2 := s.store.SetHeldState(ctx, id, StateReleasing, StateHeld, a.Label, now); e2 != nil {
			s.log.Error("release: could not put the message back", "id", id, "err", e2)
		}
		return "", fmt.Errorf("release %s: deliver: %w", id, err)
	}
	state := StateReleased
	if queued {
		state = StateQueued
	}
	if err := s.store.SetHeldState(ctx, id, StateReleasing, state, a.Label, now); err != nil {
		return "", fmt.Errorf("release %s: %w", id, err)
	}
	if state == StateReleased {
		s.dropBytes(ctx, id)
	}
	if err := s.store.FilterAudit(ctx, AuditEntry{At: now, Actor: a.Label, Action: "quarantine.release", Target: id, Detail: state}); err != nil {
		s.log.Error("audit", "err", err)
	}
	// A released message teaches the filter: it was ham.
	if _, err := s.Learn(ctx, h.Raw, false, "release"); err != nil {
		s.log.Warn("release: learning as ham failed", "id", id, "err", err)
	}
	s.log.Info("filter released", "id", id, "ref", h.Reference, "by", s.logActor(a.Label), "state", state)
	return state, nil
}

// ReleaseDone records what the outbound queue did with a queued release:
// delivered to the relay (the message is "released"), or refused for good
// (it is held again, so its recipient can release it once the relay is
// fixed). The outbound worker calls it, in whichever instance delivered.
func (s *Service) ReleaseDone(ctx context.Context, id string, delivered bool, detail string) error {
	now := s.now()
	to, action := StateReleased, "quarantine.delivered"
	if !delivered {
		to, action = StateHeld, "quarantine.release-failed"
	}
	if err := s.store.SetHeldState(ctx, id, StateQueued, to, "outbound", now); err != nil {
		return fmt.Errorf("release of %s done: %w", id, err)
	}
	if delivered {
		s.dropBytes(ctx, id)
	}
	if err := s.store.FilterAudit(ctx, AuditEntry{At: now, Actor: "outbound", Action: action, Target: id, Detail: detail}); err != nil {
		s.log.Error("audit", "err", err)
	}
	return nil
}

// Delete discards a held message.
func (s *Service) Delete(ctx context.Context, a Actor, id string) error {
	return s.discard(ctx, a, id, "delete", "quarantine.delete", "")
}

// Reported discards a held message its recipient reported to the
// authority (it is now a complaint at the desk: detail names it), audited
// as a report, not as a deletion.
func (s *Service) Reported(ctx context.Context, a Actor, id, detail string) error {
	return s.discard(ctx, a, id, "report", "quarantine.report", "reported to the authority: "+detail)
}

// discard moves a held message the actor may see to deleted and audits it
// under action; a message the actor may not see is not found.
func (s *Service) discard(ctx context.Context, a Actor, id, verb, action, detail string) error {
	h, err := s.store.HeldMessage(ctx, id)
	if err != nil {
		return err
	}
	if !a.may(h) {
		return ErrNotFound
	}
	now := s.now()
	if err := s.store.SetHeldState(ctx, id, StateHeld, StateDeleted, a.Label, now); err != nil {
		return fmt.Errorf("%s %s: %w", verb, id, err)
	}
	s.dropBytes(ctx, id)
	return s.store.FilterAudit(ctx, AuditEntry{At: now, Actor: a.Label, Action: action, Target: id, Detail: detail})
}

// dropBytes erases the bytes of a message just deleted or delivered: from
// then on no read serves them (its row, with the decision, stays until the
// purge). One that fails is logged; the purge erases them then.
func (s *Service) dropBytes(ctx context.Context, id string) {
	if err := s.store.DropHeldBytes(ctx, id); err != nil {
		s.log.Error("filter: the bytes of a deleted or delivered message could not be erased; the purge will", "id", id, "err", err)
	}
}

// Purge removes expired held messages and the bytes of released and
// deleted ones, and learned features past their retention.
func (s *Service) Purge(ctx context.Context) (held, learned int, err error) {
	now := s.now()
	if held, err = s.store.PurgeHeld(ctx, now); err != nil {
		return 0, 0, err
	}
	learned, err = s.store.PurgeLearned(ctx, now.AddDate(0, 0, -s.cfg.LearnedDays))
	return held, learned, err
}

// Digest links: a release link in a digest mail carries a token signed
// with the node's secret, naming the held message and an expiry. A GET of
// the link only shows a confirmation page; the release itself is a POST
// (link scanners fetch with GET and must not release anything).

// DigestToken signs a release link for one held message, valid until exp.
func (s *Service) DigestToken(id string, exp time.Time) string {
	msg := id + "." + strconv.FormatInt(exp.Unix(), 10)
	mac := hmac.New(sha256.New, s.secret)
	mac.Write([]byte("accord-quarantine-release\x00" + msg))
	return msg + "." + base64.RawURLEncoding.EncodeToString(mac.Sum(nil)[:18])
}

// ErrBadToken is returned for release tokens that are forged or expired.
var ErrBadToken = errors.New("filter: the release link is not valid or has expired")

// CheckToken returns the held message id a release token names.
func (s *Service) CheckToken(tok string) (string, error) {
	if len(s.secret) == 0 {
		return "", ErrBadToken
	}
	i := strings.LastIndexByte(tok, '.')
	if i < 0 {
		return "", ErrBadToken
	}
	msg, sig := tok[:i], tok[i+1:]
	mac := hmac.New(sha256.New, s.secret)
	mac.Write([]byte("accord-quarantine-release\x00" + msg))
	want := base64.RawURLEncoding.EncodeToString(mac.Sum(nil)[:18])
	if !hmac.Equal([]byte(sig), []byte(want)) {
		return "", ErrBadToken
	}
	j := strings.LastIndexByte(msg, '.')
	if j < 0 {
		return "", ErrBadToken
	}
	exp, err := strconv.ParseInt(msg[j+1:], 10, 64)
	if err != nil || !s.now().Before(time.Unix(exp, 0)) {
		return "", ErrBadToken
	}
	return msg[:j], nil
}

// ReleaseByToken releases the message a digest link names, for its
// recipient.
func (s *Service) ReleaseByToken(ctx context.Context, tok string) (Held, error) {
	id, err := s.CheckToken(tok)
	if err != nil {
		return Held{}, err
	}
	h, err := s.store.HeldMessage(ctx, id)
	if err != nil {
		return Held{}, err
	}
	st, err := s.Release(ctx, Actor{Label: "digest-link", Mailbox: h.Recipient}, id)
	h.State = st
	return h, err
}

// Digest is one recipient's summary of what is held for them.
type Digest struct {
	Recipient string
	Items     []DigestItem
}

// DigestItem is a held message with its signed release link token.
type DigestItem struct {
	Held  Held
	Token string
}

// Digests gathers, per recipient, the held messages no digest has listed
// yet, each with a release token valid until the message expires, and
// marks them announced in the store (AnnounceHeld): a restart loses none,
// and instances sharing the store never list one twice. A caller that
// cannot send a recipient's digest gives its messages back
// (UnannounceHeld).
func (s *Service) Digests(ctx context.Context) ([]Digest, error) {
	hs, err := s.store.AnnounceHeld(ctx, s.now(), MaxHeldLimit)
	if err != nil {
		return nil, err
	}
	by := map[string]*Digest{}
	var order []string
	for _, h := range hs {
		dg := by[h.Recipient]
		if dg == nil {
			dg = &Digest{Recipient: h.Recipient}
			by[h.Recipient] = dg
			order = append(order, h.Recipient)
		}
		dg.Items = append(dg.Items, DigestItem{Held: h, Token: s.DigestToken(h.ID, h.ExpiresAt)})
	}
	out := make([]Digest, 0, len(order))
	for _, r := range order {
		out = append(out, *by[r])
	}
	return out, nil
}

// Notifier sends the node's own mail (quarantine digests); the node's
// outbound queue implements it.
type Notifier interface {
	Notify(ctx context.Context, to, subject, text string) error
}

// SendDigests mails each recipient a digest of the held messages no
// digest has listed yet (Digests), each with its release link
// (baseURL/q/release?t=…, a page whose button releases it: following the
// link alone releases nothing). Each recipient's digest is sent on its
// own: one that cannot be sent is logged, its messages given back to the
// next digest, and stops no other. It returns how many digests were sent,
// and the failures joined.
//
// What the sender wrote (From, Subject) is shown on one line, without
// control or invisible characters and clipped: a held message cannot add
// lines — a fake link, a fake sender — to the node's own mail. Its links
// are defanged (defang): the digest is the node's signed mail, delivered
// unscanned, and a mail client makes a link of "http://…" or "www.…" in
// its text — a held phishing Subject would be a clickable link there.
func (s *Service) SendDigests(ctx context.Context, baseURL string, n Notifier) (int, error) {
	ds, err := s.Digests(ctx)
	if err != nil {
		return 0, err
	}
	sent := 0
	var errs []error
	for _, d := range ds {
		items := d.Items
		giveBack := func() {
			ids := make([]string, len(items))
			for i, it := range items {
				ids[i] = it.Held.ID
			}
			if err := s.store.UnannounceHeld(ctx, ids); err != nil {
				s.log.Error("filter: held messages of an unsent digest could not be given back to the next", "count", len(ids), "err", err)
			}
		}
		if d.Recipient == "" {
			continue // nobody to tell (held before such copies were tagged instead)
		}
		var b strings.Builder
		fmt.Fprintf(&b, "%d message(s) addressed to you were held as likely spam.\n", len(items))
		b.WriteString("To have one delivered, open its link and press the button on the page.\n\n")
		for _, it := range items {
			h := it.Held
			fmt.Fprintf(&b, "From: %s\nSubject: %s\nReceived: %s (score %.2f)\nRelease: %s/q/release?t=%s\n\n",
				orNone(defang(oneLine(h.From, 100))), orNone(defang(oneLine(h.Subject, 120))), h.ReceivedAt.UTC().Format("2006-01-02 15:04 UTC"), h.Score, strings.TrimRight(baseURL, "/"), it.Token)
		}
		fmt.Fprintf(&b, "Held messages are deleted after %d days.\n", s.cfg.QuarantineDays)
		if err := n.Notify(ctx, d.Recipient, fmt.Sprintf("%d held message(s) in your quarantine", len(items)), b.String()); err != nil {
			s.log.Warn("filter: a quarantine digest could not be sent; its messages go in the next", "err", err)
			errs = append(errs, err)
			giveBack()
			continue
		}
		sent++
	}
	if len(errs) > 0 {
		return sent, fmt.Errorf("%w: %d of %d: %w", ErrSomeDigests, len(errs), len(errs)+sent, errors.Join(errs...))
	}
	return sent, nil
}

// ErrSomeDigests is returned by SendDigests when some recipients' digests
// could not be sent (they are tried again at the next call); the others
// were.
var ErrSomeDigests = errors.New("filter: some quarantine digests could not be sent")

// defang makes what a mail client would turn into a link plain text, the
// way security mail quotes hostile addresses: a scheme's "://" becomes
// "[:]//" (and http, https "hxxp", "hxxps"), and a dot — or a full stop
// that IDNA reads as one (。．｡) — between a letter or digit and a letter
// becomes "[.]", so neither "http://phish.example/login", "www.phish.example"
// nor a bare "phish.example/login" or an address reads as a link. A
// dot before a digit is left ("version 1.2", "9.99"): no top-level
// domain starts with one. The text stays readable.
func defang(text string) string {
	text = httpScheme.ReplaceAllString(text, "hxxp$1://")
	var b strings.Builder
	rs := []rune(text)
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case r == ':' && i+2 < len(rs) && rs[i+1] == '/' && rs[i+2] == '/':
			b.WriteString("[:]//")
			i += 2
		case (r == '.' || r == '\u3002' || r == '\uff0e' || r == '\uff61') && i > 0 && i+1 < len(rs) &&
			(unicode.IsLetter(rs[i-1]) || unicode.IsDigit(rs[i-1])) && unicode.IsLetter(rs[i+1]):
			b.WriteString("[.]")
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// httpScheme is the scheme of a web link, in any case.
var httpScheme = regexp.MustCompile(`(?i)\bhttp(s?)://`)

// oneLine is text a sender wrote, made safe to show in the node's own
// mail: control characters (line breaks included), line and paragraph
// separators and invisible format characters (bidirectional overrides)
// become spaces, runs of spaces one, and it is clipped to max runes.
func oneLine(text string, max int) string {
	var b strings.Builder
	space := false
	n := 0
	for _, r := range text {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || unicode.IsSpace(r) || r == '\u2028' || r == '\u2029' || r == utf8.RuneError {
			space = b.Len() > 0
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
			n++
		}
		if n >= max {
			b.WriteString("…")
			break
		}
		b.WriteRune(r)
		n++
	}
	return b.String()
}

// logActor is an actor's label as the service log shows it: a mailbox
// owner ("user:ana@example.org") by the keyed pseudonym of the address
// (Deps.Pseudonym), never the address — logs carry no addresses; a
// token, the CLI or a digest link as labelled.
func (s *Service) logActor(label string) string {
	user, ok := strings.CutPrefix(label, "user:")
	if !ok {
		return label
	}
	if s.pseudo == nil {
		return "user"
	}
	return "user:" + s.pseudo(user)
}
