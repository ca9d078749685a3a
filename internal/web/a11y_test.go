package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/accord-antispam/accord/internal/consent"
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
		checkPage(t, ctx, axe, p.name, n.url+p.path)
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

// checkPage opens a page at the emulated width and fails the test when it
// scrolls sideways or when axe-core finds a serious or critical
// violation; it prints axe's results.
func checkPage(t *testing.T, ctx context.Context, axe, name, url string) {
	t.Helper()
	err := chromedp.Do(ctx, chromedp.Navigate(url), chromedp.WaitReady(chromedp.CSS("footer")))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	width, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`))
	if err != nil {
		t.Fatal(err)
	}
	if width > 390 {
		wide, _ := chromedp.Run(ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("body *")).filter(e => e.getBoundingClientRect().right > 391).slice(0, 5).map(e => e.tagName + (e.id ? "#" + e.id : "") + "." + e.className)`))
		t.Errorf("%s scrolls sideways at 390 px: %d px wide; too wide: %v", name, width, wide)
	}
	// axe is injected through the DevTools protocol: the page's CSP
	// lets no script of its own run.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](axe)); err != nil {
		t.Fatalf("inject axe-core: %v", err)
	}
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[[]byte](`axe.run(document, {resultTypes: ["violations"]}).then(r => r.violations.map(v => ({
		ID: v.id, Impact: v.impact || "", Help: v.help, Nodes: v.nodes.length, Targets: v.nodes.slice(0, 3).map(n => String(n.target))})))`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("axe on %s: %v", name, err)
	}
	var vs []axeViolation
	if err := json.Unmarshal(raw, &vs); err != nil {
		t.Fatalf("axe results: %v %s", err, raw)
	}
	var lines []string
	for _, v := range vs {
		lines = append(lines, fmt.Sprintf("%s (%s, %d nodes: %s) %s", v.ID, v.Impact, v.Nodes, strings.Join(v.Targets, " "), v.Help))
		if v.Impact == "serious" || v.Impact == "critical" {
			t.Errorf("axe: %s page: %s violation %s: %s (%v)", name, v.Impact, v.ID, v.Help, v.Targets)
		}
	}
	fmt.Printf("axe-core %s page at 390 px (%d px wide): %d violations %v\n", name, width, len(vs), lines)
}

// TestBrowserRecipientPagesAt390: a subscriber's confirmation and opt-out
// pages, in English, German and French, as a phone opens them: no
// sideways scrolling, no serious or critical axe-core violation.
func TestBrowserRecipientPagesAt390(t *testing.T) {
	axe := axeSource(t)
	n := startSenders(t, 1000)
	shop := n.sender(t, "shop.example")
	r := do(t, "POST", n.url+"/api/v1/consents", shop, "application/json", jsonBody(map[string]any{
		"recipient": "dora@example.net", "list": "news", "basis": "consent", "confirm": true,
		"capture": map[string]any{"method": "form", "form_url": "https://shop.example/join", "text": "Yes, send me the news", "checkbox_default": "unchecked", "ip": "192.0.2.7"}}))
	if r.status != 201 {
		t.Fatalf("POST consent: %d %s", r.status, r.body)
	}
	confirm := regexp.MustCompile(`https?://\S+/c/\S+`).FindString(n.mail.last().Text)
	r = do(t, "POST", n.url+"/api/v1/unsubscribe-links", shop, "application/json", jsonBody(map[string]any{"list": "news", "campaign": "winter-sale", "recipients": []string{"erik@example.net"}}))
	var links struct{ Links []consent.Link }
	if err := json.Unmarshal(r.body, &links); err != nil || len(links.Links) != 1 || confirm == "" {
		t.Fatalf("links: %d %s; confirmation link %q", r.status, r.body, confirm)
	}
	ctx, _ := chromium(t)
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(390, 844)); err != nil {
		t.Fatal(err)
	}
	for _, lang := range []string{"en", "de", "fr"} {
		checkPage(t, ctx, axe, "confirmation ("+lang+")", confirm+"?lang="+lang)
		checkPage(t, ctx, axe, "opt-out ("+lang+")", links.Links[0].URL+"?lang="+lang)
	}
}
