package federation

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/accord-antispam/accord/internal/dnsname"
)

// A Withheld domain is one the node's analyst marked as not the spammer's
// — a firm a phish or a BEC wears (its site in a copied signature, its
// real links around a typosquat), a bystander a spam names — so that
// nothing the node shares accuses it. No rule over a message's content
// tells a firm worn from another From from the spammer's own domain:
// both are "a domain the message links to". The analyst who reads the
// campaign can, and the marking reaches partners as a withdrawal of what
// was already sent (the next round finds the items no longer allowed).
//
// The marking covers the domain and every name under it
// ("acme.example" covers "www.acme.example"), wherever it stands: a
// domain-name indicator, a link's host (the link indicator goes with it),
// the sender domain of a report and of its campaign's lists. It does not
// touch the evidence (the redacted message, which shows what the spam
// wore, under an agreement that allows evidence) nor the subject.
type Withheld struct {
	Domain string    // A-label, lower case.
	Reason string    // The analyst's words, kept at this node: never sent.
	By     string    // Who marked it (the operator's name or account).
	At     time.Time // When.
}

// ErrBadDomain is returned for a marking that names no domain a spam run
// could be told apart by: not a host name, an address literal, or a
// public suffix (marking "com" would withhold every domain under it).
var ErrBadDomain = errors.New("not a domain that can be withheld")

// ErrExists is returned when what is added is already there.
var ErrExists = errors.New("federation: already exists")

// WithheldDomain checks and normalises a domain to mark: its A-label in
// lower case, without a trailing dot.
func WithheldDomain(s string) (string, error) {
	s = strings.TrimSuffix(strings.TrimSpace(s), ".")
	if s == "" {
		return "", fmt.Errorf("%w: empty", ErrBadDomain)
	}
	if _, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
		return "", fmt.Errorf("%w: %q is an address; its indicator is not a domain's", ErrBadDomain, s)
	}
	if strings.ContainsAny(s, "@/:? ") {
		return "", fmt.Errorf("%w: %q is not a host name (an address, a link?)", ErrBadDomain, s)
	}
	a, ok := dnsname.Normalize(s)
	if !ok {
		return "", fmt.Errorf("%w: %q is not a host name", ErrBadDomain, s)
	}
	if !strings.Contains(a, ".") {
		return "", fmt.Errorf("%w: %q is a top-level domain", ErrBadDomain, s)
	}
	if org := dnsname.OrgDomain(a); org == "" {
		return "", fmt.Errorf("%w: %q is a public suffix, nobody's domain: mark the firm's own domain under it", ErrBadDomain, s)
	}
	return a, nil
}

// withheldSet answers whether a host is at a withheld domain.
type withheldSet map[string]bool

func newWithheldSet(ws []Withheld) withheldSet {
	if len(ws) == 0 {
		return nil
	}
	s := make(withheldSet, len(ws))
	for _, w := range ws {
		s[w.Domain] = true
	}
	return s
}

// at returns the marked domain host is at (itself or a parent), "" when
// none. host may be a U-label or carry a trailing dot.
func (s withheldSet) at(host string) string {
	if len(s) == 0 || host == "" {
		return ""
	}
	h, ok := dnsname.Normalize(host)
	if !ok {
		return ""
	}
	for {
		if s[h] {
			return h
		}
		i := strings.IndexByte(h, '.')
		if i < 0 {
			return ""
		}
		h = h[i+1:]
	}
}

// withheldVersion is what the shared set depends on of the markings: it
// changes with any marking added or removed.
func withheldVersion(ws []Withheld) string {
	if len(ws) == 0 {
		return ""
	}
	ds := make([]string, len(ws))
	for i, w := range ws {
		ds[i] = w.Domain
	}
	slices.Sort(ds)
	h := sha256.Sum256([]byte(strings.Join(ds, "\n")))
	return hex.EncodeToString(h[:8])
}

// withheldReason is what a partner and the preview read: the analyst's
// own words stay at the node.
func withheldReason(dom string) string {
	return fmt.Sprintf("%s was marked at this node as not the spammer's (a firm or person the spam wears or names)", dom)
}

// Withhold marks a domain as not the spammer's. Marking one already
// marked is an error (ErrExists) so that its first reason is not lost.
func (s *Service) Withhold(ctx context.Context, domain, reason, by string) (*Withheld, error) {
	d, err := WithheldDomain(domain)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(reason) == "" {
		return nil, fmt.Errorf("withhold %s: a reason is required (why the domain is not the spammer's)", d)
	}
	w := Withheld{Domain: d, Reason: strings.TrimSpace(reason), By: by, At: s.now()}
	if err := s.Store.AddWithheld(ctx, w); err != nil {
		return nil, fmt.Errorf("withhold %s: %w", d, err)
	}
	s.log().Info("federation: domain withheld", "domain", d, "by", by)
	return &w, nil
}

// Unwithhold removes a marking: what it held back is decided again, and
// shared at the next round if the agreements allow it.
func (s *Service) Unwithhold(ctx context.Context, domain, by string) error {
	d, err := WithheldDomain(domain)
	if err != nil {
		return err
	}
	if err := s.Store.RemoveWithheld(ctx, d); err != nil {
		return fmt.Errorf("unwithhold %s: %w", d, err)
	}
	s.log().Info("federation: domain no longer withheld", "domain", d, "by", by)
	return nil
}

// withheldReport is a report item without its sender domain, which the
// analyst marked as not the spammer's (dom).
func withheldReport(rep Item, dom string) Item {
	var b reportBody
	if json.Unmarshal(rep.Body, &b) != nil {
		return rep // Made by mkItem from a reportBody: never so.
	}
	b.FromDomain = ""
	b.Unverifiable = append(slices.Clip(b.Unverifiable), senderWithheld)
	return mkItem(rep.Key, rep.Kind, rep.TLP, rep.Origins, rep.PersonalData, rep.Campaign, rep.Updated, b)
}

// senderWithheld is the report item's unverifiable when its sender domain
// is withheld.
const senderWithheld = "sender domain: not shared, since this node marked it as not the spammer's (a firm or person the spam wears)"

// WithheldCounts is, per withheld domain, how many indicators of the set
// it holds back.
func (s *Shared) WithheldCounts() map[string]int {
	n := map[string]int{}
	for _, g := range s.Groups {
		for _, it := range g.Items {
			if it.Withheld != "" {
				n[it.withheldBy]++
			}
		}
	}
	return n
}
