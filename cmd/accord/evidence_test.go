package main

import (
	"archive/zip"
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// resign is what an attacker does: change a file of a bundle, recompute
// every hash, and sign the manifest with their own key.
func resign(t *testing.T, in, out string, change func(map[string][]byte)) {
	t.Helper()
	zr, err := zip.OpenReader(in)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, f := range zr.File {
		rc, _ := f.Open()
		files[f.Name], _ = io.ReadAll(rc)
		rc.Close()
	}
	zr.Close()
	change(files)
	var man map[string]any
	json.Unmarshal(files["manifest.json"], &man)
	sums := map[string]any{}
	for n := range man["files"].(map[string]any) {
		s := sha256.Sum256(files[n])
		sums[n] = hex.EncodeToString(s[:])
	}
	man["files"] = sums
	files["manifest.json"], _ = json.MarshalIndent(man, "", "  ")
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	files["manifest.sig"] = []byte(base64.StdEncoding.EncodeToString(ed25519.Sign(priv, files["manifest.json"])) + "\n")
	files["node.pub"] = []byte(base64.StdEncoding.EncodeToString(pub) + "\n")
	var names []string
	for n := range files {
		if n != "SHA256SUMS" {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	var sb strings.Builder
	for _, n := range names {
		s := sha256.Sum256(files[n])
		fmt.Fprintf(&sb, "%s  %s\n", hex.EncodeToString(s[:]), n)
	}
	files["SHA256SUMS"] = []byte(sb.String())
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for n, b := range files {
		w, _ := zw.Create(n)
		w.Write(b)
	}
	zw.Close()
	os.WriteFile(out, buf.Bytes(), 0o644)
}

// TestEvidenceExportAndVerify: reports and campaigns export from the
// command line; verify without --key says plainly who signed and that it
// is not pinned (exit 3), with the fingerprint the node publishes; a bundle
// an attacker re-signed shows another fingerprint and fails with --key.
func TestEvidenceExportAndVerify(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := accordBinary(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "accord-data")
	s := serve(t, bin, data)
	tok := lastLine(runBin(t, bin, "", "token", "create", "--data", data, "--role", "reporter"))
	raw, _ := os.ReadFile("testdata/spam.eml")
	var ids []string
	var campaign string
	for i := 0; i < 2; i++ { // the same spam twice: one campaign of two reports
		req, _ := http.NewRequest("POST", "http://"+s.http+"/api/v1/reports", bytes.NewReader(raw))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "message/rfc822")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var c struct {
			ID         string `json:"id"`
			CampaignID string `json:"campaign_id"`
		}
		json.NewDecoder(res.Body).Decode(&c)
		res.Body.Close()
		ids = append(ids, c.ID)
		campaign = c.CampaignID
	}
	res, err := http.Get("http://" + s.http + "/api/v1/node")
	if err != nil {
		t.Fatal(err)
	}
	var node struct {
		PublicKey   string `json:"public_key"`
		Fingerprint string `json:"fingerprint"`
	}
	json.NewDecoder(res.Body).Decode(&node)
	res.Body.Close()
	fp := strings.TrimSpace(runBin(t, bin, "", "node", "fingerprint", "--data", data))
	if node.Fingerprint != fp || !strings.HasPrefix(fp, "SHA256:") || node.PublicKey != strings.TrimSpace(runBin(t, bin, "", "node", "key", "--data", data)) {
		t.Fatalf("the node publishes %+v; node fingerprint says %s", node, fp)
	}
	if res, _ := http.Get("http://" + s.http + "/node"); res == nil || res.StatusCode != 200 {
		t.Fatal("no /node page")
	} else {
		page, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if !strings.Contains(html.UnescapeString(string(page)), fp) {
			t.Fatal("the /node page does not show the fingerprint")
		}
	}

	rb := filepath.Join(dir, "report.zip")
	out := runBin(t, bin, "", "evidence", "export", "--data", data, "-o", rb, ids[0])
	if !strings.Contains(out, fp) {
		t.Fatalf("export: %s", out)
	}
	cb := filepath.Join(dir, "campaign.zip")
	runBin(t, bin, "", "evidence", "export", "--data", data, "-o", cb, campaign)
	if out, code := runBinCode(t, bin, "", "evidence", "export", "--data", data, "-o", filepath.Join(dir, "x.zip"), "nope"); code != 1 || !strings.Contains(out, "no report or campaign") {
		t.Fatalf("export of nothing: %d %s", code, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "x.zip")); err == nil {
		t.Fatal("a failed export left a file")
	}

	for _, b := range []string{rb, cb} {
		out, code := runBinCode(t, bin, "", "evidence", "verify", b)
		if code != exitNotPinned || !strings.Contains(out, "NOT PINNED") || !strings.Contains(out, fp) {
			t.Fatalf("verify %s without --key: exit %d\n%s", b, code, out)
		}
		if out, code := runBinCode(t, bin, "", "evidence", "verify", "--key", node.PublicKey, b); code != 0 || !strings.HasPrefix(lastLine(out), "OK") {
			t.Fatalf("verify %s with --key: exit %d\n%s", b, code, out)
		}
	}
	// --key also takes the fingerprint the node publishes, or a file
	// holding the key (accord node key > node.pub); anything else is a
	// usage error, never "signed … not by the pinned key" on a good bundle.
	keyFile := filepath.Join(dir, "node.pub")
	os.WriteFile(keyFile, []byte(node.PublicKey+"\n"), 0o600)
	for _, pin := range []string{fp, keyFile} {
		if out, code := runBinCode(t, bin, "", "evidence", "verify", "--key", pin, rb); code != 0 || !strings.HasPrefix(lastLine(out), "OK") {
			t.Fatalf("verify with --key %s: exit %d\n%s", pin, code, out)
		}
	}
	if out, code := runBinCode(t, bin, "", "evidence", "verify", "--key", filepath.Join(dir, "no-such.pub"), rb); code != 2 || !strings.Contains(out, "neither a node public key") {
		t.Fatalf("verify with a --key that is no key: exit %d\n%s", code, out)
	}
	if out := runBin(t, bin, "", "evidence", "verify", "--key", node.PublicKey, cb); !strings.Contains(out, "campaign "+campaign+": 2 report bundles") {
		t.Fatalf("campaign verify: %s", out)
	}

	// The attacker's bundle: altered and re-signed with their own key.
	forged := filepath.Join(dir, "forged.zip")
	resign(t, rb, forged, func(f map[string][]byte) {
		f["verdict.json"] = bytes.Replace(f["verdict.json"], []byte(`"`), []byte(`"altered `), 1)
	})
	out, code := runBinCode(t, bin, "", "evidence", "verify", forged)
	if code != exitNotPinned || strings.Contains(out, fp) || !strings.Contains(out, "NOT PINNED") {
		t.Fatalf("forged bundle without --key: exit %d, must not show the node's fingerprint\n%s", code, out)
	}
	for _, pin := range []string{node.PublicKey, fp} {
		if out, code := runBinCode(t, bin, "", "evidence", "verify", "--key", pin, forged); code != 1 || !strings.Contains(out, "not by the pinned key") {
			t.Fatalf("forged bundle with --key %s: exit %d\n%s", pin, code, out)
		}
	}
	// A campaign bundle with one report swapped for a re-signed one fails even unpinned.
	inner := filepath.Join(dir, "inner.zip")
	resign(t, rb, inner, func(map[string][]byte) {})
	swapped := filepath.Join(dir, "swapped.zip")
	innerBytes, _ := os.ReadFile(inner)
	resign(t, cb, swapped, func(f map[string][]byte) { f["reports/"+ids[0]+".zip"] = innerBytes })
	if out, code := runBinCode(t, bin, "", "evidence", "verify", swapped); code != 1 || !strings.Contains(out, "another key") {
		t.Fatalf("campaign with a foreign report bundle: exit %d\n%s", code, out)
	}
	audit := runBin(t, bin, "", "audit", "--data", data)
	if !strings.Contains(audit, "report:"+ids[0]) || !strings.Contains(audit, "campaign:"+campaign) {
		t.Errorf("exports not audited:\n%s", audit)
	}
	s.stop(t)
}
