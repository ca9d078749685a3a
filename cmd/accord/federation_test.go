package main

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// authority is one node of the end-to-end test: a data folder, a config
// and a running `accord serve`.
type authority struct {
	name, jur, data, conf string
	s                     *served
	key                   string
}

func (a *authority) run(t *testing.T, bin string, args ...string) string {
	t.Helper()
	return runBin(t, bin, "", append(args, "--data", a.data, "--config", a.conf)...)
}

func (a *authority) runFail(t *testing.T, bin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, append(args, "--data", a.data, "--config", a.conf)...)
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("accord %s succeeded:\n%s", strings.Join(args, " "), out)
	}
	return string(out)
}

func startAuthority(t *testing.T, bin, dir, name, jur string) *authority {
	t.Helper()
	a := &authority{name: name, jur: jur, data: filepath.Join(dir, name, "data"), conf: filepath.Join(dir, name, "accord.toml")}
	os.MkdirAll(filepath.Dir(a.conf), 0o755)
	os.WriteFile(a.conf, []byte(fmt.Sprintf("[node]\nname = \"%s authority\"\njurisdiction = \"%s\"\n[federation]\nsync_interval = \"0s\"\n", strings.ToUpper(name), jur)), 0o600)
	a.s = serve(t, bin, a.data, "--config", a.conf)
	a.key = strings.TrimSpace(a.run(t, bin, "node", "key"))
	return a
}

func writeFile(t *testing.T, path, text string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func federationSpam(ip, sender, subject string, i int) string {
	return fmt.Sprintf("Received: from mx.fr.example (mx.fr.example [10.0.0.5]) by in.fr.example with ESMTP id a%d; Tue, 3 Nov 2026 10:00:02 +0000\r\n"+
		"Received: from relay.example ([%s]) by mx.fr.example with SMTP id b%d; Tue, 3 Nov 2026 10:00:01 +0000\r\n"+
		"From: Offers <%s>\r\nTo: victim%d@example.fr\r\nSubject: %s\r\nDate: Tue, 3 Nov 2026 10:00:00 +0000\r\n\r\n"+
		"Best prices of the year on everything you need, order today at http://%s/buy and save up to 80 percent.\r\n",
		i, ip, i, sender, i, subject, strings.SplitN(sender, "@", 2)[1])
}

// TestThreeAuthoritiesFromTheBinary: FR, US and AU authorities each run a
// node; FR's reports of US origin reach US as the FR–US agreement allows
// and not an item more; AU, with an indicators-only agreement, gets
// indicators and no evidence; a request for information goes through its
// states and shows overdue after its deadline; both custody logs agree.
func TestThreeAuthoritiesFromTheBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := accordBinary(t)
	dir := t.TempDir()
	fr, us, au := startAuthority(t, bin, dir, "fr", "FR"), startAuthority(t, bin, dir, "us", "US"), startAuthority(t, bin, dir, "au", "AU")

	frUS := writeFile(t, filepath.Join(dir, "fr-us.toml"), `id = "FR-US-2026"
version = 1
audience = ["us"]
purposes = ["enforcement of anti-spam law"]
legal_basis = "MoU FR-US 2026, art. 3"
share = ["indicators", "campaigns", "reports", "evidence"]
tlp_max = "amber+strict"
personal_data = true
origins = ["US"]
retention_days = 365
`)
	frAU := writeFile(t, filepath.Join(dir, "fr-au.toml"), "id = \"FR-AU-2026\"\nversion = 1\naudience = [\"au\"]\nshare = [\"indicators\"]\ntlp_max = \"green\"\norigins = [\"*\"]\n")
	toFR := writeFile(t, filepath.Join(dir, "to-fr.toml"), "id = \"TO-FR\"\nversion = 1\naudience = [\"fr\"]\nshare = []\n")
	out := fr.run(t, bin, "peer", "add", "us", "--url", "http://"+us.s.http, "--key", us.key, "--jurisdiction", "US", "--agreement", frUS)
	// One fingerprint format everywhere: what peer add shows for US's key
	// is what US's own node fingerprint prints.
	usFP := lastLine(us.run(t, bin, "node", "fingerprint"))
	if !regexp.MustCompile(`^SHA256:[A-Za-z0-9+/]{43}$`).MatchString(usFP) || !strings.Contains(out, "fingerprint "+usFP) {
		t.Errorf("peer add does not show the node's fingerprint %s: %s", usFP, out)
	}
	fr.run(t, bin, "peer", "add", "au", "--url", "http://"+au.s.http, "--key", au.key, "--jurisdiction", "AU", "--agreement", frAU)
	us.run(t, bin, "peer", "add", "fr", "--url", "http://"+fr.s.http, "--key", fr.key, "--jurisdiction", "FR", "--agreement", toFR)
	au.run(t, bin, "peer", "add", "fr", "--url", "http://"+fr.s.http, "--key", fr.key, "--jurisdiction", "FR", "--agreement", toFR)
	if show := fr.run(t, bin, "keys", "show"); !strings.Contains(show, fr.key) || !strings.Contains(show, "jurisdiction FR") ||
		!strings.Contains(show, "fingerprint  "+lastLine(fr.run(t, bin, "node", "fingerprint"))) {
		t.Errorf("keys show: %s", show)
	}

	// Reports at FR over the API: three of US origin, two of Chinese.
	tok := lastLine(fr.run(t, bin, "token", "create", "--role", "reporter"))
	post := func(raw string) {
		req, _ := http.NewRequest("POST", "http://"+fr.s.http+"/api/v1/reports", strings.NewReader(raw))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "message/rfc822")
		res, err := http.DefaultClient.Do(req)
		if err != nil || res.StatusCode != 201 {
			t.Fatalf("report: %v %v", res, err)
		}
		res.Body.Close()
	}
	for i := 0; i < 3; i++ {
		post(federationSpam(fmt.Sprintf("12.0.0.%d", i+1), "deals@pharma-us.example", "Cheap meds", i))
	}
	for i := 0; i < 2; i++ {
		post(federationSpam(fmt.Sprintf("202.96.128.%d", i+1), "win@lotto-cn.example", "You won", 10+i))
	}

	preview := fr.run(t, bin, "peer", "preview", "us")
	m := regexp.MustCompile(`(\d+) items? to send`).FindStringSubmatch(preview)
	if m == nil || m[1] == "0" || !strings.Contains(preview, "origins: its origin (CN)") {
		t.Fatalf("preview:\n%s", preview)
	}
	sends := strings.Count(preview, "\nsend ")
	fr.run(t, bin, "peer", "sync", "us")
	fr.run(t, bin, "peer", "sync", "au")

	got := us.run(t, bin, "received", "--peer", "fr")
	if n := strings.Count(got, "\nfr "); n != sends {
		t.Errorf("US received %d items, the preview said %d:\n%s", n, sends, got)
	}
	for _, bad := range []string{"202.96.128", "CN", "lotto-cn"} {
		if strings.Contains(got, bad) {
			t.Errorf("US received something of Chinese origin (%s):\n%s", bad, got)
		}
	}
	if !strings.Contains(got, "evidence") || !strings.Contains(got, "reports") {
		t.Errorf("US lacks reports or evidence:\n%s", got)
	}
	gotAU := au.run(t, bin, "received", "--peer", "fr")
	for _, line := range strings.Split(strings.TrimSpace(gotAU), "\n")[1:] {
		if !strings.HasPrefix(line, "fr    indicators") && !strings.Contains(line, " indicators ") {
			t.Errorf("AU received more than indicators: %s", line)
		}
	}
	if !strings.Contains(gotAU, "ind:ipv4-addr:202.96.128.1") || strings.Contains(gotAU, "ev:") {
		t.Errorf("AU:\n%s", gotAU)
	}
	// The analyst reads what each item holds, not only its key.
	if !regexp.MustCompile(`ipv4-addr 202\.96\.128\.1, \d+ reports`).MatchString(gotAU) || !strings.Contains(got, " findings") {
		t.Errorf("received lacks the items' contents:\n%s\n%s", gotAU, got)
	}

	// Mutual assistance: FR asks US; the request is acknowledged on
	// arrival, accepted, overdue past 30 days, then answered.
	out = fr.run(t, bin, "assist", "request", "us", "--type", "information", "--subject", "Who runs pharma-us.example?", "--by", "ana")
	id := regexp.MustCompile(`request (a-[a-z0-9]+)`).FindStringSubmatch(out)
	if id == nil || !strings.Contains(out, "delivered to us") {
		t.Fatalf("assist request: %s", out)
	}
	if l := us.run(t, bin, "assist", "list"); !strings.Contains(l, id[1]) || !strings.Contains(l, "incoming") || !strings.Contains(l, "acknowledged") {
		t.Fatalf("at US: %s", l)
	}
	us.run(t, bin, "peer", "sync", "fr")
	us.run(t, bin, "assist", "update", id[1], "--action", "accept", "--by", "bob")
	later := time.Now().AddDate(0, 0, 31).UTC().Format(time.RFC3339)
	if l := fr.run(t, bin, "assist", "list", "--at", later); !strings.Contains(l, "accepted") || !strings.Contains(l, "OVERDUE") {
		t.Fatalf("at FR, 31 days on: %s", l)
	}
	if l := fr.run(t, bin, "assist", "list"); strings.Contains(l, "OVERDUE") {
		t.Errorf("overdue today: %s", l)
	}
	us.run(t, bin, "assist", "update", id[1], "--action", "supply-information", "--note", "Example Pharma LLC, Delaware", "--by", "bob")
	l := fr.run(t, bin, "assist", "list", "--at", later)
	if !strings.Contains(l, "information-supplied") || strings.Contains(l, "OVERDUE") {
		t.Fatalf("after the answer: %s", l)
	}
	if s := fr.run(t, bin, "assist", "show", id[1]); !strings.Contains(s, "Example Pharma LLC, Delaware") {
		t.Errorf("the answer is not in the history: %s", s)
	}

	// Both custody logs of each link agree and verify.
	root := func(out, dir string) string {
		m := regexp.MustCompile(dir + `\s+size (\d+) root ([0-9a-f]+)`).FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("no %s log in:\n%s", dir, out)
		}
		return m[1] + "/" + m[2]
	}
	frSide := fr.run(t, bin, "custody", "verify", "us")
	usSide := us.run(t, bin, "custody", "verify", "fr")
	if root(frSide, "sent") != root(usSide, "received") || root(usSide, "sent") != root(frSide, "received") {
		t.Errorf("the logs disagree:\nFR:\n%s\nUS:\n%s", frSide, usSide)
	}
	if !strings.Contains(frSide, "OK:") || !strings.Contains(usSide, "OK:") {
		t.Errorf("custody does not verify:\n%s\n%s", frSide, usSide)
	}

	// FR rotates its key: US records the new one, the old one is retired;
	// exchange goes on, and the old checkpoints still verify.
	out = fr.run(t, bin, "keys", "rotate")
	newKey := regexp.MustCompile(`new key\s+(\S+)`).FindStringSubmatch(out)
	if newKey == nil || newKey[1] == fr.key {
		t.Fatalf("keys rotate: %s", out)
	}
	fr.s.stop(t)
	fr.s = serve(t, bin, fr.data, "--config", fr.conf)
	us.run(t, bin, "peer", "rotate-key", "fr", "--key", newKey[1])
	au.run(t, bin, "peer", "rotate-key", "fr", "--key", newKey[1])
	if show := us.run(t, bin, "peer", "show", "fr"); !strings.Contains(show, "key retired "+fr.key) || !strings.Contains(show, "key active "+newKey[1]) {
		t.Errorf("US's record of FR's keys: %s", show)
	}
	post(federationSpam("12.0.0.5", "deals@pharma-us.example", "Cheap meds", 5))
	if out := fr.run(t, bin, "peer", "sync", "us"); !strings.Contains(out, "1 envelope:") {
		t.Errorf("sync after rotation: %s", out)
	}
	if v := fr.run(t, bin, "custody", "verify", "us"); !strings.Contains(v, "OK:") {
		t.Errorf("FR's custody after rotation: %s", v)
	}
	if v := us.run(t, bin, "custody", "verify", "fr"); !strings.Contains(v, "OK:") {
		t.Errorf("US's custody after rotation: %s", v)
	}
	if show := fr.run(t, bin, "keys", "show"); !strings.Contains(show, "retired      "+fr.key) {
		t.Errorf("FR's key history: %s", show)
	}
	got = us.run(t, bin, "received", "--peer", "fr")

	// US revokes FR's key: FR can send nothing more.
	us.run(t, bin, "peer", "revoke-key", "fr")
	post(federationSpam("12.0.0.7", "deals@pharma-us.example", "Cheap meds", 7))
	if out := fr.runFail(t, bin, "peer", "sync", "us"); !strings.Contains(out, "refused") {
		t.Errorf("after revocation: %s", out)
	}
	if after := us.run(t, bin, "received", "--peer", "fr"); strings.Count(after, "\nfr ") != strings.Count(got, "\nfr ") {
		t.Errorf("US stored items after revoking FR's key:\n%s", after)
	}
	for _, a := range []*authority{fr, us, au} {
		a.s.stop(t)
	}
	var buf bytes.Buffer
	buf.WriteString(fr.s.logs.String())
	if strings.Contains(buf.String(), "panic") {
		t.Errorf("a node panicked:\n%s", buf.String())
	}
}
