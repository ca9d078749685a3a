package trace

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/accord-antispam/accord/internal/cputime"
)

// Crafted chains of each kind the trust boundary must place. Names are the
// providers' real naming schemes (the provider data keys on them); client
// addresses outside the providers are from the documentation ranges.

func providers(t *testing.T) *Providers {
	t.Helper()
	p, err := EmbeddedProviders()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// asnTable is a fixture for the ASN seam: prefix -> autonomous system.
func asnTable(m map[string]uint32) func(netip.Addr) uint32 {
	return func(a netip.Addr) uint32 {
		for p, asn := range m {
			if netip.MustParsePrefix(p).Contains(a) {
				return asn
			}
		}
		return 0
	}
}

func build(t *testing.T, trust Trust, fields ...string) *Trace {
	t.Helper()
	var hs []string
	for _, f := range fields {
		hs = append(hs, "Received: "+f)
	}
	return Build(header(hs...), trust)
}

func wantOrigin(t *testing.T, tr *Trace, ip string, hop int) {
	t.Helper()
	o := tr.OriginHop()
	if o == nil || o.IP != ip || o.Index != hop {
		for _, h := range tr.Hops {
			t.Logf("hop %d %s %s: %s", h.Index, h.Boundary, h.IP, h.Why)
		}
		t.Fatalf("origin = %+v, want %s at hop %d", o, ip, hop)
	}
	for _, h := range tr.Hops {
		if h.Boundary == "" || h.Why == "" {
			t.Errorf("hop %d is not explained: %+v", h.Index, h)
		}
		if h.Index < hop && (h.Boundary != Inside || !h.Trusted) {
			t.Errorf("hop %d above the origin is %s", h.Index, h.Boundary)
		}
	}
}

func noFlags(t *testing.T, tr *Trace, upTo int) {
	t.Helper()
	for _, h := range tr.Hops[:upTo] {
		if len(h.Flags) > 0 {
			t.Errorf("hop %d (%s) flagged: %+v", h.Index, h.By, h.Flags)
		}
	}
}

var microsoft365 = []string{
	"from BY5PR19MB3939.namprd19.prod.outlook.com (2603:10b6:a03:22e::15) by MN0PR19MB6312.namprd19.prod.outlook.com with HTTPS; Sun, 10 Sep 2023 11:21:45 +0000",
	"from MW4PR04CA0193.namprd04.prod.outlook.com (2603:10b6:303:86::18) by BY5PR19MB3939.namprd19.prod.outlook.com (2603:10b6:a03:22e::15) with Microsoft SMTP Server (version=TLS1_2, cipher=TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384) id 15.20.6768.33; Sun, 10 Sep 2023 11:21:44 +0000",
	"from CO1NAM11FT087.eop-nam11.prod.protection.outlook.com (2603:10b6:303:86:cafe::56) by MW4PR04CA0193.outlook.office365.com (2603:10b6:303:86::18) with Microsoft SMTP Server (version=TLS1_2, cipher=TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384) id 15.20.6768.33 via Frontend Transport; Sun, 10 Sep 2023 11:21:43 +0000",
}

func TestMicrosoft365Chain(t *testing.T) {
	ps := providers(t)
	chain := append(append([]string(nil), microsoft365...),
		"from mail.example.org (192.0.2.25) by CO1NAM11FT087.mail.protection.outlook.com (10.13.174.68) with Microsoft SMTP Server (version=TLS1_2, cipher=TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384) id 15.20.6792.15 via Frontend Transport; Sun, 10 Sep 2023 11:21:43 +0000",
		"from berzas.example.lan ([10.230.84.249]:35609 helo=mail.example.org) by mail.example.org with esmtps (TLS1.2) (Exim 4.96) id 1qfGd9-0003hj-2n; Sun, 10 Sep 2023 12:21:23 +0300",
	)
	tr := build(t, Trust{Providers: ps}, chain...)
	wantOrigin(t, tr, "192.0.2.25", 3)
	noFlags(t, tr, len(tr.Hops))
	if tr.Hops[3].Provider != "Microsoft 365 / Outlook.com" || !strings.Contains(tr.Why, "inbound server") {
		t.Errorf("origin hop provider %q, why %q", tr.Hops[3].Provider, tr.Why)
	}
	if tr.Hops[4].Boundary != Beyond {
		t.Errorf("the sender's own hop is %s", tr.Hops[4].Boundary)
	}
	if got := tr.Hops[1].ByIP; got != "2603:10b6:a03:22e::15" {
		t.Errorf("by_ip = %q", got)
	}
	// Without the provider data, the internal hops are public addresses
	// with no network: the boundary stops at Microsoft's own host.
	if o := build(t, Trust{}, chain...).OriginHop(); o == nil || o.Index != 0 {
		t.Errorf("generic rules alone: origin %+v, want hop 0", o)
	}
}

// Another Microsoft 365 tenant sends: its outbound server is on Microsoft's
// own network, yet it is the origin — the inbound edge decides.
func TestMicrosoft365CrossTenant(t *testing.T) {
	ps := providers(t)
	chain := append(append([]string(nil), microsoft365...),
		"from KOR01-SL2-obe.outbound.protection.outlook.com (40.107.129.84) by CO1NAM11FT087.mail.protection.outlook.com (10.13.174.68) with Microsoft SMTP Server id 15.20.6792.15 via Frontend Transport; Sun, 10 Sep 2023 11:21:43 +0000",
		"from SL2P216MB1376.KORP216.PROD.OUTLOOK.COM (2603:1096:100:14::9) by SL2P216CA0099.outlook.office365.com (2603:1096:100:2::7) with Microsoft SMTP Server id 15.20.6768.33; Sun, 10 Sep 2023 11:21:41 +0000",
		"from SLXP216MB0703.KORP216.PROD.OUTLOOK.COM (2603:1096:100:b::13) by SL2P216MB1376.KORP216.PROD.OUTLOOK.COM (2603:1096:100:14::9) with Microsoft SMTP Server id 15.20.6768.33; Sun, 10 Sep 2023 11:21:40 +0000",
	)
	asn := asnTable(map[string]uint32{"40.107.0.0/16": 8075})
	tr := build(t, Trust{Providers: ps, ASN: asn}, chain...)
	wantOrigin(t, tr, "40.107.129.84", 3)
	noFlags(t, tr, len(tr.Hops))
}

func TestGmailChain(t *testing.T) {
	ps := providers(t)
	asn := asnTable(map[string]uint32{"209.85.128.0/17": 15169})
	tr := build(t, Trust{Providers: ps, ASN: asn},
		"by 2002:a05:6520:4c9:b0:26f:3a0c:4933 with SMTP id o9csp123456lkj; Tue, 3 Nov 2026 10:00:02 -0800 (PST)",
		"from mail-sor-f41.google.com (mail-sor-f41.google.com. [209.85.220.41]) by mx.google.com with SMTPS id a1sor123.2026.11.03.10.00.00 for <u@gmail.com> (Google Transport Security); Tue, 03 Nov 2026 10:00:01 -0800 (PST)",
		"by 2002:a05:6a10:1234:b0:4a2:1b2c:3d4e with SMTP id x; Tue, 3 Nov 2026 10:00:00 -0800 (PST)",
	)
	// Another Gmail user: Google's outbound server is the origin, though it
	// sits in Google's own network.
	wantOrigin(t, tr, "209.85.220.41", 1)
	tr = build(t, Trust{Providers: ps, ASN: asn},
		"by 2002:a05:6520:4c9:b0:26f:3a0c:4933 with SMTP id o9csp123456lkj; Tue, 3 Nov 2026 10:00:02 -0800 (PST)",
		"from mail.example.org (mail.example.org. [2001:db8::25]) by mx.google.com with ESMTPS id x; Tue, 03 Nov 2026 10:00:01 -0800 (PST)",
		"from [10.0.0.7] (dsl.example.net [198.51.100.20]) by mail.example.org (Postfix) with ESMTPSA id 1; Tue, 03 Nov 2026 19:00:00 +0100",
	)
	wantOrigin(t, tr, "2001:db8::25", 1)
	if tr.Hops[0].Boundary != Inside || tr.Hops[2].Boundary != Beyond {
		t.Errorf("boundaries: %s, %s", tr.Hops[0].Boundary, tr.Hops[2].Boundary)
	}
	// Below the boundary, Gmail's submission server and its outbound host
	// are one provider's: no chain mismatch.
	tr = build(t, Trust{Providers: ps, ASN: asn},
		"from mail-lf1-f66.google.com (mail-lf1-f66.google.com [209.85.167.66]) by mx.example.net (Postfix) with ESMTPS id 1; Tue, 03 Nov 2026 10:00:01 -0800",
		"from [10.0.0.7] ([198.51.100.20]) by smtp.gmail.com with ESMTPSA id x; Tue, 03 Nov 2026 10:00:00 -0800 (PST)",
	)
	wantOrigin(t, tr, "209.85.167.66", 0)
	noFlags(t, tr, len(tr.Hops))
}

// A small provider nobody lists: Postfix MX, an amavis loop, an internal
// relay, Dovecot LMTP. Generic rules only.
func TestSmallPostfixProvider(t *testing.T) {
	private := []string{
		"from mail.smallisp.example by mail.smallisp.example with LMTP id kC2rBm9UaWWxFgAA for <u@smallisp.example>; Tue, 3 Nov 2026 10:00:05 +0100",
		"from localhost (localhost [127.0.0.1]) by mail.smallisp.example (Postfix) with ESMTP id 4F1A2B3C4E for <u@smallisp.example>; Tue, 3 Nov 2026 10:00:04 +0100 (CET)",
		"from relay.smallisp.example (relay.smallisp.example [10.0.0.5]) by mail.smallisp.example (Postfix) with ESMTPS id 4F1A2B3C4D for <u@smallisp.example>; Tue, 3 Nov 2026 10:00:03 +0100 (CET)",
		"from shop.example.com (shop.example.com [198.51.100.40]) by relay.smallisp.example (Postfix) with ESMTPS id 1A2B3C for <u@smallisp.example>; Tue, 3 Nov 2026 10:00:02 +0100 (CET)",
	}
	tr := build(t, Trust{Providers: providers(t)}, private...)
	wantOrigin(t, tr, "198.51.100.40", 3)
	if !strings.Contains(tr.Hops[2].Why, "private") {
		t.Errorf("hop 2: %s", tr.Hops[2].Why)
	}

	// The same provider with public addresses: Dovecot receives over LMTP
	// from the relay's public address; the relay's forward-confirmed name
	// is the provider's own and it wrote the next field.
	public := []string{
		"from mail.smallisp.example ([192.0.2.7]) by imap.smallisp.example with LMTP id kC2rBm9UaWWxFgAA (envelope-from <x@example.com>) for <u@smallisp.example>; Tue, 3 Nov 2026 10:00:05 +0100",
		"from relay.smallisp.example (relay.smallisp.example [192.0.2.5]) by mail.smallisp.example (Postfix) with ESMTPS id 4F1A2B3C4D; Tue, 3 Nov 2026 10:00:03 +0100 (CET)",
		"from shop.example.com (shop.example.com [198.51.100.40]) by relay.smallisp.example (Postfix) with ESMTPS id 1A2B3C; Tue, 3 Nov 2026 10:00:02 +0100 (CET)",
	}
	tr = build(t, Trust{Providers: providers(t)}, public...)
	wantOrigin(t, tr, "198.51.100.40", 2)
	if !strings.Contains(tr.Hops[0].Why, "LMTP") || !strings.Contains(tr.Hops[1].Why, "forward-confirmed") {
		t.Errorf("hops: %q / %q", tr.Hops[0].Why, tr.Hops[1].Why)
	}
	noFlags(t, tr, len(tr.Hops))
}

// What must not pass for the provider's own relay.
func TestOwnRelayNeedsMoreThanAName(t *testing.T) {
	cases := map[string][]string{
		// The client greets with the provider's name; its address is a stranger's.
		"helo only": {
			"from relay.smallisp.example (unknown [198.51.100.9]) by mail.smallisp.example (Postfix) with ESMTP id 1; Tue, 3 Nov 2026 10:00:03 +0100",
			"from x by relay.smallisp.example with SMTP id 2; Tue, 3 Nov 2026 10:00:02 +0100",
		},
		// Sendmail could not confirm the reverse name.
		"may be forged": {
			"from relay.smallisp.example (relay.smallisp.example [198.51.100.9] (may be forged)) by mail.smallisp.example (8.12.1/8.12.1) with ESMTP id 1; Tue, 3 Nov 2026 10:00:03 +0100",
			"from x (x [203.0.113.1]) by relay.smallisp.example with SMTP id 2; Tue, 3 Nov 2026 10:00:02 +0100",
		},
		// A subscriber of the same access provider: a pool name.
		"pool name": {
			"from dsl-198-51-100-9.smallisp.example (dsl-198-51-100-9.smallisp.example [198.51.100.9]) by mail.smallisp.example (Postfix) with ESMTP id 1; Tue, 3 Nov 2026 10:00:03 +0100",
			"from x (x [203.0.113.1]) by host.smallisp.example with SMTP id 2; Tue, 3 Nov 2026 10:00:02 +0100",
		},
		// Nothing below: the client started the message.
		"no relay below": {
			"from relay.smallisp.example (relay.smallisp.example [198.51.100.9]) by mail.smallisp.example (Postfix) with ESMTP id 1; Tue, 3 Nov 2026 10:00:03 +0100",
		},
	}
	for name, chain := range cases {
		t.Run(name, func(t *testing.T) {
			wantOrigin(t, build(t, Trust{Providers: providers(t)}, chain...), "198.51.100.9", 0)
		})
	}
}

// A provider's own relays on public addresses in its autonomous system: the
// receiver's address is known (it wrote it), the relay's reverse name is in
// its domain and the relay wrote the next field.
func TestSameNetworkRelay(t *testing.T) {
	asn := asnTable(map[string]uint32{"192.0.2.0/24": 64500, "198.51.100.0/24": 64500})
	chain := []string{
		"from filter.isp.example (filter.isp.example [192.0.2.9]) by store.isp.example (192.0.2.1) with ESMTP id 1; Tue, 3 Nov 2026 10:00:04 +0100",
		"from mx.isp.example (mx.isp.example [192.0.2.8]) by filter.isp.example (Postfix) with ESMTP id 2; Tue, 3 Nov 2026 10:00:03 +0100",
		"from customer.example (dyn.customer.example [198.51.100.66]) by mx.isp.example (Postfix) with ESMTP id 3; Tue, 3 Nov 2026 10:00:02 +0100",
	}
	tr := build(t, Trust{ASN: asn}, chain...)
	// The access provider's customer shares the network but is not one of
	// its relays: its name is not the provider's.
	wantOrigin(t, tr, "198.51.100.66", 2)
	if !strings.Contains(tr.Hops[0].Why, "AS64500") {
		t.Errorf("hop 0: %s", tr.Hops[0].Why)
	}
	if !strings.Contains(tr.Hops[2].Why, "shares AS64500") {
		t.Errorf("hop 2: %s", tr.Hops[2].Why)
	}
}

func TestFetchmailFromProvider(t *testing.T) {
	tr := build(t, Trust{Providers: providers(t)},
		"from localhost (localhost [127.0.0.1]) by home.example.org (Postfix) with ESMTP id C0DA4; Thu, 26 Sep 2026 16:42:15 +0100",
		"from pop.provider.example [192.0.2.1] by localhost with POP3 (fetchmail-6.4.37) for <me@localhost> (single-drop); Thu, 26 Sep 2026 16:42:15 +0100",
		"from mx.provider.example (mx.provider.example [192.0.2.2]) by pop.provider.example (Postfix) with ESMTPS id 9; Thu, 26 Sep 2026 15:31:49 +0000",
		"from spam.example (dsl.example.com [198.51.100.9]) by mx.provider.example (Postfix) with SMTP id 2; Thu, 26 Sep 2026 15:31:48 +0000",
	)
	wantOrigin(t, tr, "198.51.100.9", 3)
	if !strings.Contains(tr.Hops[1].Why, "fetchmail over POP3") || !strings.Contains(tr.Hops[1].Why, "fetched from is trusted") {
		t.Errorf("fetch hop: %s", tr.Hops[1].Why)
	}
	if !contains(tr.Receivers, "pop.provider.example") {
		t.Errorf("receivers %v lack the provider fetched from", tr.Receivers)
	}
}

// The top hop is an authenticated submission: the client is the origin and
// the fields below it are its own, never the origin, never flagged.
func TestAuthenticatedSubmission(t *testing.T) {
	tr := build(t, Trust{Providers: providers(t)},
		"from [192.168.1.5] (host.example [198.51.100.20]) (Authenticated sender: alice) by smtp.example.net (Postfix) with ESMTPSA id 1; Tue, 3 Nov 2026 10:00:03 +0000",
		"from laptop (unknown [203.0.113.99]) by laptop.example.net (Postfix) with ESMTP id 2; Tue, 3 Nov 2026 10:00:02 +0000",
		"from [203.0.113.98] by mail.bank.example with SMTP; Tue, 1 Nov 2026 10:00:00 +0000",
	)
	wantOrigin(t, tr, "198.51.100.20", 0)
	if !tr.Authenticated {
		t.Error("origin not marked authenticated")
	}
	for _, h := range tr.Hops[1:] {
		if h.Boundary != ClientWritten || len(h.Flags) > 0 {
			t.Errorf("hop %d: %s %+v", h.Index, h.Boundary, h.Flags)
		}
	}
}

func TestTrustedOnlyReplacesInference(t *testing.T) {
	chain := []string{
		"from relay.example.net (relay.example.net [10.0.0.5]) by mail.example.net (Postfix) with ESMTPS id 1; Tue, 3 Nov 2026 10:00:03 +0100",
		"from shop.example.com (shop.example.com [198.51.100.40]) by relay.example.net (Postfix) with ESMTPS id 2; Tue, 3 Nov 2026 10:00:02 +0100",
	}
	tr, err := ParseTrust("192.0.2.0/24")
	if err != nil {
		t.Fatal(err)
	}
	wantOrigin(t, build(t, tr, chain...), "198.51.100.40", 1) // adds: private still inferred
	tr.Only = true
	wantOrigin(t, build(t, tr, chain...), "10.0.0.5", 0) // replaces
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// BenchmarkBuild measures trace-back with the provider data over a
// Microsoft 365 chain: parsing every field and placing the boundary.
func BenchmarkBuild(b *testing.B) {
	ps, err := EmbeddedProviders()
	if err != nil {
		b.Fatal(err)
	}
	var fs []string
	for _, f := range append(append([]string(nil), microsoft365...),
		"from mail.example.org (192.0.2.25) by CO1NAM11FT087.mail.protection.outlook.com (10.13.174.68) with Microsoft SMTP Server id 15.20.6792.15 via Frontend Transport; Sun, 10 Sep 2023 11:21:43 +0000",
		"from berzas.example.lan ([10.230.84.249]:35609 helo=mail.example.org) by mail.example.org with esmtps (TLS1.2) (Exim 4.96) id 1qfGd9-0003hj-2n; Sun, 10 Sep 2023 12:21:23 +0300") {
		fs = append(fs, "Received: "+f)
	}
	h := header(fs...)
	trust := Trust{Providers: ps}
	b.ReportAllocs()
	cpu0 := cputime.Process()
	for b.Loop() {
		Build(h, trust)
	}
	if cpu := cputime.Process() - cpu0; cpu > 0 {
		// The process's CPU time per trace, which a machine shared with
		// other work changes far less than the wall time.
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}
