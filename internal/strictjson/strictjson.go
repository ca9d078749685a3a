// Package strictjson checks that a JSON document names every member of
// each object once. encoding/json keeps the last of duplicate members, and
// other readers keep the first: a signed document with a member twice
// reads one way to its verifier and another way to a person or another
// program, so signed documents are refused with duplicates.
package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
				if top.names[t] {
					return fmt.Errorf("%w: %q", ErrDuplicate, t)
				}
				top.names[t] = true
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
