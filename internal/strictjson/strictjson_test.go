package strictjson

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestCheck(t *testing.T) {
	for _, ok := range []string{`{}`, `[]`, `{"a":1,"b":{"a":2},"c":[{"a":1},{"a":2}]}`, `{"payload":{"x":[1,"x",{"x":null}]},"x":"payload"}`,
		`"s"`, `{"a":{"b":{}},"b":[]}`} {
		if err := Check([]byte(ok)); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, dup := range []string{`{"a":1,"a":2}`, `{"payload":{"s":"forged"},"payload":{"s":"genuine"},"signature":"x"}`,
		`{"x":[{"a":1,"b":2,"a":3}]}`, `{"o":{"k":{},"k":[]}}`, `[{"a":"a","a":"a"}]`,
		// Names encoding/json reads as one: case, and Unicode folding (the
		// Kelvin sign is a k).
		`{"payload":{"s":"forged"},"PAYLOAD":{"s":"genuine"},"signature":"x"}`, `{"signature":"AAAA","Signature":"x"}`,
		`{"k":1,"\u212a":2}`, `{"recipient":"a","Recipient":"b"}`} {
		if err := Check([]byte(dup)); !errors.Is(err, ErrDuplicate) {
			t.Errorf("%s: %v", dup, err)
		}
	}
	for _, bad := range []string{`{"a":1`, `{"a":1}{}`, `{"a" 1}`} {
		if err := Check([]byte(bad)); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

// Check never accepts what encoding/json refuses, and never panics.
func FuzzCheck(f *testing.F) {
	for _, s := range []string{`{"a":1,"a":2}`, `{"a":[{"b":{}}]}`, `[1,2,{"x":"y"}]`, `{`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if Check(b) == nil && !json.Valid(b) {
			t.Errorf("accepted invalid JSON %q", b)
		}
	})
}
