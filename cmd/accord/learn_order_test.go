package main

import (
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLearnFolderOrder learns a spam folder and a ham folder the
// documented way (accord learn --spam DIR, then accord learn --ham DIR)
// and the other way round, into two data folders, and checks that the two
// models score every message alike — the spam in the learned folders, the
// ham, and messages neither learned. The messages share much of their
// vocabulary, so that an online learner's result depends on the order it
// met them in (without the rebuild after a bulk learn, the two scores of
// most messages differ).
func TestLearnFolderOrder(t *testing.T) {
	dir := t.TempDir()
	r := rand.New(rand.NewSource(12))
	shared := strings.Fields("the and for with this that your from have will about more time new please today here")
	spamWords := strings.Fields("offer cheap pills winner prize click unsubscribe deal free discount credit loan casino")
	hamWords := strings.Fields("patch build review linker release meeting agenda minutes draft kernel branch merge test")
	msg := func(spam bool, i int, words int) string {
		own, from, subj := hamWords, "dev@project.example", "notes"
		if spam {
			own, from, subj = spamWords, "deals@promo.example", "offer"
		}
		var b strings.Builder
		fmt.Fprintf(&b, "From: %s\nSubject: %s %d %s\nMessage-ID: <%d.%v@x.example>\n\n", from, subj, i, own[r.Intn(len(own))], i, spam)
		for j := 0; j < words; j++ {
			switch r.Intn(3) {
			case 0:
				b.WriteString(own[r.Intn(len(own))])
			case 1:
				// The other class's words too: evidence both ways.
				other := spamWords
				if spam {
					other = hamWords
				}
				b.WriteString(other[r.Intn(len(other))])
			default:
				b.WriteString(shared[r.Intn(len(shared))])
			}
			b.WriteByte(' ')
		}
		return b.String()
	}
	write := func(sub string, spam bool, from, n int) string {
		d := filepath.Join(dir, sub)
		os.MkdirAll(d, 0o755)
		for i := from; i < from+n; i++ {
			os.WriteFile(filepath.Join(d, fmt.Sprintf("%03d.eml", i)), []byte(msg(spam, i, 40+r.Intn(60))), 0o644)
		}
		return d
	}
	spamDir, hamDir := write("spam", true, 0, 60), write("ham", false, 100, 60)
	fresh := write("fresh", true, 200, 20)
	write("fresh", false, 300, 20)

	learn := func(data string, folders ...[2]string) {
		for _, f := range folders {
			if code, out, errs := runCmd(t, "", "learn", "--data", data, f[0], f[1]); code != 0 {
				t.Fatalf("learn %v: %d %s %s", f, code, out, errs)
			}
		}
	}
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	learn(a, [2]string{"--spam", spamDir}, [2]string{"--ham", hamDir})
	learn(b, [2]string{"--ham", hamDir}, [2]string{"--spam", spamDir})
	score := func(data string) string {
		code, out, errs := runCmd(t, "", "score", "--data", data, spamDir, hamDir, fresh)
		if code != 0 {
			t.Fatalf("score: %d %s", code, errs)
		}
		return out
	}
	sa, sb := strings.Split(score(a), "\n"), strings.Split(score(b), "\n")
	if len(sa) != len(sb) || len(sa) < 160 {
		t.Fatalf("scored %d and %d messages", len(sa), len(sb))
	}
	differ := 0
	for i := range sa {
		if sa[i] != sb[i] {
			if differ < 3 {
				t.Errorf("spam then ham: %q; ham then spam: %q", sa[i], sb[i])
			}
			differ++
		}
	}
	if differ > 0 {
		t.Errorf("%d of %d messages scored differently", differ, len(sa)-1)
	}
}
