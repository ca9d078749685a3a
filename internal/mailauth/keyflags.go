package mailauth

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/accord-antispam/accord/internal/resolve"
)

// A DKIM key record's t= flags (RFC 6376 section 3.6.1) bind the
// verifier, and go-msgauth reads them without acting on them:
//
//   - y, testing: "Verifiers MUST NOT treat messages from Signers in
//     testing mode differently from unsigned email, even should the
//     signature fail to verify." A signature under such a key gets
//     Policy (RFC 8601: signed, but not acceptable here), a result that
//     no caller counts as a pass — nor as a failure.
//   - s, strict: the i= domain must be d= itself, not a subdomain of it.
//     A signature that breaks this is a PermError.
//
// The flags are read from the very answers the verifiers got, through
// keyRecorder, not from a second lookup that could answer otherwise.

// keyFlags is what the key records at one name said; an answer seen
// with a flag sets it, so a name answered twice is read at its strictest.
type keyFlags struct {
	testing, strict bool
}

// keyRecorder is a resolver that remembers the t= flags of the TXT
// records it answered. go-msgauth verifies several signatures at once,
// so it is safe for concurrent use.
type keyRecorder struct {
	resolve.Resolver
	mu    sync.Mutex
	flags map[string]keyFlags
}

func newKeyRecorder(r resolve.Resolver) *keyRecorder {
	return &keyRecorder{Resolver: r, flags: map[string]keyFlags{}}
}

func keyName(name string) string { return strings.ToLower(strings.TrimSuffix(name, ".")) }

// LookupTXT answers as the wrapped resolver and records the flags.
func (k *keyRecorder) LookupTXT(ctx context.Context, name string) ([]string, error) {
	txts, err := k.Resolver.LookupTXT(ctx, name)
	if err != nil || len(txts) == 0 {
		return txts, err
	}
	var f keyFlags
	// go-msgauth takes exactly one record and pubKey joins them: either
	// way the flags are those of the text joined.
	for _, flag := range strings.Split(parseTags(strings.Join(txts, ""))["t"], ":") {
		switch strings.ToLower(strings.TrimSpace(flag)) {
		case "y":
			f.testing = true
		case "s":
			f.strict = true
		}
	}
	n := keyName(name)
	k.mu.Lock()
	old := k.flags[n]
	k.flags[n] = keyFlags{testing: old.testing || f.testing, strict: old.strict || f.strict}
	k.mu.Unlock()
	return txts, nil
}

// applyKeyFlags changes a verified (Pass) or failed (Fail) signature's
// result as its key's flags say. Other results (no key, a bad key, a DNS
// failure) stand: the key was not read, or not usable.
func (s *DKIMSignature) applyKeyFlags(k *keyRecorder) {
	if s.Result != Pass && s.Result != Fail {
		return
	}
	name := s.Selector + "._domainkey." + s.Domain
	k.mu.Lock()
	f, ok := k.flags[keyName(name)]
	k.mu.Unlock()
	if !ok {
		return
	}
	if f.strict && s.Result == Pass && s.Identifier != "" {
		_, id, _ := strings.Cut(s.Identifier, "@")
		if !strings.EqualFold(strings.TrimSuffix(id, "."), s.Domain) {
			s.Result, s.Reason = PermError, fmt.Sprintf("the key at %s allows no subdomain in i= (t=s), and i=%s is not d=%s", name, s.Identifier, s.Domain)
			return
		}
	}
	if f.testing {
		was := "it verifies"
		if s.Result == Fail {
			was = "it does not verify"
		}
		if s.Reason != "" {
			was += " (" + s.Reason + ")"
		}
		s.Result, s.Reason = Policy, fmt.Sprintf("the key at %s is in testing mode (t=y), so the message counts as unsigned (RFC 6376 section 3.6.1); %s", name, was)
	}
}
