package web_test

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
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
