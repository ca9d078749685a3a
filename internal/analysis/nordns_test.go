package analysis

import (
	"context"
	"net/netip"
	"slices"
	"testing"

	"github.com/accord-antispam/accord/internal/mail"
)

// The origin without a reverse name, in our receiver's own record (its
// Received field, or the MTA's word at a filter door), is the no-rdns
// finding; a named origin, a client that logged in to submit, a qmail
// "from unknown" and a client inside our networks are not.
func TestNoRDNS(t *testing.T) {
	a := analyzer(t, nil)
	const inside = "Received: from mx.example.net (mx.example.net [10.0.0.2]) by mail.example.net (Postfix) with ESMTP id A1; Mon, 2 Mar 2026 10:00:02 +0000\r\n"
	const rest = "From: Shop <s@shop.example>\r\nTo: ana@example.net\r\nSubject: offer\r\nDate: Mon, 2 Mar 2026 10:00:00 +0000\r\nMessage-ID: <n1@shop.example>\r\n\r\nHello.\r\n"
	for _, c := range []struct {
		name, received string
		env            Envelope
		want           bool
	}{
		{"postfix unknown", inside + "Received: from helo.example (unknown [198.51.100.7]) by mx.example.net (Postfix) with SMTP id B2; Mon, 2 Mar 2026 10:00:01 +0000\r\n", Envelope{}, true},
		{"postfix named", inside + "Received: from helo.example (host.example [198.51.100.7]) by mx.example.net (Postfix) with SMTP id B2; Mon, 2 Mar 2026 10:00:01 +0000\r\n", Envelope{}, false},
		{"logged in to submit", inside + "Received: from [192.168.1.5] (unknown [198.51.100.20]) (Authenticated sender: alice) by mx.example.net (Postfix) with ESMTPSA id B3; Mon, 2 Mar 2026 10:00:01 +0000\r\n", Envelope{}, false},
		{"qmail from unknown", inside + "Received: from unknown (HELO helo.example) (198.51.100.70) by mx.example.net with SMTP; 2 Mar 2026 10:00:01 -0000\r\n", Envelope{}, false},
		{"door: the MTA found no name", "", Envelope{RemoteIP: netip.MustParseAddr("198.51.100.7"), NoRDNS: true}, true},
		{"door: a name, or no word of it", "", Envelope{RemoteIP: netip.MustParseAddr("198.51.100.7")}, false},
		{"door: a client inside our networks", "", Envelope{RemoteIP: netip.MustParseAddr("10.1.2.3"), NoRDNS: true}, false},
	} {
		v, err := a.Analyze(context.Background(), Input{Source: c.name, Envelope: c.env, Message: mail.ParseBytes([]byte(c.received+rest), mail.DefaultLimits())})
		if err != nil {
			t.Fatal(err)
		}
		if got := slices.Contains(reasonCodes(v), ReasonNoRDNS); got != c.want {
			t.Errorf("%s: no-rdns %v, want %v (origin %s, reasons %v)", c.name, got, c.want, v.Origin.IP, reasonCodes(v))
		}
	}
}
