package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/accord-antispam/accord/internal/federation"
)

// becSpam is a free-mail BEC wearing its supplier's site in the
// signature: no rule over the content tells the supplier from the
// spammer's own domain, so the supplier goes out until the analyst marks
// it (the thirteenth review's A1).
const becSpam = "Received: from mx.freemail.example (mx.freemail.example [12.0.9.97]) by mx.citizen-fr.example with ESMTP id W1; Tue, 3 Nov 2026 10:00:01 +0000\r\n" +
	"From: ACME Supply Accounts <acme.supply.accounts@freemail.example>\r\nTo: accounts@buyer-fr.example\r\n" +
	"Subject: New bank details\r\nDate: Tue, 3 Nov 2026 10:00:00 +0000\r\nMessage-ID: <w1@freemail.example>\r\nContent-Type: text/html\r\n\r\n" +
	`<p>Please pay the invoice at <a href="http://pay-portal.example/inv/4471">our portal</a>.</p>` +
	`<p>ACME Supply, <a href="https://www.acme-supply.example/contact">www.acme-supply.example</a></p>` + "\r\n"

// TestWithholdWithdrawsFromPartners: FR shares a BEC's indicators with
// US, the supplier's among them; FR's analyst marks the supplier; the
// next round withdraws its indicators at US (the landing page stays),
// and the analyst's own words never reach US. Taking the marking back
// shares them again.
func TestWithholdWithdrawsFromPartners(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := accordBinary(t)
	dir := t.TempDir()
	fr := startNode(t, bin, dir, "fr", "FR", "")
	us := startNode(t, bin, dir, "us", "US", "")
	toUS := writeFile(t, filepath.Join(dir, "to-us.toml"), "id = \"FR-US\"\nversion = 1\naudience = [\"us\"]\nshare = [\"indicators\"]\ntlp_max = \"green\"\norigins = [\"*\"]\nkeep_withdrawn_days = 30\n")
	toFR := writeFile(t, filepath.Join(dir, "to-fr.toml"), "id = \"TO-FR\"\nversion = 1\naudience = [\"fr\"]\nshare = []\n")
	fr.run(t, bin, "peer", "add", "us", "--url", "http://"+us.s.http, "--key", us.key, "--jurisdiction", "US", "--agreement", toUS)
	us.run(t, bin, "peer", "add", "fr", "--url", "http://"+fr.s.http, "--key", fr.key, "--jurisdiction", "FR", "--agreement", toFR)
	post, _ := poster(t, bin, fr)
	post(becSpam)

	const (
		supplier = "ind:domain-name:acme-supply.example"
		link     = "ind:url:https://www.acme-supply.example/contact"
		anchor   = "ind:url:http://www.acme-supply.example" // The link's text, a web address too.
		landing  = "ind:domain-name:pay-portal.example"
		reason   = "ACME Supply is the victim: case 2026-118, confirmed by phone"
	)
	state := func() map[string]receivedItem {
		got := map[string]receivedItem{}
		for _, it := range us.received(t, bin, "fr") {
			got[it.Key] = it
		}
		return got
	}
	fr.run(t, bin, "peer", "sync", "us")
	before := state()
	for _, k := range []string{supplier, link, anchor, landing} {
		if it, ok := before[k]; !ok || it.Status != "held" {
			t.Fatalf("before the marking US does not hold %s (the fixture no longer shows A1): %+v", k, before)
		}
	}

	// Bad markings are refused with a plain error; nothing is marked.
	for _, bad := range []string{"com", "bob@acme-supply.example", "192.0.2.7", "gmail.com", "amazonaws.com"} {
		if out := fr.runFail(t, bin, "withhold", "add", bad, "--reason", "x"); !strings.Contains(out, "withheld") {
			t.Errorf("withhold add %s: %s", bad, out)
		}
	}
	if out := fr.runFail(t, bin, "withhold", "add", "acme-supply.example"); !strings.Contains(out, "--reason") {
		t.Errorf("withhold add without a reason: %s", out)
	}
	if out := fr.run(t, bin, "withhold", "list"); !strings.Contains(out, "no domain is withheld") {
		t.Errorf("a refused marking was kept: %s", out)
	}

	// The name the mail shows marks its organisation (the sixteenth
	// review's H2: indicators name registrable domains).
	out := fr.run(t, bin, "withhold", "add", "www.ACME-Supply.example", "--reason", reason)
	if !strings.Contains(out, "acme-supply.example is withheld: 3 indicators") || !strings.Contains(out, "its organisation") {
		t.Errorf("withhold add: %s", out)
	}
	if out := fr.runFail(t, bin, "withhold", "add", "acme-supply.example", "--reason", "again"); !strings.Contains(out, "already withheld") {
		t.Errorf("marking twice: %s", out)
	}
	if out := fr.run(t, bin, "withhold", "list"); !strings.Contains(out, "acme-supply.example") || !strings.Contains(out, reason) {
		t.Errorf("withhold list: %s", out)
	}
	if out := fr.run(t, bin, "peer", "preview", "us"); !strings.Contains(out, "withheld") {
		t.Errorf("the preview does not say the supplier is withheld: %s", out)
	}
	if out := fr.run(t, bin, "peer", "sync", "us"); !strings.Contains(out, "3 withdrawn") {
		t.Errorf("the round after the marking: %s", out)
	}
	after := state()
	for _, k := range []string{supplier, link, anchor} {
		// Withdrawn, kept as a record the 30 days the terms allow.
		it := after[k]
		if it.Status != "withdrawn" || !strings.Contains(it.Why, "not the spammer's") {
			t.Errorf("%s at US after the marking: %q (%s)", k, it.Status, it.Why)
		}
		if strings.Contains(it.Why, "case 2026-118") {
			t.Errorf("the withdrawal carries the analyst's words: %s", it.Why)
		}
	}
	if after[landing].Status != "held" {
		t.Errorf("the landing page was withdrawn too: %+v", after[landing])
	}
	// Nothing of the analyst's reason is anywhere in US's data.
	filepath.Walk(us.data, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			if b, _ := os.ReadFile(p); strings.Contains(string(b), "case 2026-118") {
				t.Errorf("US's %s holds the analyst's reason", filepath.Base(p))
			}
		}
		return nil
	})
	// US's filter no longer scores mail by what was withdrawn.
	items := make([]federation.ReceivedItem, 0)
	for _, it := range after {
		ri := federation.ReceivedItem{Peer: it.Peer, Item: federation.Item{Key: it.Key, Kind: it.Kind, TLP: it.TLP, Body: it.Body}}
		if it.Withdrawn != nil {
			ri.Withdrawn = *it.Withdrawn
		}
		if it.Purged != nil {
			ri.Purged = *it.Purged
		}
		items = append(items, ri)
	}
	for _, ind := range indicatorsFrom(items, time.Now()) {
		if strings.Contains(ind.Value, "acme-supply") {
			t.Errorf("US's filter still uses the withdrawn %s", ind.Value)
		}
	}

	fr.run(t, bin, "withhold", "remove", "acme-supply.example")
	if out := fr.runFail(t, bin, "withhold", "remove", "acme-supply.example"); !strings.Contains(out, "not withheld") {
		t.Errorf("removing twice: %s", out)
	}
	fr.run(t, bin, "peer", "sync", "us")
	if again := state(); again[supplier].Status != "held" {
		t.Errorf("the marking taken back, US does not hold the supplier again: %+v", again[supplier])
	}
	if out := fr.run(t, bin, "audit"); !strings.Contains(out, "withheld:acme-supply.example") {
		t.Errorf("the marking is not in the audit log: %s", out)
	}
	// The trial's LOW 12: a second TAXII token for a peer says the first
	// stays valid, and the token stays the output's last line.
	fr.run(t, bin, "peer", "token", "us")
	out = fr.run(t, bin, "peer", "token", "us")
	if !strings.Contains(out, "earlier TAXII tokens stay valid") || strings.Contains(lastLine(out), " ") {
		t.Errorf("a second peer token: %s", out)
	}
}
