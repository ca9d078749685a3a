package consent

import (
	"crypto/hmac"
	"crypto/sha256"
)

// Keys are the node's secrets for consent: derived from its key by the
// caller (nodekey.Key.Derive), never stored.
type Keys struct {
	Recipients  []byte // Root of the per-sender recipient keys.
	TokenCipher []byte // 32 bytes: AES-256 key of unsubscribe tokens.
	TokenMAC    []byte // HMAC key of unsubscribe and confirmation tokens.
}

// RecipientKey is the sender's key for RecipientHash.
func (k Keys) RecipientKey(sender string) []byte {
	m := hmac.New(sha256.New, k.Recipients)
	m.Write([]byte("recipient-key\x00" + sender))
	return m.Sum(nil)
}
