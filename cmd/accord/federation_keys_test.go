package main

import (
	"crypto/ed25519"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/accord-antispam/accord/internal/nodekey"
)

// TestPeerKeysFromTheBinary: the attack review's key findings, run as two
// authorities would. A degenerate key (all zero, the identity, another
// small-order point) is refused by peer add and rotate-key — anyone could
// sign as such a "partner". A rotation made by mistake is undone by
// rotating back to the peer's earlier key, and the link works again (it
// was a raw SQLite UNIQUE error and a dead link); a key that belongs to
// another peer, a removed one included, is refused with a clear error.
func TestPeerKeysFromTheBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := accordBinary(t)
	dir := t.TempDir()
	fr := startNode(t, bin, dir, "fr", "FR", "")
	us := startNode(t, bin, dir, "us", "US", "")
	toUS := writeFile(t, filepath.Join(dir, "to-us.toml"), "id = \"FR-US\"\nversion = 1\naudience = [\"us\"]\nshare = [\"indicators\", \"campaigns\", \"reports\"]\ntlp_max = \"amber\"\norigins = [\"*\"]\n")
	toFR := writeFile(t, filepath.Join(dir, "to-fr.toml"), "id = \"TO-FR\"\nversion = 1\naudience = [\"fr\"]\nshare = []\n")

	weak := []string{
		"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", // all zero (order 4)
		"AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", // the identity
		"7P///////////////////////////////////////38=", // order 2
	}
	for _, k := range weak {
		out := us.runFail(t, bin, "peer", "add", "zz", "--url", "http://127.0.0.1:9", "--key", k, "--jurisdiction", "CA", "--agreement", toFR)
		if !strings.Contains(out, "not a usable Ed25519 public key") {
			t.Errorf("peer add with key %s: %s", k, out)
		}
	}
	fr.run(t, bin, "peer", "add", "us", "--url", "http://"+us.s.http, "--key", us.key, "--jurisdiction", "US", "--agreement", toUS)
	us.run(t, bin, "peer", "add", "fr", "--url", "http://"+fr.s.http, "--key", fr.key, "--jurisdiction", "FR", "--agreement", toFR)
	for _, k := range weak {
		if out := us.runFail(t, bin, "peer", "rotate-key", "fr", "--key", k); !strings.Contains(out, "not a usable Ed25519 public key") {
			t.Errorf("rotate-key to %s: %s", k, out)
		}
	}
	post, _ := poster(t, bin, fr)
	post(federationSpam("12.0.0.1", "deals@pharma-us.example", "Cheap meds", 1))
	fr.run(t, bin, "peer", "sync", "us")

	// A rotation by mistake, then undone.
	wrong, _, _ := ed25519.GenerateKey(nil)
	us.run(t, bin, "peer", "rotate-key", "fr", "--key", base64.StdEncoding.EncodeToString(wrong))
	post(federationSpam("12.0.0.2", "deals@pharma-us.example", "Cheap meds", 2))
	if out := fr.runFail(t, bin, "peer", "sync", "us"); !strings.Contains(out, "refused") {
		t.Errorf("sync under the wrong key: %s", out)
	}
	out := us.run(t, bin, "peer", "rotate-key", "fr", "--key", fr.key)
	if !strings.Contains(out, "in force again") {
		t.Errorf("rotating back: %s", out)
	}
	if out := fr.run(t, bin, "peer", "sync", "us"); !strings.Contains(out, "1 envelope:") {
		t.Errorf("sync after the rotation was undone: %s", out)
	}
	if out := us.run(t, bin, "custody", "verify", "fr"); !strings.Contains(out, "OK") {
		t.Errorf("custody after the undo: %s", out)
	}
	// A key can be given to one peer only; said plainly.
	for _, args := range [][]string{
		{"peer", "add", "fr2", "--url", "http://127.0.0.1:9", "--key", fr.key, "--jurisdiction", "FR"},
		{"peer", "rotate-key", "fr", "--key", fr.key},
	} {
		out := us.runFail(t, bin, args...)
		if strings.Contains(out, "constraint") || strings.Contains(out, "UNIQUE") || !strings.Contains(out, "cannot be given") {
			t.Errorf("%v: %s", args, out)
		}
	}
	us.run(t, bin, "peer", "remove", "fr")
	if out := us.runFail(t, bin, "peer", "add", "fr2", "--url", "http://127.0.0.1:9", "--key", fr.key, "--jurisdiction", "FR"); !strings.Contains(out, "removed for good") {
		t.Errorf("a removed peer's key: %s", out)
	}
}

// TestNodeKeyMismatchRefused: a data folder whose node.key is not the
// node's current key in its store (a second instance given its own key
// instead of a copy, a restored folder, an archived key put back) is
// refused with both fingerprints — before, opening it silently retired
// the node's key, and every running instance then signed with a retired
// key. accord keys rotate still makes a new key the node's.
func TestNodeKeyMismatchRefused(t *testing.T) {
	root := t.TempDir()
	a := filepath.Join(root, "a")
	if code, _, errs := runCmd(t, "", "init", "--data", a); code != 0 {
		t.Fatalf("init: %s", errs)
	}
	if code, _, errs := runCmd(t, "", "peer", "list", "--data", a); code != 0 {
		t.Fatalf("peer list: %s", errs)
	}
	// A copy of the node with a key of its own.
	b := filepath.Join(root, "b")
	copyDir(t, a, b)
	other := filepath.Join(root, "other")
	if _, err := nodekey.LoadOrCreate(other); err != nil {
		t.Fatal(err)
	}
	k, _ := os.ReadFile(filepath.Join(other, nodekey.FileName))
	os.WriteFile(filepath.Join(b, nodekey.FileName), k, 0o600)
	code, _, errs := runCmd(t, "", "peer", "list", "--data", b)
	if code == 0 || !strings.Contains(errs, "is not the node's key in its store") || !strings.Contains(errs, "copy of the node's node.key") {
		t.Fatalf("a foreign key opened the node: %d %s", code, errs)
	}
	// The node's own key is untouched: the original folder still opens.
	if code, _, errs := runCmd(t, "", "peer", "list", "--data", a); code != 0 {
		t.Fatalf("the node's own folder after the refusal: %s", errs)
	}
	// An explicit rotation makes a new key the node's, and the archived
	// old key put back is refused as retired.
	if code, out, errs := runCmd(t, "", "keys", "rotate", "--data", a); code != 0 || !strings.Contains(out, "new key") {
		t.Fatalf("keys rotate: %d %s %s", code, out, errs)
	}
	if code, _, errs := runCmd(t, "", "peer", "list", "--data", a); code != 0 {
		t.Fatalf("after rotation: %s", errs)
	}
	archived, _ := filepath.Glob(filepath.Join(a, nodekey.FileName+".retired-*"))
	if len(archived) != 1 {
		t.Fatalf("archived keys: %v", archived)
	}
	old, _ := os.ReadFile(archived[0])
	os.WriteFile(filepath.Join(a, nodekey.FileName), old, 0o600)
	if code, _, errs := runCmd(t, "", "peer", "list", "--data", a); code == 0 || !strings.Contains(errs, "was retired on") {
		t.Fatalf("a retired key opened the node: %d %s", code, errs)
	}
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	if err := os.CopyFS(to, os.DirFS(from)); err != nil {
		t.Fatal(err)
	}
}

// TestDKIMKeyPinned: the first instance pins the node's DKIM record in the
// store; a data folder with another dkim.key (its own, made at first start
// because the key was not copied) is refused with both fingerprints, until
// the operator adopts it on purpose — after which the old one is refused.
// One folder here (on SQLite the store lives in it); several instances on
// PostgreSQL meet the same pin (TestInstancesShareOnePostgres).
func TestDKIMKeyPinned(t *testing.T) {
	a := filepath.Join(t.TempDir(), "a")
	code, out, errs := runCmd(t, "", "init", "--data", a)
	if code != 0 || !strings.Contains(out, "DKIM key fingerprint") {
		t.Fatalf("init: %s %s", out, errs)
	}
	path := filepath.Join(a, "dkim.key")
	first, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("init made no dkim.key, so there is nothing to copy to other instances: %v", err)
	}
	os.Remove(path) // made afresh on open: another key
	code, _, errs = runCmd(t, "", "node", "dkim", "--data", a)
	if code == 0 || !strings.Contains(errs, "is not the key this node's other instances sign its mail with") {
		t.Fatalf("a foreign DKIM key was taken: %d %s", code, errs)
	}
	if code, _, errs := runCmd(t, "", "node", "dkim", "--adopt", "--data", a); code != 0 || !strings.Contains(errs, "now must sign with this key") {
		t.Fatalf("adopt: %d %s", code, errs)
	}
	if code, _, errs := runCmd(t, "", "node", "dkim", "--data", a); code != 0 {
		t.Fatalf("the adopted key: %s", errs)
	}
	os.WriteFile(path, first, 0o600)
	if code, _, errs := runCmd(t, "", "node", "dkim", "--data", a); code == 0 || !strings.Contains(errs, "accord node dkim --adopt") {
		t.Fatalf("the replaced key after adopt: %d %s", code, errs)
	}
}
