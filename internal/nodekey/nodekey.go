// Package nodekey keeps a node's identity: one Ed25519 key, created at the
// first start in the data folder and never sent anywhere. It signs what the
// node issues (evidence bundles, and later what it shares with partners),
// and keys derived from it protect reporters' pseudonyms.
package nodekey

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// FileName is the key's file in the data folder.
const FileName = "node.key"

// Key is a node's signing key.
type Key struct {
	Private ed25519.PrivateKey
}

// LoadOrCreate reads dir/node.key, creating it (mode 0600) when the node
// starts for the first time.
func LoadOrCreate(dir string) (*Key, error) {
	path := filepath.Join(dir, FileName)
	b, err := os.ReadFile(path)
	if err == nil {
		return parse(path, b)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read node key: %w", err)
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate node key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("encode node key: %w", err)
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("create data folder: %w", err)
	}
	// O_EXCL: two processes starting at once must not each write a key.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return LoadOrCreate(dir)
	}
	if err != nil {
		return nil, fmt.Errorf("create node key: %w", err)
	}
	if err := pem.Encode(f, &pem.Block{Type: "PRIVATE KEY", Bytes: der}); err != nil {
		f.Close()
		return nil, fmt.Errorf("write node key: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, fmt.Errorf("write node key: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("write node key: %w", err)
	}
	return &Key{Private: priv}, nil
}

func parse(path string, b []byte) (*Key, error) {
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("%s is not a PEM private key", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("%s holds a %T, not an Ed25519 key", path, k)
	}
	return &Key{Private: priv}, nil
}

// Public returns the public key, base64-encoded as bundles carry it.
func (k *Key) Public() string {
	return base64.StdEncoding.EncodeToString(k.Private.Public().(ed25519.PublicKey))
}

// Derive returns a 32-byte secret for one purpose, so a leak of one derived
// secret reveals neither the key nor the others.
func (k *Key) Derive(purpose string) []byte {
	m := hmac.New(sha256.New, k.Private.Seed())
	m.Write([]byte("accord/" + purpose))
	return m.Sum(nil)
}

// Fingerprint is the short, comparable name of a public key given as
// base64 (as bundles and `accord node key` show it): "SHA256:" and the
// unpadded base64 of the key's SHA-256, the form OpenSSH made familiar. It
// is what a person compares by eye or reads over the phone.
//
// It is the one format every command, page and API shows for a node's key
// (node fingerprint, keys show, peers, consent verify, label verify,
// /node and /api/v1/node): two outputs about one key always match.
func Fingerprint(publicB64 string) (string, error) {
	pub, err := base64.StdEncoding.DecodeString(strings.TrimSpace(publicB64))
	if err != nil || len(pub) != ed25519.PublicKeySize {
		return "", fmt.Errorf("nodekey: not an Ed25519 public key")
	}
	return FingerprintOf(pub), nil
}

// FingerprintOf is the fingerprint of a public key (see Fingerprint).
func FingerprintOf(pub ed25519.PublicKey) string {
	s := sha256.Sum256(pub)
	return "SHA256:" + base64.RawStdEncoding.EncodeToString(s[:])
}

// Fingerprint is the key's fingerprint.
func (k *Key) Fingerprint() string {
	f, _ := Fingerprint(k.Public())
	return f
}
