package classify

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/accord-antispam/accord/internal/mail"
)

// TestCorpusFeatures writes the features of every message of the public
// corpus — each one's table slot, tag, kind and name, in order — to the
// file ACCORD_FEATURES names: the record that a change meant to make the
// tokenizer faster left its tokens alone.
//
//	ACCORD_CORPUS=$(bench/corpus.sh) ACCORD_FEATURES=before.txt go test -run TestCorpusFeatures ./internal/classify/
//	(change) … ACCORD_FEATURES=after.txt …; cmp before.txt after.txt
func TestCorpusFeatures(t *testing.T) {
	out := os.Getenv("ACCORD_FEATURES")
	if out == "" {
		t.Skip("ACCORD_FEATURES not set")
	}
	dir := os.Getenv("ACCORD_CORPUS")
	if dir == "" {
		t.Skip("ACCORD_CORPUS not set; run bench/corpus.sh")
	}
	ex, err := ReadIndex(filepath.Join(dir, "index"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	bw := bufio.NewWriter(f)
	m := New(Params{})
	for _, e := range ex {
		fs := m.Extract(mail.ParseBytes(e.Raw, mail.DefaultLimits()), true).f
		fmt.Fprintf(bw, "%s %d\n", filepath.Base(e.Path), len(fs.idx))
		for i, slot := range fs.idx {
			fmt.Fprintf(bw, "%d %d %t %q\n", slot, fs.tag[i], fs.pair[i], fs.names[i].String())
		}
	}
	if err := bw.Flush(); err != nil {
		t.Fatal(err)
	}
}
