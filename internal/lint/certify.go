package lint

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"io"
	netmail "net/mail"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/accord-antispam/accord/internal/consent"
	"github.com/accord-antispam/accord/internal/dnsname"
	"github.com/accord-antispam/accord/internal/label"
	"github.com/accord-antispam/accord/internal/mail"
)

// Certifier issues compliance labels: lint's certificate for a message
// that passes, from a sender in good standing that keeps consent records.
type Certifier struct {
	Linter    *Linter
	Consent   *consent.Service
	Labels    label.Store
	Key       ed25519.PrivateKey
	StatusURL string        // Where the node serves its status list.
	TTL       time.Duration // Default label life (7 days).
	MaxTTL    time.Duration // Longest a sender may ask for (30 days).
	Refresh   time.Duration // The status list's next_update comes this long after it is signed (1 hour).
	Cache     time.Duration // How long one signed list is served before it is made again (2 s).
	Now       func() time.Time
	Rand      io.Reader

	mu     sync.Mutex
	cached *label.StatusList
	until  time.Time
}

// CertifyRequest asks for a label.
type CertifyRequest struct {
	Sender    string
	Raw       []byte        // The message as it will be sent (DKIM-signed, or not yet).
	Domain    string        // The DKIM domain, when the message is not signed yet.
	Recipient string        // "": the message's single To.
	List      string        // "": the list of the node's opt-out token in the message, else any list.
	TTL       time.Duration // 0: the default.
}

// Certificate is an issued label with the check behind it.
type Certificate struct {
	Label  *label.Label
	Field  string // "Accord-Label: …\r\n", to add to the message.
	Report *Report
}

// NotEligibleError says why no label was issued.
type NotEligibleError struct {
	Why    []string
	Report *Report // The lint, when it ran.
}

func (e *NotEligibleError) Error() string { return "no label: " + strings.Join(e.Why, "; ") }

func (c *Certifier) now() time.Time {
	if c.Now != nil {
		return c.Now().UTC()
	}
	return time.Now().UTC()
}

func (c *Certifier) ttl(d time.Duration) (time.Duration, error) {
	def, maxTTL := c.TTL, c.MaxTTL
	if def <= 0 {
		def = 7 * 24 * time.Hour
	}
	if maxTTL <= 0 {
		maxTTL = 30 * 24 * time.Hour
	}
	switch {
	case d == 0:
		return def, nil
	case d < time.Hour || d > maxTTL:
		return 0, &consent.InvalidError{Field: "ttl", Reason: fmt.Sprintf("a label lives from 1 hour to %s", maxTTL)}
	}
	return d, nil
}

// MaxLabelTTL is how long a sender revocation stays in the status list:
// past it, every label it covers has expired.
func (c *Certifier) maxTTL() time.Duration {
	if c.MaxTTL > 0 {
		return c.MaxTTL
	}
	return 30 * 24 * time.Hour
}

// Certify checks the sender and the message and, when both pass, issues
// the label. The sender must be active, under the complaint line with no
// overdue opt-out, keep consent records, the message's one recipient
// (named, else its single To) must have consent on record on its list and
// no opt-out, and the message must lint without a breach and be bound to
// one of the sender's DKIM domains.
func (c *Certifier) Certify(ctx context.Context, req CertifyRequest) (*Certificate, error) {
	ttl, err := c.ttl(req.TTL)
	if err != nil {
		return nil, err
	}
	sd, err := c.Consent.Store().Sender(ctx, req.Sender)
	if err != nil {
		return nil, err
	}
	var why []string
	st, err := c.Consent.Standing(ctx, sd.ID)
	if err != nil {
		return nil, err
	}
	why = append(why, st.Why...)
	n, err := c.Consent.Store().ActiveRecords(ctx, sd.ID)
	if err != nil {
		return nil, err
	}
	if n == 0 {
		why = append(why, "the sender keeps no active consent record at this node")
	}
	m := mail.ParseBytes(req.Raw, mail.DefaultLimits())
	domain, canon, err := bindDomain(m, sd, req.Domain)
	var ub unboundError
	if errors.As(err, &ub) {
		why = append(why, string(ub)) // a condition of the label, not a bad request
	} else if err != nil {
		return nil, err
	}
	// The recipient and the list are always determined: a label vouches
	// that this one recipient's consent is on record and that they did not
	// opt out, whether or not the request names them.
	rcpt, list, w, err := c.recipientOf(ctx, m, sd, req.Recipient, req.List)
	if err != nil {
		return nil, err
	}
	why = append(why, w...)
	rep, err := c.Linter.Lint(ctx, m, Options{Source: "label request", Sender: NodeFacts{Service: c.Consent, ID: sd.ID},
		Recipient: rcpt, List: list, Bulk: true})
	if err != nil {
		return nil, err
	}
	if rep.Breaches > 0 {
		var b []string
		for _, f := range rep.Findings {
			if f.Status == Breach {
				b = append(b, f.Check)
			}
		}
		why = append(why, "the message does not lint clean: "+strings.Join(b, ", "))
	}
	if rcpt != "" && !slices.ContainsFunc(rep.Findings, func(f Finding) bool { return f.Check == "consent.on-record" && f.Status == OK }) {
		on := "any list"
		if list != "" {
			on = "list " + list
		}
		why = append(why, "no consent on record for "+rcpt+" on "+on)
	}
	if p := label.HeaderProblem(req.Raw); p != "" {
		why = append(why, p)
	}
	if len(why) > 0 {
		return nil, &NotEligibleError{Why: why, Report: rep}
	}
	now := c.now()
	l := &label.Label{ID: c.newID(), Sender: sd.ID, Domain: domain, Canon: canon, BodyHash: label.BodyHash(label.Body(req.Raw), canon),
		HeadHash: label.HeaderHash(req.Raw), Issued: now.Truncate(time.Second), Expires: now.Add(ttl).Truncate(time.Second), StatusURL: c.StatusURL}
	l.Sign(c.Key)
	if err := c.Labels.AddLabel(ctx, label.Issued{ID: l.ID, Sender: l.Sender, Domain: l.Domain, BodyHash: l.BodyHash, Issued: l.Issued, Expires: l.Expires}); err != nil {
		return nil, fmt.Errorf("record the label: %w", err)
	}
	return &Certificate{Label: l, Field: l.Field(), Report: rep}, nil
}

// recipientOf determines the one recipient and the list a label is for,
// and says why the message is not one message to one recipient, as a label
// must be: the label binds To and List-Unsubscribe, so the node's opt-out
// token there must be the one issued for the recipient the message is
// addressed to (named by the request, or the message's single To) and for
// this sender — else one recipient's label and opt-out would ride on mail
// to everyone, and their opt-outs unsubscribe someone else. The list is
// the token's when the message carries one (a list= that differs is
// refused: the token says which mailing this is), else the list asked
// ("" any). rcpt is "" when no single recipient could be determined, with
// the reason in why.
func (c *Certifier) recipientOf(ctx context.Context, m *mail.Message, sd consent.Sender, asked, askedList string) (rcpt, list string, why []string, err error) {
	var to []string
	for _, v := range m.Header.Values("To") {
		as, _ := netmail.ParseAddressList(v)
		for _, a := range as {
			to = append(to, strings.ToLower(a.Address))
		}
	}
	rcpt = strings.ToLower(strings.TrimSpace(asked))
	if a, err := netmail.ParseAddress(rcpt); err == nil {
		rcpt = strings.ToLower(a.Address)
	}
	list = strings.ToLower(strings.TrimSpace(askedList))
	switch {
	case rcpt != "" && !slices.Contains(to, rcpt):
		return "", list, []string{"the message is not addressed (To) to " + rcpt + ", the recipient named: a label is for one message to one recipient"}, nil
	case rcpt == "" && len(to) == 1:
		rcpt = to[0]
	case rcpt == "":
		return "", list, []string{"the message is addressed to no single recipient (To), and none was named (recipient=): a label is for one message to one recipient, whose consent must be on record"}, nil
	}
	view, _, ok := c.Consent.TokenIn(ctx, m.Header.Get("List-Unsubscribe"))
	if !ok {
		return rcpt, list, nil, nil // the sender's own opt-out: the label binds it and To
	}
	if view.Sender.ID != sd.ID {
		return rcpt, list, []string{"the opt-out link in List-Unsubscribe is another sender's"}, nil
	}
	if list != "" && list != view.List {
		return rcpt, view.List, []string{"the opt-out link in List-Unsubscribe is for list " + view.List + ", not " + list + ", the list named: the link says which mailing the message is"}, nil
	}
	list = view.List
	h, err := c.Consent.Hash(sd.ID, rcpt)
	if err != nil {
		return "", list, nil, err
	}
	if h != view.RecipientHash() {
		return rcpt, list, []string{"the opt-out link in List-Unsubscribe was issued for another recipient than " + rcpt + ": a label is for one message to one recipient, whose own opt-out link it carries"}, nil
	}
	return rcpt, list, nil, nil
}

var idB32 = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

func (c *Certifier) newID() string {
	r := c.Rand
	if r == nil {
		r = rand.Reader
	}
	var b [12]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		panic("lint: no randomness: " + err.Error())
	}
	return idB32.EncodeToString(b[:])
}

// bindDomain picks the DKIM domain the label is bound to: the d= of the
// message's signature by one of the sender's domains (and that signature's
// body canonicalization), or, for a message not signed yet, the domain
// asked for (relaxed).
func bindDomain(m *mail.Message, sd consent.Sender, asked string) (string, string, error) {
	asked = strings.ToLower(strings.TrimSpace(asked))
	for _, v := range m.Header.Values("DKIM-Signature") {
		d, canon := dkimTags(v)
		if d == "" || asked != "" && d != asked || !sd.HasDomain(d) {
			continue
		}
		return d, canon, nil
	}
	switch {
	case asked == "":
		return "", "", unboundError("the message has no DKIM signature by one of the sender's domains (" + strings.Join(sd.Domains, ", ") +
			"); sign it, or name the domain it will be signed with (domain=)")
	case !sd.HasDomain(asked):
		return "", "", &consent.InvalidError{Field: "domain", Reason: asked + " is not one of the sender's domains (" + strings.Join(sd.Domains, ", ") + ")"}
	}
	if m.Header.Has("DKIM-Signature") {
		return "", "", unboundError("the message is signed, but not by " + asked)
	}
	return asked, "relaxed", nil
}

// unboundError: the message is not bound to one of the sender's DKIM
// domains — one of the label's conditions (422 not-eligible), unlike a
// malformed request.
type unboundError string

func (e unboundError) Error() string { return string(e) }

// dkimTags reads d= and the body canonicalization of a DKIM-Signature.
func dkimTags(v string) (domain, canon string) {
	canon = "simple" // RFC 6376 3.5: c= defaults to simple/simple
	for _, kv := range strings.Split(v, ";") {
		k, val, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		val = strings.Join(strings.Fields(val), "")
		switch strings.TrimSpace(k) {
		case "d":
			domain, _ = dnsname.Normalize(val)
		case "c":
			if _, b, ok := strings.Cut(val, "/"); ok && b == "relaxed" {
				canon = "relaxed"
			} else {
				canon = "simple"
			}
		}
	}
	return domain, canon
}

// StatusList is the node's current, signed status list, made again at
// most once per Cache: it is served to anyone, so it must be cheap, and a
// revocation (from another process, accord label revoke) shows within
// Cache.
func (c *Certifier) StatusList(ctx context.Context) (*label.StatusList, error) {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cached != nil && now.Before(c.until) {
		return c.cached, nil
	}
	refresh := c.Refresh
	if refresh <= 0 {
		refresh = time.Hour
	}
	ls, ss, err := c.Labels.Revocations(ctx, now, c.maxTTL())
	if err != nil {
		return nil, err
	}
	sl, err := label.SignStatus(label.Status{IssuedAt: now, NextUpdate: now.Add(refresh), Labels: ls, Senders: ss}, c.Key)
	if err != nil {
		return nil, err
	}
	cache := c.Cache
	if cache <= 0 {
		cache = 2 * time.Second
	}
	c.cached, c.until = sl, now.Add(cache)
	return sl, nil
}

// Invalidate drops the cached status list (after a revocation here).
func (c *Certifier) Invalidate() {
	c.mu.Lock()
	c.cached = nil
	c.mu.Unlock()
}

// ErrNotEligible matches NotEligibleError with errors.Is.
var ErrNotEligible = errors.New("lint: not eligible for a label")

func (e *NotEligibleError) Is(target error) bool { return target == ErrNotEligible }
