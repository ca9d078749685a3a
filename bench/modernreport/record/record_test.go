package record

import (
	"testing"

	"github.com/accord-antispam/accord/internal/mail"
)

func read(t *testing.T, hdr string) (Truth, bool) {
	t.Helper()
	return Read(mail.ParseBytes([]byte(hdr+"From: a@shop.example\r\n\r\nx\r\n"), mail.Limits{}).Header)
}

// The record is the final receiver's: Microsoft's topmost field when
// Microsoft delivered, Gmail's Received-SPF right below its own edge field
// when Gmail delivered, and nothing when the final receiver is another —
// even if a forwarder's Microsoft record sits further down.
func TestReadFinalReceiversRecord(t *testing.T) {
	ms := "Received: from A.prod.outlook.com (2603:10b6:806:1bb::22) by B.PROD.OUTLOOK.COM with Microsoft SMTP Server; Sat, 25 Feb 2023 22:41:54 +0000\r\n" +
		"Authentication-Results: spf=pass (sender IP is 192.0.2.7) smtp.mailfrom=shop.example; dkim=none; dmarc=pass action=none header.from=shop.example;compauth=pass reason=100\r\n" +
		"Received: from mail.shop.example (192.0.2.7) by C.mail.protection.outlook.com (10.0.0.1) with Microsoft SMTP Server via Frontend Transport; Sat, 25 Feb 2023 22:41:53 +0000\r\n" +
		"Authentication-Results: spf=pass (sender IP is 198.51.100.9) smtp.mailfrom=x.example; dmarc=fail header.from=shop.example\r\n"
	if r, ok := read(t, ms); !ok || r.Provider != "Microsoft 365" || r.IP != "192.0.2.7" || r.SPF != "pass" || r.DMARC != "pass" || r.DMARCFrom != "shop.example" {
		t.Errorf("Microsoft: %+v %v", r, ok)
	}
	forwarded := "Received: from out.protection.outlook.com (out.protection.outlook.com [104.47.57.177]) by mx01.example.br (Postfix) with ESMTPS id 1; Sat, 25 Feb 2023 22:41:54 -0300\r\n" + ms
	if r, ok := read(t, "Received: from mx01.example.br (mx01.example.br [200.229.128.61]) by imap04.example.br (Postfix) with ESMTP id 2; Sat, 25 Feb 2023 22:41:55 -0300\r\n"+forwarded); ok {
		t.Errorf("a forwarder's record taken for the final receiver's: %+v", r)
	}
	gmail := "Received: by 2002:a05:6520:4c9:b0:26f:3a0c:4933 with SMTP id gp9csp3501332lkb; Thu, 14 Sep 2023 16:22:43 -0700 (PDT)\r\n" +
		"Return-Path: <r@shop.example>\r\n" +
		"Received: from mail.shop.example (mail.shop.example. [195.154.104.74]) by mx.google.com with ESMTP id w4si1; Thu, 14 Sep 2023 16:22:43 -0700 (PDT)\r\n" +
		"Received-SPF: pass (google.com: domain of r@shop.example designates 195.154.104.74 as permitted sender) client-ip=195.154.104.74;\r\n" +
		"Authentication-Results: mx.google.com; spf=pass smtp.mailfrom=r@shop.example; dmarc=pass (p=NONE) header.from=shop.example\r\n"
	if r, ok := read(t, gmail); !ok || r.Provider != "Gmail" || r.IP != "195.154.104.74" || r.SPF != "pass" || r.DMARC != "pass" {
		t.Errorf("Gmail: %+v %v", r, ok)
	}
	// A Gmail record below another provider's delivery is not the final
	// receiver's; nor is one whose Received-SPF is not right below.
	if r, ok := read(t, "Received: from x (x [192.0.2.1]) by mx.other.example (Postfix) with ESMTP id 3; Thu, 14 Sep 2023 16:22:44 -0700\r\n"+gmail); ok {
		t.Errorf("Gmail below another receiver: %+v", r)
	}
	moved := "Received: by 2002:a05:6520:4c9:b0:26f:3a0c:4933 with SMTP id gp9csp3501332lkb; Thu, 14 Sep 2023 16:22:43 -0700 (PDT)\r\n" +
		"Received: from mail.shop.example (mail.shop.example. [195.154.104.74]) by mx.google.com with ESMTP id w4si1; Thu, 14 Sep 2023 16:22:43 -0700 (PDT)\r\n" +
		"X-Other: 1\r\n" +
		"Received-SPF: pass (google.com: designates 203.0.113.7 as permitted sender) client-ip=203.0.113.7;\r\n"
	if r, ok := read(t, moved); ok {
		t.Errorf("Received-SPF away from Gmail's field: %+v", r)
	}
}
