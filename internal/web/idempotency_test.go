package web_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"

	"github.com/accord-antispam/accord/internal/access"
	"github.com/accord-antispam/accord/internal/web"
)

// TestIdempotencyKey: a client that lost the answer sends the report again
// with its Idempotency-Key and gets the first answer, byte for byte, and
// one report is stored; the key with another body is 422
// idempotency-key-reused; another token's key is its own; a bad key is
// 400 before anything is read.
func TestIdempotencyKey(t *testing.T) {
	n := start(t, web.Config{})
	tok, tok2 := n.token(t, access.Reporter), n.token(t, access.Reporter)
	post := func(token, key, body string) resp {
		t.Helper()
		req, _ := http.NewRequest("POST", n.url+"/api/v1/reports", bytes.NewReader([]byte(body)))
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "message/rfc822")
		if key != "" {
			req.Header.Set("Idempotency-Key", key)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return resp{res.StatusCode, res.Header, b}
	}
	count := func() int {
		c, err := n.store.CountReports(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	first := post(tok, "8e03978e-40d5-43e8-bc93-6894a57f9324", distinctSpam(1))
	if first.status != 201 || first.header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("first: %d %s %v", first.status, first.body, first.header)
	}
	// The IETF draft writes the key as a structured-field string: the
	// same key.
	again := post(tok, `"8e03978e-40d5-43e8-bc93-6894a57f9324"`, distinctSpam(1))
	if again.status != 201 || !bytes.Equal(again.body, first.body) || again.header.Get("Location") != first.header.Get("Location") ||
		again.header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("retry: %d %s %v\nfirst answer: %s", again.status, again.body, again.header, first.body)
	}
	if c := count(); c != 1 {
		t.Errorf("%d reports after a retry, want 1", c)
	}
	other := post(tok, "8e03978e-40d5-43e8-bc93-6894a57f9324", distinctSpam(2))
	if other.status != 422 || other.errCode() != "idempotency-key-reused" {
		t.Errorf("the key with another body: %d %s", other.status, other.body)
	}
	if mine := post(tok2, "8e03978e-40d5-43e8-bc93-6894a57f9324", distinctSpam(1)); mine.status != 201 || bytes.Equal(mine.body, first.body) {
		t.Errorf("another token's key: %d %s", mine.status, mine.body)
	}
	for _, bad := range []string{`"`, "has space", string(bytes.Repeat([]byte("k"), 256)), "\"a\"b\""} {
		if r := post(tok, bad, distinctSpam(3)); r.status != 400 || r.errCode() != "bad-idempotency-key" {
			t.Errorf("key %q: %d %s", bad, r.status, r.body)
		}
	}
	if c := count(); c != 2 {
		t.Errorf("%d reports, want 2", c)
	}
}
