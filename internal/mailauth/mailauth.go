// Package mailauth checks who may have sent a message: SPF (RFC 7208) for the
// connecting address, every DKIM signature (RFC 6376), and DMARC (RFC 7489)
// with its policy and identifier alignment for the From domain. It also reads
// the Authentication-Results fields (RFC 8601) that trusted hosts added.
//
// SPF and DKIM come from maintained libraries (blitiri.com.ar/go/spf,
// emersion/go-msgauth); DMARC evaluation and alignment, which those libraries
// leave to the caller, are here. All DNS goes through a resolve.Resolver.
// With the offline resolver nothing is computed: results come only from
// trusted Authentication-Results fields, and otherwise are "none".
package mailauth

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"blitiri.com.ar/go/spf"
	"github.com/emersion/go-msgauth/dkim"

	"github.com/accord-antispam/accord/internal/mail"
	"github.com/accord-antispam/accord/internal/resolve"
)

// Result is the outcome of one check, one of the values of the RFC 8601
// registry (section 2.7) below.
type Result string

// Result values, as in RFC 8601 section 2.7.
const (
	Pass      Result = "pass"
	Fail      Result = "fail"
	SoftFail  Result = "softfail"
	Neutral   Result = "neutral"
	None      Result = "none"
	TempError Result = "temperror"
	PermError Result = "permerror"
	Policy    Result = "policy"
)

// Source says where a result comes from.
type Source string

// Sources of a result.
const (
	SourceComputed Source = "computed" // Checked here, through the resolver.
	SourceHeader   Source = "header"   // Read from a trusted Authentication-Results field.
	SourceNone     Source = "none"     // Neither: offline and no trusted field said anything.
	SourceARC      Source = "arc"      // From a trusted forwarder's ARC-Authentication-Results, its chain verified.
)

// SPF is the SPF result for the origin relay.
type SPF struct {
	Result   Result `json:"result"`
	Identity string `json:"identity,omitempty"` // "mailfrom" or "helo".
	Domain   string `json:"domain,omitempty"`
	IP       string `json:"ip,omitempty"`
	Source   Source `json:"source"`
	Reason   string `json:"reason,omitempty"`
}

// DKIMSignature is one DKIM-Signature field and its verification.
type DKIMSignature struct {
	Domain     string   `json:"d"`
	Selector   string   `json:"s"`
	Algorithm  string   `json:"a,omitempty"`
	Identifier string   `json:"i,omitempty"`
	Headers    []string `json:"h"`
	Result     Result   `json:"result"`
	Source     Source   `json:"source"`
	Reason     string   `json:"reason,omitempty"`
	Aligned    bool     `json:"aligned"` // d= aligns with the From domain (DMARC mode).
	// BHash is the hex SHA-256 of the signature's b= bytes as the
	// verifier decodes them — not of its base64 text, which has spellings
	// that decode to the same bytes (the unused bits before "=" padding),
	// so a reporter could otherwise make one signature count again. It
	// names this signature: when the signature
	// passes, nobody but its signer could have made it, so it names the
	// message it signs — what counts a complaint once, where another
	// field in the same message (a prepended DKIM-Signature naming the
	// same d=) would be anyone's.
	BHash string `json:"b_sha256,omitempty"`
	// BodyLength: the signature covers only the first l= octets of the
	// body; UnsignedBytes is how many follow them, unsigned. UnsignedText:
	// that tail holds more than white space, which anyone could have
	// appended; UnsignedURLs are the links in it. A signature with such a
	// tail does not vouch for the message: it never counts for DMARC.
	BodyLength    bool     `json:"body_length,omitempty"`
	UnsignedBytes int      `json:"unsigned_bytes,omitempty"`
	UnsignedText  bool     `json:"unsigned_text,omitempty"`
	UnsignedURLs  []string `json:"unsigned_urls"`
	bodyLength    string
	canon         string // c= of the signature
}

// DMARC is the DMARC evaluation for the From domain.
type DMARC struct {
	Result          Result `json:"result"`
	Domain          string `json:"domain,omitempty"`     // RFC5322.From domain.
	OrgDomain       string `json:"org_domain,omitempty"` // Organizational domain.
	Record          string `json:"record,omitempty"`
	RecordDomain    string `json:"record_domain,omitempty"` // Where the record was found.
	Policy          string `json:"policy,omitempty"`        // p=
	SubdomainPolicy string `json:"subdomain_policy,omitempty"`
	Applied         string `json:"applied_policy,omitempty"` // The policy that applies to this message: none, quarantine, reject.
	Percent         int    `json:"pct,omitempty"`
	ADKIM           string `json:"adkim,omitempty"` // "r" relaxed or "s" strict.
	ASPF            string `json:"aspf,omitempty"`
	SPFAligned      bool   `json:"spf_aligned"`
	DKIMAligned     bool   `json:"dkim_aligned"`
	Source          Source `json:"source"`
	Reason          string `json:"reason,omitempty"`
}

// Input is what the checks need to know about a message and its delivery.
type Input struct {
	Message  *mail.Message
	IP       netip.Addr // Origin relay's address (from trace-back or the SMTP session).
	HELO     string     // What the origin relay greeted with.
	MailFrom string     // Envelope sender (Return-Path); "" for the null sender.
	// AR says which Authentication-Results (and Received-SPF) fields to
	// believe.
	AR ARTrust
}

// Results gathers the checks.
type Results struct {
	SPF     SPF              `json:"spf"`
	DKIM    []DKIMSignature  `json:"dkim"`
	DMARC   DMARC            `json:"dmarc"`
	Headers []AuthResultsHdr `json:"authentication_results"`
	ARC     ARC              `json:"arc"`
	Offline bool             `json:"offline"`
}

// maxSignatures bounds the DKIM verifications per message.
const maxSignatures = 5

// Check runs SPF, DKIM and DMARC. It returns an error only when ctx ends.
func Check(ctx context.Context, r resolve.Resolver, in Input) (*Results, error) {
	res := &Results{Offline: resolve.IsOffline(r)}
	h := in.Message.Header
	res.Headers = readAuthResults(h, in.AR)
	fromDomain := fromDomain(h)
	sigs := parseSignatures(h)
	// The wire form (CRLF, raw fields) is built only when a signature is
	// to be checked: a copy of a large message costs time and memory.
	hasARC := h.Has("ARC-Seal") || h.Has("ARC-Message-Signature") || h.Has("ARC-Authentication-Results")
	var wire, body []byte
	var fields []rawField
	switch {
	case !res.Offline && (len(sigs) > 0 || hasARC), hasBodyLength(sigs):
		wire = wireForm(in.Message, false)
		fields, body = rawHeader(wire)
	case hasARC:
		fields, _ = rawHeader(wireForm(in.Message, true))
	}
	if res.Offline {
		res.SPF = spfFromHeaders(res.Headers, h, in)
		res.DKIM = dkimFromHeaders(res.Headers, sigs)
		for i := range res.DKIM {
			if res.DKIM[i].Result == Pass {
				res.DKIM[i].readTail(body)
			}
		}
		res.DMARC = dmarcFromHeaders(res.Headers, fromDomain)
	} else {
		res.SPF = checkSPF(ctx, r, in)
		res.DKIM = verifyDKIM(ctx, r, wire, fields, body, sigs)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		res.DMARC = evaluateDMARC(ctx, r, fromDomain, in.MailFrom, in.HELO, res.SPF, res.DKIM)
	}
	if hasARC {
		var sets []*arcSet
		res.ARC, sets = checkARC(ctx, r, fields, body, in.AR, res.Offline)
		useARC(res, sets, in.AR, fromDomain)
	} else {
		res.ARC = ARC{Result: None, Sets: []ARCSet{}}
	}
	if res.DKIM == nil {
		res.DKIM = []DKIMSignature{}
	}
	markAligned(res, fromDomain)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return res, nil
}

func fromDomain(h mail.Header) string {
	addrs, _ := mail.ParseAddressList(h.Get("From"))
	if len(addrs) != 1 {
		return "" // DMARC needs exactly one author domain (RFC 7489 6.6.1).
	}
	return addrs[0].Domain
}

func checkSPF(ctx context.Context, r resolve.Resolver, in Input) SPF {
	out := SPF{Result: None, Source: SourceComputed}
	if !in.IP.IsValid() {
		out.Reason = "no origin address to check"
		return out
	}
	out.IP = in.IP.String()
	sender := in.MailFrom
	out.Identity = "mailfrom"
	if sender == "" || !strings.Contains(sender, "@") {
		if in.HELO == "" {
			out.Reason = "null sender and no HELO name"
			return out
		}
		out.Identity = "helo"
		sender = "postmaster@" + strings.Trim(in.HELO, "[]")
	}
	out.Domain = mail.DomainOf(sender)
	result, err := spf.CheckHostWithSender(net.IP(in.IP.AsSlice()), strings.Trim(in.HELO, "[]"), sender,
		spf.WithResolver(r), spf.WithContext(ctx))
	out.Result = Result(result)
	if err != nil && result != spf.Pass {
		out.Reason = err.Error()
	}
	return out
}

// wireForm is the message as it was signed: without an mbox "From " line,
// with CRLF line ends; with headerOnly, just its header block.
func wireForm(m *mail.Message, headerOnly bool) []byte {
	raw := m.Raw
	if m.Root != nil && m.Root.Offset > 0 && m.Root.Offset <= len(raw) {
		raw = raw[m.Root.Offset:]
	}
	if headerOnly {
		if i := bytes.Index(raw, []byte("\n\n")); i >= 0 {
			raw = raw[:i+2]
		} else if i := bytes.Index(raw, []byte("\r\n\r\n")); i >= 0 {
			raw = raw[:i+4]
		}
	}
	return toCRLF(raw)
}

func verifyDKIM(ctx context.Context, r resolve.Resolver, wire []byte, fields []rawField, body []byte, sigs []DKIMSignature) []DKIMSignature {
	if len(sigs) == 0 {
		return nil
	}
	if why := headerAmbiguity(wire); why != "" {
		for i := range sigs {
			sigs[i].Result, sigs[i].Source, sigs[i].Reason = PermError, SourceComputed, why
		}
		return sigs
	}
	var sigFields []rawField
	for _, f := range fields {
		if f.name == "dkim-signature" {
			sigFields = append(sigFields, f)
		}
	}
	// The results are given to the signatures by their place in the
	// list, and the verifier reads the raw fields: both lists must be
	// the same signatures, place by place, or a signature hidden from
	// one parser would lend its result (and its l=) to another.
	if why := sameSignatures(sigs, sigFields); why != "" {
		for i := range sigs {
			sigs[i].Result, sigs[i].Source, sigs[i].Reason = PermError, SourceComputed, why
		}
		return sigs
	}
	// Both verifiers read the keys through rec, which keeps their t=
	// flags for applyKeyFlags.
	rec := newKeyRecorder(r)
	opts := &dkim.VerifyOptions{
		MaxVerifications: maxSignatures,
		LookupTXT: func(name string) ([]string, error) {
			return rec.LookupTXT(ctx, name)
		},
	}
	verifs, err := dkim.VerifyWithOptions(bytes.NewReader(wire), opts)
	if err != nil && !errors.Is(err, dkim.ErrTooManySignatures) {
		for i := range sigs {
			sigs[i].Result, sigs[i].Source, sigs[i].Reason = PermError, SourceComputed, err.Error()
		}
		return sigs
	}
	if err == nil && len(verifs) != len(sigs) {
		why := fmt.Sprintf("not verified: the verifier read %d signatures where the header holds %d, so no result can be given to its signature", len(verifs), len(sigs))
		for i := range sigs {
			sigs[i].Result, sigs[i].Source, sigs[i].Reason = PermError, SourceComputed, why
		}
		return sigs
	}
	for i := range sigs {
		sigs[i].Source = SourceComputed
		if i >= len(verifs) {
			sigs[i].Result, sigs[i].Reason = None, "not verified: too many signatures"
			continue
		}
		v := verifs[i]
		switch {
		case v.Domain != "" && !strings.EqualFold(v.Domain, sigs[i].Domain):
			// The verifier read another list of signatures than ours: its
			// result belongs to another signature.
			sigs[i].Result, sigs[i].Reason = PermError, fmt.Sprintf("not verified: the verifier read a signature by %s in this place", v.Domain)
		case v.Err == nil:
			sigs[i].Result = Pass
		case dkim.IsTempFail(v.Err):
			sigs[i].Result, sigs[i].Reason = TempError, v.Err.Error()
		case dkim.IsPermFail(v.Err):
			sigs[i].Result, sigs[i].Reason = PermError, v.Err.Error()
		case sigs[i].BodyLength && i < len(sigFields):
			// go-msgauth refuses every l= signature; an intact one passes
			// here, and says how much of the body it leaves unsigned.
			unsigned, err := verifyMessageSig(ctx, rec, fields, body, sigFields[i])
			switch {
			case err == nil:
				sigs[i].Result = Pass
				sigs[i].readTail(body)
				sigs[i].Reason = fmt.Sprintf("signs the first %s octets of the body (l=); %d after them are not signed", sigs[i].bodyLength, unsigned)
				if sigs[i].UnsignedText {
					sigs[i].Reason += ", and they hold text anyone could have appended: the signature does not vouch for the message"
				}
			case errors.Is(err, errNoKey):
				sigs[i].Result, sigs[i].Reason = PermError, err.Error()
			default:
				sigs[i].Result, sigs[i].Reason = Fail, err.Error()
			}
		default:
			sigs[i].Result, sigs[i].Reason = Fail, v.Err.Error()
		}
		sigs[i].applyKeyFlags(rec)
	}
	return sigs
}

// headerAmbiguity says why the header block of a wire-form message cannot
// be read one way only: a CR not followed by LF, or a NUL byte. The DKIM
// verifier reads a line that starts with a bare CR as a new field, the
// header parser as a continuation (and a NUL the other way round): a
// signature hidden so would be verified by one and reported by the other,
// and the results, listed in order, would go to the wrong signatures.
// RFC 5322 allows neither in a header.
func headerAmbiguity(wire []byte) string {
	end := bytes.Index(wire, []byte("\r\n\r\n"))
	if end < 0 {
		end = len(wire)
	}
	if len(wire) > 0 && (wire[0] == ' ' || wire[0] == '\t') {
		// A continuation with no field above it: one parser drops it,
		// another reads it as a field (a signature hidden so would be
		// verified by one and not reported by the other).
		return "not verified: the header begins with a continuation line, which header parsers read differently"
	}
	for i, c := range wire[:end] {
		switch {
		case c == 0:
			return "not verified: the header holds a NUL byte, which header parsers read differently"
		case c == '\r' && (i+1 >= len(wire) || wire[i+1] != '\n'):
			return "not verified: the header holds a bare CR, which header parsers read differently"
		}
	}
	return ""
}

// sameSignatures says why the signatures read from the parsed header
// (sigs) are not, place by place, the DKIM-Signature fields read from the
// raw header (raw): a different count, or another d= or b= in a place.
func sameSignatures(sigs []DKIMSignature, raw []rawField) string {
	if len(raw) != len(sigs) {
		return fmt.Sprintf("not verified: the header holds %d signatures read one way and %d read another, so no result can be given to its signature", len(sigs), len(raw))
	}
	for i, f := range raw {
		_, v, _ := strings.Cut(f.text, ":")
		tags := parseTags(v)
		if !strings.EqualFold(tags["d"], sigs[i].Domain) || bHash(tags["b"]) != sigs[i].BHash {
			return fmt.Sprintf("not verified: the header's signature %d reads differently to two parsers, so no result can be given to it", i+1)
		}
	}
	return ""
}

func hasBodyLength(sigs []DKIMSignature) bool {
	for _, s := range sigs {
		if s.BodyLength {
			return true
		}
	}
	return false
}

// readTail reads the part of the body after a signature's l= octets
// (canonicalized as the signature says): its length, whether it holds
// more than white space, and the links in it.
func (s *DKIMSignature) readTail(body []byte) {
	if !s.BodyLength || body == nil {
		return
	}
	l, err := strconv.Atoi(s.bodyLength)
	if err != nil || l < 0 {
		return
	}
	c := "simple"
	if _, bc, ok := strings.Cut(s.canon, "/"); ok && bc != "" {
		c = bc
	}
	cb := canonBody(body, strings.ToLower(strings.TrimSpace(c)))
	if l >= len(cb) {
		return
	}
	tail := cb[l:]
	s.UnsignedBytes = len(tail)
	s.UnsignedText = len(bytes.TrimSpace(tail)) > 0
	for _, u := range mail.TextURLs(string(tail)) {
		s.UnsignedURLs = append(s.UnsignedURLs, u.URL)
	}
}

// toCRLF turns bare LF line ends into CRLF: messages are signed in their
// wire form, and stored mail often lost the CRs.
func toCRLF(b []byte) []byte {
	if !bytes.Contains(b, []byte("\n")) {
		return b
	}
	out := make([]byte, 0, len(b)+bytes.Count(b, []byte("\n")))
	for i, c := range b {
		if c == '\n' && (i == 0 || b[i-1] != '\r') {
			out = append(out, '\r')
		}
		out = append(out, c)
	}
	return out
}

// parseSignatures reads the tags of every DKIM-Signature field.
func parseSignatures(h mail.Header) []DKIMSignature {
	var out []DKIMSignature
	for _, v := range h.Values("DKIM-Signature") {
		tags := parseTags(v)
		s := DKIMSignature{
			Domain:     strings.ToLower(tags["d"]),
			Selector:   tags["s"],
			Algorithm:  tags["a"],
			Identifier: tags["i"],
			BHash:      bHash(tags["b"]),
			Result:     None,
			Source:     SourceNone,
		}
		if l, ok := tags["l"]; ok {
			s.BodyLength, s.bodyLength = true, l
		}
		s.canon = tags["c"]
		for _, k := range strings.Split(tags["h"], ":") {
			if k = strings.TrimSpace(k); k != "" {
				s.Headers = append(s.Headers, strings.ToLower(k))
			}
		}
		out = append(out, s)
	}
	return out
}

// bHash is the hex SHA-256 of a b= value's decoded bytes; "" when there
// is none. The base64 is decoded as the verifier decodes it (the bits
// padding leaves unused are ignored), so every spelling of one signature
// has one hash. A value that does not decode cannot verify; it is hashed
// as text, marked so that it never equals a decoded one.
func bHash(b string) string {
	if b == "" {
		return ""
	}
	raw, err := base64.StdEncoding.DecodeString(b)
	if err != nil {
		raw = append([]byte("undecodable:"), b...)
	}
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:])
}

// parseTags splits a DKIM tag-list (RFC 6376 3.2), removing folding
// whitespace inside values.
func parseTags(v string) map[string]string {
	tags := map[string]string{}
	for _, kv := range strings.Split(v, ";") {
		k, val, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		k = strings.TrimSpace(k)
		val = strings.Join(strings.Fields(val), "")
		if _, dup := tags[k]; !dup && k != "" {
			tags[k] = val
		}
	}
	return tags
}
