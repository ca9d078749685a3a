package consent

import (
	"crypto/aes"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Unsubscribe tokens are what List-Unsubscribe carries: opaque (no
// address, no id in the clear), authenticated, and short enough for the
// local part of a mailto address (RFC 5321 4.5.3.1.1: 64 octets), so the
// same token works in "https://node/u/TOKEN" and "unsubscribe+TOKEN@node".
//
// Layout: 16 bytes of plaintext, one AES-256 block, then 12 bytes of
// HMAC-SHA256 over the ciphertext (encrypt-then-MAC), in lower-case base32
// without padding: 45 characters.
//
//	byte 0      version (1)
//	bytes 1-6   recipient reference (48 bits)
//	bytes 7-9   list reference (24 bits)
//	bytes 10-13 campaign reference (32 bits; 0 for none)
//	bytes 14-15 day of issue, counted from 2020-01-01
//
// The MAC is checked first: a forged token costs one HMAC and no database
// read. Nothing in the token expires: an opt-out must keep working (CAN-SPAM
// asks for 30 days at least), and using it twice changes nothing.

// TokenLen is the length of an unsubscribe token.
const TokenLen = 45

const (
	tokenVersion = 1
	macLen       = 12
	maxRecipient = 1<<48 - 1
	maxList      = 1<<24 - 1
	maxCampaign  = 1<<32 - 1
)

var tokenEpoch = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)

var tokenB32 = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// TokenRef is what an unsubscribe token stands for.
type TokenRef struct {
	Recipient int64
	List      int64
	Campaign  int64
	Issued    time.Time // The day the token was made (UTC midnight).
}

// ErrBadToken is every token that does not verify: malformed, forged or
// altered. Callers cannot and need not tell these apart.
var ErrBadToken = errors.New("consent: not a valid token")

// sealer makes and opens unsubscribe tokens.
type sealer struct {
	block interface {
		Encrypt(dst, src []byte)
		Decrypt(dst, src []byte)
	}
	mac []byte
}

func newSealer(k Keys) (*sealer, error) {
	if len(k.TokenCipher) != 32 || len(k.TokenMAC) < 16 {
		return nil, fmt.Errorf("consent: token keys: want a 32-byte cipher key and a MAC key of 16 bytes or more")
	}
	b, err := aes.NewCipher(k.TokenCipher)
	if err != nil {
		return nil, fmt.Errorf("consent: token cipher: %w", err)
	}
	return &sealer{block: b, mac: k.TokenMAC}, nil
}

func (s *sealer) seal(r TokenRef) (string, error) {
	if r.Recipient <= 0 || r.Recipient > maxRecipient || r.List <= 0 || r.List > maxList || r.Campaign < 0 || r.Campaign > maxCampaign {
		return "", fmt.Errorf("consent: token references out of range: %+v", r)
	}
	day := r.Issued.UTC().Sub(tokenEpoch) / (24 * time.Hour)
	if r.Issued.Before(tokenEpoch) || day > 0xffff {
		return "", fmt.Errorf("consent: token date out of range: %s", r.Issued)
	}
	var p [16]byte
	p[0] = tokenVersion
	put48(p[1:7], uint64(r.Recipient))
	put24(p[7:10], uint32(r.List))
	binary.BigEndian.PutUint32(p[10:14], uint32(r.Campaign))
	binary.BigEndian.PutUint16(p[14:16], uint16(day))
	var out [16 + macLen]byte
	s.block.Encrypt(out[:16], p[:])
	copy(out[16:], s.tag(out[:16]))
	return tokenB32.EncodeToString(out[:]), nil
}

func (s *sealer) open(tok string) (TokenRef, error) {
	if len(tok) != TokenLen {
		return TokenRef{}, ErrBadToken
	}
	// Mail systems may change the case of a local part; base32 does not
	// care. The last character carries a padding bit: re-encoding refuses
	// a non-zero one, so each token has exactly one spelling.
	tok = strings.ToLower(tok)
	b, err := tokenB32.DecodeString(tok)
	if err != nil || len(b) != 16+macLen || tokenB32.EncodeToString(b) != tok {
		return TokenRef{}, ErrBadToken
	}
	if subtle.ConstantTimeCompare(s.tag(b[:16]), b[16:]) != 1 {
		return TokenRef{}, ErrBadToken
	}
	var p [16]byte
	s.block.Decrypt(p[:], b[:16])
	if p[0] != tokenVersion {
		return TokenRef{}, ErrBadToken
	}
	r := TokenRef{
		Recipient: int64(get48(p[1:7])),
		List:      int64(get24(p[7:10])),
		Campaign:  int64(binary.BigEndian.Uint32(p[10:14])),
		Issued:    tokenEpoch.Add(time.Duration(binary.BigEndian.Uint16(p[14:16])) * 24 * time.Hour),
	}
	if r.Recipient == 0 || r.List == 0 {
		return TokenRef{}, ErrBadToken
	}
	return r, nil
}

func (s *sealer) tag(ct []byte) []byte {
	m := hmac.New(sha256.New, s.mac)
	m.Write([]byte("unsubscribe\x00"))
	m.Write(ct)
	return m.Sum(nil)[:macLen]
}

// confirmToken is the secret of a confirmation link: the record id and a
// MAC over it, so a guessed id confirms nothing.
func confirmToken(mac []byte, record string) string {
	return record + "." + confirmTag(mac, record)
}

func confirmTag(mac []byte, record string) string {
	m := hmac.New(sha256.New, mac)
	m.Write([]byte("confirm\x00" + record))
	return tokenB32.EncodeToString(m.Sum(nil)[:16])
}

// openConfirmToken returns the record id of a confirmation token.
func openConfirmToken(mac []byte, tok string) (string, error) {
	id, tag, ok := strings.Cut(tok, ".")
	if !ok || id == "" || len(tok) > 128 {
		return "", ErrBadToken
	}
	if subtle.ConstantTimeCompare([]byte(confirmTag(mac, id)), []byte(strings.ToLower(tag))) != 1 {
		return "", ErrBadToken
	}
	return id, nil
}

func put48(b []byte, v uint64) {
	for i := 5; i >= 0; i-- {
		b[i] = byte(v)
		v >>= 8
	}
}

func get48(b []byte) uint64 {
	var v uint64
	for i := 0; i < 6; i++ {
		v = v<<8 | uint64(b[i])
	}
	return v
}

func put24(b []byte, v uint32) { b[0], b[1], b[2] = byte(v>>16), byte(v>>8), byte(v) }
func get24(b []byte) uint32    { return uint32(b[0])<<16 | uint32(b[1])<<8 | uint32(b[2]) }
