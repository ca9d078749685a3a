package filter

import (
	"errors"
	"fmt"
	"math"
	"net/mail"
	"slices"
	"strings"
	"time"

	"github.com/accord-antispam/accord/internal/dnsname"
)

// Actions a policy takes on spam, from the mildest.
const (
	ActionTag        = "tag"        // Delivered with X-Spam-Flag: YES (the user's Junk folder).
	ActionQuarantine = "quarantine" // Held by the node; the recipient can read and release it.
	ActionReject     = "reject"     // Refused during SMTP with 550 5.7.1, a reason and a reference.
)

// Scope names whose policy it is: the node's default, a domain's, or one
// recipient's. Kinds in order of precedence, the most specific last.
const (
	ScopeDefault   = "default"
	ScopeDomain    = "domain"
	ScopeRecipient = "recipient"
)

// Policy is the settings of one scope. A nil field is not set here and
// inherits from the scope below it (recipient → domain → default → the
// built-in defaults). Thresholds are in the filter's points.
type Policy struct {
	Kind string // ScopeDefault, ScopeDomain or ScopeRecipient.
	Key  string // "" for the default, the domain, or the address.

	Enabled        *bool    `json:"enabled,omitempty"`         // Filtering on or off.
	Unsure         *float64 `json:"unsure,omitempty"`          // At or above: tagged "unsure", delivered.
	Spam           *float64 `json:"spam,omitempty"`            // At or above: spam, and Action applies.
	Action         *string  `json:"action,omitempty"`          // What happens to spam: tag, quarantine, reject.
	Quarantine     *float64 `json:"quarantine,omitempty"`      // With action tag: at or above, held anyway; 0 never.
	TrustMarketing *bool    `json:"trust_marketing,omitempty"` // Lower the score of authenticated mail with a working one-click opt-out.
	Allow          []string `json:"allow,omitempty"`           // Senders never treated as spam (addresses or domains), when authenticated.
	Block          []string `json:"block,omitempty"`           // Senders always treated as spam.

	UpdatedAt time.Time `json:"updated_at"`
	UpdatedBy string    `json:"updated_by"`
}

// Scope is "default", "domain:example.org" or "recipient:a@example.org".
func (p Policy) Scope() string {
	if p.Kind == ScopeDefault || p.Kind == "" {
		return ScopeDefault
	}
	return p.Kind + ":" + p.Key
}

// Builtin are the settings no policy overrides: the thresholds chosen by
// measurement (docs/filter.md, "Operating point"): at them, on the public
// corpus online after the first 500 messages, no more than 0.1% of ham is
// quarantined, and the unsure band is only tagged.
func Builtin() Effective {
	return Effective{Enabled: true, Unsure: DefaultUnsure, Spam: DefaultSpam, Action: ActionTag,
		Quarantine: DefaultQuarantine, TrustMarketing: false, From: map[string]string{}}
}

// The built-in thresholds, in points (the classifier's log-odds plus the
// other symbols' weights).
const (
	DefaultUnsure     = 0.0
	DefaultSpam       = 2.0
	DefaultQuarantine = 12.5
)

// Effective is the policy that applies to one recipient, every field set,
// with the scope each came from.
type Effective struct {
	Enabled        bool
	Unsure         float64
	Spam           float64
	Action         string
	Quarantine     float64
	TrustMarketing bool
	// Lists from the most specific scope first. The service's entries
	// are in the compared form (ListKey); Resolve's are as the policies
	// hold them.
	Lists []ScopedList
	// Delimiter is the sub-address delimiter (Config.RecipientDelimiter)
	// senders are compared without: "" for "+".
	Delimiter string
	// From names the scope of each setting ("enabled" → "domain:example.org").
	From map[string]string
}

// ScopedList is one scope's allow and block lists.
type ScopedList struct {
	Scope string
	Allow []string
	Block []string
}

// ErrPolicy is wrapped by every policy validation error.
var ErrPolicy = errors.New("invalid policy")

// Validate checks a policy's values and normalises its lists.
func (p *Policy) Validate() error {
	switch p.Kind {
	case ScopeDefault:
		p.Key = ""
	case ScopeDomain:
		p.Key = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(p.Key), "."))
		if p.Key == "" || strings.ContainsAny(p.Key, "@ /") {
			return fmt.Errorf("%w: domain %q", ErrPolicy, p.Key)
		}
	case ScopeRecipient:
		a, err := NormAddress(p.Key)
		if err != nil {
			return fmt.Errorf("%w: recipient %q: %v", ErrPolicy, p.Key, err)
		}
		p.Key = a
	default:
		return fmt.Errorf("%w: scope %q (default, domain or recipient)", ErrPolicy, p.Kind)
	}
	for name, v := range map[string]*float64{"unsure": p.Unsure, "spam": p.Spam, "quarantine": p.Quarantine} {
		if v != nil && (math.IsNaN(*v) || math.IsInf(*v, 0) || *v < -100 || *v > 1000) {
			return fmt.Errorf("%w: %s threshold %v (between -100 and 1000)", ErrPolicy, name, *v)
		}
	}
	if p.Action != nil {
		switch *p.Action {
		case ActionTag, ActionQuarantine, ActionReject:
		default:
			return fmt.Errorf("%w: action %q (tag, quarantine or reject)", ErrPolicy, *p.Action)
		}
	}
	var err error
	if p.Allow, err = normList(p.Allow); err != nil {
		return err
	}
	if p.Block, err = normList(p.Block); err != nil {
		return err
	}
	if len(p.Allow)+len(p.Block) > 10000 {
		return fmt.Errorf("%w: more than 10,000 list entries", ErrPolicy)
	}
	return nil
}

// normList lower-cases entries, checks each is an address or a domain, and
// removes duplicates.
func normList(in []string) ([]string, error) {
	var out []string
	for _, e := range in {
		e = strings.ToLower(strings.TrimSpace(e))
		if e == "" {
			continue
		}
		if strings.Contains(e, "@") {
			a, err := NormAddress(e)
			if err != nil {
				return nil, fmt.Errorf("%w: list entry %q: %v", ErrPolicy, e, err)
			}
			e = a
		} else if strings.ContainsAny(e, " /:<>,;") || !strings.Contains(e, ".") {
			return nil, fmt.Errorf("%w: list entry %q is neither an address nor a domain", ErrPolicy, e)
		}
		if !slices.Contains(out, e) {
			out = append(out, e)
		}
	}
	return out, nil
}

// NormAddress lower-cases an address and checks its form.
func NormAddress(s string) (string, error) {
	s = strings.TrimSpace(strings.Trim(strings.TrimSpace(s), "<>"))
	a, err := mail.ParseAddress(s)
	if err != nil {
		return "", err
	}
	local, domain, ok := strings.Cut(a.Address, "@")
	if !ok || local == "" || domain == "" {
		return "", errors.New("not an address")
	}
	return strings.ToLower(a.Address), nil
}

// Mailbox is the mailbox a recipient address reaches, as the MTA resolves
// it, for the policy lookup and the quarantine: angle brackets and a
// quoted local part unwrapped, the address lower-cased (domains are
// case-insensitive, and the local part is compared so too, as Postfix's
// lookups do), a trailing dot of the domain dropped, and a sub-address
// removed: from the first of the delimiters ("+" by default, like
// Postfix's recipient_delimiter; "none" for none) to the "@", so
// "Ana+news@Example.ORG" is ana@example.org's. What is not an address
// gives "" (the default policy).
func Mailbox(addr, delimiters string) string {
	addr = strings.TrimSuffix(strings.Trim(strings.TrimSpace(addr), "<>"), ".")
	a, err := NormAddress(addr)
	if err != nil {
		return ""
	}
	local, domain, _ := strings.Cut(a, "@")
	domain = strings.TrimSuffix(domain, ".")
	if delimiters == "" {
		delimiters = "+"
	}
	if delimiters != "none" {
		if i := strings.IndexAny(local, delimiters); i > 0 {
			local = local[:i]
		}
	}
	if local == "" || domain == "" {
		return ""
	}
	return local + "@" + domain
}

// DomainOf is the domain part of an address.
func DomainOf(addr string) string {
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		return strings.ToLower(addr[i+1:])
	}
	return ""
}

// Resolve merges the scopes that apply to a recipient, each field from
// the most specific scope that sets it: recipient, then domain, then the
// node's default, then the built-in settings. Lists do not override: each
// scope's lists are kept, most specific first, and Match reads them in
// that order.
func Resolve(builtin Effective, def, domain, rcpt *Policy) Effective {
	e := builtin
	e.From = map[string]string{}
	for _, k := range []string{"enabled", "unsure", "spam", "action", "quarantine", "trust_marketing"} {
		e.From[k] = "built-in"
	}
	for _, p := range []*Policy{def, domain, rcpt} { // least specific first
		if p == nil {
			continue
		}
		sc := p.Scope()
		if p.Enabled != nil {
			e.Enabled, e.From["enabled"] = *p.Enabled, sc
		}
		if p.Unsure != nil {
			e.Unsure, e.From["unsure"] = *p.Unsure, sc
		}
		if p.Spam != nil {
			e.Spam, e.From["spam"] = *p.Spam, sc
		}
		if p.Action != nil {
			e.Action, e.From["action"] = *p.Action, sc
		}
		if p.Quarantine != nil {
			e.Quarantine, e.From["quarantine"] = *p.Quarantine, sc
		}
		if p.TrustMarketing != nil {
			e.TrustMarketing, e.From["trust_marketing"] = *p.TrustMarketing, sc
		}
		if len(p.Allow)+len(p.Block) > 0 {
			e.Lists = append([]ScopedList{{Scope: sc, Allow: p.Allow, Block: p.Block}}, e.Lists...)
		}
	}
	return e
}

// ListMatch is what the allow and block lists say about a sender.
type ListMatch struct {
	Allowed, Blocked bool
	Scope, Entry     string
	// Unverified: an allow entry matched a sender that is not
	// authenticated, and did not count (with Blocked, a less specific
	// scope's block entry then decided).
	Unverified bool
}

// Match is MatchSenders for one sender, an author known to be the only
// one.
func (e Effective) Match(sender string, auth bool) ListMatch {
	return e.MatchSenders([]string{sender}, "", auth)
}

// MatchSenders reads the lists, most specific scope first: the first
// scope with an entry that counts decides; within one scope a block
// entry wins over an allow entry.
//
// A block entry counts for any of the message's identities — every
// author (each mailbox of each From field) and the envelope sender —
// whatever the authentication: a second From mailbox, a second From
// field or a blocked envelope sender under an innocent From escaped the
// list when only the first author was matched, while mail clients show
// every author. An allow entry counts only for a single author (with no
// From, the envelope sender) that the node authenticated (auth), since
// a From address is trivial to forge: more identities never widen an
// allow list.
//
// Identities and entries are compared in one form (ListKey): lower case,
// domains as A-labels, an address without its sub-address — so
// "spam+x@" is "spam@", and "bücher.test" is "xn--bcher-kva.test".
func (e Effective) MatchSenders(authors []string, envelope string, auth bool) ListMatch {
	return e.match(SenderKeys(authors, envelope, e.Delimiter), auth)
}

// Senders are a message's identities in the compared form (ListKey), as
// MatchSenders reads them: made once per message, matched per recipient.
type Senders struct {
	IDs    []string // every author and the envelope sender, each once
	Author string   // the single author (with no From, the envelope sender); "" when several
}

// SenderKeys makes a message's Senders.
func SenderKeys(authors []string, envelope, delimiters string) Senders {
	var ids []string
	add := func(a string) {
		if k := ListKey(a, delimiters); k != "" && !slices.Contains(ids, k) {
			ids = append(ids, k)
		}
	}
	for _, a := range authors {
		add(a)
	}
	author := ""
	switch len(ids) {
	case 1:
		author = ids[0]
	case 0:
		author = ListKey(envelope, delimiters)
	}
	add(envelope)
	return Senders{IDs: ids, Author: author}
}

func (e Effective) match(ss Senders, auth bool) ListMatch {
	ids, author := ss.IDs, ss.Author
	hits := func(list []string, id string) string {
		dom := DomainOf(id)
		for _, x := range list {
			if x == id || (!strings.Contains(x, "@") && (dom == x || strings.HasSuffix(dom, "."+x))) {
				return x
			}
		}
		return ""
	}
	var unverified bool
	for _, l := range e.Lists {
		for _, id := range ids {
			if x := hits(l.Block, id); x != "" {
				return ListMatch{Blocked: true, Scope: l.Scope, Entry: x, Unverified: unverified}
			}
		}
		if author == "" {
			continue
		}
		if x := hits(l.Allow, author); x != "" {
			if auth {
				return ListMatch{Allowed: true, Scope: l.Scope, Entry: x}
			}
			unverified = true
		}
	}
	return ListMatch{Unverified: unverified}
}

// ListKey is the form in which list entries and senders are compared:
// an address as its mailbox (Mailbox: lower case, a sub-address from the
// first of delimiters removed) with its domain as A-labels; a domain as
// A-labels in lower case without a trailing dot. "" for what is neither.
// Stored entries keep the spelling they were given; the service compares
// them in this form (ReloadPolicies), so entries stored before keep
// working.
func ListKey(s, delimiters string) string {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "@") {
		mb := Mailbox(s, delimiters)
		if mb == "" {
			return ""
		}
		at := strings.LastIndexByte(mb, '@')
		if d, ok := dnsname.Normalize(mb[at+1:]); ok {
			return mb[:at+1] + d
		}
		return mb
	}
	if d, ok := dnsname.Normalize(s); ok {
		return d
	}
	return strings.ToLower(strings.TrimSuffix(s, "."))
}
