package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// BenchmarkOneClick is RFC 8058 one-click handling end to end in the
// node: the POST through the routes, the token opened, the recipient's
// records read, the suppression and its events committed to SQLite
// (synchronous), the answer page rendered. Each iteration is a new
// recipient.
func BenchmarkOneClick(b *testing.B) {
	n := startSenders(b, 1<<30)
	n.sender(b, "shop.example")
	ctx := context.Background()
	var tokens []string
	for i := 0; len(tokens) < b.N; i++ {
		var rcpts []string
		for j := 0; j < min(1000, b.N-len(tokens)); j++ {
			rcpts = append(rcpts, fmt.Sprintf("r%d-%d@example.net", i, j))
		}
		links, err := n.svc.Links(ctx, "shop.example", "news", "bench", rcpts)
		if err != nil {
			b.Fatal(err)
		}
		for _, l := range links {
			tokens = append(tokens, l.Token)
		}
	}
	h := n.handler
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		req := httptest.NewRequest("POST", "/u/"+tokens[i], strings.NewReader("List-Unsubscribe=One-Click"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), "you are unsubscribed") {
			b.Fatalf("%d %s", w.Code, w.Body)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "opt-outs/s")
}

// BenchmarkOneClickForged is a flood of forged tokens: refused by the MAC,
// no database read.
func BenchmarkOneClickForged(b *testing.B) {
	n := startSenders(b, 1<<30)
	h := n.handler
	tok := strings.Repeat("a", 45)
	for i := 0; i < b.N; i++ {
		req := httptest.NewRequest("POST", "/u/"+tok, strings.NewReader("List-Unsubscribe=One-Click"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusNotFound {
			b.Fatalf("%d", w.Code)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "requests/s")
}
