package consent

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/accord-antispam/accord/internal/rules"
)

// Mailer sends the node's own mail; the outbound queue implements it
// (cmd/accord adapts it). Send returns once the mail is queued.
type Mailer interface {
	Send(ctx context.Context, m Mail) (id string, err error)
}

// Canceller is a Mailer that can cancel a sender's confirmation mail
// still queued (the outbound queue): suspending a sender does.
type Canceller interface {
	CancelConfirmations(ctx context.Context, sender string) (int, error)
}

// Mail is one mail the node sends for this package.
type Mail struct {
	Kind    string // "consent-confirm" or "fbl-report".
	Ref     string // What it is about: "consent:ID", "report:ID".
	To      string
	Subject string
	Text    string
	Raw     []byte // A complete message (ARF); Subject and Text are then ignored.
	// FromName is the display name of From (the address stays the
	// node's): a confirmation names the sender the recipient signed up
	// with, not the node's desk.
	FromName string
	// Sender is the sender a confirmation is for: it counts in that
	// sender's share of the mailbox's and the domain's bounds.
	Sender string
}

// Options configure a Service.
type Options struct {
	Keys     Keys
	Signer   ed25519.PrivateKey // Signs proofs.
	Rules    *rules.Library     // Opt-out deadlines per jurisdiction.
	Mailer   Mailer             // nil: confirmed opt-in is refused (nothing could send the link).
	BaseURL  string             // The node's public URL, for links: "https://node.example".
	MailHost string             // The node's mail domain, for mailto unsubscribe addresses.
	NodeName string
	// Jurisdictions apply to senders registered without any.
	Jurisdictions []string
	ConfirmTTL    time.Duration // How long a confirmation link works (default 7 days).
	// Fold folds a normalized address to the mailbox it reaches, as the
	// node's bounds on confirmation mail do (cmd/accord gives
	// outbound.MailboxKey with the filter's recipient_delimiter): an
	// opt-out holds for every spelling of the mailbox (Suppressions). nil
	// folds nothing.
	Fold func(normalized string) string
	// MaxConfirmationsPerHour bounds the confirmation mails one sender has
	// the node send in an hour, to all addresses (default 500).
	MaxConfirmationsPerHour int
	Now                     func() time.Time
	Rand                    io.Reader
	Log                     *slog.Logger
}

// Service is the consent registry of a node. It is safe for concurrent use.
type Service struct {
	st   Store
	o    Options
	seal *sealer
}

// New builds the service.
func New(st Store, o Options) (*Service, error) {
	seal, err := newSealer(o.Keys)
	if err != nil {
		return nil, err
	}
	if len(o.Keys.Recipients) < 16 {
		return nil, errors.New("consent: the recipient key root needs at least 16 bytes")
	}
	if o.Signer == nil {
		return nil, errors.New("consent: a signing key is required (proofs are signed)")
	}
	if o.Rules == nil {
		if o.Rules, err = rules.Embedded(); err != nil {
			return nil, err
		}
	}
	if o.ConfirmTTL <= 0 {
		o.ConfirmTTL = 7 * 24 * time.Hour
	}
	if o.MaxConfirmationsPerHour <= 0 {
		o.MaxConfirmationsPerHour = 500
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if len(o.Jurisdictions) == 0 {
		o.Jurisdictions = []string{"EU"}
	}
	o.BaseURL = strings.TrimRight(o.BaseURL, "/")
	return &Service{st: st, o: o, seal: seal}, nil
}

// Store returns the service's store, for read-only views.
func (s *Service) Store() Store { return s.st }

func (s *Service) now() time.Time { return s.o.Now().UTC() }

func (s *Service) newID() string {
	var b [16]byte
	if _, err := io.ReadFull(s.o.Rand, b[:]); err != nil {
		panic("consent: no randomness: " + err.Error())
	}
	return tokenB32.EncodeToString(b[:])
}

// RecipientKey is the key a sender's recipients are hashed with; the
// sender may have it to match its own list against suppressions.
func (s *Service) RecipientKey(sender string) []byte { return s.o.Keys.RecipientKey(sender) }

// Hash returns the sender's keyed hash of an address.
func (s *Service) Hash(sender, address string) (string, error) {
	n, err := NormalizeAddress(address)
	if err != nil {
		return "", err
	}
	return RecipientHash(s.o.Keys.RecipientKey(sender), n), nil
}

// addrKeys are the keys an address's opt-outs may be stored under.
type addrKeys struct {
	addr    string   // Normalized: the exact spelling, for mailing.
	hash    string   // The key of records (RecipientHash of addr).
	legacy  []string // Keys the address may have had before domains were A-labels (its spelling, its domain's U-labels).
	mailbox string   // The keyed hash of the folded mailbox (Options.Fold).
}

func (s *Service) keysOf(sender, address string) (addrKeys, error) {
	n, err := NormalizeAddress(address)
	if err != nil {
		return addrKeys{}, err
	}
	key := s.o.Keys.RecipientKey(sender)
	k := addrKeys{addr: n, hash: RecipientHash(key, n), mailbox: RecipientHash(key, "mailbox:"+s.fold(n))}
	for _, l := range legacyForms(address, n) {
		k.legacy = append(k.legacy, RecipientHash(key, l))
	}
	return k, nil
}

func (s *Service) fold(n string) string {
	if s.o.Fold == nil {
		return n
	}
	return s.o.Fold(n)
}

// noteMailbox files the address's folded mailbox with its key, so an
// opt-out under this key (by its token, which carries no address) is found
// from other spellings of the mailbox.
func (s *Service) noteMailbox(ctx context.Context, sender string, k addrKeys) error {
	return s.st.NoteMailbox(ctx, sender, k.hash, k.mailbox)
}

// Suppressions returns every opt-out that covers an address for a sender:
// those under its key, under the key it had before domains were A-labels
// (kept as they were stored), and those of any other spelling of the same
// mailbox the node has seen (a sub-address, Gmail's dots and
// googlemail.com: Options.Fold) — an opt-out is the person's, however the
// sender spells them next.
func (s *Service) Suppressions(ctx context.Context, sender, address string) ([]Suppression, error) {
	k, err := s.keysOf(sender, address)
	if err != nil {
		return nil, err
	}
	return s.suppressionsOf(ctx, sender, k)
}

func (s *Service) suppressionsOf(ctx context.Context, sender string, k addrKeys) ([]Suppression, error) {
	out, err := s.st.Suppressed(ctx, sender, k.hash)
	if err != nil {
		return nil, err
	}
	for _, h := range k.legacy {
		l, err := s.st.Suppressed(ctx, sender, h)
		if err != nil {
			return nil, err
		}
		out = append(out, l...)
	}
	m, err := s.st.MailboxSuppressions(ctx, sender, k.mailbox)
	if err != nil {
		return nil, err
	}
	for _, x := range m {
		if x.Recipient != k.hash && !slices.Contains(k.legacy, x.Recipient) {
			out = append(out, x)
		}
	}
	return out, nil
}

var domainRe = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?$`)

// ValidDomain reports whether d is a lower-case DNS domain name with at
// least two labels.
func ValidDomain(d string) bool { return len(d) <= 253 && domainRe.MatchString(d) }

// AddSender registers a sender. Its ID is its primary domain.
func (s *Service) AddSender(ctx context.Context, in Sender) (Sender, error) {
	in.ID = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(in.ID), "."))
	if !ValidDomain(in.ID) {
		return Sender{}, invalid("domain", "%q is not a domain name", in.ID)
	}
	if _, err := NormalizeAddress(in.Contact); err != nil {
		return Sender{}, invalid("contact", "a contact e-mail address is required (%q)", in.Contact)
	}
	if in.FeedbackTo != "" {
		if _, err := NormalizeAddress(in.FeedbackTo); err != nil {
			return Sender{}, invalid("feedback", "%q is not an e-mail address", in.FeedbackTo)
		}
	}
	doms := []string{in.ID}
	for _, d := range in.Domains {
		d = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(d), "."))
		if d == "" {
			continue
		}
		if !ValidDomain(d) {
			return Sender{}, invalid("domains", "%q is not a domain name", d)
		}
		if !slices.Contains(doms, d) {
			doms = append(doms, d)
		}
	}
	in.Domains = doms
	js, err := s.jurisdictions(in.Jurisdictions)
	if err != nil {
		return Sender{}, err
	}
	in.Jurisdictions = js
	in.Status, in.Reason = SenderActive, ""
	in.Created, in.Changed = s.now(), s.now()
	if len(in.Name) > 200 || len(in.PostalAddress) > 500 {
		return Sender{}, invalid("name", "too long")
	}
	ev := Event{Sender: in.ID, At: in.Created, Kind: EventSenderRegistered, Detail: map[string]string{
		"name": in.Name, "contact": in.Contact, "domains": strings.Join(in.Domains, ","), "jurisdictions": strings.Join(js, ","),
		"postal_address": in.PostalAddress,
	}}
	if err := s.st.AddSender(ctx, in, ev); err != nil {
		return Sender{}, err
	}
	s.o.Log.Info("sender registered", "sender", in.ID, "domains", in.Domains)
	return in, nil
}

func (s *Service) jurisdictions(in []string) ([]string, error) {
	if len(in) == 0 {
		in = s.o.Jurisdictions
	}
	var out []string
	for _, j := range in {
		j = strings.ToUpper(strings.TrimSpace(j))
		if j == "UK" {
			j = "GB"
		}
		if j == "" || slices.Contains(out, j) {
			continue
		}
		if _, ok := s.o.Rules.Get(j); !ok {
			return nil, invalid("jurisdiction", "no rulebook for %q (have %s)", j, strings.Join(s.o.Rules.Jurisdictions(), ", "))
		}
		out = append(out, j)
	}
	return out, nil
}

// SetSenderStatus suspends or reinstates a sender, with the reason.
func (s *Service) SetSenderStatus(ctx context.Context, id, status, reason string) (Sender, error) {
	if status != SenderActive && status != SenderSuspended {
		return Sender{}, invalid("status", "%q: want active or suspended", status)
	}
	sd, err := s.st.Sender(ctx, id)
	if err != nil {
		return Sender{}, err
	}
	sd.Status, sd.Reason, sd.Changed = status, reason, s.now()
	ev := Event{Sender: id, At: sd.Changed, Kind: EventSenderChanged, Detail: map[string]string{"status": status, "reason": reason}}
	if err := s.st.UpdateSender(ctx, sd, ev); err != nil {
		return Sender{}, err
	}
	if c, ok := s.o.Mailer.(Canceller); ok && status == SenderSuspended {
		// Its confirmation mails still queued would ask people to confirm
		// consent to a sender the node has suspended.
		n, err := c.CancelConfirmations(ctx, id)
		if err != nil {
			return sd, fmt.Errorf("suspended, but its queued confirmation mail was not cancelled: %w", err)
		}
		s.o.Log.Info("sender suspended", "sender", id, "confirmations_cancelled", n)
	}
	return sd, nil
}

// activeSender returns the sender, refusing a suspended one.
func (s *Service) activeSender(ctx context.Context, id string) (Sender, error) {
	sd, err := s.st.Sender(ctx, id)
	if err != nil {
		return Sender{}, err
	}
	if sd.Status != SenderActive {
		return sd, ErrSuspended
	}
	return sd, nil
}

var listRe = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

func checkList(l string) (string, error) {
	l = strings.ToLower(strings.TrimSpace(l))
	if !listRe.MatchString(l) {
		return "", invalid("list", "%q: a list name is 1 to 64 characters: letters, digits, '.', '_' or '-'", l)
	}
	return l, nil
}

// disguising reports whether r would make evidence read otherwise than it
// is: a control character, or a bidirectional embedding, override or
// isolate (U+202A–U+202E, U+2066–U+2069) that reorders what follows.
func disguising(r rune) bool {
	return unicode.IsControl(r) || r >= 0x202a && r <= 0x202e || r >= 0x2066 && r <= 0x2069
}

// RecordInput is a consent record as a sender submits it.
type RecordInput struct {
	Recipient string
	List      string
	Basis     string
	Capture   Capture
	Customer  *Customer
	// Confirm asks for confirmed opt-in: the node mails the recipient a
	// link, and only a POST from its page makes the record active.
	Confirm bool
}

// RecordResult is what recording did.
type RecordResult struct {
	Record     Record
	ConfirmURL string // Set for a pending record (shown to the sender only in tests; mailed to the recipient).
	MailID     string // The confirmation mail in the outbound queue.
}

// MaxSoftOptInYears bounds the age of the sale a soft opt-in rests on:
// implied consent from a purchase lasts two years in Canada (CASL s.
// 10(10)(a)); the EU and UK rules set no term but require the address to
// have been collected in the context of the sale (Directive 2002/58/EC
// art. 13(2), PECR reg. 22(3)), so the node takes the strictest.
const MaxSoftOptInYears = 2

// MaxEvidenceYears bounds how long ago consent may say it was obtained: a
// date older than this is a placeholder, not evidence.
const MaxEvidenceYears = 10

// MaxConfirmationsPerDay bounds the confirmation mails one sender has the
// node send to one address in 24 hours.
const MaxConfirmationsPerDay = 3

// ErrExists is returned when the recipient already has an active or
// pending record on the list.
type ErrExists struct{ Record Record }

func (e *ErrExists) Error() string {
	return fmt.Sprintf("consent: the recipient already has a %s record (%s) on list %s", e.Record.Status, e.Record.ID, e.Record.List)
}

// Record stores a consent record. Consent (BasisConsent) needs to say how
// it was obtained, and a pre-ticked box is refused (CJEU C-673/17,
// Planet49). A soft opt-in needs the customer relationship, a product
// category and that refusal was offered at collection (ePrivacy art.
// 13(2)). A recipient who opted out can only come back through confirmed
// opt-in, which then lifts the opt-out for that list.
func (s *Service) Record(ctx context.Context, sender string, in RecordInput) (RecordResult, error) {
	sd, err := s.activeSender(ctx, sender)
	if err != nil {
		return RecordResult{}, err
	}
	keys, err := s.keysOf(sd.ID, in.Recipient)
	if err != nil {
		return RecordResult{}, err
	}
	addr := keys.addr
	list, err := checkList(in.List)
	if err != nil {
		return RecordResult{}, err
	}
	now := s.now()
	rec := Record{ID: s.newID(), Sender: sd.ID, Recipient: keys.hash, List: list,
		Basis: in.Basis, Capture: in.Capture, Created: now}
	c := &rec.Capture
	if c.ObtainedAt.IsZero() {
		c.ObtainedAt = now
	}
	c.ObtainedAt = c.ObtainedAt.UTC()
	if c.ObtainedAt.After(now.Add(5 * time.Minute)) {
		return RecordResult{}, invalid("obtained_at", "%s is in the future", c.ObtainedAt.Format(time.RFC3339))
	}
	if c.ObtainedAt.Before(now.AddDate(-MaxEvidenceYears, 0, 0)) {
		return RecordResult{}, invalid("obtained_at", "%s is more than %d years ago: ask the recipient again, with confirmed opt-in", c.ObtainedAt.Format(time.RFC3339), MaxEvidenceYears)
	}
	if c.IP != "" {
		ip, err := netip.ParseAddr(c.IP)
		if err != nil {
			return RecordResult{}, invalid("ip", "%q is not an IP address", c.IP)
		}
		if ip.Zone() != "" {
			// A zone is any text ("fe80::1%<anything>") and names an
			// interface of the sender's own host: no client's address.
			return RecordResult{}, invalid("ip", "an IPv6 zone (%%…) names an interface of the host, not a client's address")
		}
		c.IP = ip.String()
	}
	for name, v := range map[string]string{"method": c.Method, "form_url": c.FormURL, "form_version": c.FormVersion, "user_agent": c.UserAgent, "language": c.Language} {
		if len(v) > 1024 {
			return RecordResult{}, invalid(name, "longer than 1024 bytes")
		}
		if i := strings.IndexFunc(v, disguising); i >= 0 {
			return RecordResult{}, invalid(name, "holds a control or bidirectional-override character (%U): evidence must read as it is", []rune(v[i:])[0])
		}
	}
	if len(c.Text) > 16<<10 {
		return RecordResult{}, invalid("text", "the consent text is longer than 16 KiB")
	}
	if c.Text != "" {
		sum := sha256.Sum256([]byte(c.Text))
		c.TextSHA256 = hex.EncodeToString(sum[:])
	}
	switch strings.ToLower(c.CheckboxDefault) {
	case "", "unchecked", "none":
		c.CheckboxDefault = strings.ToLower(c.CheckboxDefault)
	case "checked", "pre-ticked", "preticked", "ticked":
		return RecordResult{}, invalid("checkbox_default", "a pre-ticked box is not consent (CJEU C-673/17 Planet49; GDPR recital 32)")
	default:
		return RecordResult{}, invalid("checkbox_default", "%q: want unchecked, or none when there was no box", c.CheckboxDefault)
	}
	switch in.Basis {
	case BasisConsent:
		if strings.TrimSpace(c.Method) == "" {
			return RecordResult{}, invalid("method", "say how consent was obtained (form, checkbox, in-person, phone, import, api)")
		}
		if in.Customer != nil {
			return RecordResult{}, invalid("customer", "a customer relationship goes with basis soft-opt-in")
		}
		rec.Status = RecordActive
		if in.Confirm {
			rec.Status = RecordPending
			if s.o.Mailer == nil {
				return RecordResult{}, invalid("confirm", "this node has no outbound mail configured, so it cannot send confirmation links")
			}
		}
	case BasisSoftOptIn:
		cu := in.Customer
		switch {
		case cu == nil:
			return RecordResult{}, invalid("customer", "a soft opt-in needs the customer relationship (reference, product_category, since, opt_out_offered)")
		case strings.TrimSpace(cu.Reference) == "" || strings.TrimSpace(cu.ProductCategory) == "":
			return RecordResult{}, invalid("customer", "a soft opt-in needs the sale's reference and the product category (offers must be for similar products)")
		case !cu.OptOutOffered:
			return RecordResult{}, invalid("customer.opt_out_offered", "a soft opt-in needs the chance to refuse when the address was collected (Directive 2002/58/EC art. 13(2))")
		case cu.Since.IsZero():
			return RecordResult{}, invalid("customer.since", "a soft opt-in needs the date of the sale (or negotiation) the address was collected in")
		case cu.Since.After(now.Add(5 * time.Minute)):
			return RecordResult{}, invalid("customer.since", "in the future")
		case cu.Since.Before(now.AddDate(-MaxSoftOptInYears, 0, 0)):
			return RecordResult{}, invalid("customer.since", "%s is more than %d years ago: a soft opt-in rests on a recent sale (CASL s. 10(10)(a): two years); ask for consent instead",
				cu.Since.Format("2006-01-02"), MaxSoftOptInYears)
		}
		if in.Confirm {
			return RecordResult{}, invalid("confirm", "a soft opt-in rests on the sale, not on a confirmation")
		}
		x := *cu
		x.Since = x.Since.UTC()
		rec.Customer = &x
		rec.Status = RecordActive
		if c.Method == "" {
			c.Method = "sale"
		}
	default:
		return RecordResult{}, invalid("basis", "%q: want consent or soft-opt-in", in.Basis)
	}
	existing, err := s.Records(ctx, sd.ID, rec.Recipient)
	if err != nil {
		return RecordResult{}, err
	}
	for _, e := range existing {
		if e.List == list && (e.Status == RecordActive || e.Status == RecordPending) {
			return RecordResult{}, &ErrExists{Record: e}
		}
	}
	if rec.Status == RecordPending {
		// Confirmation mails are the node's own mail to a third party: a
		// sender cannot use them to flood an address.
		// Counted by time through an index, whatever else the
		// recipient's log holds.
		n, err := s.st.CountEvents(ctx, sd.ID, EventQuery{Kind: EventConfirmationSent, Recipient: rec.Recipient, Since: now.Add(-24 * time.Hour)})
		if err != nil {
			return RecordResult{}, err
		}
		if n >= MaxConfirmationsPerDay {
			return RecordResult{}, invalid("confirm", "%d confirmation mails went to this address in the last 24 hours; no more until tomorrow", n)
		}
		if n, err = s.st.CountEvents(ctx, sd.ID, EventQuery{Kind: EventConfirmationSent, Since: now.Add(-time.Hour)}); err != nil {
			return RecordResult{}, err
		}
		if n >= s.o.MaxConfirmationsPerHour {
			return RecordResult{}, &RateError{What: fmt.Sprintf("%d confirmation mails went out for this sender in the last hour (the limit)", n), Retry: time.Hour}
		}
	}
	sup, err := s.suppressionsOf(ctx, sd.ID, keys)
	if err != nil {
		return RecordResult{}, err
	}
	for _, x := range sup {
		if (x.List == "" || x.List == list) && rec.Status != RecordPending {
			return RecordResult{}, invalid("confirm", "this recipient opted out (%s, %s); only confirmed opt-in (\"confirm\": true) can bring them back",
				x.Reason, x.RequestedAt.Format(time.RFC3339))
		}
	}
	if err := s.noteMailbox(ctx, sd.ID, keys); err != nil {
		return RecordResult{}, err
	}
	detail := map[string]string{"basis": rec.Basis, "method": c.Method, "obtained_at": c.ObtainedAt.Format(time.RFC3339Nano)}
	for k, v := range map[string]string{"form_url": c.FormURL, "form_version": c.FormVersion, "text_sha256": c.TextSHA256,
		"checkbox_default": c.CheckboxDefault, "ip": c.IP, "user_agent": c.UserAgent, "language": c.Language} {
		if v != "" {
			detail[k] = v
		}
	}
	if cu := rec.Customer; cu != nil {
		detail["customer_reference"], detail["product_category"] = cu.Reference, cu.ProductCategory
		detail["customer_since"], detail["opt_out_offered"] = cu.Since.Format(time.RFC3339), "true"
	}
	detail["status"] = rec.Status
	ch := Change{Sender: sd.ID, NewRecords: []Record{rec},
		Events: []Event{{At: now, Kind: EventRecorded, Recipient: rec.Recipient, List: list, Record: rec.ID, Detail: detail}}}
	res := RecordResult{Record: rec}
	if rec.Status == RecordPending {
		res.ConfirmURL = s.o.BaseURL + "/c/" + confirmToken(s.o.Keys.TokenMAC, rec.ID)
		id, err := s.o.Mailer.Send(ctx, Mail{Kind: "consent-confirm", Ref: "consent:" + rec.ID, To: addr, FromName: displayName(sd), Sender: sd.ID,
			Subject: confirmSubject(sd, list), Text: confirmText(sd, list, res.ConfirmURL, s.o.ConfirmTTL)})
		if err != nil {
			return RecordResult{}, fmt.Errorf("queue the confirmation mail: %w", err)
		}
		res.MailID = id
		ch.Events = append(ch.Events, Event{At: now, Kind: EventConfirmationSent, Recipient: rec.Recipient, List: list, Record: rec.ID,
			Detail: map[string]string{"mail": id}})
	}
	if _, err := s.st.Apply(ctx, ch); err != nil {
		return RecordResult{}, err
	}
	return res, nil
}

func confirmSubject(sd Sender, list string) string {
	return "Please confirm: " + displayName(sd) + " would like to send you \"" + list + "\""
}

func displayName(sd Sender) string {
	if sd.Name != "" {
		return sd.Name + " (" + sd.ID + ")"
	}
	return sd.ID
}

func confirmText(sd Sender, list, link string, ttl time.Duration) string {
	return fmt.Sprintf(`Hello,

%s asked to send you its mailing "%s" at this address.
To confirm that you want it, open this link and press the button on the page:

  %s

If you did not ask for it, do nothing: without your confirmation you will
not be added, and this link stops working in %d days.

This message was sent by an Accord node on behalf of %s, which keeps the
record of your consent. Questions: %s
`, displayName(sd), list, link, int(ttl.Hours()/24), sd.ID, sd.Contact)
}

// Client is who acted on a public page: evidence, not identity.
type Client struct {
	IP        string
	UserAgent string
	Method    string // HTTP method, or "smtp".
}

func (c Client) detail(d map[string]string) map[string]string {
	if d == nil {
		d = map[string]string{}
	}
	if c.IP != "" {
		d["ip"] = c.IP
	}
	if c.UserAgent != "" {
		ua := c.UserAgent
		if len(ua) > 512 {
			ua = ua[:512]
		}
		d["user_agent"] = strings.ToValidUTF8(ua, "?")
	}
	if c.Method != "" {
		d["method"] = c.Method
	}
	return d
}

// ConfirmView is what the confirmation page shows.
type ConfirmView struct {
	Record Record
	Sender Sender
}

// ErrExpired is a confirmation link used after its time.
var ErrExpired = errors.New("consent: the confirmation link has expired")

// OpenConfirmation is the GET of a confirmation link: it shows what would
// be confirmed and changes nothing but the log (the first opening is
// recorded: a link scanner's visit is evidence too).
func (s *Service) OpenConfirmation(ctx context.Context, token string, cl Client) (ConfirmView, error) {
	id, err := openConfirmToken(s.o.Keys.TokenMAC, token)
	if err != nil {
		return ConfirmView{}, err
	}
	rec, err := s.st.Record(ctx, id)
	if err != nil {
		return ConfirmView{}, err
	}
	sd, err := s.st.Sender(ctx, rec.Sender)
	if err != nil {
		return ConfirmView{}, err
	}
	if rec.Status == RecordPending && s.now().After(rec.Created.Add(s.o.ConfirmTTL)) {
		s.expire(ctx, rec)
		return ConfirmView{Record: rec, Sender: sd}, ErrExpired
	}
	if rec.Status == RecordPending {
		n, err := s.st.CountEvents(ctx, rec.Sender, EventQuery{Kind: EventConfirmationSeen, Recipient: rec.Recipient, Record: rec.ID, Since: rec.Created})
		if err == nil && n == 0 {
			d := cl.detail(map[string]string{"after_seconds": fmt.Sprint(int(s.now().Sub(rec.Created).Seconds()))})
			s.st.Apply(ctx, Change{Sender: rec.Sender, Events: []Event{{At: s.now(), Kind: EventConfirmationSeen, Recipient: rec.Recipient,
				List: rec.List, Record: rec.ID, Detail: d}}})
		}
	}
	return ConfirmView{Record: rec, Sender: sd}, nil
}

// Records returns a recipient's records with the sender (by keyed hash).
// A pending record past its confirmation link's life is expired on the
// way — in the store and the log, as opening its link would — so no
// listing, proof or new sign-up sees a record "pending" forever.
func (s *Service) Records(ctx context.Context, sender, recipient string) ([]Record, error) {
	recs, err := s.st.Records(ctx, sender, recipient)
	if err != nil {
		return nil, err
	}
	for i, r := range recs {
		if r.Status == RecordPending && s.now().After(r.Created.Add(s.o.ConfirmTTL)) {
			s.expire(ctx, r)
			recs[i].Status = RecordExpired
		}
	}
	return recs, nil
}

func (s *Service) expire(ctx context.Context, rec Record) {
	if err := s.expireRecord(ctx, rec); err != nil {
		s.o.Log.Error("expire consent record", "record", rec.ID, "err", err)
	}
}

// expireRecord makes a pending record expired, with its consent-expired
// event; a record that changed meanwhile (confirmed, expired by another
// reader) is left as it is.
func (s *Service) expireRecord(ctx context.Context, rec Record) error {
	to := rec
	to.Status = RecordExpired
	_, err := s.st.Apply(ctx, Change{Sender: rec.Sender, Transitions: []Transition{{Record: rec.ID, From: RecordPending, To: to}},
		Events: []Event{{At: s.now(), Kind: EventExpired, Recipient: rec.Recipient, List: rec.List, Record: rec.ID}}})
	if err != nil && !errors.Is(err, ErrConflict) {
		return err
	}
	return nil
}

// ExpirePending expires every pending record past its confirmation
// link's life, of every sender, as reading it would (serve calls it with
// the retention's purge): a record nobody reads does not stay pending in
// the table. It returns how many it expired.
func (s *Service) ExpirePending(ctx context.Context) (int, error) {
	const batch = 500
	n := 0
	for {
		recs, err := s.st.PendingBefore(ctx, s.now().Add(-s.o.ConfirmTTL), batch)
		if err != nil {
			return n, err
		}
		for _, r := range recs {
			if err := s.expireRecord(ctx, r); err != nil {
				return n, fmt.Errorf("expire consent record %s: %w", r.ID, err)
			}
			n++
		}
		if len(recs) < batch {
			return n, nil
		}
	}
}

// Confirm is the POST of a confirmation link: the recipient's deliberate
// act. It makes the record active and lifts the recipient's earlier
// opt-out from this list — from this list only: an opt-out of every list
// stays in force for the others (see SuppressedOn). Confirming twice is
// confirming once.
func (s *Service) Confirm(ctx context.Context, token string, cl Client) (ConfirmView, error) {
	v, err := s.OpenConfirmation(ctx, token, Client{})
	if err != nil {
		return v, err
	}
	rec := v.Record
	switch {
	case rec.Status == RecordActive:
		return v, nil
	case v.Sender.Status != SenderActive:
		// A suspended sender gains no consent: its pending requests wait
		// until it is reinstated (and expire meanwhile).
		return v, invalid("", "%s is suspended at this node: nothing can be confirmed for it now", v.Sender.ID)
	case rec.Status == RecordPending:
	default:
		return v, invalid("", "this request was %s and can no longer be confirmed", rec.Status)
	}
	now := s.now()
	to := rec
	to.Status, to.Confirmed, to.ConfirmedAt = RecordActive, true, now
	d := cl.detail(map[string]string{"after_seconds": fmt.Sprint(int(now.Sub(rec.Created).Seconds()))})
	ch := Change{Sender: rec.Sender, Transitions: []Transition{{Record: rec.ID, From: RecordPending, To: to}},
		Events: []Event{{At: now, Kind: EventConfirmed, Recipient: rec.Recipient, List: rec.List, Record: rec.ID, Detail: d}}}
	sup, err := s.st.Suppressed(ctx, rec.Sender, rec.Recipient)
	if err != nil {
		return v, err
	}
	onList := slices.ContainsFunc(sup, func(x Suppression) bool { return !x.Lifted && x.List == rec.List })
	for _, x := range sup {
		switch {
		case x.Lifted:
		case x.List == rec.List:
			x.LiftedAt = now
			ch.Lift = append(ch.Lift, x)
		case x.List == "" && !onList && !Exception(sup, x, rec.List):
			// An opt-out of every list stays in force for the lists not
			// confirmed: this list gets a row of its own, covered by it
			// and lifted now — the exception the feed says "lift" for.
			y := x
			y.List, y.LiftedAt = rec.List, now
			ch.Suppress = append(ch.Suppress, y)
			ch.Lift = append(ch.Lift, y)
		}
	}
	if _, err := s.st.Apply(ctx, ch); err != nil {
		if errors.Is(err, ErrConflict) {
			return s.OpenConfirmation(ctx, token, Client{}) // confirmed meanwhile
		}
		return v, err
	}
	v.Record = to
	return v, nil
}

// Withdraw records that the recipient withdrew consent from a list (""
// for every list of the sender), as the sender learnt it. The recipient is
// suppressed at once. A withdrawal that would change nothing — no active
// or pending record on the list, and a suppression already covering it —
// writes nothing and returns the suppression in force with already true:
// repeating it cannot pad the recipient's log.
func (s *Service) Withdraw(ctx context.Context, sender, recipient, list, note string) (sup Suppression, already bool, err error) {
	sd, err := s.st.Sender(ctx, sender)
	if err != nil {
		return Suppression{}, false, err
	}
	addr, err := NormalizeAddress(recipient)
	if err != nil {
		return Suppression{}, false, err
	}
	if list != "" {
		if list, err = checkList(list); err != nil {
			return Suppression{}, false, err
		}
	}
	if len(note) > 1024 {
		return Suppression{}, false, invalid("note", "longer than 1024 bytes")
	}
	keys, err := s.keysOf(sd.ID, addr)
	if err != nil {
		return Suppression{}, false, err
	}
	if err := s.noteMailbox(ctx, sd.ID, keys); err != nil {
		return Suppression{}, false, err
	}
	h := keys.hash
	if x, ok, err := s.noOpWithdrawal(ctx, sd.ID, h, list); err != nil || ok {
		return x, ok, err
	}
	return s.suppress(ctx, sd, h, list, ViaWithdrawal, Client{}, map[string]string{"note": note}, EventWithdrawn, false)
}

// noOpWithdrawal returns the suppression that already covers a
// withdrawal from list ("" all) when the recipient has no active or
// pending record it would withdraw.
func (s *Service) noOpWithdrawal(ctx context.Context, sender, recipient, list string) (Suppression, bool, error) {
	recs, err := s.st.Records(ctx, sender, recipient)
	if err != nil {
		return Suppression{}, false, err
	}
	for _, r := range recs {
		if (list == "" || r.List == list) && (r.Status == RecordActive || r.Status == RecordPending) {
			return Suppression{}, false, nil
		}
	}
	sups, err := s.st.Suppressed(ctx, sender, recipient)
	if err != nil {
		return Suppression{}, false, err
	}
	if list == "" && len(exceptions(sups)) > 0 {
		return Suppression{}, false, nil // lists confirmed again since: withdrawing from all puts them back
	}
	if list != "" {
		x, ok := SuppressedOn(sups, list)
		return x, ok, nil
	}
	for _, x := range sups {
		if !x.Lifted && x.List == "" {
			return x, true, nil
		}
	}
	return Suppression{}, false, nil
}

// suppress withdraws the recipient's records on list ("" all) and adds the
// suppression, retrying once if a record changed meanwhile. already is
// true when the suppression existed (nothing was written).
func (s *Service) suppress(ctx context.Context, sd Sender, recipient, list, via string, cl Client, detail map[string]string, kind string, requireNew bool) (Suppression, bool, error) {
	for attempt := 0; ; attempt++ {
		now := s.now()
		recs, err := s.st.Records(ctx, sd.ID, recipient)
		if err != nil {
			return Suppression{}, false, err
		}
		sup := Suppression{Sender: sd.ID, Recipient: recipient, List: list, Reason: via, RequestedAt: now}
		sup.Deadline, sup.Jurisdiction = s.deadline(sd, now)
		d := cl.detail(detail)
		d["via"] = via
		d["deadline"] = sup.Deadline.Format(time.RFC3339)
		d["deadline_jurisdiction"] = sup.Jurisdiction
		if list == "" {
			d["scope"] = "all lists"
		}
		ch := Change{Sender: sd.ID, Suppress: []Suppression{sup}, RequireNew: requireNew,
			Events: []Event{{At: now, Kind: kind, Recipient: recipient, List: list, Detail: d}}}
		if list == "" {
			// An opt-out of every list ends the exceptions a confirmation
			// made to an earlier one: their rows are put back in force.
			sups, err := s.st.Suppressed(ctx, sd.ID, recipient)
			if err != nil {
				return Suppression{}, false, err
			}
			for _, y := range exceptions(sups) {
				y.Reason, y.RequestedAt, y.Deadline, y.Jurisdiction = sup.Reason, sup.RequestedAt, sup.Deadline, sup.Jurisdiction
				ch.Suppress = append(ch.Suppress, y)
			}
		}
		for _, r := range recs {
			if (list == "" || r.List == list) && (r.Status == RecordActive || r.Status == RecordPending) {
				to := r
				to.Status, to.WithdrawnAt = RecordWithdrawn, now
				ch.Transitions = append(ch.Transitions, Transition{Record: r.ID, From: r.Status, To: to})
				ch.Events = append(ch.Events, Event{At: now, Kind: EventWithdrawn, Recipient: recipient, List: r.List, Record: r.ID,
					Detail: map[string]string{"via": via}})
			}
		}
		if kind == EventWithdrawn && len(ch.Events) > 1 {
			// The record events say it; the first would repeat them.
			ch.Events[0].Kind = EventWithdrawn
		}
		_, err = s.st.Apply(ctx, ch)
		switch {
		case err == nil, errors.Is(err, ErrDuplicate):
			// The store numbers the row (Seq, the sync cursor): the
			// answer gives the number the feed will show, not zero.
			sups, err2 := s.st.Suppressed(ctx, sd.ID, recipient)
			if err2 != nil {
				return Suppression{}, false, err2
			}
			for _, x := range sups {
				if x.List == list && !x.Lifted {
					sup = x
				}
			}
			return sup, err != nil, nil
		case errors.Is(err, ErrConflict) && attempt == 0:
			continue
		}
		return Suppression{}, false, err
	}
}

// deadline is the earliest opt-out deadline among the sender's
// jurisdictions.
func (s *Service) deadline(sd Sender, at time.Time) (time.Time, string) {
	var best time.Time
	bestJ := ""
	for _, j := range sd.Jurisdictions {
		b, ok := s.o.Rules.Get(j)
		if !ok || b.OptOutDeadline == nil {
			continue
		}
		if d := b.OptOutDeadline.Due(at); best.IsZero() || d.Before(best) {
			best, bestJ = d, b.Jurisdiction
		}
	}
	if best.IsZero() {
		best = at.Add(48 * time.Hour) // no rulebook says: the mailbox providers' line
		bestJ = "none"
	}
	return best, bestJ
}

// Deadlines lists the opt-out deadline of each of the sender's
// jurisdictions for a request made at t.
func (s *Service) Deadlines(sd Sender, t time.Time) map[string]time.Time {
	out := map[string]time.Time{}
	for _, j := range sd.Jurisdictions {
		if b, ok := s.o.Rules.Get(j); ok && b.OptOutDeadline != nil {
			out[b.Jurisdiction] = b.OptOutDeadline.Due(t)
		}
	}
	return out
}
