// Package trace rebuilds the path of a message from its Received header
// fields (RFC 5321 section 4.4) and finds the first hop outside the
// receiver's trust boundary: the origin. Hops before that point were written
// by hosts we trust; the origin hop's client address is the last fact we can
// rely on, and every hop below it is the sender's claim — reported, checked
// for consistency, never trusted.
//
// The trust boundary is given (networks and host names) or inferred:
// loopback and private ranges, authenticated submission, and hops a host
// added about itself. Mail fetchers (fetchmail, getmail) and local handovers
// are skipped, as SpamAssassin does, so the boundary lands on the relay that
// handed the message to the mailbox provider.
package trace

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/accord-antispam/accord/internal/dnsname"
	"github.com/accord-antispam/accord/internal/mail"
)

// Trust is the receiver's trust boundary.
type Trust struct {
	Networks []netip.Prefix // Relays from these addresses are ours.
	Hosts    []string       // Relays whose recorded reverse name is one of these (".example.org" matches subdomains).
	Given    bool           // Set by the operator (--trusted), not inferred.
}

// DefaultNetworks are always trusted: loopback, private, shared (CGN) and
// link-local ranges. They are not on the public Internet, so a message
// cannot arrive from them across it.
func DefaultNetworks() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range []string{"127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",
		"100.64.0.0/10", "169.254.0.0/16", "::1/128", "fc00::/7", "fe80::/10"} {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}

// ParseTrust reads a comma-separated list of CIDRs, addresses and host
// names, as given to `accord check --trusted`. Loopback stays trusted.
func ParseTrust(s string) (Trust, error) {
	t := Trust{Given: true, Networks: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}}
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		if p, err := netip.ParsePrefix(item); err == nil {
			t.Networks = append(t.Networks, p.Masked())
			continue
		}
		if a, err := netip.ParseAddr(item); err == nil {
			t.Networks = append(t.Networks, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		if strings.ContainsAny(item, "/ :@") || !strings.Contains(strings.Trim(item, "."), ".") && !strings.EqualFold(item, "localhost") {
			return Trust{}, fmt.Errorf("trusted: %q is neither a network, an address nor a host name", item)
		}
		t.Hosts = append(t.Hosts, strings.ToLower(strings.TrimSuffix(item, ".")))
	}
	return t, nil
}

// Inferred is the trust used when none is given.
func Inferred() Trust { return Trust{Networks: DefaultNetworks()} }

func (t Trust) trustsIP(a netip.Addr) bool {
	for _, p := range t.Networks {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func (t Trust) trustsHost(name string) bool {
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	if name == "" {
		return false
	}
	for _, h := range t.Hosts {
		if h == name || strings.HasPrefix(h, ".") && strings.HasSuffix(name, h) {
			return true
		}
	}
	return false
}

// Trace is the reconstructed path.
type Trace struct {
	Hops   []Hop `json:"hops"`
	Origin int   `json:"-"` // Index into Hops of the first untrusted relay, or -1.
	Given  bool  `json:"-"`
}

// OriginHop returns the first untrusted relay, if any.
func (t *Trace) OriginHop() *Hop {
	if t.Origin < 0 {
		return nil
	}
	return &t.Hops[t.Origin]
}

// originatingHeaders are set by webmail services to the client's address.
// Like SpamAssassin, they count as the oldest hop, so that mail written in
// a webmail page traces back to the writer's address.
var originatingHeaders = []string{"X-Yahoo-Post-IP", "X-Originating-IP", "X-Apparently-From", "X-SenderIP"}

// maxHops bounds the work on messages with thousands of Received fields.
const maxHops = 100

// Build parses the Received fields of h and applies the trust boundary.
func Build(h mail.Header, trust Trust) *Trace {
	t := &Trace{Origin: -1, Given: trust.Given}
	for _, v := range h.Values("Received") {
		if len(t.Hops) >= maxHops {
			break
		}
		hop := ParseReceived(v)
		hop.Index = len(t.Hops)
		t.Hops = append(t.Hops, hop)
	}
	for _, name := range originatingHeaders {
		v := h.Get(name)
		if v == "" {
			continue
		}
		hop := Hop{Index: len(t.Hops), Kind: KindHeaderTag, Raw: name + ": " + strings.Join(strings.Fields(v), " ")}
		for _, f := range strings.FieldsFunc(v, func(r rune) bool { return r == ' ' || r == '[' || r == ']' || r == ',' || r == '(' || r == ')' }) {
			if hop.setIP(f) {
				break
			}
		}
		if hop.addr.IsValid() {
			hop.By = name
			t.Hops = append(t.Hops, hop)
		}
	}
	t.applyTrust(trust)
	t.checkConsistency()
	return t
}

func (t *Trace) applyTrust(trust Trust) {
	inTrusted := true
	for i := range t.Hops {
		hop := &t.Hops[i]
		if hop.Kind != KindRelay && hop.Kind != KindHeaderTag {
			hop.Trusted = inTrusted
			continue
		}
		if inTrusted && hop.trusted(trust) {
			hop.Trusted = true
			continue
		}
		if inTrusted {
			t.Origin = i
		}
		inTrusted = false
	}
}

func (h *Hop) trusted(trust Trust) bool {
	if trust.trustsIP(h.addr) || h.Auth != "" {
		return true
	}
	if trust.trustsHost(h.RDNS) && !h.forged {
		return true
	}
	if !trust.Given {
		// A host handing mail to itself (content filters re-injecting).
		if h.From != "" && strings.EqualFold(h.From, h.By) && h.RDNS != "" && strings.EqualFold(h.RDNS, h.By) {
			return true
		}
	}
	return false
}

// checkConsistency flags hops, from the origin down, whose claims cannot
// all be true.
func (t *Trace) checkConsistency() {
	var top *time.Time
	for i := range t.Hops {
		if t.Hops[i].Trusted && t.Hops[i].Time != nil {
			top = t.Hops[i].Time
			break
		}
	}
	prevClient := -1 // the newer relay whose client should be this hop's receiver
	if t.Origin >= 0 {
		prevClient = t.Origin
	}
	for i := range t.Hops {
		hop := &t.Hops[i]
		if hop.Trusted || hop.Kind == KindHeaderTag {
			continue
		}
		if hop.Kind == KindUnparsed {
			hop.flag(FlagUnparseable, Inconsistent, "no client address could be read from this Received field")
		}
		if hop.Kind != KindRelay {
			continue
		}
		public := hop.addr.IsValid() && !hop.addr.IsPrivate() && !hop.addr.IsLoopback() && !hop.addr.IsLinkLocalUnicast()
		if hop.forged {
			hop.flag(FlagRDNSUnconfirmed, Inconsistent, "the receiving host reported that the client's reverse DNS may be forged (no forward match)")
		}
		if a, err := netip.ParseAddr(strings.Trim(hop.HELO, "[]")); err == nil && hop.addr.IsValid() && a.Unmap() != hop.addr && !a.IsPrivate() && !a.IsLoopback() {
			hop.flag(FlagHELOIPMismatch, Inconsistent, fmt.Sprintf("client greeted as [%s] but connected from %s (a proxy or NAT, or a false greeting)", a, hop.addr))
		}
		if public && hop.HELO != "" && hop.By != "" && strings.Contains(hop.By, ".") && strings.EqualFold(hop.HELO, hop.By) && !strings.EqualFold(hop.RDNS, hop.By) {
			hop.flag(FlagHELOIsReceiver, Forged, fmt.Sprintf("client greeted with the receiving host's own name %s", hop.By))
		}
		if bogon(hop.addr) {
			hop.flag(FlagBogonIP, Forged, fmt.Sprintf("%s is not a routable Internet address", hop.addr))
		}
		if i > t.Origin && prevClient >= 0 && prevClient != i {
			if reason, bad := chainBreak(&t.Hops[prevClient], hop); bad {
				hop.flag(FlagChainMismatch, Inconsistent, reason)
			}
		}
		if hop.Time != nil {
			if top != nil && hop.Time.After(top.Add(24*time.Hour)) {
				hop.flag(FlagTimeFuture, Inconsistent, fmt.Sprintf("dated %s, after the trusted receipt at %s", hop.Time.UTC().Format(time.RFC3339), top.UTC().Format(time.RFC3339)))
			}
			if top != nil && hop.Time.Before(top.Add(-7*24*time.Hour)) {
				hop.flag(FlagTimePast, Inconsistent, fmt.Sprintf("dated %s, over a week before the trusted receipt", hop.Time.UTC().Format(time.RFC3339)))
			}
			if n := t.Hops[prevOf(t.Hops, i)].Time; prevOf(t.Hops, i) != i && n != nil && hop.Time.After(n.Add(24*time.Hour)) {
				hop.flag(FlagTimeReversed, Inconsistent, "this older hop is dated more than a day after the hop that followed it")
			}
		}
		prevClient = i
	}
}

// prevOf returns the index of the nearest newer relay hop, or i.
func prevOf(hops []Hop, i int) int {
	for j := i - 1; j >= 0; j-- {
		if hops[j].Kind == KindRelay {
			return j
		}
	}
	return i
}

func (h *Hop) flag(code FlagCode, severity Severity, reason string) {
	h.Flags = append(h.Flags, Flag{Code: code, Severity: severity, Reason: reason})
}

// chainBreak compares the host that, per the newer hop, sent the message
// with the host that, per this hop, received it. Names that cannot be
// compared (unqualified, absent) are not a break.
func chainBreak(newer, older *Hop) (string, bool) {
	by := strings.ToLower(older.By)
	if by == "" || !strings.Contains(by, ".") || strings.HasPrefix(by, "localhost") {
		return "", false
	}
	// Inside the sender's network names are private; nothing to compare.
	if !newer.addr.IsValid() || newer.addr.IsPrivate() || newer.addr.IsLoopback() {
		return "", false
	}
	if a, err := netip.ParseAddr(strings.Trim(by, "[]")); err == nil {
		if newer.addr.IsValid() && a.Unmap() != newer.addr && !a.IsPrivate() {
			return fmt.Sprintf("received by %s, but the next relay connected from %s", a, newer.addr), true
		}
		return "", false
	}
	names := []string{newer.RDNS, newer.HELO, newer.From}
	qualified := false
	for _, n := range names {
		if n == "" || isUnknown(n) || strings.HasPrefix(strings.ToLower(n), "localhost") || !strings.Contains(n, ".") || isIPLiteral(n) {
			continue
		}
		qualified = true
		if strings.EqualFold(n, by) || dnsname.SameOrg(n, by) {
			return "", false
		}
	}
	if !qualified {
		return "", false
	}
	return fmt.Sprintf("claims to be received by %s, but the next relay was %s", by, firstNonEmpty(newer.RDNS, newer.HELO)), true
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

var bogons = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("224.0.0.0/4"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("::/128"),
	netip.MustParsePrefix("ff00::/8"),
}

func bogon(a netip.Addr) bool {
	if !a.IsValid() {
		return false
	}
	for _, p := range bogons {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
