// Package strictjson checks that a JSON document names every member of
// each object once. encoding/json keeps the last of duplicate members, and
// other readers keep the first: a signed document with a member twice
// reads one way to its verifier and another way to a person or another
// program, so signed documents are refused with duplicates. Names are
// compared as encoding/json matches them to fields — without regard to
// case ("payload" and "PAYLOAD" are one member to it, two to a
// case-sensitive reader) — so a member named twice in any case is a
// duplicate. API bodies are checked the same way.
package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ErrDuplicate is a member named twice in one object.
var ErrDuplicate = errors.New("strictjson: a member is named twice in one object")

// maxDepth bounds nesting (encoding/json allows 10,000).
const maxDepth = 10000

// Check returns an error when b is not one JSON value, or an object in it
// names a member twice.
func Check(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	// Per open container: nil for an array, else the names seen, and
	// whether the next token of an object is a name.
	type frame struct {
		names  map[string]bool
		isName bool
	}
	var stack []*frame
	done := false // one whole value was read
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			if len(stack) > 0 || !done {
				return fmt.Errorf("strictjson: unexpected end")
			}
			break
		}
		if err != nil {
			return fmt.Errorf("strictjson: %w", err)
		}
		if len(stack) == 0 {
			if done {
				return fmt.Errorf("strictjson: more than one value")
			}
			if d, ok := tok.(json.Delim); !ok || d == '{' || d == '[' {
				done = true
			}
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{', '[':
				if top != nil && top.names != nil {
					top.isName = true // the container was a member's value
				}
				if len(stack) == maxDepth {
					return fmt.Errorf("strictjson: nested deeper than %d", maxDepth)
				}
				f := &frame{}
				if t == '{' {
					f.names, f.isName = map[string]bool{}, true
				}
				stack = append(stack, f)
			default:
				stack = stack[:len(stack)-1]
				if len(stack) > 0 && stack[len(stack)-1].names != nil {
					stack[len(stack)-1].isName = true
				}
			}
			continue
		case string:
			if top != nil && top.names != nil && top.isName {
				k := fold(t)
				if top.names[k] {
					return fmt.Errorf("%w: %q", ErrDuplicate, t)
				}
				top.names[k] = true
				top.isName = false
				continue
			}
		}
		if top != nil && top.names != nil {
			top.isName = true // a scalar member value
		}
	}
	return nil
}

// fold maps a name to the same key as every name encoding/json would
// match it with: ASCII letters upper-cased, any other rune replaced by the
// smallest rune of its Unicode simple-fold orbit (so "K", "k" and the
// Kelvin sign are one).
func fold(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r < utf8.RuneSelf {
			if 'a' <= r && r <= 'z' {
				r -= 'a' - 'A'
			}
		} else {
			for {
				r2 := unicode.SimpleFold(r)
				if r2 <= r {
					r = r2
					break
				}
				r = r2
			}
		}
		b.WriteRune(r)
	}
	return b.String()
}
