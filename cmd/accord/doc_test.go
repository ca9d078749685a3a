package main

import (
	"go/parser"
	"go/token"
	"strings"
	"testing"
)

// TestPackageDocListsEveryCommand keeps `go doc` of the command true: every
// command the binary runs is named in the package comment.
func TestPackageDocListsEveryCommand(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "main.go", nil, parser.ParseComments|parser.PackageClauseOnly)
	if err != nil {
		t.Fatal(err)
	}
	doc := f.Doc.Text()
	for _, c := range commands() {
		if !strings.Contains(doc, "accord "+c.name+" ") {
			t.Errorf("the package comment of cmd/accord does not mention %q", "accord "+c.name)
		}
	}
}
