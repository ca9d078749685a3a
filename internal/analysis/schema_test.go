package analysis

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// verdictSchema compiles docs/verdict.schema.json, the documented contract.
func verdictSchema(tb testing.TB) *jsonschema.Schema {
	tb.Helper()
	f, err := os.Open("../../docs/verdict.schema.json")
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		tb.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource("verdict.schema.json", doc); err != nil {
		tb.Fatal(err)
	}
	s, err := c.Compile("verdict.schema.json")
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func validate(tb testing.TB, s *jsonschema.Schema, v *Verdict) {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		tb.Fatal(err)
	}
	if err := s.Validate(inst); err != nil {
		tb.Fatalf("verdict for %s does not match docs/verdict.schema.json: %v", v.Source, err)
	}
}

func TestVerdictsMatchDocumentedSchema(t *testing.T) {
	s := verdictSchema(t)
	raw, z := signedNewsletter(t)
	a := analyzer(t, z)
	for _, m := range []string{raw, newsletter, "Subject: x\r\n\r\nhello\r\n", "\x00garbage"} {
		validate(t, s, analyze(t, a, m, Context{}))
	}
	v := analyze(t, a, raw, Context{})
	v.Spam = &Spam{Score: 0.5, Class: "unsure", Thresholds: Thresholds{Ham: 0.2, Spam: 0.8}, Reasons: []SpamReason{{"x", 1}}}
	validate(t, s, v)
}

// TestEveryListIsRequired keeps the Verdict's one rule for empty
// collections (docs/verdict.md) in the schema: every array and every map
// property of every object is required, so that a verdict that omits one
// fails validation instead of leaving consumers to guess.
func TestEveryListIsRequired(t *testing.T) {
	b, err := os.ReadFile("../../docs/verdict.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	var walk func(n any, path string)
	walk = func(n any, path string) {
		switch n := n.(type) {
		case map[string]any:
			if props, ok := n["properties"].(map[string]any); ok {
				req := map[string]bool{}
				if r, ok := n["required"].([]any); ok {
					for _, x := range r {
						req[x.(string)] = true
					}
				}
				for name, p := range props {
					ps, _ := p.(map[string]any)
					isList := ps["type"] == "array"
					if ts, ok := ps["type"].([]any); ok {
						null := false
						for _, x := range ts {
							isList = isList || x == "array"
							null = null || x == "null"
						}
						if isList && null {
							t.Errorf("%s/%s may be null: lists are [] when empty", path, name)
						}
					}
					_, hasProps := ps["properties"]
					ap, hasAP := ps["additionalProperties"].(map[string]any)
					isMap := ps["type"] == "object" && !hasProps && hasAP && ap != nil
					if (isList || isMap) && !req[name] {
						t.Errorf("%s/%s is a list or map but not required", path, name)
					}
				}
			}
			for k, v := range n {
				walk(v, path+"/"+k)
			}
		case []any:
			for _, v := range n {
				walk(v, path)
			}
		}
	}
	walk(doc, "")
}
