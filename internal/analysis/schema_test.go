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
