// Package analysis turns one parsed message into a Verdict: it runs
// trace-back, authentication, sender identity, opt-out and commercial
// detection, extracts the content, judges the result against the configured
// jurisdictions' rulebooks, and asks the classifier (when one is plugged in)
// for a spam score.
//
// An Analyzer holds no per-message state and is safe for concurrent use.
// Analyze returns an error only when its context ends; a malformed message
// still gets a Verdict, built partly from its defects.
package analysis

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/netip"
	"runtime/debug"
	"slices"
	"sort"
	"strings"

	"github.com/accord-antispam/accord/internal/label"
	"github.com/accord-antispam/accord/internal/mail"
	"github.com/accord-antispam/accord/internal/mailauth"
	"github.com/accord-antispam/accord/internal/resolve"
	"github.com/accord-antispam/accord/internal/rules"
	"github.com/accord-antispam/accord/internal/trace"
	"github.com/accord-antispam/accord/internal/trace/geo"
)

// Classifier is the seam where the statistical spam classifier plugs in.
type Classifier interface {
	Classify(m *mail.Message, c *mail.Content) Spam
}

// Analyzer runs the checks. Build one per configuration and share it.
type Analyzer struct {
	Resolver resolve.Resolver // nil means offline.
	Geo      *geo.DB          // nil: no country or network.
	// Trust is the trust boundary's starting point: zero infers it with the
	// embedded provider knowledge and Geo's networks; Networks and Hosts
	// add to the inference, or replace it with Trust.Only.
	Trust         trace.Trust
	Rules         *rules.Library
	Jurisdictions []string   // Rulebooks to judge against; empty means EU.
	Classifier    Classifier // nil: no spam score.
	// Labels verifies compliance labels against the issuers it trusts;
	// nil: labels are not looked at.
	Labels *label.Verifier
	Logger *slog.Logger
	// Version names the engine in every verdict (the binary's version);
	// "" takes the build's module version and revision.
	Version string
}

// Envelope is what an SMTP session knows and a stored file does not. When
// RemoteIP is set (a milter or the complaint desk's SMTP door), it is the
// origin; otherwise trace-back finds it in the Received fields.
type Envelope struct {
	RemoteIP netip.Addr
	HELO     string
	// RDNS is RemoteIP's reverse name as the receiving MTA resolved it
	// ("" none, or not known); it becomes the origin's.
	RDNS     string
	MailFrom string
	RcptTo   []string
	// Receiver, with RemoteIP, names the MTA receiving the message from
	// RemoteIP in this session (a filter door sees the MTA's connection,
	// not the Received field the MTA will write). That connection is the
	// trust boundary's top hop: every field in the message was written
	// before it, by the sender's side, so no Authentication-Results in
	// the message is believed, and one in Receiver's name is a forgery.
	Receiver string
	// NoRDNS: the receiving MTA found no reverse name for RemoteIP (it
	// said so: a milter's "[ip]" host, rspamd's Hostname "unknown").
	NoRDNS bool
}

// Context is what a reporter (or a sender, or the node's consent records)
// can tell that a message cannot show.
type Context struct {
	Consent          rules.Tri // Did the recipient consent to this mail?
	ExistingCustomer rules.Tri // Are they a customer of the sender, for similar products?
	// Commercial, when known, is declared rather than detected: a sender
	// checking its campaign before sending says what it is.
	Commercial rules.Tri
	// Why says where the context comes from ("the node's consent
	// records"); empty means the recipient said it.
	Why string
	// PostalAddress is the sender's registered postal address, when the
	// sender is known (lint): found in the text, it is the message's
	// postal address, whatever shape it has.
	PostalAddress string
}

// Input is one message to analyse.
type Input struct {
	Source   string // Where it came from, as the user gave it.
	Message  *mail.Message
	Envelope Envelope
	Context  Context
	// Wrapper is set when the message was recovered from a report (ARF,
	// X-ARF, a forward with it attached): the report's own claims are
	// kept beside the verdict and cross-checked with it.
	Wrapper *Wrapper
}

// Wrapper is the report a message was recovered from.
type Wrapper struct {
	Source   string            // The report, as the user gave it.
	Form     string            // "arf", "x-arf" or "attached" (intake's forms).
	Feedback map[string]string // The report's fields (Feedback-Type, Source-IP…).
}

// maxTextJSON bounds the text copied into a Verdict.
const maxTextJSON = 64 << 10

// Analyze builds the Verdict for one message.
func (a *Analyzer) Analyze(ctx context.Context, in Input) (*Verdict, error) {
	m := in.Message
	if m == nil {
		return nil, fmt.Errorf("analyze %s: no message", in.Source)
	}
	v := &Verdict{SchemaVersion: SchemaVersion, Source: in.Source, Engine: a.engine()}
	h := m.Header
	v.Message = messageInfo(m)
	content := mail.Extract(m)

	trust := a.trust()
	tr := trace.Build(h, trust)
	v.Origin = a.origin(tr, trust, in.Envelope)

	// Authentication.
	ai := mailauth.Input{Message: m, IP: in.Envelope.RemoteIP, HELO: in.Envelope.HELO, MailFrom: in.Envelope.MailFrom}
	ai.AR = arTrust(h, tr, trust)
	if in.Envelope.Receiver != "" && in.Envelope.RemoteIP.IsValid() {
		ai.AR = sessionTrust(ai.AR, in.Envelope.Receiver)
	}
	returnPath := in.Envelope.MailFrom
	if !ai.IP.IsValid() {
		if o := tr.OriginHop(); o != nil {
			ai.IP, _ = o.Addr()
			ai.HELO = strings.Trim(o.HELO, "[]")
		}
		returnPath = receiversReturnPath(h, tr, ai.AR)
		ai.MailFrom = returnPath
	}
	res, err := mailauth.Check(ctx, a.resolver(), ai)
	if err != nil {
		return nil, fmt.Errorf("analyze %s: %w", in.Source, err)
	}
	v.Auth = res
	if f := res.ARC.ForwardedBy; f != "" {
		switch {
		case res.ARC.UsedFrom != "":
			v.Origin.ForwardedBy = f + " (ARC chain verified; its authentication results are used)"
		case res.ARC.Verified:
			v.Origin.ForwardedBy = fmt.Sprintf("%s (ARC chain %s)", f, res.ARC.Result)
		default:
			// Unverified, the sealer's name is only what the message says.
			v.Origin.ForwardedBy = f + " (ARC, not verified: offline; the sealer's name is the message's claim)"
		}
	}

	// Sender identity.
	v.Sender = a.sender(h, res, tr, returnPath)
	if a.Labels != nil && h.Has(label.Header) {
		v.Label = a.label(m, res, v.Sender.Domains.From)
	}

	// Opt-out and commercial character.
	var signed []string
	for _, s := range res.DKIM {
		if s.Result == mailauth.Pass {
			signed = append(signed, s.Headers...)
		}
	}
	reply := ""
	if len(v.Sender.ReplyTo) > 0 {
		reply = v.Sender.ReplyTo[0].Addr
	} else if len(v.Sender.From) > 0 {
		reply = v.Sender.From[0].Addr
	}
	v.OptOut = rules.DetectOptOut(rules.OptOutInput{
		ListUnsubscribe:     h.Get("List-Unsubscribe"),
		ListUnsubscribePost: h.Get("List-Unsubscribe-Post"),
		DKIMSignedHeaders:   signed,
		Content:             content,
		ReplyAddress:        reply,
	})
	v.Commercial = rules.DetectCommercial(rules.CommercialInput{Header: h, Content: content, OptOut: v.OptOut})
	v.Phishing = rules.DetectPhishing(rules.PhishingInput{Identity: rules.Identity{Disguised: v.Sender.IdentityDisguised, Findings: v.Sender.Findings, Brand: v.Sender.Brand}, Content: content})
	v.Content = contentInfo(content)

	// Legal judgement.
	facts := a.facts(v, h, content, in.Context)
	for _, j := range a.jurisdictions() {
		if b, ok := a.Rules.Get(j); ok {
			v.Legal = append(v.Legal, b.Judge(facts))
		}
	}
	if a.Classifier != nil {
		s := a.Classifier.Classify(m, content)
		v.Spam = &s
	}
	if in.Wrapper != nil {
		v.Unwrapped = unwrapped(in.Wrapper, v.Origin.IP)
	}
	v.Reasons = reasons(v)
	v.fillEmpty()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return v, nil
}

// trust completes the configured trust with the defaults: the embedded
// provider knowledge and the geo database's networks.
func (a *Analyzer) trust() trace.Trust {
	t := a.Trust
	if t.Providers == nil && !t.Only {
		if p, err := trace.EmbeddedProviders(); err == nil {
			t.Providers = p
		}
	}
	if t.ASN == nil && a.Geo != nil {
		g := a.Geo
		t.ASN = func(ip netip.Addr) uint32 {
			n, _ := g.Network(ip)
			return n.ASN
		}
	}
	return t
}

// FetchSources returns the servers the message with header h was fetched
// from by its owner's fetcher (POP3/IMAP retrieval inside the boundary):
// across a mailbox, what Trust.Fetched learns from.
func (a *Analyzer) FetchSources(h mail.Header) []trace.FetchSource {
	return trace.Build(h, a.trust()).FetchSources()
}

// unwrapped records the report a message came from, and checks the
// address the report names against the origin found in the message.
func unwrapped(w *Wrapper, origin string) *Unwrapped {
	u := &Unwrapped{Report: w.Source, Form: w.Form, OriginAgrees: rules.Unknown}
	get := func(k string) string {
		for name, v := range w.Feedback {
			if strings.EqualFold(name, k) {
				return strings.TrimSpace(v)
			}
		}
		return ""
	}
	u.FeedbackType = strings.ToLower(get("Feedback-Type") + get("Report-Type"))
	u.ReportedIP = get("Source-IP")
	rep, err := netip.ParseAddr(strings.Trim(u.ReportedIP, "[]"))
	org, err2 := netip.ParseAddr(origin)
	switch {
	case u.ReportedIP == "":
		u.Why = "the report names no source address"
	case err != nil:
		u.Why = "the report's source address " + u.ReportedIP + " is not an IP address"
	case err2 != nil:
		u.Why = "the report names " + rep.String() + "; no origin was found in the message to compare"
	case rep.Unmap() == org.Unmap():
		u.OriginAgrees = rules.True
		u.Why = "the report's source address is the origin found in the message"
	default:
		u.OriginAgrees = rules.False
		u.Why = "the report names " + rep.String() + " but the message's origin is " + org.String() + ": one of them is wrong (a report written from the provider's own logs is usually right)"
	}
	return u
}

// engine says what judged the message: the evidence must name it.
func (a *Analyzer) engine() Engine {
	e := Engine{Version: a.Version}
	if e.Version == "" {
		e.Version = buildVersion()
	}
	if a.Geo != nil {
		e.GeoData = a.Geo.Date()
	}
	return e
}

// buildVersion is the module version and VCS revision the binary was built
// from, as far as the build recorded them.
func buildVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += "+" + s.Value[:12]
		}
	}
	if v == "" {
		return "unknown"
	}
	return v
}

func (a *Analyzer) resolver() resolve.Resolver {
	if a.Resolver == nil {
		return resolve.Offline{}
	}
	return a.Resolver
}

func (a *Analyzer) jurisdictions() []string {
	if a.Rules == nil {
		return nil
	}
	if len(a.Jurisdictions) == 0 {
		return []string{"EU"}
	}
	return a.Jurisdictions
}

func messageInfo(m *mail.Message) MessageInfo {
	h := m.Header
	subj, _ := mail.DecodeHeader(h.Get("Subject"))
	sum := sha256.Sum256(m.Raw)
	mi := MessageInfo{
		MessageID: strings.TrimSpace(h.Get("Message-ID")),
		Date:      strings.TrimSpace(h.Get("Date")),
		Subject:   strings.TrimSpace(subj),
		Size:      len(m.Raw),
		Truncated: m.Truncated,
		SHA256:    hex.EncodeToString(sum[:]),
		Defects:   m.Defects,
	}
	if mi.Defects == nil {
		mi.Defects = []mail.Defect{}
	}
	if t, err := mail.ParseDate(mi.Date); err == nil && mi.Date != "" {
		t = t.UTC()
		mi.DateParsed = &t
	}
	for _, p := range m.Parts {
		mi.MIME = append(mi.MIME, PartSummary{
			ID: p.ID, ContentType: p.ContentType, Charset: p.Charset, Encoding: p.Encoding,
			Disposition: p.Disposition, Filename: p.Filename, Size: len(p.Body), Depth: p.Depth,
		})
	}
	return mi
}

func (a *Analyzer) origin(tr *trace.Trace, trust trace.Trust, env Envelope) Origin {
	o := Origin{Hop: -1, Trust: "inferred", Hops: tr.Hops, Why: tr.Why, Authenticated: tr.Authenticated}
	if trust.Only {
		o.Trust = "given"
	}
	if o.Hops == nil {
		o.Hops = []trace.Hop{}
	}
	var ip netip.Addr
	if env.RemoteIP.IsValid() {
		ip = env.RemoteIP.Unmap()
		o.IP, o.HELO, o.RDNS = ip.String(), env.HELO, env.RDNS
		o.NoRDNS = env.NoRDNS
		o.Trust = "session"
		o.Why = "the client of this SMTP session"
	} else if h := tr.OriginHop(); h != nil {
		ip, _ = h.Addr()
		o.IP, o.RDNS, o.HELO, o.Hop = h.IP, h.RDNS, h.HELO, tr.Origin
		o.NoRDNS = h.NoRDNS
		if tr.Authenticated && trace.Internal(ip) {
			// A webmail or proxy inside the provider submitted for the
			// user who logged in: the account is the origin, its network
			// address is not known.
			o.IP, ip = "", netip.Addr{}
		}
	} else if len(tr.Hops) == 0 {
		o.Why = "no Received field"
	} else {
		o.Why = "every relay is inside the trust boundary"
	}
	for _, h := range tr.Hops {
		for _, f := range h.Flags {
			if f.Severity == trace.Forged {
				o.Forged = true
			}
		}
	}
	if ip.IsValid() && a.Geo != nil {
		o.Country = a.Geo.Country(ip)
		if n, ok := a.Geo.Network(ip); ok {
			o.Network = &n
		}
	}
	return o
}

// arTrust decides which Authentication-Results fields to believe: those
// above the origin's Received field (added after the trusted handover), or
// in the place below it where the receiving provider writes its own (Gmail),
// whose authserv-id is a trusted receiver's — a host inside the boundary,
// the host that received from the origin, a provider fetched from, the
// authserv-ids the known providers among them write — or the operator's
// (--trusted host names, matched as that option documents).
func arTrust(h mail.Header, tr *trace.Trace, trust trace.Trust) mailauth.ARTrust {
	t := mailauth.ARTrust{Receivers: append([]string(nil), tr.Receivers...), IDs: append([]string(nil), trust.Hosts...)}
	for _, p := range tr.Providers {
		t.Patterns = append(t.Patterns, p.AuthServIDs...)
		t.OwnSealers = append(t.OwnSealers, p.ARCSealers...)
	}
	// The large providers seal what they forward (ARC); their results are
	// used when their chain verifies.
	if trust.Providers != nil {
		for _, p := range trust.Providers.List {
			t.Sealers = append(t.Sealers, p.ARCSealers...)
		}
	}
	recv := h.Indexes("Received")
	o := tr.OriginHop()
	switch {
	case len(recv) == 0:
		t.Above = 0
	case o == nil:
		// Every relay trusted: the message never crossed the boundary.
		t.Above = len(h.Fields)
	case o.Index < len(recv):
		t.Above = recv[o.Index]
		if o.RDNSVerified() {
			t.OriginNames = []string{o.RDNS}
		}
		t.Own = ownBelow(h, recv[o.Index], trust.Providers.ByHost(o.By))
	default:
		t.Above = recv[len(recv)-1]
	}
	// Received fields below the boundary written by an inbound server of
	// a provider that writes no authserv-id: an upstream tenant's record
	// sits right above each.
	if o != nil && trust.Providers != nil {
		for _, hop := range tr.Hops[o.Index+1:] {
			p := trust.Providers.ByHost(hop.By)
			if hop.Index < len(recv) && p.IsEdge(hop.By) && p.WritesAuthServID("") {
				t.UpstreamEdges = append(t.UpstreamEdges, recv[hop.Index])
			}
		}
	}
	return t
}

// ownBelow returns the positions of the fields a provider writes directly
// below its own Received field at position at (BelowReceived), when the
// header has exactly that run.
func ownBelow(h mail.Header, at int, p *trace.Provider) []int {
	if p == nil || len(p.BelowReceived) == 0 {
		return nil
	}
	var out []int
	for k, name := range p.BelowReceived {
		i := at + 1 + k
		if i >= len(h.Fields) || !strings.EqualFold(h.Fields[i].Name, name) {
			return nil
		}
		out = append(out, i)
	}
	return out
}

// receiversReturnPath is the envelope sender as the final receiver wrote
// it at delivery (RFC 5321 section 4.4): the topmost Return-Path, when it
// sits above the origin's Received field or in the receiver's own place —
// or, for a provider that appends it after the header it received
// (Microsoft 365), its last one. A Return-Path anywhere else was in the
// message when it arrived: the sender's claim, ignored. A message that never
// crossed a boundary (no Received field) keeps its first.
func receiversReturnPath(h mail.Header, tr *trace.Trace, t mailauth.ARTrust) string {
	idx := h.Indexes("Return-Path")
	if len(idx) == 0 {
		return ""
	}
	if !h.Has("Received") {
		return mail.AddrSpec(h.Fields[idx[0]].Value)
	}
	for _, p := range tr.Providers {
		if p.ReturnPathLast {
			return mail.AddrSpec(h.Fields[idx[len(idx)-1]].Value)
		}
	}
	for _, i := range idx {
		if i < t.Above || slices.Contains(t.Own, i) {
			return mail.AddrSpec(h.Fields[i].Value)
		}
	}
	return ""
}

func (a *Analyzer) sender(h mail.Header, res *mailauth.Results, tr *trace.Trace, rp string) Sender {
	from, strict := mail.ParseAddressList(h.Get("From"))
	sndr, _ := mail.ParseAddressList(h.Get("Sender"))
	reply, _ := mail.ParseAddressList(h.Get("Reply-To"))
	s := Sender{From: nonNil(from), Sender: nonNil(sndr), ReplyTo: nonNil(reply), ReturnPath: rp}
	if len(from) > 0 {
		s.Domains.From = from[0].Domain
	}
	if len(sndr) > 0 {
		s.Domains.Sender = sndr[0].Domain
	}
	if len(reply) > 0 {
		s.Domains.ReplyTo = reply[0].Domain
	}
	s.Domains.ReturnPath = mail.DomainOf(rp)
	fd := s.Domains.From
	s.Alignment.ReturnPath = mailauth.Aligned(s.Domains.ReturnPath, fd, "r")
	s.Alignment.ReplyTo = mailauth.Aligned(s.Domains.ReplyTo, fd, "r")
	s.Alignment.Sender = mailauth.Aligned(s.Domains.Sender, fd, "r")
	alignedPass := res.DMARC.Result == mailauth.Pass
	for _, d := range res.DKIM {
		// A signature that leaves text unsigned after l= vouches only
		// for the part it signs, not for the message.
		if d.Aligned && !d.UnsignedText {
			s.Alignment.DKIM = true
			if d.Result == mailauth.Pass {
				alignedPass = true
			}
		}
	}
	if res.SPF.Result == mailauth.Pass && mailauth.Aligned(res.SPF.Domain, fd, "r") {
		alignedPass = true
	}
	var forged []string
	for _, hop := range tr.Hops {
		for _, f := range hop.Flags {
			if f.Severity == trace.Forged {
				forged = append(forged, fmt.Sprintf("hop %d: %s", hop.Index, f.Reason))
			}
		}
	}
	var forgedAR []string
	for _, ar := range res.Headers {
		if ar.Forged {
			forgedAR = append(forgedAR, fmt.Sprintf("an Authentication-Results field in the name of %s sits below the trust boundary, where only the sender's side could have written it", ar.AuthServID))
		}
	}
	id := rules.DetectIdentity(rules.IdentityInput{
		From: from, FromStrict: strict, ReplyTo: reply, ReturnPath: rp,
		DMARC: string(res.DMARC.Result), DMARCPolicy: res.DMARC.Applied, AlignedPass: alignedPass, Forged: forged,
		ForgedAuthResults: forgedAR,
	})
	s.IdentityDisguised, s.Findings, s.Brand = id.Disguised, id.Findings, id.Brand
	for _, d := range res.DKIM {
		switch {
		case d.Result != mailauth.Pass || d.UnsignedBytes == 0:
		case d.UnsignedText:
			// Text appended after what the signature covers rides on a
			// passing signature: the classic l= attack.
			detail := fmt.Sprintf("the signature by %s covers the body only up to l=; %d octets of text after it are not signed and may have been added by anyone", d.Domain, d.UnsignedBytes)
			if len(d.UnsignedURLs) > 0 {
				detail += "; links in that unsigned tail: " + strings.Join(d.UnsignedURLs, ", ")
			}
			s.Findings = append(s.Findings, rules.Finding{Code: "dkim-unsigned-tail", Strength: rules.Strong, Detail: detail})
			s.IdentityDisguised = rules.True
		default:
			s.Findings = append(s.Findings, rules.Finding{Code: "dkim-unsigned-tail", Strength: rules.Weak,
				Detail: fmt.Sprintf("the signature by %s covers the body only up to l=; %d octets of white space after it are not signed", d.Domain, d.UnsignedBytes)})
		}
	}
	if s.Findings == nil {
		s.Findings = []rules.Finding{}
	}
	return s
}

func nonNil(a []mail.Address) []mail.Address {
	if a == nil {
		return []mail.Address{}
	}
	return a
}

func contentInfo(c *mail.Content) ContentInfo {
	ci := ContentInfo{
		Text: c.Text, HTMLText: c.HTMLText, URLs: c.URLs, Emails: c.Emails, Phones: c.Phones,
		Attachments: c.Attachments, HTML: c.HTML, TextTruncated: c.TextCut, URLsTruncated: c.URLsCut,
	}
	if len(ci.Text) > maxTextJSON {
		ci.Text, ci.TextTruncated = strings.ToValidUTF8(ci.Text[:maxTextJSON], ""), true
	}
	if len(ci.HTMLText) > maxTextJSON {
		ci.HTMLText, ci.TextTruncated = strings.ToValidUTF8(ci.HTMLText[:maxTextJSON], ""), true
	}
	seen := map[string]bool{}
	for _, u := range c.URLs {
		d := u.Domain
		if d == "" {
			d = u.Host
		}
		if !seen[d] {
			seen[d] = true
			ci.Domains = append(ci.Domains, d)
		}
	}
	sort.Strings(ci.Domains)
	if ci.URLs == nil {
		ci.URLs = []mail.URL{}
	}
	if ci.Domains == nil {
		ci.Domains = []string{}
	}
	if ci.Emails == nil {
		ci.Emails = []string{}
	}
	if ci.Phones == nil {
		ci.Phones = []string{}
	}
	if ci.Attachments == nil {
		ci.Attachments = []mail.Attachment{}
	}
	return ci
}

// label verifies the message's compliance labels, with the DKIM results
// just computed (or read from trusted Authentication-Results offline).
func (a *Analyzer) label(m *mail.Message, res *mailauth.Results, from string) *label.Result {
	raw := m.Raw
	if m.Root != nil && m.Root.Offset > 0 && m.Root.Offset <= len(raw) {
		raw = raw[m.Root.Offset:] // without the mbox "From " line
	}
	in := label.Input{Raw: raw, Values: m.Header.Values(label.Header), FromDomain: from}
	for _, s := range res.DKIM {
		r := string(s.Result)
		if s.Source == mailauth.SourceNone {
			r = "none"
		}
		in.DKIM = append(in.DKIM, label.DKIM{Domain: s.Domain, Result: r})
	}
	return a.Labels.Verify(in)
}

// sessionTrust is the boundary when the receiving MTA's own connection is
// the top hop (Envelope.Receiver): nothing in the message is above it,
// whatever its Received fields say, and only the receiver's own name is
// claimed (so a field in that name is marked forged). The verified ARC
// sealers stay: a known forwarder's chain is checked, not believed.
func sessionTrust(t mailauth.ARTrust, receiver string) mailauth.ARTrust {
	return mailauth.ARTrust{Above: 0, Receivers: []string{receiver}, Sealers: t.Sealers}
}
