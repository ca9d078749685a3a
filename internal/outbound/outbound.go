// Package outbound is the node's own mail: acknowledgements and answers to
// reporters, and whatever else the node must say by mail (quarantine
// digests, consent confirmations, feedback reports). A mail is first put
// in a durable queue in the store — so a crash or a relay outage loses
// nothing — then a worker delivers it through the configured relay
// (STARTTLS, AUTH), DKIM-signed with the node's mail-domain key (all but
// the messages it delivers on for others, KindRelease), with retries and
// backoff; a permanent refusal is recorded, never retried.
//
// Every mail carries Auto-Submitted, so that well-behaved systems never
// answer it, and a bounce address that names the mail (VERP) with a keyed
// tag, so that the bounces coming back to the mailbox (see Recognize) are
// linked to what bounced and cannot be forged for mail the node never sent.
//
// Using it from another package:
//
//	q.Send(ctx, outbound.Mail{Kind: "digest", Ref: "quarantine:" + id,
//		To: addr, Subject: s, Text: body, Lang: "fr"})
//
// returns once the mail is queued; q.Status(ctx, id) says what became of it.
package outbound

import (
	"bytes"
	"context"
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base32"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"time"

	accordmail "github.com/accord-antispam/accord/internal/mail"
	"github.com/accord-antispam/accord/internal/ownmail"
)

// Kind is what a mail is for. The desk's kinds are below; other packages
// name their own ("quarantine-release", "digest", "consent-confirm",
// "fbl-report"…): the queue treats them all alike but confirmations
// (bounded per mailbox and domain), and keeps the kind for the operator
// and for bounces.
type Kind string

const (
	KindAck   Kind = "ack"   // A complaint was stored: the reporter's status links.
	KindHowTo Kind = "howto" // A mail to the mailbox with nothing to report: how to report.
	// KindConfirm asks a recipient to confirm a subscription (confirmed
	// opt-in); bounded per mailbox and per domain (Config).
	KindConfirm Kind = "consent-confirm"
	// KindRelease is someone else's message the node delivers on (a
	// quarantine release, Mail.Resend): relayed as it is, neither
	// DKIM-signed with the node's key nor marked as the node's own mail.
	// Signed, a message any mailbox owner can get held and release —
	// "From: desk@" the node's domain and a phishing text — would leave
	// with a valid signature aligned with the node's domain (DMARC pass,
	// replayable anywhere); marked, it would pass the node's filter as
	// the node's own mail. The kind is kept in the store, so a release
	// queued before an upgrade is relayed unsigned too.
	KindRelease Kind = "quarantine-release"
)

// State is where a queued mail is.
type State string

const (
	Queued  State = "queued"  // Waiting for (another) delivery attempt.
	Sent    State = "sent"    // The relay accepted it.
	Failed  State = "failed"  // Refused for good by the relay, or out of attempts.
	Bounced State = "bounced" // The relay took it, but a bounce came back.
)

// Mail is what a caller asks to send.
type Mail struct {
	Kind Kind   // Required.
	Ref  string // What the mail is about, e.g. "complaint:ID" or "quarantine:ID" (for the operator and bounces).
	To   string // One recipient address (required).

	Subject string // UTF-8; encoded as needed.
	Text    string // UTF-8 plain text body.
	Lang    string // Content-Language (BCP 47), when known.

	// InReplyTo is the Message-ID of the mail this one answers, if any
	// (threads the answer in the reporter's mail client).
	InReplyTo string
	// Answer marks an automatic answer to a person's mail
	// (Auto-Submitted: auto-replied); otherwise auto-generated.
	Answer bool

	// Raw, when set, is a complete message the caller built (for instance
	// a multipart/report). Subject, Text and Lang are then ignored; From,
	// To, Date, Message-ID and Auto-Submitted are added where missing.
	Raw []byte
	// FromName replaces the display name of the node's From address
	// (the address stays the node's): mail sent for someone, such as a
	// consent confirmation for a sender.
	FromName string
	// Sender is the registered sender a consent confirmation is sent for
	// ("" for the node's own mail): the bounds on confirmation mail give
	// each sender a share of a mailbox's and a domain's (see boundConfirm).
	Sender string
	// Resend marks Raw as someone else's message the node delivers on
	// (a quarantine release): its Message-ID is kept and nothing marks it
	// as automatic mail; only a missing From, To, Date or Message-ID is
	// added. It goes with Kind KindRelease, and only with it: such mail
	// is never signed with the node's key (see KindRelease).
	Resend bool
}

// Item is a queued mail as the store keeps it.
type Item struct {
	ID        string
	Kind      Kind
	Ref       string
	To        string
	From      string // Envelope sender: the mail's own bounce address.
	MessageID string // Without angle brackets.
	Raw       []byte // The message, unsigned (signed at each delivery).
	State     State
	Attempts  int
	CreatedAt time.Time
	NextAt    time.Time // When the next attempt is due (Queued).
	UpdatedAt time.Time
	LastError string // The relay's last answer or the network error.
	// Mailbox is To folded to the mailbox it reaches (MailboxKey) and
	// Domain its domain: how the bounds on confirmation mail count.
	Mailbox string
	Domain  string
	Sender  string // Mail.Sender.
}

// Relayed reports whether the item is someone else's message delivered
// on (KindRelease): sent as queued, unsigned and unmarked.
func (it Item) Relayed() bool { return it.Kind == KindRelease }

// Store keeps the queue. store/sqlstore implements it for SQLite and
// PostgreSQL (store/storetest checks both).
type Store interface {
	// EnqueueMail stores a new Queued item.
	EnqueueMail(ctx context.Context, it Item) error
	// ClaimMail leases up to limit Queued items due at now to owner until
	// now+lease, so that several instances never send one mail at once.
	ClaimMail(ctx context.Context, owner string, now time.Time, lease time.Duration, limit int) ([]Item, error)
	// FinishMail records an attempt's outcome and ends the lease. A mail
	// sent or failed for good loses its text (Raw) at once: an
	// acknowledgement carries a reporter's status links, a confirmation
	// its link, in clear; the record (addresses, Message-ID, outcome)
	// stays for the operator and bounces until PurgeMail.
	FinishMail(ctx context.Context, id string, state State, attempts int, next time.Time, lastError string, at time.Time) error
	// Mail returns one item (ErrNotFound).
	Mail(ctx context.Context, id string) (Item, error)
	// MailsTo counts mails queued for a mailbox since a time (the
	// per-address bound on answers): to the address and to its
	// subaddresses (local+tag@domain).
	MailsTo(ctx context.Context, to string, since time.Time) (int, error)
	// CountMails counts the mails of a kind queued since a time to one
	// folded mailbox (Item.Mailbox) or to one domain (Item.Domain).
	CountMails(ctx context.Context, c MailCount) (int, error)
	// CancelMails ends the Queued mails of a kind for a sender (Item.Sender)
	// as Failed with the reason, their text dropped; it returns how many.
	CancelMails(ctx context.Context, kind Kind, sender, reason string, at time.Time) (int, error)
	// ExpireMails ends the Queued mails queued before a time and not
	// leased at at as Failed with the reason, their text dropped; it
	// returns how many.
	ExpireMails(ctx context.Context, queuedBefore time.Time, reason string, at time.Time) (int, error)
	// MailQueue counts items by state.
	MailQueue(ctx context.Context) (map[State]int, error)
	// RecordBounce stores a bounce, and marks the mail it names Bounced
	// when it is a failure. dup is true when the same bounce (same bytes,
	// same mail) was already recorded: a replay changes nothing.
	RecordBounce(ctx context.Context, b Bounce) (dup bool, err error)
	// Bounces returns the bounces linked to a mail ("" for the unlinked).
	Bounces(ctx context.Context, mailID string) ([]Bounce, error)
	// Mails lists the queue, newest first, without the messages' bytes.
	Mails(ctx context.Context, f MailFilter) ([]Item, error)
	// PurgeMail deletes up to limit mails sent, failed or bounced whose
	// last change is before cutoff, with their bounces (and the bounces
	// linked to no mail received before cutoff); it also drops the text
	// of finished mail stored before FinishMail did. It returns how many
	// mails it deleted.
	PurgeMail(ctx context.Context, cutoff time.Time, limit int) (int, error)
}

// MailCount selects mails for CountMails: of Kind, since Since, to
// Mailbox when set, else to Domain.
type MailCount struct {
	Kind    Kind
	Mailbox string
	Domain  string
	Sender  string // "": every sender's.
	Since   time.Time
}

// MailFilter selects mails of the queue for the operator.
type MailFilter struct {
	State State // "" for every state.
	Kind  Kind  // "" for every kind.
	Limit int   // 0: 100.
}

// ErrNotFound is returned for an unknown mail.
var ErrNotFound = errors.New("outbound: not found")

// Config is the node's mail identity and relay.
type Config struct {
	// From is the address the node's mail comes from, with an optional
	// display name ("Accord desk <desk@example.org>"). Its domain is the
	// mail domain: DKIM d=, Message-IDs and bounce addresses.
	From string
	// Relay is "smtp://host:port" (STARTTLS unless TLS says otherwise) or
	// "smtps://host:port" (TLS from the first byte). Empty: mail is queued
	// and waits until a relay is configured.
	Relay string
	// TLS is "starttls" (default for smtp://: required), "none" (plain,
	// for a relay on loopback) or "implicit" (smtps://).
	TLS       string
	RootCAs   *x509.CertPool // Trusted for the relay's certificate (a private CA); nil: the system's.
	Username  string         // AUTH PLAIN when set.
	Password  string
	HelloName string // EHLO name (default: the mail domain).
	Selector  string // DKIM selector (default "accord").
	DKIM      crypto.Signer
	Secret    []byte // Keys the bounce-address tags; at least 16 bytes.
	// MarkKey keys the mark (package ownmail) each delivery puts on top
	// of the mail, by which the node's filter recognises its own mail
	// when the relay is the MTA it filters for (nil: no mark). The
	// filter is given the same key.
	MarkKey    []byte
	MaxAge     time.Duration // Give up on a mail this old (default 4 days).
	Backoff    time.Duration // First retry after this (default 1 minute), doubling up to 4 hours.
	Poll       time.Duration // How often the worker looks for due mail queued elsewhere (default 5 s).
	Timeout    time.Duration // For one delivery (default 2 minutes).
	MaxPerHour int           // Answers to one address per hour (default 10): no loops, no mail bombs.
	// Delimiters separate a sub-address from the mailbox (the filter's
	// recipient_delimiter; default "+", "none" for none): see MailboxKey.
	Delimiters string
	// ConfirmPerMailboxDay bounds the confirmation mails (KindConfirm)
	// to one mailbox — its sub-addresses and spellings folded, whichever
	// sender asked — in 24 hours (default 3). ConfirmPerDomainHour bounds
	// them to one recipient domain in an hour (default 100).
	ConfirmPerMailboxDay int
	ConfirmPerDomainHour int
	Now                  func() time.Time // nil: time.Now.
}

// Queue is the node's outbound mail.
type Queue struct {
	st     Store
	cfg    Config
	from   *mail.Address
	domain string
	log    *slog.Logger
	now    func() time.Time
	owner  string
	wake   chan struct{}
	dial   dialer
	done   []func(context.Context, Item)
	mark   *ownmail.Marker
}

// OnDone registers fn to be told of each mail this queue's worker sent or
// gave up on (it.State is Sent or Failed), after the outcome is recorded:
// how the quarantine learns that a release reached the relay. Register
// before Run.
func (q *Queue) OnDone(fn func(ctx context.Context, it Item)) { q.done = append(q.done, fn) }

// Relay reports whether a relay is configured; without one, every mail
// waits in the queue.
func (q *Queue) Relay() bool { return q.cfg.Relay != "" }

// New checks the configuration and returns the queue. Run starts delivery.
func New(st Store, cfg Config, log *slog.Logger) (*Queue, error) {
	from, err := mail.ParseAddress(cfg.From)
	if err != nil {
		return nil, fmt.Errorf("outbound: from address %q: %w", cfg.From, err)
	}
	at := strings.LastIndexByte(from.Address, '@')
	if at < 1 || at == len(from.Address)-1 {
		return nil, fmt.Errorf("outbound: from address %q has no domain", cfg.From)
	}
	if len(cfg.Secret) < 16 {
		return nil, errors.New("outbound: a secret of at least 16 bytes keys the bounce addresses")
	}
	if cfg.Selector == "" {
		cfg.Selector = "accord"
	}
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = 96 * time.Hour
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = time.Minute
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 5 * time.Second
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 2 * time.Minute
	}
	if cfg.MaxPerHour <= 0 {
		cfg.MaxPerHour = 10
	}
	if cfg.ConfirmPerMailboxDay <= 0 {
		cfg.ConfirmPerMailboxDay = 3
	}
	if cfg.ConfirmPerDomainHour <= 0 {
		cfg.ConfirmPerDomainHour = 100
	}
	domain := strings.ToLower(from.Address[at+1:])
	if cfg.HelloName == "" {
		cfg.HelloName = domain
	}
	d, err := newDialer(cfg)
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	q := &Queue{st: st, cfg: cfg, from: from, domain: domain, log: log, now: cfg.Now,
		owner: newID(), wake: make(chan struct{}, 1), dial: d, mark: ownmail.New(cfg.MarkKey)}
	return q, nil
}

// Domain is the node's mail domain.
func (q *Queue) Domain() string { return q.domain }

// Address is the node's own address (for loop checks).
func (q *Queue) Address() string { return strings.ToLower(q.from.Address) }

// Store returns the queue's store.
func (q *Queue) Store() Store { return q.st }

// Mailbox is the mailbox an address reaches: the address without its
// subaddress (victim+1@example.com and victim+2@example.com are one
// person's mailbox, and share its bound on answers).
func Mailbox(addr string) string {
	at := strings.LastIndexByte(addr, '@')
	if at < 0 {
		return addr
	}
	if plus := strings.IndexByte(addr[:at], '+'); plus > 0 {
		return addr[:plus] + addr[at:]
	}
	return addr
}

// ErrTooMany is returned when an address has had its share of answers.
var ErrTooMany = errors.New("outbound: too many mails to this address in the last hour")

// Send queues a mail and returns its item; delivery happens in Run. An
// answer (Mail.Answer) to an address that already had MaxPerHour mails in
// the last hour is refused with ErrTooMany, and mail to the node itself
// is refused: no mail loops.
func (q *Queue) Send(ctx context.Context, m Mail) (Item, error) {
	if m.Kind == "" {
		return Item{}, errors.New("outbound: a mail needs a kind")
	}
	if m.Resend != (m.Kind == KindRelease) {
		// The kind is what delivery reads to leave a message unsigned:
		// a resent message of another kind would be signed.
		return Item{}, fmt.Errorf("outbound: a %s mail: Resend goes with kind %s, and only with it", m.Kind, KindRelease)
	}
	to, err := mail.ParseAddress(m.To)
	if err != nil || strings.ContainsAny(to.Address, "\r\n<>") {
		return Item{}, fmt.Errorf("outbound: recipient %q: not an address", m.To)
	}
	addr := strings.ToLower(to.Address)
	if addr == q.Address() || strings.HasSuffix(addr, "@"+q.domain) && strings.HasPrefix(addr, bouncePrefix) {
		return Item{}, fmt.Errorf("outbound: %s is the node itself: not sending (mail loop)", addr)
	}
	now := q.now().UTC()
	if m.Answer {
		n, err := q.st.MailsTo(ctx, Mailbox(addr), now.Add(-time.Hour))
		if err != nil {
			return Item{}, fmt.Errorf("outbound: count mails to %s: %w", addr, err)
		}
		if n >= q.cfg.MaxPerHour {
			return Item{}, ErrTooMany
		}
	}
	box := MailboxKey(addr, q.cfg.Delimiters)
	dom := addr[strings.LastIndexByte(addr, '@')+1:]
	if m.Kind == KindConfirm {
		if err := q.boundConfirm(ctx, m.Sender, box, dom, now); err != nil {
			return Item{}, err
		}
	}
	id := newID()
	it := Item{ID: id, Kind: m.Kind, Ref: oneLine(m.Ref), To: addr, From: q.bounceAddress(id),
		MessageID: id + "." + q.tag(id) + "@" + q.domain, State: Queued, CreatedAt: now, NextAt: now, UpdatedAt: now, Mailbox: box, Domain: dom,
		Sender: m.Sender}
	it.Raw = q.compose(m, it, to, now)
	if err := q.st.EnqueueMail(ctx, it); err != nil {
		return Item{}, fmt.Errorf("outbound: queue %s mail: %w", m.Kind, err)
	}
	select {
	case q.wake <- struct{}{}:
	default:
	}
	return it, nil
}

// LimitError is a confirmation mail refused because its mailbox or its
// domain had its share: asking a node to mail a confirmation is open to
// anyone who can fill in a sender's form, so it must not become a way to
// flood one person (through the sub-addresses of one mailbox) or one
// mail domain.
type LimitError struct {
	N     int           // The sender's own mails in the window (Own); 0 otherwise.
	Scope string        // "mailbox" or "domain".
	Per   time.Duration // The window.
	// Own is set when the sender's own share was reached; otherwise the
	// bound across all senders was, and the error says nothing of how
	// many mails other senders caused (it would tell one sender of
	// another's sign-ups).
	Own bool
}

func (e *LimitError) Error() string {
	what := "this mailbox (its sub-addresses and spellings count as one)"
	if e.Scope == "domain" {
		what = "this address's domain"
	}
	per := map[time.Duration]string{time.Hour: "hour", 24 * time.Hour: "24 hours"}[e.Per]
	if e.Own {
		return fmt.Sprintf("%d confirmation mails of this sender went to %s in the last %s: its share", e.N, what, per)
	}
	return fmt.Sprintf("confirmation mail to %s reached the node's bound for the last %s", what, per)
}

// Is makes a LimitError an ErrTooMany.
func (e *LimitError) Is(target error) bool { return target == ErrTooMany }

// Shares of the bounds one sender may use: a sender's own requests
// exhaust its share before they can exhaust a mailbox's or a domain's
// bound for every sender.
func (q *Queue) mailboxShare() int { return max(1, q.cfg.ConfirmPerMailboxDay-1) }
func (q *Queue) domainShare() int  { return max(1, q.cfg.ConfirmPerDomainHour/4) }

// boundConfirm refuses a confirmation mail past the bounds on its
// mailbox (a day) and its domain (an hour): first the sender's share of
// each (ConfirmPerMailboxDay−1 and a quarter of ConfirmPerDomainHour),
// then the bound over every sender.
func (q *Queue) boundConfirm(ctx context.Context, sender, box, dom string, now time.Time) error {
	count := func(c MailCount) (int, error) {
		n, err := q.st.CountMails(ctx, c)
		if err != nil {
			return 0, fmt.Errorf("outbound: count confirmation mails: %w", err)
		}
		return n, nil
	}
	day, hour := now.Add(-24*time.Hour), now.Add(-time.Hour)
	if sender != "" {
		n, err := count(MailCount{Kind: KindConfirm, Mailbox: box, Sender: sender, Since: day})
		if err != nil {
			return err
		}
		if n >= q.mailboxShare() {
			return &LimitError{N: n, Scope: "mailbox", Per: 24 * time.Hour, Own: true}
		}
		if n, err = count(MailCount{Kind: KindConfirm, Domain: dom, Sender: sender, Since: hour}); err != nil {
			return err
		}
		if n >= q.domainShare() {
			return &LimitError{N: n, Scope: "domain", Per: time.Hour, Own: true}
		}
	}
	n, err := count(MailCount{Kind: KindConfirm, Mailbox: box, Since: day})
	if err != nil {
		return err
	}
	if n >= q.cfg.ConfirmPerMailboxDay {
		return &LimitError{Scope: "mailbox", Per: 24 * time.Hour}
	}
	if n, err = count(MailCount{Kind: KindConfirm, Domain: dom, Since: hour}); err != nil {
		return err
	}
	if n >= q.cfg.ConfirmPerDomainHour {
		return &LimitError{Scope: "domain", Per: time.Hour}
	}
	return nil
}

// msgID is the first message identifier of a field the reporter's mail
// gave ("<id@host>"), or "" when there is none of a sane length: the value
// is the client's, and a 30 KB Message-ID copied whole made header lines
// thirty times the 998 bytes RFC 5322 allows.
func msgID(v string) string {
	v = strings.TrimSpace(oneLine(v))
	if i := strings.IndexByte(v, '<'); i >= 0 {
		v = v[i+1:]
		if j := strings.IndexByte(v, '>'); j >= 0 {
			v = v[:j]
		}
	} else if f := strings.Fields(v); len(f) > 0 {
		v = f[0]
	}
	if v == "" || len(v) > 250 || strings.ContainsAny(v, " \t<>\r\n") || !strings.Contains(v, "@") {
		return ""
	}
	return "<" + v + ">"
}

// Purge first gives up on the mail still queued MaxAge after it was
// queued — delivered or not, with a relay or without (a node with no
// relay never tries, and its queue would keep recipients' addresses and
// confirmation links for ever) — and then deletes the mail finished
// (sent, failed, bounced) more than keep ago, with its bounces, in
// batches until none is due; keep <= 0 keeps it. The bounds on answers
// and confirmations look back a day at most, so any keep of a day or more
// leaves them whole.
func (q *Queue) Purge(ctx context.Context, keep time.Duration) (int, error) {
	now := q.now().UTC()
	if _, err := q.st.ExpireMails(ctx, now.Add(-q.cfg.MaxAge), "gave up after "+q.cfg.MaxAge.String()+" queued: never delivered", now); err != nil {
		return 0, fmt.Errorf("outbound: give up on old mail: %w", err)
	}
	if keep <= 0 {
		return 0, nil
	}
	const batch = 500
	cutoff, n := q.now().UTC().Add(-keep), 0
	for {
		k, err := q.st.PurgeMail(ctx, cutoff, batch)
		n += k
		if err != nil {
			return n, fmt.Errorf("outbound: purge mail: %w", err)
		}
		if k < batch {
			return n, nil
		}
	}
}

// CancelConfirmations ends a sender's confirmation mails still queued
// (a suspended sender's): they are never delivered.
func (q *Queue) CancelConfirmations(ctx context.Context, sender string) (int, error) {
	if sender == "" {
		return 0, errors.New("outbound: cancel confirmations: no sender")
	}
	return q.st.CancelMails(ctx, KindConfirm, sender, "cancelled: the sender was suspended", q.now().UTC())
}

// Status returns a queued mail (ErrNotFound).
func (q *Queue) Status(ctx context.Context, id string) (Item, error) { return q.st.Mail(ctx, id) }

const bouncePrefix = "bounce+"

// bounceAddress is the envelope sender of mail id: bounce+ID.TAG@domain.
func (q *Queue) bounceAddress(id string) string {
	return bouncePrefix + id + "." + q.tag(id) + "@" + q.domain
}

// tag keys a mail id so that only the node can make a bounce address or
// Message-ID that links to it.
func (q *Queue) tag(id string) string {
	m := hmac.New(sha256.New, q.cfg.Secret)
	m.Write([]byte("outbound-mail\x00" + id))
	return strings.ToLower(b32.EncodeToString(m.Sum(nil)[:5]))
}

// MailIDFrom returns the mail id named by one of the node's bounce
// addresses or Message-IDs, if its tag is right; "" otherwise.
func (q *Queue) MailIDFrom(s string) string {
	s = strings.ToLower(strings.Trim(strings.TrimSpace(s), "<>"))
	at := strings.LastIndexByte(s, '@')
	if at < 0 || s[at+1:] != q.domain {
		return ""
	}
	local := strings.TrimPrefix(s[:at], bouncePrefix)
	id, tag, ok := strings.Cut(local, ".")
	if !ok || id == "" || !hmac.Equal([]byte(tag), []byte(q.tag(id))) {
		return ""
	}
	return id
}

func (q *Queue) compose(m Mail, it Item, to *mail.Address, now time.Time) []byte {
	var h bytes.Buffer
	field := func(name, value string) {
		if value != "" {
			h.WriteString(name + ": " + oneLine(value) + "\r\n")
		}
	}
	raw := normalizeCRLF(m.Raw)
	var rawHeader, rawBody []byte
	if raw != nil {
		if i := bytes.Index(raw, []byte("\r\n\r\n")); i >= 0 {
			rawHeader, rawBody = raw[:i+2], raw[i+4:]
		} else {
			rawHeader = raw
		}
	}
	has := func(name string) bool { return headerHas(rawHeader, name) }
	if m.Resend && raw != nil {
		// Someone else's message, delivered on as it is.
		if !has("From") {
			field("From", q.from.String())
		}
		if !has("To") {
			field("To", to.String())
		}
		if !has("Date") {
			field("Date", now.Format(time.RFC1123Z))
		}
		if !has("Message-ID") {
			field("Message-ID", "<"+it.MessageID+">")
		}
		h.Write(rawHeader)
		h.WriteString("\r\n")
		h.Write(rawBody)
		return h.Bytes()
	}
	if !has("From") {
		from := *q.from
		if m.FromName != "" {
			from.Name = oneLine(m.FromName)
		}
		field("From", from.String())
	}
	if !has("To") {
		field("To", to.String())
	}
	if !has("Date") {
		field("Date", now.Format(time.RFC1123Z))
	}
	field("Message-ID", "<"+it.MessageID+">")
	if !has("Auto-Submitted") {
		if m.Answer {
			field("Auto-Submitted", "auto-replied")
		} else {
			field("Auto-Submitted", "auto-generated")
		}
	}
	// Exchange and Outlook honour this rather than Auto-Submitted: no
	// out-of-office answers to the desk's mail.
	field("X-Auto-Response-Suppress", "All")
	if ref := msgID(m.InReplyTo); ref != "" {
		field("In-Reply-To", ref)
		field("References", ref)
	}
	if raw != nil {
		h.Write(accordmail.DropFields(rawHeader, "Message-ID"))
		h.WriteString("\r\n")
		h.Write(rawBody)
		return h.Bytes()
	}
	field("Subject", mime.QEncoding.Encode("utf-8", oneLine(m.Subject)))
	field("MIME-Version", "1.0")
	field("Content-Type", "text/plain; charset=utf-8")
	field("Content-Transfer-Encoding", "quoted-printable")
	field("Content-Language", m.Lang)
	h.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&h)
	io.WriteString(qp, strings.ReplaceAll(strings.ReplaceAll(m.Text, "\r\n", "\n"), "\n", "\r\n"))
	qp.Close()
	if !bytes.HasSuffix(h.Bytes(), []byte("\r\n")) {
		h.WriteString("\r\n")
	}
	return h.Bytes()
}

// oneLine removes what could end a header field: CR, LF and other
// controls. A value can never inject a header.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

func normalizeCRLF(b []byte) []byte {
	if b == nil {
		return nil
	}
	b = bytes.ReplaceAll(b, []byte("\r\n"), []byte("\n"))
	return bytes.ReplaceAll(b, []byte("\n"), []byte("\r\n"))
}

func headerHas(h []byte, name string) bool {
	for _, line := range bytes.Split(h, []byte("\r\n")) {
		if i := bytes.IndexByte(line, ':'); i > 0 && strings.EqualFold(strings.TrimSpace(string(line[:i])), name) {
			return true
		}
	}
	return false
}

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

func newID() string {
	var b [10]byte
	if _, err := io.ReadFull(rand.Reader, b[:]); err != nil {
		panic("outbound: no randomness: " + err.Error())
	}
	return strings.ToLower(b32.EncodeToString(b[:]))
}
