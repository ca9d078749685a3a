package main

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/accord-antispam/accord/internal/federation"
)

// startNode starts an authority with extra [federation] settings.
func startNode(t *testing.T, bin, dir, name, jur, federation string) *authority {
	t.Helper()
	a := &authority{name: name, jur: jur, data: filepath.Join(dir, name, "data"), conf: filepath.Join(dir, name, "accord.toml")}
	os.MkdirAll(filepath.Dir(a.conf), 0o755)
	os.WriteFile(a.conf, []byte(fmt.Sprintf("[node]\nname = \"%s authority\"\njurisdiction = \"%s\"\n[federation]\nsync_interval = \"0s\"\n%s\n",
		strings.ToUpper(name), jur, federation)), 0o600)
	a.s = serve(t, bin, a.data, "--config", a.conf)
	a.key = strings.TrimSpace(a.run(t, bin, "node", "key"))
	return a
}

// received reads `accord received --peer P --json`.
func (a *authority) received(t *testing.T, bin, peer string) []receivedItem {
	t.Helper()
	out := a.run(t, bin, "received", "--peer", peer, "--json")
	var items []receivedItem
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var it receivedItem
		if err := json.Unmarshal(sc.Bytes(), &it); err != nil {
			t.Fatalf("received --json: %v: %s", err, sc.Text())
		}
		items = append(items, it)
	}
	return items
}

// poster files reports at a node over its API.
func poster(t *testing.T, bin string, a *authority) (func(raw string), string) {
	tok := lastLine(a.run(t, bin, "token", "create", "--role", "reporter"))
	return func(raw string) {
		t.Helper()
		req, _ := http.NewRequest("POST", "http://"+a.s.http+"/api/v1/reports", strings.NewReader(raw))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "message/rfc822")
		res, err := http.DefaultClient.Do(req)
		if err != nil || res.StatusCode != 201 {
			t.Fatalf("report: %v %v", res, err)
		}
		res.Body.Close()
	}, tok
}

// TestAgreementsKeysAndPeersChangeFromTheBinary: what goes wrong when
// agreements, keys and partners change, run as two authorities would.
//
//   - US suspends FR, FR's round fails and leaves an envelope decided under
//     v3; FR narrows to v4; US resumes: nothing outside v4 arrives, what v3
//     sent and v4 does not allow is withdrawn, and US purges it on its own
//     schedule with sync turned off;
//   - US rotates its key while FR has an envelope pending for the old one:
//     once FR records the new key the next round heals by itself;
//   - peer set-url, remove for good, a node's own key refused, ISO 3166
//     origins (GB, not UK), the assistance steps as documented.
func TestAgreementsKeysAndPeersChangeFromTheBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := accordBinary(t)
	dir := t.TempDir()
	fr := startNode(t, bin, dir, "fr", "FR", "")
	us := startNode(t, bin, dir, "us", "US", "purge_interval = \"1s\"\nmax_envelope = 1048576")
	v3 := writeFile(t, filepath.Join(dir, "v3.toml"), `id = "FR-US-2026"
version = 3
audience = ["us"]
share = ["indicators", "campaigns", "reports"]
tlp_max = "amber"
origins = ["US", "CA", "KR"]
retention_days = 365
`)
	toFR := writeFile(t, filepath.Join(dir, "to-fr.toml"), "id = \"TO-FR\"\nversion = 1\naudience = [\"fr\"]\nshare = []\n")

	// A node cannot be its own peer; jurisdictions and origins are
	// assigned ISO 3166 codes.
	if out := fr.runFail(t, bin, "peer", "add", "self", "--url", "http://"+fr.s.http, "--key", fr.key, "--jurisdiction", "FR"); !strings.Contains(out, "own") {
		t.Errorf("adding its own key: %s", out)
	}
	if out := fr.runFail(t, bin, "peer", "add", "uk", "--url", "http://uk.example", "--key", us.key, "--jurisdiction", "UK"); !strings.Contains(out, "write GB") {
		t.Errorf("jurisdiction UK: %s", out)
	}
	ukOrigins := writeFile(t, filepath.Join(dir, "uk.toml"), strings.Replace(readFile(t, v3), `origins = ["US", "CA", "KR"]`, `origins = ["UK"]`, 1))
	if out := fr.runFail(t, bin, "peer", "add", "us", "--url", "http://"+us.s.http, "--key", us.key, "--jurisdiction", "US", "--agreement", ukOrigins); !strings.Contains(out, "write GB") {
		t.Errorf("origin UK: %s", out)
	}
	zz := writeFile(t, filepath.Join(dir, "zz.toml"), strings.Replace(readFile(t, v3), `origins = ["US", "CA", "KR"]`, `origins = ["ZZ"]`, 1))
	if out := fr.runFail(t, bin, "peer", "add", "us", "--url", "http://"+us.s.http, "--key", us.key, "--jurisdiction", "US", "--agreement", zz); !strings.Contains(out, "ZZ") {
		t.Errorf("origin ZZ: %s", out)
	}
	fr.run(t, bin, "peer", "add", "us", "--url", "http://"+us.s.http, "--key", us.key, "--jurisdiction", "US", "--agreement", v3)
	us.run(t, bin, "peer", "add", "fr", "--url", "http://"+fr.s.http, "--key", fr.key, "--jurisdiction", "FR", "--agreement", toFR)

	// US's inbox tells an outsider nothing, and bounds what it reads.
	_, stranger, _ := ed25519.GenerateKey(nil)
	forged, _ := federation.Seal(stranger, federation.Envelope{Type: federation.TypeSync, To: us.key, Seq: 1, Time: time.Now()}, []byte(`{}`))
	inbox := func(body []byte) (int, string) {
		res, err := http.Post("http://"+us.s.http+"/federation/v1/inbox", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	if code, body := inbox(forged); code != 403 || !strings.Contains(body, `"code":"refused"`) || strings.Contains(body, "fr") || strings.Contains(body, "unknown") {
		t.Errorf("a stranger's envelope: %d %s", code, body)
	}
	if code, body := inbox(bytes.Repeat([]byte("x"), 2<<20)); code != 413 || !strings.Contains(body, "too-large") {
		t.Errorf("2 MiB into a 1 MiB inbox: %d %s", code, body)
	}

	post, repTok := poster(t, bin, fr)
	for i := 0; i < 3; i++ {
		post(federationSpam(fmt.Sprintf("12.0.0.%d", i+1), "deals@pharma-us.example", "Cheap meds", i))
	}
	fr.run(t, bin, "peer", "sync", "us")
	before := us.received(t, bin, "fr")
	if len(before) == 0 {
		t.Fatal("nothing arrived under v3")
	}

	// Suspend, a failed round, narrow, resume.
	us.run(t, bin, "peer", "suspend", "fr")
	post(federationSpam("12.0.0.9", "deals@pharma-us.example", "Cheap meds", 9))
	post(federationSpam("1.208.0.1", "promo@kr-deals.example", "Special offer", 10))
	if out := fr.runFail(t, bin, "peer", "sync", "us"); !strings.Contains(out, "refused") {
		t.Errorf("sync while suspended: %s", out)
	}
	if out := fr.run(t, bin, "peer", "pending", "us"); !strings.Contains(out, "decided under agreement version 3") {
		t.Errorf("pending: %s", out)
	}
	v4 := writeFile(t, filepath.Join(dir, "v4.toml"), `id = "FR-US-2026"
version = 4
audience = ["us"]
share = ["indicators"]
tlp_max = "green"
origins = ["US"]
retention_days = 365
keep_withdrawn_days = 0
`)
	fr.run(t, bin, "peer", "agreement", "us", v4, "--apply")
	us.run(t, bin, "peer", "resume", "fr")
	out := fr.run(t, bin, "peer", "sync", "us")
	if !strings.Contains(out, "had not arrived and was decided again") || !regexp.MustCompile(`[1-9]\d* withdrawn`).MatchString(out) {
		t.Errorf("sync after resume: %s", out)
	}
	sent := regexp.MustCompile(`(\d+) items?,`).FindStringSubmatch(out)
	after := us.received(t, bin, "fr")
	newItems, withdrawn := 0, 0
	for _, it := range after {
		switch it.Status {
		case "held":
			if it.Kind != "indicators" || it.TLP != "green" || strings.Join(it.Origins, ",") != "US" {
				t.Errorf("outside v4: %s %s %s %v", it.Key, it.Kind, it.TLP, it.Origins)
			}
			if it.Terms.Version == 4 {
				newItems++
			}
		case "withdrawn", "purged":
			withdrawn++
		}
		if strings.Contains(it.Key, "1.208.0.1") || strings.Contains(it.Key, "kr-deals") {
			t.Errorf("a Korean-origin item reached US: %s (%s)", it.Key, it.Status)
		}
	}
	if withdrawn == 0 {
		t.Error("nothing was withdrawn")
	}
	if sent == nil || sent[1] != fmt.Sprint(newItems) {
		t.Errorf("the summary says %v items, US got %d under v4:\n%s", sent, newItems, out)
	}
	// Purged on US's own schedule (purge_interval 1s, sync off).
	deadline := time.Now().Add(10 * time.Second)
	for {
		purged := 0
		for _, it := range us.received(t, bin, "fr") {
			if it.Status == "purged" {
				purged++
				if len(it.Body) != 0 || it.Hash == "" {
					t.Errorf("a purged item keeps its body or lost its hash: %+v", it)
				}
			}
		}
		if purged == withdrawn {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d withdrawn items purged after 10 s", purged, withdrawn)
		}
		time.Sleep(300 * time.Millisecond)
	}

	// US rotates its key while FR has an envelope pending for the old one.
	out = us.run(t, bin, "keys", "rotate")
	newKey := regexp.MustCompile(`new key\s+(\S+)`).FindStringSubmatch(out)
	if newKey == nil {
		t.Fatalf("keys rotate: %s", out)
	}
	us.s.stop(t)
	us.s = serve(t, bin, us.data, "--config", us.conf)
	fr.run(t, bin, "peer", "set-url", "us", "http://"+us.s.http) // it came back on another port
	post(federationSpam("12.0.0.20", "deals@pharma-us.example", "Cheap meds", 20))
	if out := fr.runFail(t, bin, "peer", "sync", "us"); !strings.Contains(out, "wrong-recipient") {
		t.Errorf("sealed for the old key: %s", out)
	}
	if out := fr.runFail(t, bin, "peer", "sync", "us"); !strings.Contains(out, "pending") {
		t.Errorf("again, with the old key: %s", out)
	}
	fr.run(t, bin, "peer", "rotate-key", "us", "--key", newKey[1])
	if out := fr.run(t, bin, "peer", "sync", "us"); !strings.Contains(out, "had not arrived and was decided again") {
		t.Errorf("after rotate-key: %s", out)
	}
	if out := fr.run(t, bin, "peer", "pending", "us"); !strings.Contains(out, "no envelope is pending") {
		t.Errorf("still pending: %s", out)
	}
	// A peer the node does not know: not found, not "nothing pending".
	if out := fr.runFail(t, bin, "peer", "pending", "ghost"); !strings.Contains(out, "not found") || strings.Contains(out, "no envelope is pending") {
		t.Errorf("peer pending of an unknown peer: %s", out)
	}
	for _, a := range []*authority{fr, us} {
		peer := map[string]string{"fr": "us", "us": "fr"}[a.name]
		if v := a.run(t, bin, "custody", "verify", peer); !strings.Contains(v, "OK:") {
			t.Errorf("%s custody: %s", a.name, v)
		}
	}

	// The assistance steps, exactly as documented.
	out = fr.run(t, bin, "assist", "request", "us", "--type", "information", "--subject", "Who runs pharma-us.example?")
	id := regexp.MustCompile(`request (a-[a-z0-9]+)`).FindStringSubmatch(out)
	if id == nil {
		t.Fatalf("assist request: %s", out)
	}
	if out := us.runFail(t, bin, "assist", "update", id[1], "--action", "supply-information", "--note", "x"); !strings.Contains(out, "cannot supply-information a request that is acknowledged") {
		t.Errorf("information supplied before acceptance: %s", out)
	}
	us.run(t, bin, "assist", "update", id[1], "--action", "accept")
	us.run(t, bin, "assist", "update", id[1], "--action", "supply-information", "--note", "Example Pharma LLC")

	// Removed means removed.
	tok := lastLine(fr.run(t, bin, "peer", "token", "us"))
	out = fr.run(t, bin, "peer", "remove", "us")
	if !strings.Contains(out, "1 TAXII tokens revoked") {
		t.Errorf("remove: %s", out)
	}
	if out := fr.runFail(t, bin, "peer", "resume", "us"); !strings.Contains(out, "removed") {
		t.Errorf("resume a removed peer: %s", out)
	}
	if out := fr.runFail(t, bin, "peer", "sync", "us"); !strings.Contains(out, "removed") {
		t.Errorf("sync to a removed peer: %s", out)
	}
	// Nothing new for a removed peer: no token, key or agreement.
	newPub, _, _ := ed25519.GenerateKey(nil)
	for _, args := range [][]string{{"peer", "token", "us"}, {"peer", "rotate-key", "us", "--key", base64.StdEncoding.EncodeToString(newPub)},
		{"peer", "agreement", "us", v4, "--apply"}} {
		if out := fr.runFail(t, bin, args...); !strings.Contains(out, "removed") {
			t.Errorf("%v for a removed peer: %s", args, out)
		}
	}
	req, _ := http.NewRequest("GET", "http://"+fr.s.http+"/taxii2/", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != 401 {
		t.Errorf("the removed peer's TAXII token: %v %v", res, err)
	}
	if out := us.run(t, bin, "assist", "request", "fr", "--type", "alert", "--subject", "new campaign"); !strings.Contains(out, "not delivered yet") || !strings.Contains(out, "refused") {
		t.Errorf("US sends to FR, which removed it: %s", out)
	}
	// Tokens of every kind: listed, and revoked by id.
	list := fr.run(t, bin, "token", "list")
	if !regexp.MustCompile(`(?m)^\S+\s+peer\s+us\s+.*\d\d:\d\d\s*$`).MatchString(list) || !regexp.MustCompile(`(?m)^\S+\s+reporter\s.*\s-\s*$`).MatchString(list) {
		t.Errorf("token list (the peer's token revoked, the reporter's valid):\n%s", list)
	}
	rep := regexp.MustCompile(`(?m)^(\S+)\s+reporter\s`).FindStringSubmatch(list)
	runBin(t, bin, "", "token", "revoke", "--data", fr.data, "--config", fr.conf, rep[1])
	req, _ = http.NewRequest("POST", "http://"+fr.s.http+"/api/v1/reports", strings.NewReader(federationSpam("12.0.0.99", "x@pharma-us.example", "x", 99)))
	req.Header.Set("Content-Type", "message/rfc822")
	req.Header.Set("Authorization", "Bearer "+repTok)
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != 401 {
		t.Errorf("a revoked API token: %v %v", res, err)
	}
	fr.s.stop(t)
	us.s.stop(t)
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestServeWarnsOfOfflineResolverWithPeers: a node with partners and no
// DNS authenticates no From, so it shares no spam's sender domain with
// them (docs/federation.md): serve says what is lost when it starts, and
// only then — not without peers, not with a resolver (here a fixture
// zone).
func TestServeWarnsOfOfflineResolverWithPeers(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := accordBinary(t)
	dir := t.TempDir()
	const warning = "the resolver is offline, so the node checks no SPF, DKIM or DMARC and shares no spam's sender domain with partners"
	fr := startNode(t, bin, dir, "fr", "FR", "")
	fr.s.stop(t)
	if strings.Contains(fr.s.logs.String(), warning) {
		t.Errorf("warned with no peers:\n%s", fr.s.logs)
	}
	pub, _, _ := ed25519.GenerateKey(nil)
	fr.run(t, bin, "peer", "add", "us", "--url", "http://127.0.0.1:9", "--key", base64.StdEncoding.EncodeToString(pub), "--jurisdiction", "US")
	s := serve(t, bin, fr.data, "--config", fr.conf)
	s.stop(t)
	if !strings.Contains(s.logs.String(), warning) {
		t.Errorf("no warning with a peer and the offline resolver:\n%s", s.logs)
	}
	// A fixture zone: not the offline warning, but one that says the
	// node's authentication rests on a file — once, at the start.
	const fixture = "the resolver is a fixture zone file, not the DNS"
	if strings.Contains(s.logs.String(), fixture) {
		t.Errorf("fixture warning with the offline resolver:\n%s", s.logs)
	}
	zone := writeFile(t, filepath.Join(dir, "zone"), "")
	conf := readFile(t, fr.conf) + fmt.Sprintf("[analysis]\nresolver = %q\n", zone)
	os.WriteFile(fr.conf, []byte(conf), 0o600)
	s = serve(t, bin, fr.data, "--config", fr.conf)
	s.stop(t)
	if strings.Contains(s.logs.String(), warning) {
		t.Errorf("warned with a resolver:\n%s", s.logs)
	}
	if n := strings.Count(s.logs.String(), fixture); n != 1 || !strings.Contains(s.logs.String(), "resolver="+zone) {
		t.Errorf("fixture zone warned %d times, want once, naming the file:\n%s", n, s.logs)
	}
}
