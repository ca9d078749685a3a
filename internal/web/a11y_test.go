package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/accord-antispam/accord/internal/intake"
	"github.com/accord-antispam/accord/internal/web"
)

// axeSource is axe-core's script (ACCORD_AXE, which test.sh sets with
// tools/test/axe.sh).
func axeSource(t *testing.T) string {
	t.Helper()
	p := os.Getenv("ACCORD_AXE")
	if p == "" {
		if os.Getenv("ACCORD_REQUIRE_TOOLS") != "" {
			t.Fatal("ACCORD_AXE is not set: test.sh fetches axe-core with tools/test/axe.sh")
		}
		t.Skip("ACCORD_AXE not set (tools/test/axe.sh prints the path of axe.min.js)")
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

type axeViolation struct {
	ID, Impact, Help string
	Nodes            int
	Targets          []string
}

// TestBrowserPublicPagesAt390 opens every public page as a phone would
// (390 px wide), in English, German and French: no page scrolls sideways,
// and axe-core finds no serious or critical accessibility violation. The
// results are printed; the result page's screenshots (English, French)
// are kept.
func TestBrowserPublicPagesAt390(t *testing.T) {
	axe := axeSource(t)
	n := start(t, web.Config{Mailbox: "report@desk.example.org"})
	rec, err := n.desk.Submit(context.Background(), intake.Submission{Channel: intake.ChannelWeb, Raw: []byte(spamMsg), SubmittedBy: "web"})
	if err != nil {
		t.Fatal(err)
	}
	status := "/r/" + rec.Reports[0].ID + "?t=" + rec.Reports[0].StatusToken
	ctx, _ := chromium(t)
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844)); err != nil {
		t.Fatal(err)
	}
	type page struct{ name, path string }
	pages := []page{{"form", "/"}, {"result", status + "&new=1"}, {"status", status}, {"rights", "/rights"}, {"privacy", "/privacy"},
		{"not found", "/r/nope?t=nope"}, {"sign-in", "/login"}}
	// The public pages again in German (the longest words) and French,
	// chosen with the switcher's ?lang=.
	for _, lang := range []string{"de", "fr"} {
		for _, p := range pages[:6] {
			sep := "?"
			if strings.Contains(p.path, "?") {
				sep = "&"
			}
			pages = append(pages, page{p.name + " (" + lang + ")", p.path + sep + "lang=" + lang})
		}
	}
	for _, p := range pages {
		err := chromedp.Do(ctx, chromedp.Navigate(n.url+p.path), chromedp.WaitReady(chromedp.CSS("footer")))
		if err != nil {
			t.Fatalf("%s: %v", p.name, err)
		}
		width, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`))
		if err != nil {
			t.Fatal(err)
		}
		if width > 390 {
			wide, _ := chromedp.Run(ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("body *")).filter(e => e.getBoundingClientRect().right > 391).slice(0, 5).map(e => e.tagName + (e.id ? "#" + e.id : "") + "." + e.className)`))
			t.Errorf("%s scrolls sideways at 390 px: %d px wide; too wide: %v", p.name, width, wide)
		}
		// axe is injected through the DevTools protocol: the page's CSP
		// lets no script of its own run.
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](axe)); err != nil {
			t.Fatalf("inject axe-core: %v", err)
		}
		raw, err := chromedp.Run(ctx, chromedp.Evaluate[[]byte](`axe.run(document, {resultTypes: ["violations"]}).then(r => r.violations.map(v => ({
			ID: v.id, Impact: v.impact || "", Help: v.help, Nodes: v.nodes.length, Targets: v.nodes.slice(0, 3).map(n => String(n.target))})))`, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatalf("axe on %s: %v", p.name, err)
		}
		var vs []axeViolation
		if err := json.Unmarshal(raw, &vs); err != nil {
			t.Fatalf("axe results: %v %s", err, raw)
		}
		var lines []string
		for _, v := range vs {
			lines = append(lines, fmt.Sprintf("%s (%s, %d nodes: %s) %s", v.ID, v.Impact, v.Nodes, strings.Join(v.Targets, " "), v.Help))
			if v.Impact == "serious" || v.Impact == "critical" {
				t.Errorf("axe: %s page: %s violation %s: %s (%v)", p.name, v.Impact, v.ID, v.Help, v.Targets)
			}
		}
		fmt.Printf("axe-core %s page at 390 px (%d px wide): %d violations %v\n", p.name, width, len(vs), lines)
		if shots := map[string]string{"result": "result-390.png", "result (fr)": "result-390-fr.png"}; shots[p.name] != "" {
			lang, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.documentElement.lang`))
			if err != nil {
				t.Fatal(err)
			}
			if want := strings.TrimSuffix(strings.TrimPrefix(p.name[len("result"):], " ("), ")"); want != "" && lang != want {
				t.Errorf("%s page is in %q", p.name, lang)
			}
			shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
			if err != nil {
				t.Fatal(err)
			}
			artifact(t, shots[p.name], shot)
		}
	}
}
