package web_test

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/accord-antispam/accord/internal/consent"
)

// TestOpenAPIDescribesEveryRoute: the published description is YAML a
// client generator reads (it was not: a description with a colon made the
// whole file invalid), and every /api/v1 route the server registers is in
// it with its method (the new user's trial, L6: /api/v1/statistics and the
// filter's routes were missing).
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	b, err := os.ReadFile("openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]any `yaml:"paths"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("openapi.yaml is not YAML: %v", err)
	}
	route := regexp.MustCompile(`mux\.HandleFunc\("(GET|POST|PUT|DELETE|PATCH) (/api/v1/[^"]*)"`)
	files, _ := os.ReadDir(".")
	n := 0
	for _, f := range files {
		if !strings.HasSuffix(f.Name(), ".go") || strings.HasSuffix(f.Name(), "_test.go") {
			continue
		}
		src, err := os.ReadFile(f.Name())
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range route.FindAllStringSubmatch(string(src), -1) {
			n++
			if _, ok := doc.Paths[m[2]][strings.ToLower(m[1])]; !ok {
				t.Errorf("%s %s (%s) is not in openapi.yaml", m[1], m[2], f.Name())
			}
		}
	}
	if n < 30 {
		t.Errorf("found only %d API routes: the pattern no longer matches how routes are registered", n)
	}
}

// TestOpenAPIOptOutLinksBound: the description gives the node's own bound
// on recipients per opt-out links request (it said 10,000 where the node
// refuses more than 1,000: the new user's trial, F13).
func TestOpenAPIOptOutLinksBound(t *testing.T) {
	b, err := os.ReadFile("openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]yaml.Node `yaml:"paths"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	var op struct {
		RequestBody struct {
			Content map[string]struct {
				Schema struct {
					Properties map[string]struct {
						MaxItems int `yaml:"maxItems"`
					} `yaml:"properties"`
				} `yaml:"schema"`
			} `yaml:"content"`
		} `yaml:"requestBody"`
	}
	node := doc.Paths["/api/v1/unsubscribe-links"]["post"]
	if err := node.Decode(&op); err != nil {
		t.Fatal(err)
	}
	got := op.RequestBody.Content["application/json"].Schema.Properties["recipients"].MaxItems
	if got != consent.MaxLinks {
		t.Errorf("openapi.yaml: recipients maxItems %d, the node takes %d", got, consent.MaxLinks)
	}
}
