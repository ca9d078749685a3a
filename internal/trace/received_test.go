package trace

import (
	"fmt"
	"runtime"
	"strings"
	"testing"

	"github.com/accord-antispam/accord/internal/mail"
)

// Received formats as the common MTAs write them. Addresses are from the
// documentation ranges; the shapes are the MTAs' own.
var receivedCases = []struct {
	mta, line                string
	kind, ip, helo, rdns, by string
	auth                     bool
}{
	{"postfix", "from mail.example.org (mail.example.org [192.0.2.10]) by mx.example.net (Postfix) with ESMTPS id 4F1A2B3C4D for <u@example.net>; Tue, 3 Nov 2026 10:00:00 +0100 (CET)",
		KindRelay, "192.0.2.10", "mail.example.org", "mail.example.org", "mx.example.net", false},
	{"postfix-unknown", "from helo.example (unknown [198.51.100.7]) by mx.example.net (Postfix) with SMTP id 9029AFB732; Sat, 8 Nov 2003 17:57:46 -0500 (EST)",
		KindRelay, "198.51.100.7", "helo.example", "", "mx.example.net", false},
	{"postfix-attached", "from 203.0.113.3 (unknown[198.51.100.65]) by puzzle.example.com (Postfix) with SMTP id 9029AFB732; Sat, 8 Nov 2003 17:57:46 -0500 (EST)",
		KindRelay, "198.51.100.65", "203.0.113.3", "", "puzzle.example.com", false},
	{"postfix-sasl", "from [192.168.1.5] (host.example [198.51.100.20]) (Authenticated sender: alice) by smtp.example.net (Postfix) with ESMTPSA id 1; Tue, 3 Nov 2026 10:00:00 +0000",
		KindRelay, "198.51.100.20", "[192.168.1.5]", "host.example", "smtp.example.net", true},
	{"sendmail", "from mail1.example.com (host66.example.com [192.0.2.66] (may be forged)) by dogma.example.org (8.11.6/8.11.6) with ESMTP id h2F0c2x31856 for <jm@example.org>; Sat, 15 Mar 2003 00:38:03 GMT",
		KindRelay, "192.0.2.66", "mail1.example.com", "host66.example.com", "dogma.example.org", false},
	{"sendmail-ident", "from ran-out.example.com (IDENT:qmailr@one.example.com [192.0.2.115]) by dogma.example.org (8.11.6/8.11.6) with SMTP id h381Vvf19860; Tue, 8 Apr 2003 02:31:57 +0100",
		KindRelay, "192.0.2.115", "ran-out.example.com", "one.example.com", "dogma.example.org", false},
	{"sendmail-literal-helo", "from [192.168.1.2] (dsl.example.net [198.51.100.8]) by dogma.example.org (8.11.6/8.11.6) with ESMTP id gAT07XW04583; Fri, 29 Nov 2002 00:07:35 +0000",
		KindRelay, "198.51.100.8", "[192.168.1.2]", "dsl.example.net", "dogma.example.org", false},
	{"exim", "from dsl092.example.net ([198.51.100.213] helo=blazing.example.org) by list1.example.net with esmtp (Exim 3.31-VA-mm2 #1 (Debian)) id 18lyuU-0007TI-00 for <x@example.net>; Thu, 20 Feb 2003 14:11:18 -0800",
		KindRelay, "198.51.100.213", "blazing.example.org", "dsl092.example.net", "list1.example.net", false},
	{"exim-literal", "from [203.0.113.26] (helo=host) by list1.example.net with smtp (Exim 3.31-VA-mm2 #1 (Debian)) id 18t2z0-0001NX-00; Wed, 12 Mar 2003 01:57:10 -0800",
		KindRelay, "203.0.113.26", "host", "", "list1.example.net", false},
	{"exim-port", "from server040.example.de ([192.0.2.48]:52313) by vps.example.info with esmtps (TLS-1.0:DHE_RSA_3DES_EDE_CBC_SHA:24) (Exim 4.50) id 1GzVLs-0002Oz-7b; Mon, 1 Jan 2007 10:00:00 +0100",
		KindRelay, "192.0.2.48", "server040.example.de", "server040.example.de", "vps.example.info", false},
	{"exim-local", "from andrew by trinity.example.net with local (Exim 4.12) id 18xeL6-000Dn1-00; Tue, 25 Mar 2003 02:39:00 +0000",
		KindLocal, "", "", "", "trinity.example.net", false},
	{"qmail", "from unknown (HELO terpsichore.example.com) (jdavid@[198.51.100.70]) (envelope-sender <jdavid@example.com>) by mail13.example.net (qmail-ldap-1.03) with SMTP for <jm@example.org>; 12 Feb 2003 18:23:19 -0000",
		KindRelay, "198.51.100.70", "terpsichore.example.com", "", "mail13.example.net", false},
	{"qmail-same-helo", "from adsl.example.net (198.51.100.129) by totor.example.net with SMTP; 10 Nov 2003 06:30:34 -0000",
		KindRelay, "198.51.100.129", "adsl.example.net", "adsl.example.net", "totor.example.net", false},
	{"qmail-ip-name", "from 198.51.100.5 (HELO www) by smtp.example.net (192.0.2.109) with SMTP; 17 Jul 2002 01:56:56 -0700",
		KindRelay, "198.51.100.5", "www", "", "smtp.example.net", false},
	{"qmail-invoked", "(qmail 27981 invoked by uid 225); 14 Mar 2003 07:24:34 -0000",
		KindLocal, "", "", "", "", false},
	{"exchange-smtpsvc", "from inet-vrs-05.example.com ([192.0.2.157]) by INET-IMC-05.example.com with Microsoft SMTPSVC(5.0.2195.6624); Thu, 6 Mar 2003 12:02:35 -0800",
		KindRelay, "192.0.2.157", "inet-vrs-05.example.com", "", "INET-IMC-05.example.com", false},
	{"exchange-online", "from EUR05-AM6-obe.outbound.protection.example.com (2a01:111:f400:7e1b::200) by DB8EUR05FT016.mail.protection.example.com (2a01:111:e400:7e1a::177) with Microsoft SMTP Server (version=TLS1_2, cipher=TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384) id 15.20.4755.13 via Frontend Transport; Mon, 29 Nov 2021 11:17:19 +0000",
		KindRelay, "2a01:111:f400:7e1b::200", "EUR05-AM6-obe.outbound.protection.example.com", "", "DB8EUR05FT016.mail.protection.example.com", false},
	{"gmail", "from mail-sor-f41.google.example (mail-sor-f41.google.example. [209.85.220.41]) by mx.google.example with SMTPS id a1sor123.2026.11.03.10.00.00 for <u@example.net> (Google Transport Security); Tue, 03 Nov 2026 10:00:00 -0800 (PST)",
		KindRelay, "209.85.220.41", "mail-sor-f41.google.example", "mail-sor-f41.google.example", "mx.google.example", false},
	{"gmail-ipv6", "from mail.example.org (mail.example.org. [2001:db8::25]) by mx.google.example with ESMTPS id x; Tue, 03 Nov 2026 10:00:00 -0800 (PST)",
		KindRelay, "2001:db8::25", "mail.example.org", "mail.example.org", "mx.google.example", false},
	{"gmail-submission", "from [10.0.0.5] ([198.51.100.44]) by smtp.gmail.example with ESMTPSA id y; Tue, 03 Nov 2026 10:00:00 -0800 (PST)",
		KindRelay, "198.51.100.44", "[10.0.0.5]", "", "smtp.gmail.example", true},
	{"yahoo-http", "from [193.0.2.134] by web40310.mail.example.com via HTTP; Wed, 12 Feb 2003 14:22:21 PST",
		KindRelay, "193.0.2.134", "[193.0.2.134]", "", "web40310.mail.example.com", true},
	{"hotmail-http", "from 192.0.2.21 by lw11fd.law11.hotmail.example.com with HTTP; Wed, 24 Jul 2002 16:36:44 GMT",
		KindRelay, "192.0.2.21", "192.0.2.21", "", "lw11fd.law11.hotmail.example.com", true},
	{"fetchmail", "from jalapeno [127.0.0.1] by localhost with IMAP (fetchmail-5.9.0) for jm@localhost (single-drop); Thu, 26 Sep 2002 16:42:15 +0100 (IST)",
		KindFetch, "127.0.0.1", "jalapeno", "", "localhost", false},
	{"getmail", "from pop3.example.dk (192.0.2.251) by loki.valhalla with POP3; 14 Apr 2010 11:14:29 -0000",
		KindFetch, "192.0.2.251", "pop3.example.dk", "pop3.example.dk", "loki.valhalla", false},
	{"ipv6-prefix", "from host.example (host.example [IPv6:2001:db8::1]) by mx.example.net (8.14.4/8.14.4) with ESMTP id q; Tue, 3 Nov 2026 10:00:00 +0000",
		KindRelay, "2001:db8::1", "host.example", "host.example", "mx.example.net", false},
	{"mapped-v4", "from Agni (localhost [::ffff:127.0.0.1]) (TLS: TLSv1/SSLv3, 168bits,DES-CBC3-SHA) by agni.example.net with esmtp; Mon, 28 Oct 2002 14:48:52 -0800",
		KindRelay, "127.0.0.1", "Agni", "localhost", "agni.example.net", false},
	{"gmail-api", "from 477704550209 named unknown by gmailapi.google.com with HTTPREST; Sat, 14 Feb 2026 10:20:33 -0800",
		KindLocal, "", "", "", "gmailapi.google.com", false},
	{"no-ip", "from mail.example.com by relay.example.net (PMDF V4.3-10 #8779) id <01KTSSR50NSW001MXN@example.net>; Fri, 21 Mar 2003 20:50:56 +0100",
		KindUnparsed, "", "mail.example.com", "", "relay.example.net", false},
}

func TestParseReceivedFormats(t *testing.T) {
	for _, c := range receivedCases {
		t.Run(c.mta, func(t *testing.T) {
			h := ParseReceived(c.line)
			if h.Kind != c.kind || h.IP != c.ip || h.HELO != c.helo || h.RDNS != c.rdns || h.By != c.by || (h.Auth != "") != c.auth {
				t.Errorf("ParseReceived:\n got kind=%s ip=%q helo=%q rdns=%q by=%q auth=%q\nwant kind=%s ip=%q helo=%q rdns=%q by=%q auth=%v",
					h.Kind, h.IP, h.HELO, h.RDNS, h.By, h.Auth, c.kind, c.ip, c.helo, c.rdns, c.by, c.auth)
			}
			if h.Time == nil && strings.Contains(c.line, ";") {
				t.Errorf("date not parsed from %q", c.line)
			}
			// Only the named form's "unknown" is the receiver saying the
			// client has no reverse name (qmail's "from unknown" is not).
			if want := c.mta == "postfix-unknown" || c.mta == "postfix-attached"; h.NoRDNS != want {
				t.Errorf("NoRDNS = %v, want %v", h.NoRDNS, want)
			}
		})
	}
}

func header(fields ...string) mail.Header {
	var h mail.Header
	for _, f := range fields {
		k, v, _ := strings.Cut(f, ": ")
		h.Fields = append(h.Fields, mail.Field{Name: k, Value: v})
	}
	return h
}

func TestOriginBehindFetchmailAndLocalHops(t *testing.T) {
	h := header(
		"Received: from localhost (localhost [127.0.0.1]) by home.example.org (Postfix) with ESMTP id C0DA4; Thu, 26 Sep 2002 16:42:15 +0100",
		"Received: from pop.example.net [192.0.2.1] by localhost with POP3 (fetchmail-5.9.0) for me@localhost (single-drop); Thu, 26 Sep 2002 16:42:15 +0100",
		"Received: (qmail 1234 invoked by uid 500); 26 Sep 2002 15:31:50 -0000",
		"Received: from mx.example.net (mx.example.net [10.1.1.1]) by store.example.net (Postfix) with ESMTP id 1; Thu, 26 Sep 2002 15:31:49 +0000",
		"Received: from spammer.example (dsl.example.com [198.51.100.9]) by mx.example.net (Postfix) with SMTP id 2; Thu, 26 Sep 2002 15:31:48 +0000",
		"Received: from forged.example ([203.0.113.77]) by mail.bank.example (8.9.3/8.9.3) with ESMTP id 3; Thu, 26 Sep 2002 15:31:40 +0000",
	)
	tr := Build(h, Trust{})
	o := tr.OriginHop()
	if o == nil || o.IP != "198.51.100.9" || o.RDNS != "dsl.example.com" || o.HELO != "spammer.example" {
		t.Fatalf("origin = %+v", o)
	}
	last := tr.Hops[len(tr.Hops)-1]
	if last.Trusted || !hasFlag(last, "chain-mismatch") {
		t.Errorf("the planted hop below the origin should be untrusted and flagged: %+v", last)
	}
}

func TestGivenTrust(t *testing.T) {
	// The receiver's MX is run by a hosting company under another domain:
	// nothing in the message ties it to the receiver.
	h := header(
		"Received: from mx1.hosting.example (mx1.hosting.example [203.0.113.5]) by store.example.net with ESMTP id 1; Thu, 26 Sep 2002 15:31:49 +0000",
		"Received: from sender.example (sender.example [198.51.100.9]) by mx1.hosting.example with SMTP id 2; Thu, 26 Sep 2002 15:31:48 +0000",
	)
	if o := Build(h, Trust{}).OriginHop(); o == nil || o.IP != "203.0.113.5" {
		t.Fatalf("inferred trust: origin = %+v, want the public MX", o)
	}
	for _, spec := range []string{"203.0.113.0/24", "203.0.113.5", "mx1.hosting.example", ".hosting.example"} {
		tr, err := ParseTrust(spec)
		if err != nil {
			t.Fatal(err)
		}
		if o := Build(h, tr).OriginHop(); o == nil || o.IP != "198.51.100.9" {
			t.Errorf("--trusted %s: origin = %+v, want the sender", spec, o)
		}
	}
	if _, err := ParseTrust("not a host!"); err == nil {
		t.Error("ParseTrust accepted garbage")
	}
}

func TestOriginatingIPHeader(t *testing.T) {
	h := header(
		"Received: from localhost (localhost [127.0.0.1]) by home.example.org (Postfix) with ESMTP id C0DA4; Thu, 26 Sep 2002 16:42:15 +0100",
		"X-Originating-IP: [198.51.100.33]",
	)
	if o := Build(h, Trust{}).OriginHop(); o == nil || o.IP != "198.51.100.33" || o.Kind != KindHeaderTag {
		t.Fatalf("origin = %+v", o)
	}
}

func TestForgeryFlags(t *testing.T) {
	h := header(
		"Received: from mx.example.net (mx.example.net [10.0.0.2]) by store.example.net with ESMTP id 1; Thu, 26 Sep 2002 15:31:49 +0000",
		"Received: from [198.51.100.1] (bad.example [203.0.113.9] (may be forged)) by mx.example.net (8.12.1/8.12.1) with SMTP id 2; Thu, 26 Sep 2002 15:31:48 +0000",
		"Received: from mx.example.net ([0.1.2.3]) by mx.example.net with SMTP id 3; Thu, 30 Sep 2002 15:31:48 +0000",
	)
	tr := Build(h, Trust{})
	o := tr.OriginHop()
	if o == nil || !hasFlag(*o, "helo-ip-mismatch") || !hasFlag(*o, "rdns-unconfirmed") {
		t.Fatalf("origin flags = %+v", o)
	}
	planted := tr.Hops[2]
	for _, f := range []string{"bogon-ip", "time-reversed", "time-future", "helo-is-receiver"} {
		if !hasFlag(planted, f) {
			t.Errorf("planted hop lacks %s: %+v", f, planted.Flags)
		}
	}
}

func TestNoFlagsOnOrdinaryRelays(t *testing.T) {
	h := header(
		"Received: from mx.example.net (mx.example.net [10.0.0.2]) by store.example.net with ESMTP id 1; Thu, 26 Sep 2002 15:31:49 +0000",
		"Received: from list.example.org (list.example.org [198.51.100.3]) by mx.example.net with ESMTP id 2; Thu, 26 Sep 2002 15:31:48 +0000",
		"Received: from list.example.org (localhost [127.0.0.1]) by list.example.org (Postfix) with ESMTP id 3; Thu, 26 Sep 2002 15:31:47 +0000",
		"Received: from author.example.com (author.example.com [203.0.113.20]) by list.example.org (Postfix) with ESMTP id 4; Thu, 26 Sep 2002 15:31:40 +0000",
	)
	for _, hop := range Build(h, Trust{}).Hops {
		if len(hop.Flags) > 0 {
			t.Errorf("hop %d flagged: %+v", hop.Index, hop.Flags)
		}
	}
}

func hasFlag(h Hop, code string) bool {
	for _, f := range h.Flags {
		if string(f.Code) == code {
			return true
		}
	}
	return false
}

// FuzzParseReceived checks properties that a wrong parser breaks, not only
// the absence of panics:
//   - a relay has an address, and an IP is always a parsed address;
//   - the receiver's own field keeps what it recorded whatever the client
//     greeted with: the fuzzed text's first word as the greeting of
//     "from G (unknown [203.0.113.7]) by mx.victim.example …" never moves
//     the client address, the receiver, the protocol, the id or the date,
//     and the origin is that client, with or without the fuzzed text as a
//     hop below it (the origin is never taken from below the boundary);
//   - parsing allocates memory in proportion to the field's length
//     (BenchmarkParseReceived shows the time).
func FuzzParseReceived(f *testing.F) {
	for _, c := range receivedCases {
		f.Add(c.line)
	}
	for _, g := range []string{"getmail.spam.example", "with", "a[10.0.0.1]", "[x", "(x", "a[IPv6:::1]", "from"} {
		f.Add(g)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h := ParseReceived(s)
		if h.Kind == KindRelay {
			if _, ok := h.Addr(); !ok {
				t.Fatalf("relay without an address: %+v", h)
			}
		}
		if h.IP != "" {
			if _, ok := h.Addr(); !ok {
				t.Fatalf("IP %q without a parsed address", h.IP)
			}
		}
		if n := allocated(func() { ParseReceived(s) }); n > 256*uint64(len(s))+1<<16 {
			t.Fatalf("%d bytes allocated for a field of %d", n, len(s))
		}
		line := strings.NewReplacer("\r", " ", "\n", " ").Replace(s)
		if g := strings.Fields(line); len(g) > 0 {
			edge := ParseReceived(edgeWithGreeting(g[0]))
			if edge.Kind != KindRelay || edge.IP != "203.0.113.7" || edge.By != "mx.victim.example" || edge.Protocol != "ESMTP" || edge.ID != "4TQ1" || edge.Auth != "" || edge.Time == nil {
				t.Fatalf("greeting %q: kind=%s ip=%q by=%q protocol=%q id=%q auth=%q time=%v", g[0], edge.Kind, edge.IP, edge.By, edge.Protocol, edge.ID, edge.Auth, edge.Time)
			}
			wantOrigin(t, build(t, Trust{}, edgeWithGreeting(g[0])), "203.0.113.7", 0)
		}
		if strings.TrimSpace(line) != "" {
			wantOrigin(t, build(t, Trust{}, edgeWithGreeting("mail.spam.example"), line), "203.0.113.7", 0)
		}
	})
}

func allocated(f func()) uint64 {
	var a, b runtime.MemStats
	runtime.ReadMemStats(&a)
	f()
	runtime.ReadMemStats(&b)
	return b.TotalAlloc - a.TotalAlloc
}

// BenchmarkParseReceived: time per field of growing size, for fields built
// to be hard (nested comments, brackets, clause words); ns/op grows in
// proportion to the size.
func BenchmarkParseReceived(b *testing.B) {
	for _, n := range []int{100, 1000, 10000} {
		for name, v := range map[string]string{
			"parens":   "from " + strings.Repeat("(", n) + " by mx.example.net with ESMTP; Mon, 1 Jan 2024 10:00:00 +0000",
			"brackets": "from x " + strings.Repeat("[1.2.3.4 ", n) + "by mx.example.net; Mon, 1 Jan 2024 10:00:00 +0000",
			"clauses":  "from x (y [192.0.2.1]) " + strings.Repeat("by with id for via ", n) + "; Mon, 1 Jan 2024 10:00:00 +0000",
		} {
			b.Run(fmt.Sprintf("%s/%d", name, n), func(b *testing.B) {
				b.SetBytes(int64(len(v)))
				for b.Loop() {
					ParseReceived(v)
				}
			})
		}
	}
}
