package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/accord-antispam/accord/internal/analysis"
	"github.com/accord-antispam/accord/internal/filter"
	"github.com/accord-antispam/accord/internal/store/sqlite"
)

// TestScoreUsesTheNodesModel: with no model file, accord score and check
// use what the data folder's node learned through its filter's doors —
// before, they said to train a model the node already had.
func TestScoreUsesTheNodesModel(t *testing.T) {
	ctx := context.Background()
	data := filepath.Join(t.TempDir(), "d")
	if code, _, errs := runCmd(t, "", "init", "--data", data); code != 0 {
		t.Fatal(errs)
	}
	probe := filepath.Join(t.TempDir(), "probe.eml")
	mk := func(spam bool, i int) []byte {
		words := "meeting agenda patch review kernel lunch"
		if spam {
			words = "cheap pills casino winner offer viagra"
		}
		return []byte(fmt.Sprintf("From: s%d@x.example\r\nTo: ana@example.org\r\nSubject: %s %d\r\nMessage-ID: <%d@x.example>\r\n\r\n%s %s %s\r\n", i, words[:12], i, i, words, words, words))
	}
	os.WriteFile(probe, mk(true, 999), 0o600)
	if code, _, errs := runCmd(t, "", "score", "--data", data, probe); code == 0 || !strings.Contains(errs, "learned nothing") {
		t.Fatalf("score before anything was learned: %d %s", code, errs)
	}
	st, err := sqlite.Open(ctx, filepath.Join(data, "accord.db"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := filter.New(ctx, filter.Config{}, filter.Deps{Analyzer: &analysis.Analyzer{}, Store: st, Secret: []byte("s")})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 24; i++ {
		if _, err := f.Learn(ctx, mk(i%2 == 0, i), i%2 == 0, "rspamd"); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	code, out, errs := runCmd(t, "", "score", "--data", data, probe)
	var score float64
	fmt.Sscanf(out, "%f", &score)
	if code != 0 || score < 0.9 {
		t.Fatalf("score with the node's model: %d %q %s", code, out, errs)
	}
	if code, out, errs := runCmd(t, "", "check", "--data", data, probe); code != 0 || !strings.Contains(out, "24 trained") {
		t.Fatalf("check with the node's model: %d %s %s", code, out, errs)
	}
}
