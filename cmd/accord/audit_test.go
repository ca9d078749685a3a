package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/accord-antispam/accord/internal/access"
)

// TestAuditLinesCannotBeForged: a failed sign-in's user name is the
// client's text; with a tab and a newline it printed a fake audit line,
// and an escape sequence reached the operator's terminal raw.
func TestAuditLinesCannotBeForged(t *testing.T) {
	at := time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)
	ev := []access.Event{
		{Seq: 1, At: at, Actor: "anonymous", Action: access.AuditSignInFailed, IP: "10.9.9.9",
			Target: "user:x\tx\n999\t2026-11-28T09:00:00Z\tuser:ana\tsign-in\tuser:ana\t10.1.1.1\t"},
		{Seq: 2, At: at, Actor: "anonymous", Action: access.AuditSignInFailed, IP: "10.9.9.9", Target: "user:bob\x1b[2K\x1b[1A\x1b[2K\u202e"},
		// A token is shown with the label its creator gave, escaped too.
		{Seq: 3, At: at, Actor: "token:t1", Action: access.AuditTokenUsed, Target: "token:t1"},
	}
	var out bytes.Buffer
	if err := writeAudit(&out, ev, access.Namer([]access.Token{{ID: "t1", Label: "ci\nupload"}})); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
	if len(lines) != 4 {
		t.Fatalf("%d lines for 3 events:\n%s", len(lines), out.String())
	}
	if strings.ContainsAny(out.String(), "\x1b\u202e") || strings.Contains(lines[1], "\t") {
		t.Fatalf("control characters printed raw:\n%q", out.String())
	}
	if !strings.Contains(lines[1], `user:x\tx\n999`) || !strings.Contains(lines[2], `user:bob\x1b[2K`) {
		t.Fatalf("the escaped values are not shown:\n%s", out.String())
	}
	if !strings.Contains(lines[3], `token:t1 (ci\nupload)`) {
		t.Fatalf("the token's label is not shown:\n%s", out.String())
	}
}
