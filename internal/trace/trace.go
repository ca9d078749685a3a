// Package trace rebuilds the path of a message from its Received header
// fields (RFC 5321 section 4.4) and finds the first hop outside the
// receiver's trust boundary: the origin. Hops before that point were written
// by hosts we trust; the origin hop's client address is the last fact we can
// rely on, and every hop below it is the sender's claim — reported, checked
// for consistency, never trusted.
//
// The boundary is inferred hop by hop from the newest field, and every step
// rests on an address, never on a name alone: private and loopback clients,
// LMTP delivery, mailbox retrieval (the provider fetched from is trusted),
// the known providers' networks and inbound servers (providers.json), a
// provider's own relays in its network or under its forward-confirmed
// domain; an authenticated submission is the origin and the fields below it
// are the client's own. The operator can add to it (--trusted) or replace it
// (--trusted-only). Each hop says why it is placed where it is.
package trace

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/accord-antispam/accord/internal/dnsname"
	"github.com/accord-antispam/accord/internal/mail"
)

// Trust is what the trust boundary starts from.
type Trust struct {
	Networks []netip.Prefix // Relays from these addresses are ours (--trusted).
	Hosts    []string       // Relays whose recorded reverse name is one of these (".example.org" matches subdomains).
	// Only makes Networks and Hosts the whole boundary (--trusted-only):
	// nothing is inferred. Otherwise they add to the inference.
	Only bool
	// Providers is the provider knowledge; nil means none (generic rules only).
	Providers *Providers
	// ASN tells the autonomous system announcing an address (0 when
	// unknown), for the same-network rule; nil disables that rule.
	ASN func(netip.Addr) uint32
	// Fetched are the servers a mailbox is fetched from, learned from
	// the trusted mailbox-retrieval fields of its messages (FetchSources),
	// each with the sentence that says so. They are inside the boundary in
	// every message of that mailbox.
	Fetched map[netip.Addr]string
}

// Given reports whether the operator named relays to trust.
func (t Trust) Given() bool { return len(t.Networks) > 0 || len(t.Hosts) > 0 }

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

var defaultNetworks = DefaultNetworks()

// Internal reports whether a is in DefaultNetworks: an address no message
// can come from across the Internet.
func Internal(a netip.Addr) bool { return a.IsValid() && internalAddr(a) }

func internalAddr(a netip.Addr) bool {
	for _, p := range defaultNetworks {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// ParseTrust reads a comma-separated list of CIDRs, addresses and host
// names, as given to `accord check --trusted`.
func ParseTrust(s string) (Trust, error) {
	var t Trust
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

func (t Trust) trustsIP(a netip.Addr) (netip.Prefix, bool) {
	for _, p := range t.Networks {
		if p.Contains(a) {
			return p, true
		}
	}
	return netip.Prefix{}, false
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

func (t Trust) asn(a netip.Addr) uint32 {
	if t.ASN == nil || !a.IsValid() {
		return 0
	}
	return t.ASN(a)
}

// Place is where a hop lies against the trust boundary (Hop.Boundary).
type Place string

// Places of a hop.
const (
	Inside        Place = "inside"
	AtOrigin      Place = "origin"
	Beyond        Place = "beyond"
	ClientWritten Place = "client-written"
)

// Trace is the reconstructed path.
type Trace struct {
	Hops   []Hop `json:"hops"`
	Origin int   `json:"-"` // Index into Hops of the first untrusted relay, or -1.
	// Why says, in a sentence, why the boundary lies where it does.
	Why string `json:"-"`
	// Authenticated is set when the origin is an authenticated submission.
	Authenticated bool `json:"-"`
	// Receivers are the trusted receivers' own names ("by" of the hops
	// inside the boundary, and the providers fetched from): the hosts whose
	// Authentication-Results may be believed.
	Receivers []string `json:"-"`
	// Providers are the known providers among the trusted receivers.
	Providers []*Provider `json:"-"`
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
	t := &Trace{Origin: -1}
	received := h.Values("Received")
	if len(received) > 0 {
		// Sized once (a hop is large, and grew by copies).
		t.Hops = make([]Hop, 0, min(len(received), maxHops)+1)
	}
	for _, v := range received {
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
	t.checkConsistency(trust.Providers)
	return t
}

// applyTrust walks the hops from the newest. The newest field was written
// by the receiving system itself; each hop whose client is inside the
// receiving organisation hands the walk down to that client, whose own
// field is the next one. The first client that is not inside is the origin;
// a receiver that recorded no client address ends the walk there too: what
// lies below it is not known to be anyone's but the sender's.
func (t *Trace) applyTrust(trust Trust) {
	inside := true
	var recv netip.Addr // the current receiver's address, when known
	below := Beyond
	for i := range t.Hops {
		hop := &t.Hops[i]
		if !inside {
			hop.Boundary = below
			if below == ClientWritten {
				hop.Why = "written by the authenticated client itself, below its submission: a claim"
			} else {
				hop.Why = "below the origin: written by hosts outside the boundary, a claim"
			}
			continue
		}
		if hop.byAddr.IsValid() {
			recv = hop.byAddr
		}
		if p := trust.Providers.ByHost(hop.By); p != nil && hop.Kind != KindHeaderTag {
			hop.Provider = p.Name
		}
		var in bool
		var why string
		switch hop.Kind {
		case KindLocal:
			// No client: the host the walk already trusts handed the
			// message to itself (a pipe, a content filter, Gmail's
			// internal "by 2002:…" hand-over).
			in, why = true, "a local hand-over inside the receiving host: no client to place"
		case KindUnparsed:
			if hop.ambiguous {
				in, why = false, fmt.Sprintf("the from clause written by %s reads more than one way with the client's greeting taken as the receiver's words: no client address is believed, the origin is unknown, and the fields below are the sender's claims", firstNonEmpty(hop.By, "the receiver"))
				break
			}
			in, why = false, fmt.Sprintf("the receiver %s recorded no client address: the origin is unknown, and the fields below are the sender's claims", firstNonEmpty(hop.By, "of this field"))
		case KindFetch:
			in, why = t.placeFetch(i, trust)
		default:
			in, why = t.placeRelay(i, recv, trust)
		}
		hop.Why = why
		if in {
			hop.Trusted, hop.Boundary = true, Inside
			t.noteReceiver(hop, trust)
			switch hop.Kind {
			case KindFetch:
				t.Receivers = appendName(t.Receivers, hop.From)
				if hop.addr.IsValid() {
					recv = hop.addr
				}
			case KindRelay:
				recv = hop.addr
			}
			continue
		}
		hop.Boundary = AtOrigin
		t.noteReceiver(hop, trust)
		t.Origin = i
		t.Why = why
		inside = false
		if hop.Kind == KindRelay && hop.Auth != "" {
			t.Authenticated = true
			below = ClientWritten
		}
	}
}

// placeFetch places a mailbox-retrieval hop: the owner's fetcher recorded
// the server it fetched from, which is the owner's own provider.
func (t *Trace) placeFetch(i int, trust Trust) (bool, string) {
	hop := &t.Hops[i]
	how := firstNonEmpty(fetcher(hop), hop.Protocol)
	server := firstNonEmpty(hop.From, hop.IP)
	if trust.Only {
		if p, ok := trust.trustsIP(hop.addr); ok && hop.addr.IsValid() {
			return true, fmt.Sprintf("mailbox retrieval (%s) from %s, in the trusted network %s", how, server, p)
		}
		return false, fmt.Sprintf("mailbox retrieval (%s) from %s, which is not in the trusted networks: the origin", how, server)
	}
	return true, fmt.Sprintf("mailbox retrieval (%s) from %s: the provider fetched from is trusted", how, server)
}

func (t *Trace) noteReceiver(hop *Hop, trust Trust) {
	if hop.Kind == KindHeaderTag {
		return
	}
	t.Receivers = appendName(t.Receivers, hop.By)
	if p := trust.Providers.ByHost(hop.By); p != nil {
		for _, q := range t.Providers {
			if q == p {
				return
			}
		}
		t.Providers = append(t.Providers, p)
	}
}

func appendName(list []string, name string) []string {
	name = normName(name)
	if name == "" || isIPLiteral(name) || !strings.Contains(name, ".") {
		return list
	}
	for _, n := range list {
		if n == name {
			return list
		}
	}
	return append(list, name)
}

func fetcher(h *Hop) string {
	for _, f := range []string{"fetchmail", "getmail"} {
		if strings.Contains(strings.ToLower(h.softwareName), f) {
			return f + " over " + strings.ToUpper(h.Protocol)
		}
	}
	return ""
}

// authSubmission is an authenticated SMTP submission: the receiver says
// the client logged in ("with ESMTPSA", "(Authenticated sender: …)").
func authSubmission(hop *Hop) bool {
	return hop.Auth != "" && hop.Auth != "webmail" && hop.Kind == KindRelay
}

// placeRelay decides whether the client of relay hop i is inside the
// receiving organisation. Every rule rests on an address the receiver
// recorded, never on a name alone: the client chooses its greeting, and its
// reverse name too.
func (t *Trace) placeRelay(i int, recv netip.Addr, trust Trust) (bool, string) {
	hop := &t.Hops[i]
	a := hop.addr
	what := "client " + hop.IP
	if hop.Kind == KindHeaderTag {
		what = hop.By + " " + hop.IP
	}
	// An authenticated submission is the origin whatever address it came
	// from: a webmail or proxy on the receiver's own host or network
	// (127.0.0.1, 10.x) submits for a user who logged in.
	if authSubmission(hop) {
		where := hop.IP
		if internalAddr(a) {
			where = hop.IP + ", a proxy or webmail inside the receiving network"
		}
		return false, fmt.Sprintf("authenticated submission (%s) from %s: the origin; the fields below are the client's own", hop.Auth, where)
	}
	if hop.addrInGreeting {
		return false, fmt.Sprintf("the receiver %s wrote %s only where a client's greeting goes (\"from [address] by …\"): it may be the client's claim, so nothing below is trusted", firstNonEmpty(hop.By, "of this field"), hop.IP)
	}
	if p, ok := trust.trustsIP(a); ok {
		return true, fmt.Sprintf("%s is in the trusted network %s", what, p)
	}
	if hop.RDNS != "" && hop.rdnsVerified && trust.trustsHost(hop.RDNS) {
		return true, fmt.Sprintf("%s has the trusted reverse name %s, recorded by the receiver as forward-confirmed", what, hop.RDNS)
	}
	if why, ok := trust.Fetched[a]; ok && !trust.Only {
		return true, fmt.Sprintf("%s is %s", what, why)
	}
	if trust.Only {
		if a.IsLoopback() {
			return true, what + " is loopback: the receiving host itself"
		}
		return false, fmt.Sprintf("%s is not in the trusted networks or hosts: the origin", what)
	}
	if internalAddr(a) {
		return true, fmt.Sprintf("%s is a private, loopback or link-local address: inside the receiving network", what)
	}
	if hop.Kind == KindHeaderTag {
		return false, fmt.Sprintf("%s, left by the webmail service that received the message: its writer is the origin", what)
	}
	p := trust.Providers.ByHost(hop.By)
	if p.IsEdge(hop.By) {
		return false, fmt.Sprintf("received from outside by %s's inbound server %s: the origin", p.Name, hop.By)
	}
	asn := trust.asn(a)
	if p != nil {
		if n, ok := p.Holds(a, asn); ok {
			return true, fmt.Sprintf("%s is in %s's network %s and was received by its host %s", what, p.Name, n, hop.By)
		}
	}
	if hop.Auth != "" {
		return false, fmt.Sprintf("submitted through %s (%s) from %s: the origin; the fields below are the client's own", hop.Auth, hop.Protocol, hop.IP)
	}
	if lmtp(hop.Protocol) {
		return true, fmt.Sprintf("LMTP delivery: the mail store received it from the receiving system's own server %s", hop.IP)
	}
	if recv.IsValid() && a == recv {
		return true, fmt.Sprintf("%s is the receiving host itself handing the message to itself", what)
	}
	if why, ok := t.sameNetwork(i, recv, asn, trust); ok {
		return true, why
	}
	if why, ok := t.ownDomainRelay(i); ok {
		return true, why
	}
	if recv.IsValid() && asn != 0 && asn == trust.asn(recv) {
		return false, fmt.Sprintf("%s shares AS%d with the receiver %s, but its reverse name or the next field does not show it as one of the receiver's relays: the origin", what, asn, recv)
	}
	return false, fmt.Sprintf("%s is outside the receiving organisation: the origin", what)
}

// sameNetwork is the rule for a provider's own relays on public addresses:
// the client is in the same autonomous system as the receiver's address
// (recorded by the receiver, or as the client of the newer hop), its reverse
// name — found by the receiver and not flagged as forged — is in the
// receiver's domain, and the next older field was written by that client
// under the same name (it relayed the message, it did not start it).
func (t *Trace) sameNetwork(i int, recv netip.Addr, asn uint32, trust Trust) (string, bool) {
	hop := &t.Hops[i]
	if asn == 0 || !recv.IsValid() || trust.asn(recv) != asn {
		return "", false
	}
	if hop.RDNS == "" || !hop.rdnsVerified || !dnsname.SameOrg(hop.RDNS, hop.By) {
		return "", false
	}
	if i+1 >= len(t.Hops) {
		return "", false
	}
	next := &t.Hops[i+1]
	if next.Kind != KindRelay && next.Kind != KindLocal || !strings.EqualFold(normName(next.By), normName(hop.RDNS)) {
		return "", false
	}
	return fmt.Sprintf("client %s (%s) is in AS%d like the receiver %s, in the receiver's domain, and wrote the next field: one of its relays", hop.IP, hop.RDNS, asn, recv), true
}

// ownDomainRelay is the rule for a small provider's own relay on a public
// address when nothing tells its network: the receiver recorded the
// client's reverse name as one it verified forward (Postfix writes
// "unknown", Sendmail "may be forged" otherwise), so the domain's own DNS
// places that address in it; that domain is the receiver's own; the name is
// not an address pool's (no address spelt in it); and the next older field
// was written by a host of the same domain — the client relayed the
// message, it did not start it.
func (t *Trace) ownDomainRelay(i int) (string, bool) {
	hop := &t.Hops[i]
	if hop.RDNS == "" || !hop.rdnsVerified || hop.Kind != KindRelay {
		return "", false
	}
	org := dnsname.OrgDomain(hop.RDNS)
	if org == "" || !dnsname.SameOrg(hop.RDNS, hop.By) || poolName(hop.RDNS, hop.addr) {
		return "", false
	}
	if i+1 >= len(t.Hops) {
		return "", false
	}
	next := &t.Hops[i+1]
	if next.Kind == KindHeaderTag || !dnsname.SameOrg(next.By, hop.RDNS) {
		return "", false
	}
	return fmt.Sprintf("client %s has the forward-confirmed reverse name %s in the receiver's own domain %s, and the next field was written by %s: one of the receiver's relays", hop.IP, hop.RDNS, org, next.By), true
}

// poolName reports a reverse name that spells its address, as access
// providers name their customers' addresses ("198-51-100-7.dsl.example").
func poolName(name string, a netip.Addr) bool {
	if !a.Is4() {
		return false
	}
	b := a.As4()
	runs := strings.FieldsFunc(name, func(r rune) bool { return r < '0' || r > '9' })
	found := 0
	for _, octet := range b {
		o := fmt.Sprint(octet)
		for _, r := range runs {
			if r == o {
				found++
				break
			}
		}
	}
	return found >= 3
}

// FetchSource is a server a mailbox was fetched from, as the mailbox
// owner's own fetcher recorded it.
type FetchSource struct {
	Addr     netip.Addr
	Name     string
	Protocol string // "fetchmail over POP3", "IMAP"…
}

// FetchSources lists the mailbox-retrieval hops inside the boundary whose
// server has a public address: the servers this message's mailbox is
// fetched from. Across the messages of one mailbox they name its providers
// (Trust.Fetched), also in the messages that passed them by SMTP.
func (t *Trace) FetchSources() []FetchSource {
	var out []FetchSource
	for i := range t.Hops {
		h := &t.Hops[i]
		if h.Kind == KindFetch && h.Boundary == Inside && h.addr.IsValid() && !internalAddr(h.addr) {
			out = append(out, FetchSource{Addr: h.addr, Name: h.From, Protocol: firstNonEmpty(fetcher(h), h.Protocol)})
		}
	}
	return out
}

func lmtp(p string) bool {
	switch strings.ToUpper(p) {
	case "LMTP", "LMTPS":
		return true
	}
	return false
}

// checkConsistency flags hops, from the origin down, whose claims cannot
// all be true.
func (t *Trace) checkConsistency(ps *Providers) {
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
		if hop.Trusted || hop.Kind == KindHeaderTag || hop.Boundary == ClientWritten {
			continue
		}
		if hop.Kind == KindUnparsed {
			reason := "no client address could be read from this Received field"
			if hop.ambiguous {
				reason = "the from clause cannot be told apart from the client's greeting: left unread"
			}
			hop.flag(FlagUnparseable, Inconsistent, reason)
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
			if reason, bad := chainBreak(ps, &t.Hops[prevClient], hop); bad {
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
func chainBreak(ps *Providers, newer, older *Hop) (string, bool) {
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
		// One provider's servers go by several domains (outlook.com,
		// office365.com, exchangelabs.com).
		if p := ps.ByHost(by); p != nil && p == ps.ByHost(n) {
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
