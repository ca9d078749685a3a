package analysis

import (
	"fmt"
	"strings"
	"testing"

	"github.com/accord-antispam/accord/internal/mailauth"
	"github.com/accord-antispam/accord/internal/resolve"
	"github.com/accord-antispam/accord/internal/rules"
	"github.com/accord-antispam/accord/internal/trace"
)

// Messages crafted by a review that attacked the verdict as a spammer
// would. 203.0.113.7 is the spammer's address as our receiver recorded it;
// the spammer writes a hop from a real PayPal address (66.211.170.66) below
// ours, and Authentication-Results in our receiver's name, to be blamed on
// PayPal and vouched for.

const paypalBody = "From: PayPal <service@paypal.com>\r\n" +
	"To: victim@victim.example\r\n" +
	"Subject: Your account is limited\r\n" +
	"Date: Mon, 1 Jan 2024 09:59:58 +0000\r\n" +
	"Message-ID: <1@paypal.com>\r\n" +
	"\r\n" +
	"Please log in at http://paypa1-secure.example/login\r\n"

const plantedAR = "Authentication-Results: mx.victim.example; spf=pass smtp.mailfrom=paypal.com; dkim=pass header.d=paypal.com header.s=s1; dmarc=pass header.from=paypal.com\r\n"

const paypalHop = "Received: from mx1.paypal.com (mx1.paypal.com [66.211.170.66]) by relay.example.net with ESMTPS id 2; Mon, 1 Jan 2024 09:59:59 +0000\r\n"

// edgeMessage is our receiver's field with the spammer's greeting, then
// the spammer's own fields.
func edgeMessage(greeting string) string {
	return "Received: from " + greeting + " (unknown [203.0.113.7]) by mx.victim.example (Postfix) with ESMTP id 4TQ1; Mon, 1 Jan 2024 10:00:00 +0000\r\n" +
		plantedAR + paypalHop + paypalBody
}

// wantSpammerBlamed: the origin is the spammer's recorded address, the
// planted field is ignored and forged, nothing vouches for PayPal, and the
// identity is disguised.
func wantSpammerBlamed(t *testing.T, v *Verdict) {
	t.Helper()
	if v.Origin.IP != "203.0.113.7" {
		t.Errorf("origin %q at hop %d (%s), want 203.0.113.7", v.Origin.IP, v.Origin.Hop, v.Origin.Why)
	}
	if v.Auth.SPF.Result != mailauth.None || v.Auth.DMARC.Result != mailauth.None || len(v.Auth.DKIM) != 0 {
		t.Errorf("the planted field was believed: spf %s dmarc %s dkim %+v", v.Auth.SPF.Result, v.Auth.DMARC.Result, v.Auth.DKIM)
	}
	forged := false
	for _, ar := range v.Auth.Headers {
		if ar.Trusted {
			t.Errorf("trusted: %+v", ar)
		}
		forged = forged || ar.Forged
	}
	if !forged {
		t.Errorf("the planted field is not marked forged: %+v", v.Auth.Headers)
	}
	if v.Sender.IdentityDisguised != rules.True {
		t.Errorf("identity disguised %v: %+v", v.Sender.IdentityDisguised, v.Sender.Findings)
	}
}

// Finding: the receiver's own field read through the greeting the spammer
// chose.
func TestCraftedGreetingDoesNotMoveTheBoundary(t *testing.T) {
	an := analyzer(t, resolve.Offline{})
	for _, g := range []string{"getmail.spam.example", "mail.spam.example", "with", "by", "id", "via",
		"a[10.0.0.1]", "a[127.0.0.1]", "a[::ffff:127.0.0.1]", "a[IPv6:::1]", "[x", "(x", "fetchmail.spam.example"} {
		t.Run(g, func(t *testing.T) {
			wantSpammerBlamed(t, analyze(t, an, edgeMessage(g), Context{}))
		})
	}
	// A continuation line after the field, and an envelope sender that
	// names a fetcher, change nothing.
	cont := strings.Replace(edgeMessage("mail.spam.example"), "+0000\r\n", "+0000\r\n\tgetmail\r\n", 1)
	wantSpammerBlamed(t, analyze(t, an, cont, Context{}))
	exim := "Received: from [203.0.113.7] (helo=mail.spam.example)\r\n\tby mx.victim.example with esmtp (Exim 4.96)\r\n\t(envelope-from <getmail@spam.example>)\r\n\tid 1qAbCd-000123-AB\r\n\tfor victim@victim.example; Mon, 01 Jan 2024 10:00:00 +0000\r\n" +
		plantedAR + paypalHop + paypalBody
	wantSpammerBlamed(t, analyze(t, an, exim, Context{}))
	// With no hop below, the greeting's address never makes every relay
	// "inside".
	alone := "Received: from a[10.0.0.1] (unknown [203.0.113.7]) by mx.victim.example (Postfix) with ESMTP id 4TQ1; Mon, 1 Jan 2024 10:00:00 +0000\r\n" + paypalBody
	if v := analyze(t, an, alone, Context{}); v.Origin.IP != "203.0.113.7" {
		t.Errorf("alone: origin %q (%s)", v.Origin.IP, v.Origin.Why)
	}
	// --trusted-only is the operator's list alone.
	only, err := trace.ParseTrust("192.0.2.25")
	if err != nil {
		t.Fatal(err)
	}
	only.Only = true
	ao := analyzer(t, resolve.Offline{})
	ao.Trust = only
	for _, g := range []string{"getmail.spam.example", "with", "a[10.0.0.1]", "[x"} {
		v := analyze(t, ao, edgeMessage(g), Context{})
		if v.Origin.IP != "203.0.113.7" || v.Auth.DMARC.Result != mailauth.None {
			t.Errorf("--trusted-only, greeting %q: origin %q dmarc %s", g, v.Origin.IP, v.Auth.DMARC.Result)
		}
	}
}

// The same attack on a real Microsoft 365 delivery: the edge's greeting,
// and a Microsoft-style field (no authserv-id) planted below it.
func TestCraftedMicrosoft365Edge(t *testing.T) {
	an := analyzer(t, resolve.Offline{})
	for _, g := range []string{"getmail.example.net", "with", "a[10.0.0.1]", "[x"} {
		t.Run(g, func(t *testing.T) {
			msg := m365Top +
				"Authentication-Results: spf=none (sender IP is 103.167.154.108) smtp.mailfrom=dokhk.example; dkim=none (message not signed) header.d=none;dmarc=fail action=quarantine header.from=paypal.com;compauth=fail reason=000\r\n" +
				"Received-SPF: None (protection.outlook.com: dokhk.example does not designate permitted sender hosts)\r\n" +
				"Received: from " + g + " (103.167.154.108) by AM7EUR06FT021.mail.protection.outlook.com (10.233.255.85) with Microsoft SMTP Server id 15.20.5791.20 via Frontend Transport; Thu, 3 Nov 2022 15:16:13 +0000\r\n" +
				"Authentication-Results: spf=pass (sender IP is 66.211.170.66) smtp.mailfrom=paypal.com; dkim=pass header.d=paypal.com; dmarc=pass action=none header.from=paypal.com; compauth=pass reason=100\r\n" +
				"Received: from mx1.paypal.com (mx1.paypal.com [66.211.170.66]) by relay.example.net with ESMTPS id abc; Thu, 3 Nov 2022 15:16:12 +0000\r\n" +
				paypalBody
			v := analyze(t, an, msg, Context{})
			if v.Origin.IP != "103.167.154.108" {
				t.Errorf("origin %q (%s)", v.Origin.IP, v.Origin.Why)
			}
			if v.Auth.DMARC.Result != mailauth.Fail {
				t.Errorf("dmarc %s, want Microsoft's own fail", v.Auth.DMARC.Result)
			}
			for _, d := range v.Auth.DKIM {
				if d.Result == mailauth.Pass {
					t.Errorf("dkim %+v from the planted field", d)
				}
			}
			if n := len(v.Auth.Headers); n != 2 || !v.Auth.Headers[0].Trusted || v.Auth.Headers[1].Trusted || !v.Auth.Headers[1].Forged {
				t.Errorf("headers %+v", v.Auth.Headers)
			}
		})
	}
}

// Microsoft 365's own hops, above its inbound edge.
const m365Top = "Received: from MW3PR19MB4251.namprd19.prod.outlook.com (::1) by MN0PR19MB6312.namprd19.prod.outlook.com with HTTPS; Thu, 3 Nov 2022 15:16:15 +0000\r\n" +
	"Received: from AM5PR1001CA0039.EURPRD10.PROD.OUTLOOK.COM (2603:10a6:206:15::16) by MW3PR19MB4251.namprd19.prod.outlook.com (2603:10b6:303:4a::20) with Microsoft SMTP Server (version=TLS1_2, cipher=TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384) id 15.20.5769.15; Thu, 3 Nov 2022 15:16:14 +0000\r\n" +
	"Received: from AM7EUR06FT021.eop-eur06.prod.protection.outlook.com (2603:10a6:206:15:cafe::7a) by AM5PR1001CA0039.outlook.office365.com (2603:10a6:206:15::16) with Microsoft SMTP Server (version=TLS1_2, cipher=TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384) id 15.20.5791.20 via Frontend Transport; Thu, 3 Nov 2022 15:16:14 +0000\r\n"

// Finding: an authenticated submission from a private or loopback address
// (webmail, proxy) is the origin; the hop below is the client's own.
func TestCraftedAuthenticatedSubmissionFromLoopback(t *testing.T) {
	msg := "Received: from localhost (localhost [127.0.0.1]) (Authenticated sender: joe@provider.example) by smtp.provider.example (Postfix) with ESMTPSA id 1; Mon, 1 Jan 2024 10:00:00 +0000\r\n" +
		"Received: from mx1.paypal.com (mx1.paypal.com [66.211.170.66]) by laptop.example with ESMTP id 2; Mon, 1 Jan 2024 09:59:59 +0000\r\n" +
		paypalBody
	v := analyze(t, analyzer(t, resolve.Offline{}), msg, Context{})
	if v.Origin.Hop != 0 || !v.Origin.Authenticated || v.Origin.IP == "66.211.170.66" || v.Origin.Hops[1].Boundary != trace.ClientWritten {
		t.Errorf("origin %q hop %d authenticated %v (%s); hop 1 %s", v.Origin.IP, v.Origin.Hop, v.Origin.Authenticated, v.Origin.Why, v.Origin.Hops[1].Boundary)
	}
	if v.Origin.IP != "" || v.Origin.Country != "" {
		t.Errorf("the account is the origin, its address unknown: ip %q", v.Origin.IP)
	}
}

// Finding: a receiver field with no client address ends the walk; the
// hop below it is the sender's claim.
func TestCraftedReceiverWithoutAddress(t *testing.T) {
	msg := "Received: from mail.spam.example by mx.victim.example with ESMTPS id 4TQ1; Mon, 1 Jan 2024 10:00:00 +0000\r\n" + paypalHop + paypalBody
	v := analyze(t, analyzer(t, resolve.Offline{}), msg, Context{})
	if v.Origin.IP != "" || v.Origin.Hop != 0 || !strings.Contains(v.Origin.Why, "recorded no client address") {
		t.Errorf("origin %q hop %d (%s)", v.Origin.IP, v.Origin.Hop, v.Origin.Why)
	}
}

// Finding: a greeting or an unchecked reverse name taken for the
// receiver's forward-confirmed relay; and the same name exempting a planted
// field from the forged flag.
func TestCraftedUnverifiedRelayName(t *testing.T) {
	below := "Received: from mx1.paypal.com (mx1.paypal.com [66.211.170.66]) by relay.victim.example with ESMTPS id 2; Mon, 1 Jan 2024 09:59:59 +0000\r\n"
	cases := map[string]string{
		"qmail": "Received: (qmail 12345 invoked by uid 89); 1 Jan 2024 10:00:01 -0000\r\n" +
			"Received: from relay.victim.example (HELO mail.spam.example) (203.0.113.7) by mx.victim.example with SMTP; 1 Jan 2024 10:00:00 -0000\r\n",
		"IMail": "Received: from relay.victim.example [203.0.113.7] by mx.victim.example\r\n  (SMTPD32-8.15) id A1B2C3D4; Mon, 01 Jan 2024 10:00:00 +0000\r\n",
	}
	for name, top := range cases {
		t.Run(name, func(t *testing.T) {
			wantSpammerBlamed(t, analyze(t, analyzer(t, resolve.Offline{}), top+plantedAR+below+paypalBody, Context{}))
		})
	}
	// --trusted .victim.example trusts verified names only.
	tr, err := trace.ParseTrust(".victim.example")
	if err != nil {
		t.Fatal(err)
	}
	an := analyzer(t, resolve.Offline{})
	an.Trust = tr
	msg := "Received: (qmail 12345 invoked by uid 89); 1 Jan 2024 10:00:01 -0000\r\n" +
		"Received: from relay.victim.example (203.0.113.7) by mx.victim.example with SMTP; 1 Jan 2024 10:00:00 -0000\r\n" +
		plantedAR + below + paypalBody
	if v := analyze(t, an, msg, Context{}); v.Origin.IP != "203.0.113.7" || v.Auth.DMARC.Result == mailauth.Pass {
		t.Errorf("--trusted .victim.example: origin %q (%s), dmarc %s", v.Origin.IP, v.Origin.Why, v.Auth.DMARC.Result)
	}
}

// Finding (low): an Exim envelope sender that spells "(authenticated
// sender: x)" does not make the origin an authenticated submission, nor the
// planted hop below it the client's own.
func TestCraftedEnvelopeSenderIsNotAuthentication(t *testing.T) {
	msg := "Received: from [203.0.113.7] (helo=mail.spam.example)\r\n\tby mx.victim.example with esmtp (Exim 4.96)\r\n\t(envelope-from <\"(authenticated sender: x)\"@spam.example>)\r\n\tid 1qAbCd-000123-AB\r\n\tfor victim@victim.example; Mon, 01 Jan 2024 10:00:00 +0000\r\n" +
		plantedAR + paypalHop + paypalBody
	v := analyze(t, analyzer(t, resolve.Offline{}), msg, Context{})
	wantSpammerBlamed(t, v)
	if v.Origin.Authenticated || v.Origin.Hops[1].Boundary != trace.Beyond {
		t.Errorf("authenticated %v, hop 1 %s", v.Origin.Authenticated, v.Origin.Hops[1].Boundary)
	}
}

// Finding (low): --trusted host names are authserv-ids exactly as the
// option documents them: ".corp.example" its subdomains, "corp.example"
// that name only.
func TestCraftedOperatorAuthservIDs(t *testing.T) {
	msg := "Authentication-Results: filter.corp.example; spf=fail smtp.mailfrom=paypal.com; dmarc=fail header.from=paypal.com\r\n" +
		"Received: from mail.spam.example (unknown [203.0.113.7]) by mx.hosting.example (Postfix) with ESMTP id 4TQ1; Mon, 1 Jan 2024 10:00:00 +0000\r\n" +
		paypalBody
	for spec, believed := range map[string]bool{".corp.example": true, "filter.corp.example": true, "corp.example": false, "other.corp.example": false} {
		tr, err := trace.ParseTrust(spec)
		if err != nil {
			t.Fatal(err)
		}
		an := analyzer(t, resolve.Offline{})
		an.Trust = tr
		v := analyze(t, an, msg, Context{})
		if got := v.Auth.Headers[0].Trusted; got != believed {
			t.Errorf("--trusted %s: filter.corp.example believed %v, want %v", spec, got, believed)
		}
	}
}

// Finding: Gmail writes Received-SPF and Authentication-Results right below
// its own "by mx.google.com" field: that field is Gmail's own, not a
// forgery; a second one in Gmail's name below it is.
func TestGmailOwnAuthenticationResultsBelowItsReceived(t *testing.T) {
	gmail := func(from, dmarc string, extra string) string {
		return "Delivered-To: victim@gmail.com\r\n" +
			"Received: by 2002:a05:6520:4c9:b0:26f:3a0c:4933 with SMTP id gp9csp3501332lkb;\r\n        Thu, 14 Sep 2023 16:22:43 -0700 (PDT)\r\n" +
			"Return-Path: <return@bounce.shop.example>\r\n" +
			"Received: from mail.shop.example (mail.shop.example. [198.51.100.74])\r\n        by mx.google.com with ESMTPS id w4-20020a5d6804000000b0031976c36d06si1029931wru.911.2023.09.14.16.22.43\r\n        for <victim@gmail.com>;\r\n        Thu, 14 Sep 2023 16:22:43 -0700 (PDT)\r\n" +
			"Received-SPF: pass (google.com: domain of return@bounce.shop.example designates 198.51.100.74 as permitted sender) client-ip=198.51.100.74;\r\n" +
			"Authentication-Results: mx.google.com;\r\n       spf=pass (google.com: domain of return@bounce.shop.example designates 198.51.100.74 as permitted sender) smtp.mailfrom=return@bounce.shop.example;\r\n       dmarc=" + dmarc + " (p=REJECT sp=REJECT dis=NONE) header.from=" + from + "\r\n" +
			extra +
			"From: Shop <news@" + from + ">\r\nTo: victim@gmail.com\r\nSubject: Sale\r\nDate: Thu, 14 Sep 2023 16:22:40 -0700\r\nMessage-ID: <g1@shop.example>\r\n\r\nHello\r\n"
	}
	an := analyzer(t, resolve.Offline{})
	v := analyze(t, an, gmail("shop.example", "pass", ""), Context{})
	if v.Origin.IP != "198.51.100.74" || len(v.Auth.Headers) != 1 || !v.Auth.Headers[0].Trusted || v.Auth.Headers[0].Forged {
		t.Fatalf("origin %q, headers %+v", v.Origin.IP, v.Auth.Headers)
	}
	if v.Auth.SPF.Result != mailauth.Pass || v.Auth.DMARC.Result != mailauth.Pass || v.Sender.ReturnPath != "return@bounce.shop.example" {
		t.Errorf("spf %s dmarc %s return path %q", v.Auth.SPF.Result, v.Auth.DMARC.Result, v.Sender.ReturnPath)
	}
	for _, f := range v.Sender.Findings {
		if f.Code == "forged-authentication-results" {
			t.Errorf("Gmail's own field called forged: %+v", f)
		}
	}
	// The spammer's field right after Gmail's own.
	v = analyze(t, an, gmail("paypal.com", "fail", "Authentication-Results: mx.google.com; dkim=pass header.d=paypal.com; dmarc=pass header.from=paypal.com\r\n"), Context{})
	if len(v.Auth.Headers) != 2 || !v.Auth.Headers[0].Trusted || v.Auth.Headers[1].Trusted || !v.Auth.Headers[1].Forged {
		t.Fatalf("headers %+v", v.Auth.Headers)
	}
	if v.Auth.DMARC.Result != mailauth.Fail || v.Sender.IdentityDisguised != rules.True {
		t.Errorf("dmarc %s, identity %v", v.Auth.DMARC.Result, v.Sender.IdentityDisguised)
	}
}

// Finding: the Return-Path is the final receiver's; one the sender wrote
// among its own fields is ignored.
func TestCraftedReturnPath(t *testing.T) {
	an := analyzer(t, resolve.Offline{})
	// Microsoft 365 appends its own after the header it received.
	msg := m365Top +
		"Authentication-Results: spf=none (sender IP is 103.167.154.108) smtp.mailfrom=dokhk.example; dkim=none (message not signed) header.d=none;dmarc=fail action=quarantine header.from=paypal.com;compauth=fail reason=000\r\n" +
		"Received: from quidemfythe.example (103.167.154.108) by AM7EUR06FT021.mail.protection.outlook.com (10.233.255.85) with Microsoft SMTP Server id 15.20.5791.20 via Frontend Transport; Thu, 3 Nov 2022 15:16:13 +0000\r\n" +
		"X-IncomingTopHeaderMarker: OriginalChecksum:0\r\n" +
		"Return-Path: <service@paypal.com>\r\n" +
		strings.TrimSuffix(paypalBody[:strings.Index(paypalBody, "\r\n\r\n")+2], "") +
		"X-IncomingHeaderCount: 6\r\n" +
		"Return-Path: bfoyz@dokhk.example\r\n" +
		"X-MS-Exchange-Organization-AuthAs: Anonymous\r\n" +
		"\r\nPlease log in at http://paypa1-secure.example/login\r\n"
	v := analyze(t, an, msg, Context{})
	if v.Sender.ReturnPath != "bfoyz@dokhk.example" || v.Sender.Alignment.ReturnPath {
		t.Errorf("return path %q aligned %v", v.Sender.ReturnPath, v.Sender.Alignment.ReturnPath)
	}
	// A Postfix delivery: the store writes it on top; one below the
	// boundary is the sender's.
	postfix := "Received: from mail.spam.example (unknown [203.0.113.7]) by mx.victim.example (Postfix) with ESMTP id 4TQ1; Mon, 1 Jan 2024 10:00:00 +0000\r\n" +
		"Return-Path: <service@paypal.com>\r\n" + paypalBody
	if v := analyze(t, an, postfix, Context{}); v.Sender.ReturnPath != "" {
		t.Errorf("planted return path %q", v.Sender.ReturnPath)
	}
	if v := analyze(t, an, "Return-Path: <bounce@spam.example>\r\n"+postfix, Context{}); v.Sender.ReturnPath != "bounce@spam.example" {
		t.Errorf("receiver's return path %q", v.Sender.ReturnPath)
	}
}

// Finding: the receiver echoes the envelope sender into its own trusted
// Authentication-Results; an RFC 2047 word there (a valid atom as a local
// part) or a quoted local part with a parenthesis must stay the sender's
// text, never become results of the receiver's field.
func TestCraftedEnvelopeSenderEchoedInTrustedAR(t *testing.T) {
	const encoded = "=?us-ascii?q?x=3B_dkim=3Dpass_header.d=3Dpaypal.com=3B_dmarc=3Dpass=3B?=@spam.example"
	body := "From: PayPal <service@paypal.com>\r\nTo: victim@gmail.com\r\nSubject: Your account is limited\r\nDate: Mon, 1 Jan 2024 09:59:58 +0000\r\nMessage-ID: <1@spam.example>\r\n\r\nPlease log in at http://paypa1-secure.example/login\r\n"
	gmail := "Received: by 2002:a05:6520:4c9:b0:26f:3a0c:4933 with SMTP id o9csp123456lkj;\r\n        Mon, 1 Jan 2024 10:00:01 -0800 (PST)\r\n" +
		"Received: from mail.spam.example (mail.spam.example. [203.0.113.7])\r\n        by mx.google.com with ESMTPS id a1si123.2024.01.01.10.00.00\r\n        for <victim@gmail.com>\r\n        (version=TLS1_3 cipher=TLS_AES_256_GCM_SHA384 bits=256/256);\r\n        Mon, 01 Jan 2024 10:00:00 -0800 (PST)\r\n" +
		"Received-SPF: pass (google.com: domain of " + encoded + " designates 203.0.113.7 as permitted sender) client-ip=203.0.113.7;\r\n" +
		"Authentication-Results: mx.google.com;\r\n       spf=pass (google.com: domain of " + encoded + " designates 203.0.113.7 as permitted sender) smtp.mailfrom=" + encoded + ";\r\n       dmarc=fail (p=REJECT sp=REJECT dis=QUARANTINE) header.from=paypal.com\r\n" +
		"Return-Path: <" + encoded + ">\r\n" + body
	rspamd := func(mailfrom string) string {
		return "Authentication-Results: mx.victim.example;\r\n\tspf=pass (mx.victim.example: domain of " + mailfrom + " designates 203.0.113.7 as permitted sender) smtp.mailfrom=" + mailfrom + ";\r\n\tdmarc=fail reason=\"No valid SPF, No valid DKIM\" header.from=paypal.com (policy=reject)\r\n" +
			"Received: from mail.spam.example (mail.spam.example [203.0.113.7])\r\n\tby mx.victim.example (Postfix) with ESMTPS id 4TQ1;\r\n\tMon,  1 Jan 2024 10:00:00 +0000 (UTC)\r\n" + body
	}
	an := analyzer(t, resolve.Offline{})
	for name, msg := range map[string]string{"gmail, encoded": gmail, "rspamd, encoded": rspamd(encoded), "rspamd, quoted parenthesis": rspamd(`"x(y"@spam.example`),
		// A quote that never closes ends with the property value.
		"rspamd, unterminated quote": rspamd(`"x\"@spam.example`),
		// rspamd names a DMARC failure by the policy applied.
		"rspamd, dmarc=reject": strings.Replace(rspamd(encoded), "dmarc=fail", "dmarc=reject", 1)} {
		t.Run(name, func(t *testing.T) {
			v := analyze(t, an, msg, Context{})
			if v.Origin.IP != "203.0.113.7" || len(v.Auth.Headers) == 0 || !v.Auth.Headers[0].Trusted {
				t.Fatalf("origin %q, headers %+v", v.Origin.IP, v.Auth.Headers)
			}
			if v.Auth.DMARC.Result != mailauth.Fail {
				t.Errorf("dmarc %s (%s), want the receiver's fail", v.Auth.DMARC.Result, v.Auth.DMARC.Reason)
			}
			for _, d := range v.Auth.DKIM {
				if d.Result == mailauth.Pass {
					t.Errorf("dkim %+v from the sender's text", d)
				}
			}
			if v.Sender.IdentityDisguised != rules.True {
				t.Errorf("identity disguised %v", v.Sender.IdentityDisguised)
			}
		})
	}
}

// Finding: a PayPal signature with l= and a phishing paragraph appended
// after what it signs. Offline, our receiver said dkim=pass and dmarc=pass
// (as receivers do for l= signatures); the verdict must still not let the
// appended text ride on it: a strong finding naming the tail's link,
// identity disguised, no DKIM alignment.
func TestCraftedDKIMLengthTail(t *testing.T) {
	signedBody := "Thanks for your payment.\r\n"
	msg := "Authentication-Results: mx.victim.example; spf=fail smtp.mailfrom=spam.example; dkim=pass header.d=paypal.com header.s=ed; dmarc=pass header.from=paypal.com\r\n" +
		"Received: from mail.spam.example (mail.spam.example [203.0.113.7]) by mx.victim.example (Postfix) with ESMTPS id 2; Tue, 3 Nov 2026 10:00:02 +0100\r\n" +
		"DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed; d=paypal.com; s=ed; l=" + fmt.Sprint(len(signedBody)) + "; h=from:to:subject:date:message-id; bh=x; b=y\r\n" +
		"From: PayPal <service@paypal.com>\r\nTo: bob@example.net\r\nSubject: Your receipt\r\nDate: Tue, 3 Nov 2026 10:00:00 +0100\r\nMessage-ID: <r1@paypal.com>\r\nContent-Type: text/plain\r\n\r\n" +
		signedBody + "\r\nYour account is limited. Log in within 24 hours: http://paypa1-secure.example/login\r\n"
	v := analyze(t, analyzer(t, resolve.Offline{}), msg, Context{})
	if len(v.Auth.DKIM) != 1 || v.Auth.DKIM[0].Result != mailauth.Pass || !v.Auth.DKIM[0].UnsignedText {
		t.Fatalf("dkim %+v", v.Auth.DKIM)
	}
	found := false
	for _, f := range v.Sender.Findings {
		if f.Code == "dkim-unsigned-tail" && f.Strength == rules.Strong && strings.Contains(f.Detail, "http://paypa1-secure.example/login") {
			found = true
		}
	}
	if !found || v.Sender.IdentityDisguised != rules.True || v.Sender.Alignment.DKIM {
		t.Errorf("identity %v, dkim aligned %v, findings %+v", v.Sender.IdentityDisguised, v.Sender.Alignment.DKIM, v.Sender.Findings)
	}
}

// Finding: Postfix writes the client's HELO with its spaces ("from a
// 10.0.0.1 (unknown [203.0.113.7]) by …"); no word of it is the receiver's.
// Also Sendmail's ident answer "(root@[127.0.0.1] [203.0.113.7])".
func TestCraftedMultiWordGreeting(t *testing.T) {
	an := analyzer(t, resolve.Offline{})
	only, err := trace.ParseTrust("192.0.2.25")
	if err != nil {
		t.Fatal(err)
	}
	only.Only = true
	ao := analyzer(t, resolve.Offline{})
	ao.Trust = only
	for _, g := range []string{"a 10.0.0.1", "a IPv6:::1", "a [10.0.0.1]", "a (localhost [127.0.0.1])", "a with POP3",
		"a with LMTP", "a with ESMTP (fetchmail", "a by x"} {
		t.Run(g, func(t *testing.T) {
			wantSpammerBlamed(t, analyze(t, an, edgeMessage(g), Context{}))
			wantSpammerBlamed(t, analyze(t, ao, edgeMessage(g), Context{}))
		})
	}
	ident := "Received: from mail.spam.example (root@[127.0.0.1] [203.0.113.7])\r\n\tby mx.victim.example (8.17.1/8.17.1) with ESMTP id 401A; Mon, 1 Jan 2024 10:00:00 +0000\r\n" +
		plantedAR + paypalHop + paypalBody
	wantSpammerBlamed(t, analyze(t, an, ident, Context{}))
}
