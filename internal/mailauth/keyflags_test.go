package mailauth

import (
	"bytes"
	"strings"
	"testing"

	"github.com/emersion/go-msgauth/dkim"

	"github.com/accord-antispam/accord/internal/resolve"
)

// flagged is a key record with a t= tag put before its p=.
func flagged(k keyPair, t string) string {
	return strings.Replace(k.txt, "p=", "t="+t+"; p=", 1)
}

// A key published in testing mode (t=y): RFC 6376 section 3.6.1 says to
// treat the message as unsigned, even should the signature fail. The
// signature gets Policy, which nothing counts as a pass (DMARC fails here,
// under the From's p=reject) or as a failure; the same key without the
// flag passes, so it is the flag that decides. Both verifiers: go-msgauth
// for a plain signature, Accord's own for one with l=.
func TestDKIMKeyInTestingModeCountsAsUnsigned(t *testing.T) {
	k := edKey(t)
	msg := string(toCRLF([]byte(unsigned)))
	plain := sign(t, msg, "example.org", "ed", k)
	withL := lSigned(t, msg, "example.org", k)
	zone := func(key string) *resolve.Zone {
		z := &resolve.Zone{}
		z.AddTXT("ed._domainkey.example.org", key)
		z.AddTXT("_dmarc.example.org", "v=DMARC1; p=reject")
		z.AddTXT("example.org", "v=spf1 -all")
		return z
	}
	for _, c := range []struct {
		name, msg string
	}{{"plain", plain}, {"l=", withL}} {
		res := check(t, zone(k.txt), c.msg, Input{})
		if d := res.DKIM[0]; d.Result != Pass || res.DMARC.Result != Pass {
			t.Fatalf("%s, key not in testing: dkim %+v, dmarc %s", c.name, d, res.DMARC.Result)
		}
		for _, flags := range []string{"y", "s:y", " y : s "} {
			res := check(t, zone(flagged(k, flags)), c.msg, Input{})
			d := res.DKIM[0]
			if d.Result != Policy || d.Source != SourceComputed || !strings.Contains(d.Reason, "testing mode") {
				t.Errorf("%s, t=%s: dkim %+v", c.name, flags, d)
			}
			if res.DMARC.Result != Fail || res.DMARC.DKIMAligned {
				t.Errorf("%s, t=%s: dmarc %+v", c.name, flags, res.DMARC)
			}
		}
		// Failing under a testing key: unsigned too, not a failure.
		tampered := strings.Replace(c.msg, "attached", "ATTACHED", 1)
		if d := check(t, zone(k.txt), tampered, Input{}).DKIM[0]; d.Result != Fail {
			t.Fatalf("%s, tampered, key not in testing: %+v", c.name, d)
		}
		if d := check(t, zone(flagged(k, "y")), tampered, Input{}).DKIM[0]; d.Result != Policy || !strings.Contains(d.Reason, "does not verify") {
			t.Errorf("%s, tampered, t=y: %+v", c.name, d)
		}
	}
}

// A key with t=s: a signature whose i= is a subdomain of d= is refused
// (PermError); i= at d= itself, or no i=, passes, and without the flag the
// subdomain passes too.
func TestDKIMStrictKeyRefusesSubdomainIdentity(t *testing.T) {
	k := edKey(t)
	signAs := func(id string) string {
		var out bytes.Buffer
		opts := &dkim.SignOptions{Domain: "example.org", Selector: "ed", Signer: k.signer, Identifier: id,
			HeaderKeys: []string{"From", "To", "Subject", "Date", "Message-ID"}}
		if err := dkim.Sign(&out, strings.NewReader(unsigned), opts); err != nil {
			t.Fatal(err)
		}
		return out.String()
	}
	for _, c := range []struct {
		key, id string
		want    Result
	}{
		{flagged(k, "s"), "alice@mail.example.org", PermError},
		{flagged(k, "s"), "@Mail.Example.org", PermError},
		{flagged(k, "s"), "alice@example.org", Pass},
		{flagged(k, "s"), "@example.org", Pass},
		{flagged(k, "s"), "", Pass},
		{k.txt, "alice@mail.example.org", Pass},
	} {
		z := &resolve.Zone{}
		z.AddTXT("ed._domainkey.example.org", c.key)
		if d := check(t, z, signAs(c.id), Input{}).DKIM[0]; d.Result != c.want {
			t.Errorf("key %.20q…, i=%q: %s (%s), want %s", c.key, c.id, d.Result, d.Reason, c.want)
		}
	}
}
