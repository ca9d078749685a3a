package consent

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net"
	"net/mail"
	"slices"
	"strings"

	"golang.org/x/net/idna"

	"github.com/accord-antispam/accord/internal/dnsname"
)

// NormalizeAddress returns the address as records key it: the addr-spec
// alone, trimmed, in lower case, its domain as A-labels (UTS #46:
// "mälbox.org" and "xn--mlbox-gra.org" are one domain, so one key). Local
// parts are case-sensitive in theory (RFC 5321 2.4) and case-insensitive
// in practice; tags ("+news") and dots are kept, since they make distinct
// mailboxes at most providers — the node checks opt-outs under the folded
// mailbox too (Service.Suppressions, Options.Fold).
func NormalizeAddress(s string) (string, error) {
	a, err := legacyNormalize(s)
	if err != nil {
		return "", err
	}
	at := strings.LastIndexByte(a, '@')
	dom, ok := dnsname.Normalize(a[at+1:])
	if !ok {
		return "", invalid("recipient", "%q has no valid domain", s)
	}
	return a[:at+1] + dom, nil
}

// legacyNormalize is how addresses were keyed before domains were taken
// to A-labels: lower case only. Opt-outs stored under that key are still
// honoured (Service.Suppressions).
func legacyNormalize(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", invalid("recipient", "an e-mail address is required")
	}
	if len(s) > 320 {
		return "", invalid("recipient", "longer than an e-mail address can be")
	}
	a, err := mail.ParseAddress(s)
	if err != nil {
		return "", invalid("recipient", "%q is not an e-mail address", s)
	}
	at := strings.LastIndexByte(a.Address, '@')
	if at <= 0 || at == len(a.Address)-1 || !strings.Contains(a.Address[at:], ".") {
		return "", invalid("recipient", "%q has no domain", s)
	}
	if dom := a.Address[at+1:]; strings.HasPrefix(dom, "[") || net.ParseIP(dom) != nil {
		// An address literal names a host, not a mailbox at a domain:
		// the node would mail whatever host it names.
		return "", invalid("recipient", "%q is at an address literal: a recipient is a mailbox at a domain", s)
	}
	return strings.ToLower(a.Address), nil
}

// RecipientHash is how a sender's records name a recipient: the first 16
// bytes of HMAC-SHA256 under the sender's recipient key, in hex. The key
// is the sender's (SenderKeys.Recipient), so the same address hashes
// differently for each sender and the node's tables alone reveal no
// address. A sender who holds its key can compute the hashes of its own
// list to match a suppression list.
func RecipientHash(key []byte, normalized string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(normalized))
	return hex.EncodeToString(m.Sum(nil)[:16])
}

// legacyForms are the keys an address normalized to n may have had before
// domains were A-labels: the spelling given, in lower case, and the
// domain's U-labels — each when it differs from n.
func legacyForms(given, n string) []string {
	var out []string
	if l, err := legacyNormalize(given); err == nil && l != n {
		out = append(out, l)
	}
	at := strings.LastIndexByte(n, '@')
	if u, err := idna.ToUnicode(n[at+1:]); err == nil {
		if u = n[:at+1] + strings.ToLower(u); u != n && !slices.Contains(out, u) {
			out = append(out, u)
		}
	}
	return out
}
