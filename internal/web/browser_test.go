package web_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/accord-antispam/accord/internal/access"
	"github.com/accord-antispam/accord/internal/intake"
	"github.com/accord-antispam/accord/internal/web"
)

// chromium starts a real headless Chromium with no way out but loopback and
// records every URL it requests.
func chromium(t *testing.T) (context.Context, func() []string) {
	t.Helper()
	path := ""
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		if os.Getenv("ACCORD_REQUIRE_TOOLS") != "" {
			t.Fatal("chromium is not installed")
		}
		t.Skip("chromium not installed")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.Flag("disable-dev-shm-usage", true),
		// Names other than the loopback test server do not resolve.
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"),
	)
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelB := chromedp.NewContext(actx)
	ctx, cancelC := context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(func() { cancelC(); cancelB(); cancelA() })
	var mu sync.Mutex
	var urls []string
	err := chromedp.Listen(ctx, func(ev any) {
		var u string
		switch e := ev.(type) {
		case *network.EventRequestWillBeSent:
			u = e.Request.URL
		case network.EventRequestWillBeSent:
			u = e.Request.URL
		default:
			return
		}
		mu.Lock()
		urls = append(urls, u)
		mu.Unlock()
	})
	if err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), urls...)
	}
}

// inert checks the page a browser shows holds the hostile message as text
// only: nothing ran, nothing was fetched from the spammer.
func inert(t *testing.T, ctx context.Context, base string, requested func() []string) {
	t.Helper()
	title, err := chromedp.Run(ctx, chromedp.Title())
	if err != nil {
		t.Fatal(err)
	}
	source, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("source")))
	if err != nil {
		t.Fatal(err)
	}
	active, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("script, img, iframe, object, embed").length`))
	if err != nil {
		t.Fatal(err)
	}
	if title == "pwned" || active != 0 {
		t.Errorf("the message became live: title %q, %d active elements", title, active)
	}
	if !strings.Contains(source, `<script>document.title='pwned'</script>`) || !strings.Contains(source, `<img src="http://tracker.example.biz/p.gif">`) {
		t.Errorf("the message source is not shown as text:\n%s", source)
	}
	urls := requested()
	if len(urls) == 0 {
		t.Fatal("no request was recorded: the recorder is broken")
	}
	for _, u := range urls {
		if !strings.HasPrefix(u, base) {
			t.Errorf("the browser requested %s", u)
		}
	}
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func text(t *testing.T, ctx context.Context, id string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID(id)))
	if err != nil {
		t.Fatalf("text of #%s: %v", id, err)
	}
	return s
}

func TestBrowserReportsThroughTheForm(t *testing.T) {
	n := start(t, web.Config{})
	ctx, requested := chromium(t)
	err := chromedp.Do(ctx,
		chromedp.Navigate(n.url+"/"),
		// Paste: the value set as a user's paste would, in one go.
		chromedp.Evaluate[chromedp.Void](`document.getElementById("source").value = `+jsString(spamMsg)),
		chromedp.Click(chromedp.CSS(`input[name="consent"][value="no"]`)),
		chromedp.Click(chromedp.CSS(`input[name="customer"][value="no"]`)),
		chromedp.Click(chromedp.ID("send")),
		chromedp.WaitVisible(chromedp.ID("thanks")),
	)
	if err != nil {
		t.Fatal(err)
	}
	origin, optout := text(t, ctx, "origin"), text(t, ctx, "optout")
	link, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.ID("status-link"), "href"))
	if err != nil {
		t.Fatal(err)
	}
	status := link.Value
	if !strings.Contains(origin, "198.51.100.7") || !strings.HasPrefix(optout, "no —") || !strings.Contains(status, "/r/") {
		t.Errorf("result page: origin %q, opt-out %q, status link %q", origin, optout, status)
	}
	inert(t, ctx, n.url, requested)
	if c, _ := n.store.CountReports(context.Background()); c != 1 {
		t.Errorf("%d reports stored", c)
	}
	// The private link opens the report again, later.
	if err := chromedp.Do(ctx, chromedp.Navigate(status), chromedp.WaitVisible(chromedp.ID("findings"))); err != nil {
		t.Fatal(err)
	}
	thanks, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#thanks").length`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(status, n.url) || thanks != 0 {
		t.Errorf("status link %q shows the thank-you again (%d)", status, thanks)
	}
}

func TestBrowserAnalystSeesTheMessageInert(t *testing.T) {
	n := start(t, web.Config{})
	h, _ := access.HashPassword("a long passphrase")
	n.store.CreateUser(context.Background(), access.User{Name: "ana", PasswordHash: h, Role: access.Analyst, CreatedAt: time.Now()})
	rec, err := n.desk.Submit(context.Background(), intake.Submission{Channel: intake.ChannelAPI, Raw: []byte(spamMsg), SubmittedBy: "token:x"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, requested := chromium(t)
	link := chromedp.CSS(`a[href="/desk/reports/` + rec.Reports[0].ID + `"]`)
	err = chromedp.Do(ctx,
		chromedp.Navigate(n.url+"/login"),
		chromedp.SendKeys(chromedp.ID("user"), "ana"),
		chromedp.SendKeys(chromedp.ID("password"), "a long passphrase"),
		chromedp.Submit(chromedp.ID("password")),
		chromedp.WaitVisible(link),
		chromedp.Click(link),
		chromedp.WaitVisible(chromedp.ID("source")),
	)
	if err != nil {
		t.Fatal(err)
	}
	heading, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("h1")))
	if err != nil || !strings.Contains(heading, rec.Reports[0].ID) {
		t.Errorf("heading %q %v", heading, err)
	}
	inert(t, ctx, n.url, requested)
}
