package filter

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"

	"github.com/accord-antispam/accord/internal/label"
	"github.com/accord-antispam/accord/internal/resolve"
)

// A labelled newsletter scores lower by ACCORD_LABEL; the same label copied
// onto another message scores higher by ACCORD_LABEL_INVALID; a revoked
// one by ACCORD_LABEL_REVOKED. Each fails with its symbol removed.
func TestLabelSymbols(t *testing.T) {
	dkimKey := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{5}, 32))
	nodeKey := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{6}, 32))
	z := &resolve.Zone{}
	z.AddTXT("s1._domainkey.shop.example", "v=DKIM1; k=ed25519; p="+base64.StdEncoding.EncodeToString(dkimKey.Public().(ed25519.PublicKey)))
	sign := func(body string) []byte {
		raw := "From: Shop <news@shop.example>\r\nTo: ana@example.org\r\nSubject: Winter sale\r\nDate: Mon, 2 Mar 2026 10:00:00 +0000\r\n" +
			"Message-ID: <w@shop.example>\r\n\r\n" + body + "\r\n"
		var out bytes.Buffer
		if err := dkim.Sign(&out, strings.NewReader(raw), &dkim.SignOptions{Domain: "shop.example", Selector: "s1", Signer: dkimKey,
			HeaderKeys: []string{"From", "To", "Subject", "Date", "Message-ID"}, BodyCanonicalization: dkim.CanonicalizationRelaxed}); err != nil {
			t.Fatal(err)
		}
		return out.Bytes()
	}
	good := sign("Our winter sale starts today.")
	l := &label.Label{ID: "lab1", Sender: "shop.example", Domain: "shop.example", Canon: "relaxed", BodyHash: label.BodyHash(label.Body(good), "relaxed"),
		HeadHash: label.HeaderHash(good), Issued: time.Now().Add(-time.Hour), Expires: time.Now().Add(time.Hour)}
	l.Sign(nodeKey)
	an := analyzer(t, z)
	an.Labels = label.NewVerifier(nil, label.Issuer{Name: "this node", Key: nodeKey.Public().(ed25519.PublicKey), Status: freshStatus(t, nodeKey)})
	s, _ := newService(t, Deps{Analyzer: an}, Config{})
	check := func(raw []byte) *Decision {
		d, err := s.Check(context.Background(), append([]byte(l.Field()), raw...), Envelope{Rcpts: []string{"ana@example.org"}})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	has := func(d *Decision, name string) bool { return strings.Contains(" "+symbolNames(d)+" ", name) }
	d := check(good)
	if !has(d, "ACCORD_LABEL") || has(d, "ACCORD_LABEL_INVALID") {
		t.Errorf("labelled message: %s", symbolNames(d))
	}
	copied := check(sign("Another message, another body."))
	if !has(copied, "ACCORD_LABEL_INVALID") || copied.Score <= d.Score {
		t.Errorf("copied label: %s (%.2f against %.2f)", symbolNames(copied), copied.Score, d.Score)
	}
	now := time.Now()
	sl, _ := label.SignStatus(label.Status{IssuedAt: now, NextUpdate: now.Add(time.Hour), Labels: []label.RevokedLabel{{ID: "lab1", At: now}}}, nodeKey)
	var doc bytes.Buffer
	doc.WriteString(`{"payload":` + string(sl.Payload) + `,"signature":"` + sl.Signature + `"}`)
	st, err := label.ReadStatus(&doc, nodeKey.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	an.Labels.SetIssuer(label.Issuer{Name: "this node", Key: nodeKey.Public().(ed25519.PublicKey), Status: st})
	if r := check(good); !has(r, "ACCORD_LABEL_REVOKED") {
		t.Errorf("revoked label: %s", symbolNames(r))
	}
}

// freshStatus is the issuer's status list, just signed, revoking nothing:
// a label is valid only against a fresh one.
func freshStatus(t testing.TB, key ed25519.PrivateKey) *label.Status {
	t.Helper()
	now := time.Now()
	sl, err := label.SignStatus(label.Status{IssuedAt: now, NextUpdate: now.Add(time.Hour)}, key)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(sl)
	st, err := label.ReadStatus(bytes.NewReader(b), key.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	return st
}
