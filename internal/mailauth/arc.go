package mailauth

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/accord-antispam/accord/internal/resolve"
)

// ARC is what the Authenticated Received Chain (RFC 8617) says: who
// forwarded the message, and whether their seals hold.
type ARC struct {
	// Result is the chain validation: pass, fail, or none (no ARC sets,
	// or not verified: offline).
	Result   Result   `json:"result"`
	Verified bool     `json:"verified"` // Checked through the resolver.
	Reason   string   `json:"reason,omitempty"`
	Sets     []ARCSet `json:"sets"`
	// ForwardedBy is the sealer (d=) of the newest set added before the
	// message reached the trust boundary's receivers: the forwarder.
	ForwardedBy string `json:"forwarded_by,omitempty"`
	// UsedFrom names the trusted sealer whose ARC-Authentication-Results
	// give spf, dkim and dmarc, when it does (source "arc").
	UsedFrom string `json:"used_from,omitempty"`
}

// ARCSet is one instance of the chain.
type ARCSet struct {
	Instance   int    `json:"i"`
	Sealer     string `json:"d"`
	Selector   string `json:"s"`
	CV         string `json:"cv"`
	AuthServID string `json:"authserv_id"`
	// Own: added by one of the trust boundary's receivers (its
	// authserv-id is theirs), not by a forwarder.
	Own bool `json:"own"`
}

// maxARC bounds the instances (RFC 8617 section 4.2.1).
const maxARC = 50

type arcSet struct {
	i            int
	aar, ams, as *rawField
	tags         map[string]string // the seal's
	aarID        string
	aarParsed    AuthResultsHdr
	aarParsedOK  bool
}

// readARC collects the ARC sets of a message, newest instance first.
func readARC(fields []rawField) ([]*arcSet, string) {
	sets := map[int]*arcSet{}
	get := func(i int) *arcSet {
		if sets[i] == nil {
			sets[i] = &arcSet{i: i}
		}
		return sets[i]
	}
	for k := range fields {
		f := &fields[k]
		switch f.name {
		case "arc-seal", "arc-message-signature", "arc-authentication-results":
		default:
			continue
		}
		value := strings.SplitN(f.text, ":", 2)[1]
		var iv string
		if f.name == "arc-authentication-results" {
			first, _, _ := strings.Cut(value, ";")
			k, v, _ := strings.Cut(strings.TrimSpace(first), "=")
			if strings.TrimSpace(k) == "i" {
				iv = strings.TrimSpace(v)
			}
		} else {
			iv = parseTags(value)["i"]
		}
		i, err := strconv.Atoi(iv)
		if err != nil || i < 1 || i > maxARC {
			return nil, "an ARC field has no valid instance"
		}
		s := get(i)
		var slot **rawField
		switch f.name {
		case "arc-seal":
			slot = &s.as
		case "arc-message-signature":
			slot = &s.ams
		default:
			slot = &s.aar
		}
		if *slot != nil {
			return nil, fmt.Sprintf("instance %d has two %s fields", i, f.name)
		}
		*slot = f
	}
	var out []*arcSet
	for i := len(sets); i >= 1; i-- {
		s := sets[i]
		if s == nil || s.as == nil || s.ams == nil || s.aar == nil {
			return nil, fmt.Sprintf("instance %d is incomplete or missing", i)
		}
		s.tags = parseTags(strings.SplitN(s.as.text, ":", 2)[1])
		_, rest, _ := strings.Cut(strings.SplitN(s.aar.text, ":", 2)[1], ";")
		s.aarParsed, s.aarParsedOK = ParseAuthResults(strings.TrimSpace(rest))
		s.aarID = s.aarParsed.AuthServID
		out = append(out, s)
	}
	if len(out) != len(sets) {
		return nil, "instances are not numbered 1 to N"
	}
	return out, ""
}

// checkARC reads and, through the resolver, validates the chain (RFC 8617
// section 5.2). trust names the boundary's receivers (whose own sets are
// not forwarding) and sealers lists the sealers whose results may be used.
func checkARC(ctx context.Context, r resolve.Resolver, fields []rawField, body []byte, trust ARTrust, offline bool) (ARC, []*arcSet) {
	out := ARC{Result: None, Sets: []ARCSet{}}
	sets, problem := readARC(fields)
	if problem != "" {
		out.Result, out.Reason = Fail, problem
		return out, nil
	}
	if len(sets) == 0 {
		return out, nil
	}
	forwarder := false // a set that is not own was seen: none below is
	for _, s := range sets {
		// Own: written by the boundary's receivers. Its authserv-id is
		// the sealer's own text, so it alone proves nothing (a spammer
		// seals a set of its own claiming our receiver's name, to pass
		// off a replayed set below it as the forwarder's): the seal must
		// also be made with a key of the boundary's own domains, and only
		// the newest sets can be ours.
		own := !forwarder && s.aarParsedOK && trust.claims(s.aarID) && trust.boundarySealer(s.tags["d"])
		out.Sets = append(out.Sets, ARCSet{Instance: s.i, Sealer: strings.ToLower(s.tags["d"]), Selector: s.tags["s"], CV: strings.ToLower(s.tags["cv"]), AuthServID: s.aarID, Own: own})
		if !own && !forwarder {
			forwarder = true
			out.ForwardedBy = strings.ToLower(s.tags["d"])
		}
	}
	if offline {
		out.Reason = "offline: the seals were not verified"
		return out, sets
	}
	out.Verified = true
	fail := func(why string) (ARC, []*arcSet) {
		out.Result, out.Reason = Fail, why
		return out, sets
	}
	// Structure: the newest seal must not say fail; instance 1 says none,
	// the others pass.
	for _, s := range sets {
		cv := strings.ToLower(s.tags["cv"])
		switch {
		case s.i == 1 && cv != "none", s.i > 1 && cv != "pass":
			return fail(fmt.Sprintf("instance %d has cv=%s", s.i, cv))
		}
	}
	// The newest message signature.
	if _, err := verifyMessageSig(ctx, r, fields, body, *sets[0].ams); err != nil {
		return fail(fmt.Sprintf("ARC-Message-Signature i=%d: %v", sets[0].i, err))
	}
	// Every seal, over the sets up to its own (relaxed, in order).
	ordered := append([]*arcSet(nil), sets...)
	sort.Slice(ordered, func(a, b int) bool { return ordered[a].i < ordered[b].i })
	for n := range ordered {
		if err := verifySeal(ctx, r, ordered, n); err != nil {
			return fail(err.Error())
		}
		if err := ctx.Err(); err != nil {
			return fail(err.Error())
		}
	}
	out.Result = Pass
	return out, sets
}

// verifySeal checks the seal of ordered[n] (sets in instance order): its
// signature covers, relaxed, the sets 1 to n in order and its own seal
// without b=; a seal that records a broken chain (cv=fail) covers its own
// set only.
func verifySeal(ctx context.Context, r resolve.Resolver, ordered []*arcSet, n int) error {
	s := ordered[n]
	cover := ordered[:n+1]
	if strings.EqualFold(s.tags["cv"], "fail") {
		cover = ordered[n : n+1]
	}
	var data strings.Builder
	for _, p := range cover {
		data.WriteString(relaxedHeader(p.aar.text))
		data.WriteString(relaxedHeader(p.ams.text))
		if p != s {
			data.WriteString(relaxedHeader(p.as.text))
		}
	}
	data.WriteString(strings.TrimSuffix(relaxedHeader(withoutB(s.as.text)), "\r\n"))
	key, err := pubKey(ctx, r, s.tags["s"], s.tags["d"])
	if err == nil {
		err = verifySig(key, s.tags["a"], []byte(data.String()), s.tags["b"])
	}
	if err != nil {
		return fmt.Errorf("ARC-Seal i=%d by %s: %w", s.i, s.tags["d"], err)
	}
	return nil
}

// boundarySealer reports whether d is a domain the boundary's receivers
// seal with: a receiver's own domain (or a parent of it), an operator's
// --trusted name's, or the ARC sealer of a known provider among the
// boundary's receivers.
func (t ARTrust) boundarySealer(d string) bool {
	d = strings.ToLower(strings.TrimSuffix(d, "."))
	if d == "" {
		return false
	}
	for _, s := range t.OwnSealers {
		if strings.EqualFold(s, d) {
			return true
		}
	}
	for _, r := range append(append([]string(nil), t.Receivers...), t.IDs...) {
		r = strings.ToLower(strings.TrimPrefix(r, "."))
		if r == d || strings.HasSuffix(r, "."+d) {
			return true
		}
	}
	return false
}

// trustedSealer reports whether results sealed by d may be used: a sealer
// the trusted providers name, or one of the boundary's receivers' domains.
func (t ARTrust) trustedSealer(d string) bool {
	for _, s := range t.Sealers {
		if strings.EqualFold(s, d) {
			return true
		}
	}
	for _, r := range append(append([]string(nil), t.Receivers...), t.IDs...) {
		r = strings.ToLower(strings.TrimPrefix(r, "."))
		if strings.EqualFold(r, d) || strings.HasSuffix(r, "."+strings.ToLower(d)) {
			return true
		}
	}
	return false
}

// useARC takes spf, dkim and dmarc from the forwarder's
// ARC-Authentication-Results when its chain verified and the forwarder is a
// trusted sealer: they say what the message was before forwarding, which
// the checks at our boundary — of the forwarder's address, of a body a list
// changed — cannot. Only results that did not pass here are replaced.
func useARC(res *Results, sets []*arcSet, t ARTrust, from string) {
	a := &res.ARC
	if a.Result != Pass || a.ForwardedBy == "" || !t.trustedSealer(a.ForwardedBy) {
		return
	}
	var fw *arcSet
	for k, s := range sets {
		if k < len(a.Sets) && !a.Sets[k].Own {
			fw = s
			break
		}
	}
	if fw == nil || !fw.aarParsedOK {
		return
	}
	a.UsedFrom = a.ForwardedBy
	why := fmt.Sprintf("reported by the trusted ARC sealer %s (instance %d) before it forwarded the message", a.ForwardedBy, fw.i)
	for _, m := range fw.aarParsed.Results {
		switch m.Method {
		case "spf":
			if res.SPF.Result != Pass {
				out := SPF{Result: m.Result, Source: SourceARC, Identity: "mailfrom", IP: m.Props["smtp.remote-ip"], Reason: why}
				if out.IP == "" {
					out.IP = commentIP(m.Comment)
				}
				if d := m.Props["smtp.mailfrom"]; d != "" {
					out.Domain = domainOrSelf(d)
				} else if d := m.Props["smtp.helo"]; d != "" {
					out.Identity, out.Domain = "helo", d
				}
				res.SPF = out
			}
		case "dmarc":
			if d := strings.ToLower(m.Props["header.from"]); res.DMARC.Result != Pass && (d == "" || d == from) {
				res.DMARC.Result, res.DMARC.Source, res.DMARC.Reason = m.Result, SourceARC, why
			}
		case "dkim":
			d := strings.ToLower(m.Props["header.d"])
			if d == "" {
				d = domainOrSelf(m.Props["header.i"])
			}
			for i := range res.DKIM {
				if res.DKIM[i].Domain == d && res.DKIM[i].Result != Pass {
					res.DKIM[i].Result, res.DKIM[i].Source, res.DKIM[i].Reason = m.Result, SourceARC, why
				}
			}
		}
	}
}
