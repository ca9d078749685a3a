package consent

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"
	"time"
)

// ChainHash is an event's hash: SHA-256 over the previous event's hash and
// this event's fields, each written as a 4-byte big-endian length and its
// bytes, in this order: "accord-consent-event/1", prev_hash, seq (decimal),
// sender, at (RFC 3339 with nanoseconds, UTC), kind, recipient, list,
// record, the number of detail entries (decimal), then each detail key and
// value sorted by key. Length prefixes make the encoding unambiguous
// whatever the fields contain; docs/consent.md gives it for other
// implementations.
func ChainHash(prev string, e Event) string {
	h := sha256.New()
	field := func(s string) {
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	field("accord-consent-event/1")
	field(prev)
	field(strconv.FormatInt(e.Seq, 10))
	field(e.Sender)
	field(e.At.UTC().Format(time.RFC3339Nano))
	field(e.Kind)
	field(e.Recipient)
	field(e.List)
	field(e.Record)
	keys := make([]string, 0, len(e.Detail))
	for k := range e.Detail {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	field(strconv.Itoa(len(keys)))
	for _, k := range keys {
		field(k)
		field(e.Detail[k])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// GenesisHash is the PrevHash of a sender's first event.
func GenesisHash(sender string) string {
	s := sha256.Sum256([]byte("accord-consent-log/1\x00" + sender))
	return hex.EncodeToString(s[:])
}

// VerifyEvents checks the events of one sender's log, given in order. A
// full log must also link: each PrevHash the Hash before it, the first the
// genesis. A recipient's excerpt links to events of other recipients, so
// with full false each event is checked against its own PrevHash only.
func VerifyEvents(sender string, es []Event, full bool) []string {
	var out []string
	for i, e := range es {
		if e.Sender != sender {
			out = append(out, fmt.Sprintf("event %d belongs to sender %q, not %q", e.Seq, e.Sender, sender))
		}
		if ChainHash(e.PrevHash, e) != e.Hash {
			out = append(out, fmt.Sprintf("event %d (%s) does not match its hash: it was changed after it was logged", e.Seq, e.Kind))
		}
		if i > 0 && e.Seq <= es[i-1].Seq {
			out = append(out, fmt.Sprintf("event %d comes after event %d: out of order", e.Seq, es[i-1].Seq))
		}
		if full {
			want := GenesisHash(sender)
			if i > 0 {
				want = es[i-1].Hash
			}
			if e.PrevHash != want || e.Seq != int64(i+1) {
				out = append(out, fmt.Sprintf("event %d does not follow the one before it: the log was cut or reordered", e.Seq))
			}
		}
	}
	return out
}
