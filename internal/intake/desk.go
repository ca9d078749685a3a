package intake

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/accord-antispam/accord/internal/analysis"
	"github.com/accord-antispam/accord/internal/campaign"
	"github.com/accord-antispam/accord/internal/mail"
)

// Desk receives complaints. Build one per node with New and Close it on
// shutdown: Close waits for the reports in flight to be committed.
type Desk struct {
	store    Store
	analyzer *analysis.Analyzer
	secret   []byte             // keys reporter pseudonyms
	signer   ed25519.PrivateKey // signs evidence bundles; nil: unsigned
	log      *slog.Logger
	now      func() time.Time
	rand     io.Reader
	limits   mail.Limits
	// committed is called after each group commit (it must not block).
	committed func()

	observe func(Observation)

	// statusSeen is when each report's status page was last written in
	// its custody log: a status link opened 300 times a second (or by a
	// link scanner) is one entry per statusEvery, not 300.
	statusMu   sync.Mutex
	statusSeen map[string]time.Time

	queue    chan *pending
	done     chan struct{}
	closed   chan struct{}
	mu       sync.RWMutex // held for reading while enqueueing, for writing to close
	isClosed bool
	once     sync.Once
}

// Options configure a Desk. Zero values mean the defaults.
type Options struct {
	Secret     []byte             // Required: the node's key for reporter pseudonyms.
	Signer     ed25519.PrivateKey // The node's signing key for evidence bundles; nil leaves them unsigned.
	Logger     *slog.Logger       // nil: discard.
	Now        func() time.Time   // nil: time.Now.
	Rand       io.Reader          // nil: crypto/rand.
	Limits     mail.Limits        // Parsing limits for reported messages.
	MaxBatch   int                // Complaints committed in one transaction (64).
	BatchDelay time.Duration      // How long the first complaint of a batch waits for company (2ms).
	// Committed is called after each commit, so that what follows up
	// reports (complaints fed back to senders) wakes at once instead of
	// polling. It must not block.
	Committed func()
	Observe   func(Observation) // Called after each submission and each group commit (metrics); nil: nothing.
}

// Observation is one submission (Commit false) or one group commit
// (Commit true), for the operators' figures.
type Observation struct {
	Commit   bool
	Channel  Channel
	Reports  int // Reports stored by the submission (0 for a replay: nothing was stored); complaints in the commit.
	Duration time.Duration
	// Replayed: an idempotent replay, answered with the first receipt;
	// nothing was stored, so it is no report received.
	Replayed bool
	// Rejected: the submitter's mistake, which the doors answer 4xx or
	// 554 — no message to report, damaged evidence, a report of another
	// type, a reused or malformed idempotency key. Not a failure of the
	// node: Err is set, but no error is counted.
	Rejected bool
	Err      error
}

// ErrBadIdempotencyKey is an idempotency key longer than
// MaxIdempotencyKey: the client's mistake.
var ErrBadIdempotencyKey = fmt.Errorf("intake: an idempotency key is at most %d bytes", MaxIdempotencyKey)

// clientError reports whether a submission failed by the submitter's
// mistake rather than the node's: nothing was stored, and the doors
// answer it 4xx (the API) or 554 (the mailbox).
func clientError(err error) bool {
	var rej *RejectError
	var reused *IdempotencyConflictError
	return errors.As(err, &rej) || errors.As(err, &reused) || errors.Is(err, ErrBadIdempotencyKey)
}

// QueueDepth is the number of complaints waiting for their commit.
func (d *Desk) QueueDepth() int { return len(d.queue) }

type pending struct {
	batch *Batch
	err   chan error
}

// New starts a desk over a store.
func New(store Store, an *analysis.Analyzer, o Options) (*Desk, error) {
	if len(o.Secret) < 16 {
		return nil, errors.New("intake: the desk needs a secret of at least 16 bytes")
	}
	d := &Desk{store: store, analyzer: an, secret: o.Secret, signer: o.Signer, log: o.Logger, now: o.Now, rand: o.Rand, limits: o.Limits, committed: o.Committed, observe: o.Observe,
		queue: make(chan *pending, 1024), done: make(chan struct{}), closed: make(chan struct{})}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	if d.now == nil {
		d.now = time.Now
	}
	if d.rand == nil {
		d.rand = rand.Reader
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = 64
	}
	if o.BatchDelay <= 0 {
		o.BatchDelay = 2 * time.Millisecond
	}
	go func() {
		d.commitLoop(o.MaxBatch, o.BatchDelay)
		close(d.done)
	}()
	return d, nil
}

// Close stops accepting complaints and waits until every complaint already
// submitted is committed (or failed).
func (d *Desk) Close() {
	d.once.Do(func() {
		d.mu.Lock()
		d.isClosed = true
		close(d.closed)
		d.mu.Unlock()
	})
	<-d.done
}

// Submission is one complaint as a channel received it.
type Submission struct {
	Channel  Channel
	Raw      []byte
	Reporter string // The reporter's address, when known (mail); kept apart from the report.
	// ReporterAuth is how Reporter was authenticated ("spf", "dkim",
	// "account"), "" when it is only what the client said.
	ReporterAuth string
	SubmittedBy  string           // The principal: "smtp", "web", or an API token id.
	Context      analysis.Context // The reporter's answers about consent and custom.
	// Declared is the media type an API client declared for the body
	// (see Via.Declared); "" for the web form and the mailbox.
	Declared string
	// As is what the reporter declared the upload to be (AsForwarded,
	// AsReceived, see Via.As); "" when they did not say.
	As string
	// Desk are the addresses the mailbox received the complaint for
	// (SMTP RCPT TO) and its public address (see Via.Desk).
	Desk []string
	// IdempotencyKey, when set, makes the submission idempotent for its
	// principal (SubmittedBy): the same request again with the same key
	// is answered with the first receipt and stores nothing; another
	// request with it is an IdempotencyConflictError (see Idempotency).
	IdempotencyKey string
	// Session, when its RemoteIP is set, is the SMTP session the reported
	// message itself arrived in at this node (a held copy reported from
	// the quarantine: the filter door's client, as the node's own MTA saw
	// it, the trusted top hop); it is the origin of a report of the raw
	// message. A forward's attached messages arrived elsewhere: for them
	// it is not used.
	Session analysis.Envelope
}

// Receipt says what was stored.
type Receipt struct {
	ComplaintID string
	Reports     []Receipted
	// Replayed: the receipt of an earlier request with the same
	// idempotency key; nothing was stored this time.
	Replayed bool
}

// Receipted is one stored report, with its private status token (shown to
// the reporter once; only its hash is kept).
type Receipted struct {
	ID          string `json:"id"`
	CampaignID  string `json:"-"` // Read from the store when a receipt is replayed: it may have changed.
	StatusToken string `json:"status_token"`
	Form        string `json:"form"`
}

// RejectError is a complaint the desk will not take, with the reason for
// the reporter.
type RejectError struct {
	Reason string
	Err    error
}

func (e *RejectError) Error() string { return "intake: rejected: " + e.Reason }
func (e *RejectError) Unwrap() error { return e.Err }

// ErrClosed is returned after Close.
var ErrClosed = errors.New("intake: the desk is closed")

// Submit analyses a complaint and stores it durably. It returns only when
// the complaint and every report in it are committed: a caller may then
// answer 250 or 201. On error nothing of the complaint is stored.
func (d *Desk) Submit(ctx context.Context, s Submission) (rec Receipt, err error) {
	if d.observe != nil {
		start := time.Now()
		defer func() {
			o := Observation{Channel: s.Channel, Reports: len(rec.Reports), Duration: time.Since(start), Replayed: rec.Replayed, Rejected: clientError(err), Err: err}
			if rec.Replayed {
				o.Reports = 0 // the first request's reports, stored then
			}
			d.observe(o)
		}()
	}
	var idem *idempotencyKey
	if s.IdempotencyKey != "" {
		if len(s.IdempotencyKey) > MaxIdempotencyKey {
			return Receipt{}, ErrBadIdempotencyKey
		}
		k := newIdempotencyKey(s)
		idem = &k
		if rec, done, err := d.replay(ctx, k); done {
			return rec, err
		}
	}
	// At the mailbox ReporterAuth is the node's own check of the relay
	// that handed the complaint over (SPF, DKIM), never a field of the
	// message.
	items, err := Extract(s.Raw, Via{Mailbox: s.Channel == ChannelSMTP, Reporter: s.Reporter, Declared: s.Declared, As: s.As,
		Authenticated: s.Channel == ChannelSMTP && s.ReporterAuth != "", Desk: s.Desk})
	if err != nil {
		var rej *RejectError
		if errors.As(err, &rej) {
			return Receipt{}, rej
		}
		return Receipt{}, &RejectError{Reason: err.Error(), Err: err}
	}
	if SentByItsAuthor(items) {
		// A spam mailed to the desk by its author: its sender is the
		// spammer, no reporter, and the mailbox's check of it is the
		// spam's authentication, not a reporter's.
		s.Reporter, s.ReporterAuth = "", ""
	}
	if strings.TrimSpace(s.Reporter) == "" && s.Channel != ChannelSMTP {
		// A forward uploaded through the API or the form: its From is the
		// person who forwarded it. Known as the reporter, they are kept
		// apart and redacted from all that is shared, as the mailbox does;
		// unknown, their name in the spam's links went to partners.
		s.Reporter = ForwardedBy(s.Raw, items)
	}
	now := d.now().UTC()
	sum := sha256.Sum256(s.Raw)
	c := &Complaint{ID: d.newID(), ReceivedAt: now, Channel: s.Channel, Raw: s.Raw, SHA256: hex.EncodeToString(sum[:])}
	b := &Batch{Complaint: c}
	if addr := strings.ToLower(strings.TrimSpace(s.Reporter)); addr != "" {
		b.Reporter = &Reporter{ID: d.Pseudonym(addr), Address: addr}
		c.ReporterID = b.Reporter.ID
	}
	actor := s.SubmittedBy
	if actor == "" {
		actor = string(s.Channel)
	}
	rec.ComplaintID = c.ID
	for _, it := range items {
		m := it.parsed
		if m == nil || d.limits != (mail.Limits{}) && d.limits != mail.DefaultLimits() {
			m = mail.ParseBytes(it.Raw, d.limits)
		}
		if it.cut {
			m.MarkCut("the complaint ended before closing the MIME part this message came in: the message may be cut short")
		}
		in := analysis.Input{Source: "complaint " + c.ID, Message: m, Context: s.Context}
		if it.Form == FormRaw && s.Session.RemoteIP.IsValid() {
			in.Envelope = s.Session
		}
		v, err := d.analyzer.Analyze(ctx, in)
		if err != nil {
			return Receipt{}, fmt.Errorf("analyse complaint %s: %w", c.ID, err)
		}
		token := d.newToken()
		th := sha256.Sum256([]byte(token))
		ms := sha256.Sum256(it.Raw)
		r := &Report{
			ID: d.newID(), ComplaintID: c.ID, ReceivedAt: now, Channel: s.Channel, Form: it.Form,
			Unverifiable: it.Unverifiable, Forwarders: it.Forwarders, Feedback: it.Feedback, Raw: it.Raw, SHA256: hex.EncodeToString(ms[:]),
			ReporterID: c.ReporterID, ReporterAuth: s.ReporterAuth, SubmittedBy: s.SubmittedBy, Consent: s.Context.Consent, Customer: s.Context.ExistingCustomer,
			StatusHash: hex.EncodeToString(th[:]), Verdict: v, Signature: analysis.CampaignSignature(v),
		}
		v.Source = "report " + r.ID
		b.Reports = append(b.Reports, r)
		b.Custody = append(b.Custody, CustodyEntry{ReportID: r.ID, At: now, Actor: actor, Action: "received",
			Detail: fmt.Sprintf("via %s as %s; message sha256 %s; complaint %s sha256 %s", s.Channel, it.Form, r.SHA256, c.ID, c.SHA256)})
		rec.Reports = append(rec.Reports, Receipted{ID: r.ID, StatusToken: token, Form: it.Form})
	}
	if idem != nil {
		seal, err := idem.sealReceipt(d.rand, rec)
		if err != nil {
			return Receipt{}, err
		}
		b.Idempotency = &Idempotency{Lookup: idem.lookup, Request: idem.request, ComplaintID: c.ID, Sealed: seal, CreatedAt: now}
	}
	p := &pending{batch: b, err: make(chan error, 1)}
	d.mu.RLock()
	if d.isClosed {
		d.mu.RUnlock()
		return Receipt{}, ErrClosed
	}
	select {
	case d.queue <- p:
		d.mu.RUnlock()
	case <-ctx.Done():
		d.mu.RUnlock()
		return Receipt{}, ctx.Err()
	}
	// Once queued, the commit goes ahead whatever the caller does; wait for
	// it so the caller knows.
	if err := <-p.err; err != nil {
		if idem != nil {
			// The same key committed meanwhile (the client sent its
			// retry before the first answer came): the key's row
			// refused this one; answer as that one did.
			if rec, done, rerr := d.replay(ctx, *idem); done {
				return rec, rerr
			}
		}
		return Receipt{}, err
	}
	for i, r := range b.Reports {
		rec.Reports[i].CampaignID = r.CampaignID
	}
	return rec, nil
}

// commitLoop is the desk's one writer: it gathers complaints into batches
// (group commit), so one disk sync acknowledges many reports. While a
// commit is under way the next complaints queue, and the next commit takes
// them all: on PostgreSQL a second writer, starting its own commit with
// whatever came in its first 2 ms, split them into two smaller commits
// (3.2 complaints each instead of 5) and each report cost a third more
// CPU, in serve and in the server, for as many reports per second or
// fewer (docs/desk.md).
func (d *Desk) commitLoop(max int, delay time.Duration) {
	for {
		var first *pending
		select {
		case first = <-d.queue:
		case <-d.closed:
			// Close holds off new complaints; commit what was queued
			// before it.
			for {
				var group []*pending
			drain:
				for len(group) < max {
					select {
					case p := <-d.queue:
						group = append(group, p)
					default:
						break drain
					}
				}
				if len(group) == 0 {
					return
				}
				d.commit(group)
			}
		}
		group := []*pending{first}
		timer := time.NewTimer(delay)
	gather:
		for len(group) < max {
			select {
			case p := <-d.queue:
				group = append(group, p)
			case <-timer.C:
				break gather
			}
		}
		timer.Stop()
		d.commit(group)
	}
}

func (d *Desk) commit(group []*pending) {
	batches := make([]*Batch, len(group))
	for i, p := range group {
		batches[i] = p.batch
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if d.committed != nil {
		defer d.committed()
	}
	start := time.Now()
	err := d.store.Commit(ctx, batches, assign(d))
	if d.observe != nil {
		d.observe(Observation{Commit: true, Reports: len(batches), Duration: time.Since(start), Err: err})
	}
	if err != nil && len(group) > 1 {
		// Isolate the failing complaint: commit them one by one.
		for _, p := range group {
			for _, r := range p.batch.Reports {
				r.CampaignID, r.CampaignNew, r.CampaignWhy = "", false, ""
			}
			p.err <- d.store.Commit(ctx, []*Batch{p.batch}, assign(d))
		}
		return
	}
	if err != nil {
		d.log.Error("commit complaint", "err", err)
	}
	for _, p := range group {
		p.err <- err
	}
}

func assign(d *Desk) Assigner {
	return func(ctx context.Context, idx campaign.Index, r *Report) error {
		id, why, err := campaign.Assign(ctx, idx, r.Signature)
		if err != nil {
			return err
		}
		if id == "" {
			r.CampaignID, r.CampaignNew, r.CampaignWhy = "c-"+d.newID(), true, "founded the campaign"
			return nil
		}
		r.CampaignID, r.CampaignNew, r.CampaignWhy = id, false, why
		return nil
	}
}

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

func (d *Desk) newID() string {
	var b [10]byte
	if _, err := io.ReadFull(d.rand, b[:]); err != nil {
		panic(fmt.Sprintf("intake: no randomness: %v", err)) // crypto/rand does not fail
	}
	return strings.ToLower(b32.EncodeToString(b[:]))
}

func (d *Desk) newToken() string {
	var b [20]byte
	if _, err := io.ReadFull(d.rand, b[:]); err != nil {
		panic(fmt.Sprintf("intake: no randomness: %v", err))
	}
	return strings.ToLower(b32.EncodeToString(b[:]))
}

// Pseudonym is the reporter's stable, keyed pseudonym: it groups a
// reporter's complaints without naming them.
func (d *Desk) Pseudonym(address string) string {
	m := hmac.New(sha256.New, d.secret)
	m.Write([]byte(strings.ToLower(strings.TrimSpace(address))))
	return "r-" + strings.ToLower(b32.EncodeToString(m.Sum(nil)[:10]))
}

// View returns a report for a principal and records the access in the
// custody log.
func (d *Desk) View(ctx context.Context, id, actor string) (*Report, error) {
	return d.ViewIf(ctx, id, actor, nil)
}

// ViewIf is View for a principal who may see only some reports: when allow
// (if not nil) refuses the report, it is ErrNotFound and no access is
// recorded.
func (d *Desk) ViewIf(ctx context.Context, id, actor string, allow func(*Report) bool) (*Report, error) {
	r, err := d.store.Report(ctx, id)
	if err != nil {
		return nil, err
	}
	if allow != nil && !allow(r) {
		return nil, ErrNotFound
	}
	if _, err := d.store.AppendCustody(ctx, CustodyEntry{ReportID: id, At: d.now().UTC(), Actor: actor, Action: "viewed"}); err != nil {
		return nil, fmt.Errorf("log access to report %s: %w", id, err)
	}
	return r, nil
}

// StatusView returns a report to whoever holds its status token: the
// reporter's private link.
func (d *Desk) StatusView(ctx context.Context, id, token string) (*Report, error) {
	r, err := d.store.Report(ctx, id)
	if err != nil {
		return nil, err
	}
	th := sha256.Sum256([]byte(token))
	if subtle.ConstantTimeCompare([]byte(hex.EncodeToString(th[:])), []byte(r.StatusHash)) != 1 {
		return nil, ErrNotFound // no difference between wrong token and no report
	}
	Unlink(r)
	if !d.statusDue(id) {
		return r, nil
	}
	if _, err := d.store.AppendCustody(ctx, CustodyEntry{ReportID: id, At: d.now().UTC(), Actor: "reporter", Action: "status-viewed"}); err != nil {
		return nil, fmt.Errorf("log access to report %s: %w", id, err)
	}
	return r, nil
}

// Unlink takes out of a report shown to its reporter (through its status
// link, or to the token that filed it) what an erasure left only because
// a case holds it: the message and its analysis stay evidence of the
// case, no longer linked to the person who erased them — the spam often
// names its recipient, that person.
func Unlink(r *Report) {
	if r.ErasedAt.IsZero() {
		return
	}
	r.Raw, r.Verdict, r.Feedback, r.SHA256 = nil, nil, nil, ""
}

// statusEvery is how often a report's status views are written down.
const statusEvery = 10 * time.Minute

// statusDue says whether a status view of report id is to be written in
// its custody log now (the first in statusEvery), and notes it.
func (d *Desk) statusDue(id string) bool {
	now := d.now()
	d.statusMu.Lock()
	defer d.statusMu.Unlock()
	if d.statusSeen == nil {
		d.statusSeen = map[string]time.Time{}
	}
	if len(d.statusSeen) > 100000 {
		for k, t := range d.statusSeen {
			if now.Sub(t) >= statusEvery {
				delete(d.statusSeen, k)
			}
		}
	}
	if last, ok := d.statusSeen[id]; ok && now.Sub(last) < statusEvery && !now.Before(last) {
		return false
	}
	d.statusSeen[id] = now
	return true
}

// Store returns the desk's store, for read-only views.
func (d *Desk) Store() Store { return d.store }

// ForwardedBy is the address of the person who forwarded a complaint —
// its own From — when Extract took items out of it as a forward (attached
// or quoted), "" otherwise: the reporter a complaint names when no channel
// authenticated one.
func ForwardedBy(raw []byte, items []Item) string {
	for _, it := range items {
		if it.Form == FormAttached || it.Form == FormInlineForward || it.unsure {
			return wrapperFrom(raw)
		}
	}
	return ""
}

// wrapperFrom is the address in a forward's own From field, "" when it
// holds none. It is read as the desk reads any From, not by the standard
// library's strict grammar, which refuses the fields people's mail
// clients write: a name in windows-1252 or iso-8859-15 encoded words, raw
// 8-bit Latin-1, an unquoted "Durand, Hélène", two addresses. The first
// address the field holds is the reporter's.
func wrapperFrom(raw []byte) string {
	for _, a := range fromField(raw) {
		if strings.Count(a.Addr, "@") == 1 && !strings.HasPrefix(a.Addr, "@") && !strings.HasSuffix(a.Addr, "@") {
			return a.Addr
		}
	}
	return ""
}

// fromField reads the From field of a message's header (the header only).
func fromField(raw []byte) []mail.Address {
	v := headerField(raw, "From")
	if v == "" {
		return nil
	}
	list, _ := mail.ParseAddressList(v)
	return list
}

// headerField is a field's value in a message's header, unfolded, "" when
// absent: the header is parsed alone, not the message.
func headerField(raw []byte, name string) string {
	head := raw
	for _, sep := range []string{"\r\n\r\n", "\n\n"} {
		if i := bytes.Index(head, []byte(sep)); i >= 0 {
			head = head[:i+len(sep)]
		}
	}
	if len(head) > maxReporterHead {
		head = head[:maxReporterHead]
	}
	return strings.TrimSpace(mail.ParseBytes(head, mail.DefaultLimits()).Header.Get(name))
}

// maxReporterHead bounds the bytes of a complaint read for its From.
const maxReporterHead = 64 << 10

// ReporterMailbox is the reporter as the redaction should know them: the
// From field of their complaint — their display name with their address,
// in whatever charset it was written — when it names address, else
// address alone. head is the complaint (its first bytes suffice, see
// ReporterHead). A spam that greets "Alice Martin" names her as surely as
// her address would, and am1987@… does not spell her name.
func ReporterMailbox(head []byte, address string) string {
	address = strings.ToLower(strings.TrimSpace(address))
	if address == "" || len(head) == 0 {
		return address
	}
	v := headerField(head, "From")
	for _, a := range fromField(head) {
		if strings.EqualFold(strings.TrimSpace(a.Addr), address) {
			return v + ", <" + address + ">"
		}
	}
	return address
}

// KeptApart are the people a report's shared copies keep apart
// (privacy.OfApart): its reporters — the reporter, as ReporterMailbox
// gives them, "" when anonymous — and its forwarders: when the report
// was taken whole because it may be a person's forward rather than the
// spam (see UnsureOrigin), that forward's author, the From field of the
// report's own message, display name and all. That is Bob, whose forward
// Alice passes on to the desk (attached, redirected or by a server
// rule): neither his name nor his address is anything a partner
// receives, in the subject, the links or the evidence. His domain is not
// held as a person's, since the same From may be the spammer's own (a
// plain spam dressed as a forward of itself): its links still go out.
// A reporter who is that From (the upload's author, kept as its
// reporter) is a forwarder, not a reporter, here. The forwarders also
// count every forward the desk unwrapped inside the complaint to reach
// the spam (Report.Forwarders: Carol's forward to abuse@, passed on by
// the abuse desk), whose display name the spam's own fields may not
// carry.
func KeptApart(r *Report, reporter string) (reporters, forwarders []string) {
	from := ""
	if UnsureOrigin(r.Unverifiable) {
		from = headerField(r.Raw, "From")
	}
	if from != "" {
		forwarders = append(forwarders, from)
	}
	// Carol, whose forward to abuse@ the abuse desk passed on: unwrapped,
	// she is a recipient of the spam, but its fields may not carry her
	// display name.
	forwarders = append(forwarders, r.Forwarders...)
	if strings.TrimSpace(reporter) == "" {
		return reporters, forwarders
	}
	if from != "" && strings.EqualFold(wrapperFrom(r.Raw), ReporterAddressOf(reporter)) {
		return reporters, append(forwarders, reporter)
	}
	return append(reporters, reporter), forwarders
}

// ReporterHead is how many bytes of a complaint ReporterMailbox reads.
const ReporterHead = maxReporterHead

// ReporterAddressOf is the address of a reporter as ReporterMailbox wrote
// them.
func ReporterAddressOf(mailbox string) string {
	if strings.HasSuffix(mailbox, ">") {
		if i := strings.LastIndex(mailbox, ", <"); i >= 0 {
			return mailbox[i+3 : len(mailbox)-1]
		}
	}
	return mailbox
}
