package nodekey

import (
	"bytes"
	"crypto/ed25519"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadOrCreateKeepsTheKey(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	k1, err := LoadOrCreate(dir)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, want 0600", st.Mode().Perm())
	}
	k2, err := LoadOrCreate(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !k1.Private.Equal(k2.Private) || k1.Public() != k2.Public() {
		t.Fatal("a restart changed the node key")
	}
	msg := []byte("manifest")
	if !ed25519.Verify(k2.Private.Public().(ed25519.PublicKey), msg, ed25519.Sign(k1.Private, msg)) {
		t.Fatal("signature does not verify")
	}
	a, b := k1.Derive("pseudonyms"), k1.Derive("other")
	if len(a) != 32 || bytes.Equal(a, b) || !bytes.Equal(a, k2.Derive("pseudonyms")) {
		t.Error("derived secrets are not stable and distinct")
	}
}

func TestDamagedKeyIsAnError(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, FileName), []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreate(dir); err == nil {
		t.Fatal("a damaged key file was accepted")
	}
}

func TestFingerprint(t *testing.T) {
	k, err := LoadOrCreate(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	f := k.Fingerprint()
	if !strings.HasPrefix(f, "SHA256:") || len(f) != len("SHA256:")+43 {
		t.Fatalf("fingerprint %q", f)
	}
	other, _ := LoadOrCreate(t.TempDir())
	if other.Fingerprint() == f {
		t.Fatal("two keys, one fingerprint")
	}
	if _, err := Fingerprint("not a key"); err == nil {
		t.Fatal("garbage has a fingerprint")
	}
}
