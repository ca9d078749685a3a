package federation

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"testing"

	"filippo.io/edwards25519"
)

// The eight small-order points of edwards25519 in their canonical
// encodings, as libsodium's blocklist (ed25519_verify) lists them, plus
// non-canonical encodings of some of them and values off the curve.
var weakKeys = []string{
	"0000000000000000000000000000000000000000000000000000000000000000", // order 4
	"0100000000000000000000000000000000000000000000000000000000000000", // identity
	"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // order 2
	"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a", // order 8
	"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa", // order 8
	"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05", // order 8
	"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85", // order 8
	"0000000000000000000000000000000000000000000000000000000000000080", // order 4, x sign set
	"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // identity, non-canonical (y = p + 1)
	"edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // order 4 (y = p), non-canonical
	"0200000000000000000000000000000000000000000000000000000000000000", // not on the curve
}

func TestParsePublicKeyRefusesWeakKeys(t *testing.T) {
	for _, h := range weakKeys {
		b, _ := hex.DecodeString(h)
		if _, err := ParsePublicKey(base64.StdEncoding.EncodeToString(b)); !errors.Is(err, ErrWeakKey) {
			t.Errorf("%s: %v", h, err)
		}
	}
	// A real key plus the point of order 2: outside the prime-order subgroup.
	pub, _, _ := ed25519.GenerateKey(nil)
	a, _ := new(edwards25519.Point).SetBytes(pub)
	t2b, _ := hex.DecodeString(weakKeys[2])
	t2, _ := new(edwards25519.Point).SetBytes(t2b)
	mixed := new(edwards25519.Point).Add(a, t2).Bytes()
	if _, err := ParsePublicKey(base64.StdEncoding.EncodeToString(mixed)); !errors.Is(err, ErrWeakKey) {
		t.Errorf("mixed-order key: %v", err)
	}
	for range 50 {
		pub, _, _ := ed25519.GenerateKey(nil)
		if _, err := ParsePublicKey(base64.StdEncoding.EncodeToString(pub)); err != nil {
			t.Fatalf("a generated key refused: %v", err)
		}
	}
}
