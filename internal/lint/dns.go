package lint

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"blitiri.com.ar/go/spf"

	"github.com/accord-antispam/accord/internal/dnsname"
	"github.com/accord-antispam/accord/internal/mail"
	"github.com/accord-antispam/accord/internal/mailauth"
	"github.com/accord-antispam/accord/internal/resolve"
)

// auth checks the sending domain's authentication as published in DNS:
// the envelope domain's SPF record, each DKIM signature against its key,
// and the From domain's DMARC record and alignment.
func (c *checker) auth(ctx context.Context) {
	if c.offline() {
		for _, x := range []struct{ id, title string }{{"auth.spf", "SPF for the envelope domain"}, {"auth.dkim", "A DKIM signature that verifies"},
			{"auth.dmarc", "A DMARC record for the From domain"}} {
			c.add(Finding{Check: x.id, Area: AreaAuth, Status: NeedsContext, Title: x.title,
				Detail: "DNS was not asked (offline): run with --resolver live, or a fixture zone"})
		}
		c.spfOK, c.dkimOK, c.dmarcOK, c.aligned = NeedsContext, NeedsContext, NeedsContext, NeedsContext
		return
	}
	c.spf(ctx)
	c.dkim()
	c.dmarc()
}

func (c *checker) envelopeDomain() string {
	mf := c.o.MailFrom
	if mf == "" {
		mf = mail.AddrSpec(c.m.Header.Get("Return-Path"))
	}
	if d := mail.DomainOf(mf); d != "" {
		return strings.ToLower(d)
	}
	return strings.ToLower(c.v.Sender.Domains.From)
}

const spfTitle = "SPF for the envelope domain"

func (c *checker) spf(ctx context.Context) {
	dom := c.envelopeDomain()
	f := Finding{Check: "auth.spf", Area: AreaAuth, Title: spfTitle, Citations: []string{"RFC 7208", citeBulk}}
	if dom == "" {
		f.Status, f.Detail = Breach, "no envelope or From domain to check"
		c.add(f)
		c.spfOK = Breach
		return
	}
	rec, err := spfRecord(ctx, c.res, dom)
	switch {
	case err != nil:
		f.Status, f.Detail = Breach, err.Error()
		f.Fix = "Publish one TXT record \"v=spf1 … -all\" at " + dom + " naming the servers that send for it."
	default:
		f.Status, f.Detail = OK, dom+": "+rec
		all := spfAll(rec)
		switch all {
		case "+all", "all":
			f.Status, f.Detail = Breach, dom+" ends in "+all+": anyone may send as it ("+rec+")"
			f.Fix = "End the record in -all or ~all."
		case "?all", "":
			f.Status = Warning
			f.Detail += "; it ends in " + orNone(all) + ", which protects nothing"
			f.Fix = "End the record in -all or ~all."
		}
		if n, err := spfLookups(ctx, c.res, dom, 0); err != nil || n > 10 {
			f.Status = Breach
			if err != nil {
				f.Detail = dom + ": " + err.Error()
			} else {
				f.Detail = fmt.Sprintf("%s needs %d DNS lookups; more than 10 is a permanent error (RFC 7208 4.6.4)", dom, n)
			}
		}
	}
	if f.Status == OK && c.o.IP != "" {
		ip, err := netip.ParseAddr(c.o.IP)
		if err == nil {
			res, err := spf.CheckHostWithSender(net.IP(ip.AsSlice()), dom, "postmaster@"+dom, spf.WithResolver(c.res), spf.WithContext(ctx))
			if res != spf.Pass {
				f.Status = Breach
				f.Detail = fmt.Sprintf("%s from %s: SPF %s", dom, c.o.IP, res)
				if err != nil {
					f.Detail += " (" + err.Error() + ")"
				}
			} else {
				f.Detail += "; " + c.o.IP + " passes"
			}
		}
	}
	c.spfOK = f.Status
	c.add(f)
}

func orNone(s string) string {
	if s == "" {
		return "no all mechanism"
	}
	return s
}

// spfRecord returns the domain's one SPF record.
func spfRecord(ctx context.Context, r resolve.Resolver, dom string) (string, error) {
	txts, err := r.LookupTXT(ctx, dom)
	var de *net.DNSError
	if err != nil && !(errors.As(err, &de) && de.IsNotFound) {
		return "", fmt.Errorf("%s: the SPF lookup failed: %v", dom, err)
	}
	var recs []string
	for _, t := range txts {
		l := strings.ToLower(strings.TrimSpace(t))
		if l == "v=spf1" || strings.HasPrefix(l, "v=spf1 ") {
			recs = append(recs, strings.TrimSpace(t))
		}
	}
	switch len(recs) {
	case 0:
		return "", fmt.Errorf("%s publishes no SPF record", dom)
	case 1:
		return recs[0], nil
	}
	return "", fmt.Errorf("%s publishes %d SPF records; more than one is a permanent error (RFC 7208 4.5)", dom, len(recs))
}

func spfAll(rec string) string {
	for _, t := range strings.Fields(strings.ToLower(rec)) {
		if strings.TrimLeft(t, "+-~?") == "all" {
			return t
		}
	}
	return ""
}

// spfLookups counts the DNS-querying terms of a record, following include
// and redirect (RFC 7208 4.6.4).
func spfLookups(ctx context.Context, r resolve.Resolver, dom string, depth int) (int, error) {
	if depth > 10 {
		return 11, nil
	}
	rec, err := spfRecord(ctx, r, dom)
	if err != nil {
		if depth == 0 {
			return 0, err
		}
		return 0, fmt.Errorf("an include points to %s, which has no usable SPF record", dom)
	}
	n := 0
	for _, t := range strings.Fields(strings.ToLower(rec))[1:] {
		t = strings.TrimLeft(t, "+-~?")
		name, arg, _ := strings.Cut(t, ":")
		if strings.HasPrefix(t, "redirect=") {
			name, arg = "redirect", t[len("redirect="):]
		}
		switch {
		case name == "include" || name == "redirect":
			n++
			m, err := spfLookups(ctx, r, arg, depth+1)
			if err != nil {
				return 0, err
			}
			n += m
		case name == "a" || strings.HasPrefix(name, "a/") || name == "mx" || strings.HasPrefix(name, "mx/") || name == "ptr" || name == "exists":
			n++
		}
	}
	return n, nil
}

func (c *checker) dkim() {
	from := c.v.Sender.Domains.From
	sigs := c.v.Auth.DKIM
	f := Finding{Check: "auth.dkim", Area: AreaAuth, Title: "A DKIM signature that verifies", Citations: []string{"RFC 6376", "RFC 8301", citeBulk}}
	if len(sigs) == 0 {
		f.Status, f.Detail = Breach, "the message is not DKIM-signed"
		f.Fix = "Sign with DKIM (d= your From domain or its parent), and lint the message as it leaves your signing server."
		c.add(f)
		c.dkimOK = Breach
		return
	}
	var pass, fail []string
	testing := false
	for _, s := range sigs {
		d := s.Domain + " (s=" + s.Selector + ")"
		if s.Result == mailauth.Pass {
			pass = append(pass, d)
		} else {
			fail = append(fail, d+": "+string(s.Result)+" "+s.Reason)
			testing = testing || s.Result == mailauth.Policy
		}
	}
	switch {
	case len(pass) > 0:
		f.Status, f.Detail = OK, "verifies: "+strings.Join(pass, ", ")
		if len(fail) > 0 {
			f.Detail += "; fails: " + strings.Join(fail, "; ")
		}
	default:
		f.Status, f.Detail = Breach, strings.Join(fail, "; ")
		f.Fix = "Publish the key at SELECTOR._domainkey.DOMAIN and sign the message as sent (no change after signing)."
		if testing {
			f.Fix = "Take t=y out of the key record once signing works: receivers treat mail signed under a key in testing mode as unsigned."
		}
	}
	c.dkimOK = f.Status
	c.add(f)
	aligned := false
	for _, s := range sigs {
		if s.Result == mailauth.Pass && from != "" && dnsname.SameOrg(s.Domain, from) {
			aligned = true
		}
	}
	al := Finding{Check: "auth.dkim-aligned", Area: AreaAuth, Title: "DKIM d= aligns with the From domain", Citations: []string{"RFC 7489 section 3.1.1", citeBulk}}
	if aligned {
		c.aligned = OK
		al.Status, al.Detail = OK, "a passing signature's d= shares the organizational domain of "+from
	} else {
		al.Status, al.Detail = Breach, "no passing signature's d= shares the organizational domain of "+orDash(from)
		al.Fix = "Sign with d= your From domain (or its organizational domain)."
	}
	c.add(al)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func (c *checker) dmarc() {
	d := c.v.Auth.DMARC
	f := Finding{Check: "auth.dmarc", Area: AreaAuth, Title: "A DMARC record for the From domain", Citations: []string{"RFC 7489", citeBulk}}
	switch {
	case d.Policy != "":
		f.Status = OK
		f.Detail = fmt.Sprintf("p=%s at _dmarc.%s; this message: %s", d.Policy, d.RecordDomain, d.Result)
		if d.Result != mailauth.Pass {
			f.Status = Breach
			f.Detail += " (" + d.Reason + ")"
			f.Fix = "Make SPF or DKIM pass aligned with the From domain."
		}
	case d.Result == mailauth.TempError || d.Result == mailauth.PermError:
		f.Status, f.Detail = Breach, "the DMARC lookup failed: "+d.Reason
	default:
		f.Status, f.Detail = Breach, orDash(d.Reason)
		f.Fix = "Publish \"v=DMARC1; p=none; rua=mailto:…\" at _dmarc." + orDash(dnsname.OrgDomain(c.v.Sender.Domains.From)) + " at least."
	}
	c.dmarcOK = f.Status
	if c.aligned != OK {
		c.aligned = Breach
		if d.SPFAligned {
			c.aligned = OK
		}
	}
	c.add(f)
}
