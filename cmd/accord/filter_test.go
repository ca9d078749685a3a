package main

import (
	"context"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/accord-antispam/accord/internal/config"
	"github.com/accord-antispam/accord/internal/federation"
	"github.com/accord-antispam/accord/internal/filter"
	"github.com/accord-antispam/accord/internal/intel"
	"github.com/accord-antispam/accord/internal/outbound"
	"github.com/accord-antispam/accord/internal/store/sqlite"
)

// TestQuarantineReleaseQueued: with no relay, "accord quarantine release"
// says the message is queued for delivery (not "released") and warns;
// "accord outbound list" shows it waiting, and the held message's state
// is queued.
func TestQuarantineReleaseQueued(t *testing.T) {
	ctx := context.Background()
	data := filepath.Join(t.TempDir(), "data")
	if code, _, errs := runCmd(t, "", "init", "--data", data); code != 0 {
		t.Fatalf("init: %d %s", code, errs)
	}
	st, err := sqlite.Open(ctx, filepath.Join(data, "accord.db"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	raw := "From: s@x.example\r\nTo: ana@example.org\r\nSubject: held\r\nMessage-ID: <m1@x.example>\r\n\r\nhello\r\n"
	if err := st.Hold(ctx, filter.Held{ID: "q-test1", Recipient: "ana@example.org", MailFrom: "s@x.example", ReceivedAt: now,
		ExpiresAt: now.Add(time.Hour), Raw: []byte(raw), Size: len(raw), State: filter.StateHeld}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	code, out, errs := runCmd(t, "", "quarantine", "release", "--data", data, "q-test1")
	if code != 0 || !strings.Contains(out, "q-test1 queued for delivery") || strings.Contains(out, "q-test1 released") ||
		!strings.Contains(errs, "no outbound relay is configured") {
		t.Fatalf("release: %d\n%s\n%s", code, out, errs)
	}
	code, out, errs = runCmd(t, "", "outbound", "list", "--data", data)
	if code != 0 || !strings.Contains(out, "relay: none configured") || !strings.Contains(out, "quarantine-release") ||
		!strings.Contains(out, "quarantine:q-test1") || !strings.Contains(out, "queued 1,") {
		t.Fatalf("outbound list: %d\n%s\n%s", code, out, errs)
	}
	code, out, _ = runCmd(t, "", "quarantine", "list", "--data", data)
	if code != 0 || !strings.Contains(out, "q-test1") || !strings.Contains(out, " queued ") {
		t.Fatalf("quarantine list: %d\n%s", code, out)
	}
	// Without a relay the operator can still read what waits (a
	// confirmation link, a status link): outbound show --raw prints the
	// message, and the read is in the audit log.
	st, err = sqlite.Open(ctx, filepath.Join(data, "accord.db"))
	if err != nil {
		t.Fatal(err)
	}
	items, err := st.Mails(ctx, outbound.MailFilter{Limit: 10})
	st.Close()
	if err != nil || len(items) != 1 {
		t.Fatalf("queue: %v %+v", err, items)
	}
	code, out, errs = runCmd(t, "", "outbound", "show", "--raw", "--data", data, items[0].ID)
	if code != 0 || !strings.HasSuffix(out, raw) || !strings.Contains(out, "X-Accord-Release: ") {
		t.Fatalf("outbound show --raw: %d\n%q\nwant %q\n%s", code, out, raw, errs)
	}
	code, out, _ = runCmd(t, "", "audit", "--data", data)
	if code != 0 || !strings.Contains(out, "outbound:"+items[0].ID) {
		t.Fatalf("audit after outbound show --raw: %d\n%s", code, out)
	}
}

// TestPartnerIndicators: what partners sent becomes the filter's
// indicators with partner, agreement, TLP and expiry; expired items and
// e-mail addresses are left out.
func TestPartnerIndicators(t *testing.T) {
	now := time.Unix(1800000000, 0)
	item := func(typ, value string, tlp federation.TLP, exp time.Time) federation.ReceivedItem {
		b, _ := json.Marshal(map[string]any{"type": typ, "value": value, "reports": 3})
		return federation.ReceivedItem{Peer: "us", Item: federation.Item{Key: "ind:" + value, Kind: federation.KindIndicators, TLP: tlp, Body: b},
			Terms: federation.Terms{Agreement: "FR-US-2026"}, ExpiresAt: exp}
	}
	inds := indicatorsFrom([]federation.ReceivedItem{
		item("ipv4-addr", "203.0.113.9", federation.TLPGreen, time.Time{}),
		item("domain-name", "pills.example", federation.TLPAmber, now.Add(time.Hour)),
		item("url", "http://pills.example/buy", federation.TLPAmber, now.Add(time.Hour)),
		item("email-addr", "someone@gmail.example", federation.TLPGreen, time.Time{}),
		item("ipv4-addr", "203.0.113.10", federation.TLPGreen, now.Add(-time.Second)), // expired
	}, now)
	if len(inds) != 4 { // IP, domain as sender and as link, URL
		t.Fatalf("%d indicators: %+v", len(inds), inds)
	}
	set, bad := intel.NewSet(inds, now)
	if bad != 0 {
		t.Fatalf("%d malformed", bad)
	}
	ms := set.Match(intel.Observed{OriginIP: netip.MustParseAddr("203.0.113.9"), LinkDomains: []string{"pills.example"}, URLs: []string{"http://pills.example/buy?x=1"}})
	if len(ms) != 3 {
		t.Fatalf("matches %+v", ms)
	}
	for _, m := range ms {
		src := m.Indicator.Source
		if src.Partner != "us" || src.Agreement != "FR-US-2026" || (m.Symbol == "INTEL_ORIGIN_IP") != m.Disclosable() {
			t.Errorf("%s: source %+v disclosable %v", m.Symbol, src, m.Disclosable())
		}
	}
}

// TestPolicyListsFlags: --allow and --block replace a scope's list only
// when given ("" empties it); the help shows no odd default.
func TestPolicyListsFlags(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	if code, _, errs := runCmd(t, "", "init", "--data", data); code != 0 {
		t.Fatalf("init: %d %s", code, errs)
	}
	for _, args := range [][]string{
		{"policy", "set", "ana@example.org", "--allow", "friend.example", "--block", "spam.example", "--data", data},
		{"policy", "set", "ana@example.org", "--spam", "4", "--data", data},
	} {
		if code, _, errs := runCmd(t, "", args...); code != 0 {
			t.Fatalf("%v: %d %s", args, code, errs)
		}
	}
	if _, out, _ := runCmd(t, "", "policy", "show", "ana@example.org", "--data", data); !strings.Contains(out, "allow=friend.example block=spam.example") {
		t.Errorf("lists lost by a set without --allow/--block:\n%s", out)
	}
	runCmd(t, "", "policy", "set", "ana@example.org", "--allow", "", "--data", data)
	if _, out, _ := runCmd(t, "", "policy", "show", "ana@example.org", "--data", data); strings.Contains(out, "allow=") || !strings.Contains(out, "block=spam.example") {
		t.Errorf("--allow \"\" did not empty only the allow list:\n%s", out)
	}
	// Repeated, the lists add up (before, "--block A --block B" kept B
	// only, without a word).
	if code, _, errs := runCmd(t, "", "policy", "set", "ana@example.org", "--block", "bücher.test", "--block", "Spam+promo@evil2.test,other.test", "--data", data); code != 0 {
		t.Fatalf("repeated --block: %d %s", code, errs)
	}
	if _, out, _ := runCmd(t, "", "policy", "show", "ana@example.org", "--data", data); !strings.Contains(out, "block=bücher.test,spam+promo@evil2.test,other.test") {
		t.Errorf("repeated --block kept:\n%s", out)
	}
	if _, _, errs := runCmd(t, "", "policy", "set", "-h"); strings.Contains(errs, `\x00`) || !strings.Contains(errs, "-allow LIST") {
		t.Errorf("policy set -h:\n%s", errs)
	}
}

// TestPolicyOnSubAddressRefused: checks look a recipient up without its
// sub-address, so a policy set on one (stored as recipient:ana+x@…,
// listed, never used) is refused with the mailbox to set it on; with
// recipient_delimiter "none" the sub-address is the mailbox and is taken.
func TestPolicyOnSubAddressRefused(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	if code, _, errs := runCmd(t, "", "init", "--data", data); code != 0 {
		t.Fatalf("init: %d %s", code, errs)
	}
	code, _, errs := runCmd(t, "", "policy", "set", "Ana+x@Example.org", "--spam", "6", "--data", data)
	if code == 0 || !strings.Contains(errs, "sub-address of ana@example.org") || !strings.Contains(errs, "set it on ana@example.org") ||
		!strings.Contains(errs, `from "+" to the @`) { // the delimiter, not "" (trial 26 T8)
		t.Errorf("policy set on a sub-address: %d %s", code, errs)
	}
	if _, out, _ := runCmd(t, "", "policy", "list", "--data", data); strings.Contains(out, "ana+x") {
		t.Errorf("the sub-address's policy was stored:\n%s", out)
	}
	if code, _, errs := runCmd(t, "", "policy", "set", "Ana@Example.org", "--spam", "6", "--data", data); code != 0 {
		t.Errorf("policy set on the mailbox: %d %s", code, errs)
	}
	conf := filepath.Join(t.TempDir(), "accord.toml")
	os.WriteFile(conf, []byte("[filter]\nrecipient_delimiter = \"none\"\n"), 0o600)
	if code, _, errs := runCmd(t, "", "policy", "set", "ana+x@example.org", "--spam", "6", "--config", conf, "--data", data); code != 0 {
		t.Errorf("with recipient_delimiter none: %d %s", code, errs)
	}
}

// TestAuthServID: Authentication-Results names the configured host, or
// the machine's host name — never localhost when a name is known.
func TestAuthServID(t *testing.T) {
	c := config.Default()
	host, _ := os.Hostname()
	if got := authServID(c); host != "" && got != strings.ToLower(host) {
		t.Errorf("default: %q, want the host name %q", got, host)
	}
	c.SMTP.Hostname = "mx.example.org"
	if got := authServID(c); got != "mx.example.org" {
		t.Errorf("smtp.hostname: %q", got)
	}
	c.Filter.AuthServID = "filter.example.org"
	if got := authServID(c); got != "filter.example.org" {
		t.Errorf("authserv_id: %q", got)
	}
}

// TestFilterCommandLine: quarantine --help and policy --help print the
// usage (naming --config) without opening a node; quarantine list takes
// --limit; a deleted message's bytes are not printed by show --raw; check
// takes the node's --config as score does (trial 26 T13, T7).
func TestFilterCommandLine(t *testing.T) {
	ctx := context.Background()
	spam, err := filepath.Abs(filepath.Join("testdata", "spam.eml"))
	if err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir()) // no node in accord-data here
	for _, cmd := range []string{"quarantine", "policy"} {
		code, _, errs := runCmd(t, "", cmd, "--help")
		if code != 2 || !strings.Contains(errs, "usage: accord "+cmd) || !strings.Contains(errs, "[--config FILE]") || strings.Contains(errs, "no node") {
			t.Errorf("%s --help: %d %s", cmd, code, errs)
		}
	}
	data := filepath.Join(t.TempDir(), "data")
	if code, _, errs := runCmd(t, "", "init", "--data", data); code != 0 {
		t.Fatalf("init: %d %s", code, errs)
	}
	st, err := sqlite.Open(ctx, filepath.Join(data, "accord.db"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for i, id := range []string{"q-old", "q-new"} {
		raw := "From: s@x.example\r\nTo: ana@example.org\r\nSubject: held " + id + "\r\n\r\nhello\r\n"
		if err := st.Hold(ctx, filter.Held{ID: id, Recipient: "ana@example.org", ReceivedAt: now.Add(time.Duration(i) * time.Minute),
			ExpiresAt: now.Add(time.Hour), Raw: []byte(raw), Size: len(raw), State: filter.StateHeld}); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	code, out, errs := runCmd(t, "", "quarantine", "list", "--limit", "1", "--data", data)
	if code != 0 || !strings.Contains(out, "q-new") || strings.Contains(out, "q-old") {
		t.Errorf("list --limit 1: %d\n%s%s", code, out, errs)
	}
	if code, _, _ := runCmd(t, "", "quarantine", "list", "--limit", "0", "--data", data); code != 2 {
		t.Errorf("list --limit 0: %d", code)
	}
	if code, _, errs := runCmd(t, "", "quarantine", "delete", "--data", data, "q-old"); code != 0 {
		t.Fatalf("delete: %d %s", code, errs)
	}
	code, out, errs = runCmd(t, "", "quarantine", "show", "--raw", "--data", data, "q-old")
	if code != 1 || strings.Contains(out, "hello") || !strings.Contains(errs, "no longer kept") {
		t.Errorf("show --raw of a deleted message: %d\n%s%s", code, out, errs)
	}
	conf := filepath.Join(t.TempDir(), "accord.toml")
	if err := os.WriteFile(conf, []byte("data = \""+filepath.ToSlash(data)+"\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := runCmd(t, "", "check", "--config", conf, spam); code != 0 {
		t.Errorf("check --config: %d %s", code, errs)
	}
}
