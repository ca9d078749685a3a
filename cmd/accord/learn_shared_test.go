package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestLearnReachesTheRunningNode: accord learn on a running node's data
// folder, in another process, teaches the node's one shared model. Before,
// it trained a model file the node read only at its next start (the node
// said ACCORD_BAYES_UNTRAINED until a restart), and accord score preferred
// that file to what the node learned through its doors since (0.99 spam
// where /checkv2 gave −5.42).
func TestLearnReachesTheRunningNode(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := accordBinary(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "accord-data")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	door := l.Addr().String()
	l.Close()
	serve(t, bin, data, "--rspamd", door)

	mk := func(spam bool, i int) []byte {
		words := "meeting agenda patch review kernel lunch"
		if spam {
			words = "cheap pills casino winner offer viagra"
		}
		return []byte(fmt.Sprintf("From: s%d@x.example\r\nTo: ana@example.org\r\nSubject: %s %d\r\nMessage-ID: <%d.%v@x.example>\r\n\r\n%s %s %s\r\n", i, words[:12], i, i, spam, words, words, words))
	}
	spamDir, hamDir := filepath.Join(dir, "spam"), filepath.Join(dir, "ham")
	os.MkdirAll(spamDir, 0o700)
	os.MkdirAll(hamDir, 0o700)
	for i := 0; i < 12; i++ {
		os.WriteFile(filepath.Join(spamDir, fmt.Sprintf("%d.eml", i)), mk(true, i), 0o600)
		os.WriteFile(filepath.Join(hamDir, fmt.Sprintf("%d.eml", i)), mk(false, i), 0o600)
	}
	probe := mk(true, 999)
	probeFile := filepath.Join(dir, "probe.eml")
	os.WriteFile(probeFile, probe, 0o600)
	check := func() map[string]float64 {
		t.Helper()
		res, err := http.Post("http://"+door+"/checkv2", "message/rfc822", bytes.NewReader(probe))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var r struct {
			Symbols map[string]struct {
				Score float64 `json:"score"`
			} `json:"symbols"`
		}
		json.NewDecoder(res.Body).Decode(&r)
		out := map[string]float64{}
		for k, v := range r.Symbols {
			out[k] = v.Score
		}
		return out
	}
	if s := check(); s == nil || !hasKey(s, "ACCORD_BAYES_UNTRAINED") {
		t.Fatalf("before learning: %v", s)
	}
	out := runBin(t, bin, "", "learn", "--data", data, "--spam", spamDir)
	if !strings.Contains(out, "learned 12 as spam") || !strings.Contains(out, "shared model of the node") {
		t.Fatalf("learn --spam: %s", out)
	}
	out = runBin(t, bin, "", "learn", "--data", data, "--ham", hamDir)
	if !strings.Contains(out, "learned 12 as ham") || !strings.Contains(out, "12 spam and 12 ham") {
		t.Fatalf("learn --ham: %s", out)
	}
	if _, err := os.Stat(filepath.Join(data, "model.acm")); err == nil {
		t.Error("accord learn on a node's folder wrote a second model (model.acm)")
	}
	// The running node takes it in within sync_interval (5 s).
	var s map[string]float64
	for end := time.Now().Add(20 * time.Second); time.Now().Before(end); time.Sleep(250 * time.Millisecond) {
		if s = check(); hasKey(s, "ACCORD_BAYES_SPAM") {
			break
		}
	}
	if !hasKey(s, "ACCORD_BAYES_SPAM") {
		t.Fatalf("the running node never took in what accord learn taught: %v", s)
	}
	prob := func() (float64, string) {
		out := runBin(t, bin, "", "score", "--data", data, probeFile)
		var p float64
		fmt.Sscanf(out, "%f", &p)
		return p, out
	}
	if p, out := prob(); p < 0.5 {
		t.Errorf("accord score before the corrections: %s", out)
	}
	// Corrections through the door (rspamc learn_ham): accord score reads
	// the model the door learned into, and agrees with /checkv2.
	for i := 0; i < 12; i++ {
		res, err := http.Post("http://"+door+"/learnham", "message/rfc822", bytes.NewReader(mk(true, i)))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
	}
	if s := check(); hasKey(s, "ACCORD_BAYES_SPAM") {
		t.Fatalf("the door did not learn its corrections: %v", s)
	}
	// (Twelve corrections leave no spam learned: the model is untrained
	// again, the door says ACCORD_BAYES_UNTRAINED and score 0.5.)
	if p, out := prob(); p > 0.5 {
		t.Errorf("accord score says spam where the node's filter learned otherwise: %s (the door: %v)", out, check())
	}
}

func hasKey(m map[string]float64, k string) bool {
	_, ok := m[k]
	return ok
}

// TestLearnRefusesWhatIsNotMail: accord learn counted binary garbage and
// random bytes as learned messages; it names them and learns the rest,
// on a model file and on a node's shared model alike.
func TestLearnRefusesWhatIsNotMail(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in")
	os.MkdirAll(in, 0o700)
	os.WriteFile(filepath.Join(in, "garbage.bin"), bytes.Repeat([]byte("\x00\x01\xfe\xff"), 5), 0o600)
	os.WriteFile(filepath.Join(in, "mail.eml"), []byte("From: a@x.example\r\nSubject: offer\r\n\r\ncheap pills\r\n"), 0o600)
	data := filepath.Join(dir, "node")
	if code, _, errs := runCmd(t, "", "init", "--data", data); code != 0 {
		t.Fatal(errs)
	}
	for _, args := range [][]string{
		{"learn", "--spam", "--model", filepath.Join(dir, "m.acm"), in},
		{"learn", "--spam", "--data", data, in},
	} {
		code, out, errs := runCmd(t, "", args...)
		if code == 0 || !strings.Contains(errs, "garbage.bin") || !strings.Contains(errs, "not a mail message") || !strings.Contains(out, "learned 1 as spam") {
			t.Errorf("%v: exit %d\n%s%s", args, code, out, errs)
		}
	}
}
