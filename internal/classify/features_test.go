package classify

import (
	"slices"
	"strings"
	"testing"
)

// TestReceivingSideFieldsLeftOut: two copies of one message, collected at
// different sites and times — another mbox envelope line, another Date,
// other delivery and mail-store fields, another filter's verdict, and
// trace fields whose times differ — have the same features, while the
// sender's own fields and the relays' names still count.
func TestReceivingSideFieldsLeftOut(t *testing.T) {
	body := "Subject: cheap watches\r\nFrom: Shop <deals@shop.example>\r\nTo: you@example.org\r\n" +
		"Content-Type: text/plain\r\n\r\nGenuine replica watches at low prices, order today.\r\n"
	a := "From deals@shop.example Mon Apr 26 10:17:56 2010\r\n" +
		"X-Mozilla-Status: 0001\r\nX-UIDL: UID12994-1201487268\r\nX-Account-Key: account2\r\n" +
		"Delivered-To: m1@mail.one.example\r\nX-Original-To: m1@mail.one.example\r\n" +
		"Received: from relay.shop.example ([192.0.2.7]) by mx.one.example with ESMTP id 8762E; Sun, 25 Apr 2010 22:50:21 +0900 (JST)\r\n" +
		"X-Barracuda-Spam-Score: 1.56\r\nX-Spam-Status: No, score=1.2\r\nX-Virus-Scanned: by amavisd-new\r\n" +
		"X-ASG-Debug-ID: 1269919280-4c3951000001-W4TwRL\r\nX-ASG-Orig-Subj: cheap watches\r\n" +
		"X-BarracudaStatus: No, SCORE=1.60 using per-user scores of TAG_LEVEL=1000.0\r\nX-BitDefenderWKS-Status: clean\r\n" +
		"Date: Sun, 25 Apr 2010 16:50:10 +0300\r\n" + body
	b := "From deals@shop.example Thu Aug 22 03:01:09 2002\r\n" +
		"Status: RO\r\nX-Keywords: NonJunk\r\nDelivered-To: jm@two.example\r\n" +
		"Received: from relay.shop.example ([192.0.2.7]) by mx.one.example with ESMTP id 8762E; Thu, 22 Aug 2002 03:00:59 -0700 (PDT)\r\n" +
		"Authentication-Results: two.example; spf=pass\r\nReceived-SPF: pass\r\n" +
		"Date: Thu, 22 Aug 2002 11:00:51 +0100\r\n" + body
	names := func(raw string) []string {
		f := extract(parse([]byte(raw)), DefaultParams(), true)
		n := nameStrings(f)
		slices.Sort(n)
		return n
	}
	na, nb := names(a), names(b)
	if !slices.Equal(na, nb) {
		t.Errorf("features differ between two collections of one message:\n%v\n%v", na, nb)
	}
	for _, want := range []string{"subject:watches", "rcvd:relay.shop.example", "replica"} {
		if !slices.Contains(na, want) {
			t.Errorf("feature %q missing: %v", want, na)
		}
	}
	for _, n := range na {
		if strings.Contains(n, "Apr") || strings.Contains(n, "JST") || strings.Contains(n, "uidl") || strings.Contains(n, "barracuda") ||
			strings.Contains(n, "asg") || strings.Contains(n, "bitdefender") || strings.HasPrefix(n, "head:") {
			t.Errorf("a receiving-side feature is left in: %q", n)
		}
	}
}

// TestLocalAddressesOneWord: an address outside the Internet's routable
// space names a host on one site's own network, and the same number is
// another host at the next site. Two copies of a message that passed
// through different sites' internal relays with such addresses have the
// same features; public addresses stay words of their own.
func TestLocalAddressesOneWord(t *testing.T) {
	msg := func(inner string) string {
		return "Received: from gw.site.example (gw.site.example [" + inner + "]) by mx.site.example with ESMTP id 1A\r\n" +
			"Received: from relay.shop.example ([192.0.2.7]) by gw.site.example with ESMTP id 2B\r\n" +
			"Subject: cheap watches\r\nFrom: Shop <deals@shop.example>\r\nContent-Type: text/plain\r\n\r\n" +
			"Order today. Our router is at " + inner + " and 203.0.113.9\r\n"
	}
	names := func(raw string) []string {
		f := extract(parse([]byte(raw)), DefaultParams(), true)
		n := nameStrings(f)
		slices.Sort(n)
		return n
	}
	ref := names(msg("192.168.3.1"))
	for _, inner := range []string{"10.0.0.7", "172.16.200.1", "127.0.0.1", "169.254.10.1", "100.64.1.1", "0.0.0.0"} {
		if got := names(msg(inner)); !slices.Equal(got, ref) {
			t.Errorf("%s: features differ from 192.168.3.1's:\n%v\n%v", inner, got, ref)
		}
	}
	for _, want := range []string{"rcvd:<local-ip>", "<local-ip>", "rcvd:192.0.2.7", "203.0.113.9"} {
		if !slices.Contains(ref, want) {
			t.Errorf("feature %q missing: %v", want, ref)
		}
	}
	if got := names(msg("172.32.0.1")); slices.Equal(got, ref) || !slices.Contains(got, "rcvd:172.32.0.1") {
		t.Errorf("172.32.0.1 is a public address, read as local: %v", got)
	}
	for w, local := range map[string]bool{"192.168.0.1": true, "10.255.255.255": true, "172.31.0.1": true, "100.127.0.1": true,
		"100.128.0.1": false, "8.8.8.8": false, "1.2.3": false, "999.1.1.1": false, "192.168.001.001": false, "abc.def.ghi.jkl": false, "240.0.0.1": true} {
		if got := localIPv4([]byte(w)); got != local {
			t.Errorf("localIPv4(%q) = %v, want %v", w, got, local)
		}
	}
}

// nameStrings are a feature set's names as shown.
func nameStrings(f *featureSet) []string {
	var n []string
	for _, x := range f.names {
		n = append(n, x.String())
	}
	return n
}
