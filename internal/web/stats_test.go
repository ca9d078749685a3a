package web_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/accord-antispam/accord/internal/access"
	"github.com/accord-antispam/accord/internal/analysis"
	"github.com/accord-antispam/accord/internal/intake"
	"github.com/accord-antispam/accord/internal/metrics"
	"github.com/accord-antispam/accord/internal/rules"
	"github.com/accord-antispam/accord/internal/store/sqlite"
	"github.com/accord-antispam/accord/internal/trace/geo"
	"github.com/accord-antispam/accord/internal/web"
)

// startObserved is start with metrics wired as serve wires them.
func startObserved(t *testing.T, cfg web.Config, now func() time.Time) (node, *metrics.Metrics) {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "accord.db"))
	if err != nil {
		t.Fatal(err)
	}
	lib, err := rules.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	m := metrics.New()
	d, err := intake.New(st, &analysis.Analyzer{Rules: lib, Geo: geo.Embedded()}, intake.Options{Secret: []byte("0123456789abcdef0123456789abcdef"), Now: now,
		Observe: func(o intake.Observation) {
			switch {
			case o.Commit:
				m.Committed(o.Reports, o.Duration, o.Err)
			case !o.Replayed: // as serve wires it (observeIntake)
				m.Submitted(string(o.Channel), o.Reports, o.Duration, o.Rejected, o.Err)
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	m.Gauge("accord_intake_queue_depth", "queue", func() float64 { return float64(d.QueueDepth()) })
	m.Counter("accord_intake_commit_restarts_total", "restarts", func() float64 { return 3 })
	cfg.Metrics = m
	s, err := web.New(d, st, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(func() { srv.Close(); d.Close(); st.Close() })
	return node{srv.URL, st, d}, m
}

// hostileSpam is a spam run whose subject and link carry markup and a
// spreadsheet formula.
func hostileSpam(i int) []byte {
	ips := []string{"45.33.32.156", "80.67.169.12", "193.0.6.139", "217.70.184.38", "45.33.32.157", "80.67.169.40"}
	return []byte(fmt.Sprintf("Received: from mx.example.net (mx.example.net [10.0.0.5]) by in.example.net with ESMTP id %d; Tue, 3 Nov 2026 10:00:02 +0000\r\n"+
		"Received: from bulk.example.biz (bulk.example.biz [%s]) by mx.example.net with SMTP id x%d; Tue, 3 Nov 2026 10:00:01 +0000\r\n"+
		"From: Deals <deals@offers.example.biz>\r\nTo: victim@example.net\r\n"+
		"Subject: =HYPERLINK(\"http://evil.example/\",\"win\") <img src=x onerror=\"document.title='pwned'\"> %d\r\n"+
		"Date: Tue, 3 Nov 2026 10:00:00 +0000\r\nMessage-ID: <%d@offers.example.biz>\r\n\r\n"+
		"Dear friend, refinance your mortgage at the lowest rates of the year with our specialists, who review every\r\n"+
		"application within one business day. Visit http://loans.example.biz/r%d\r\n", i, ips[i%len(ips)], i, i, i, i))
}

func TestStatisticsExportsProtectSmallCells(t *testing.T) {
	n, _ := startObserved(t, web.Config{}, nil)
	ctx := context.Background()
	for i := 0; i < 12; i++ {
		ch := intake.ChannelAPI
		if i < 2 {
			ch = intake.ChannelWeb // a small cell: two web reports
		}
		if _, err := n.desk.Submit(ctx, intake.Submission{Channel: ch, Raw: hostileSpam(i), SubmittedBy: "token:x"}); err != nil {
			t.Fatal(err)
		}
	}
	analyst := n.token(t, access.Analyst)
	if r := do(t, "GET", n.url+"/api/v1/statistics", n.token(t, access.Reporter), "", nil); r.status != 403 {
		t.Errorf("a reporter read the statistics: %d", r.status)
	}
	r := do(t, "GET", n.url+"/api/v1/statistics?format=csv", analyst, "", nil)
	if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/csv") {
		t.Fatalf("CSV: %d %s", r.status, r.body)
	}
	recs, err := csv.NewReader(bytes.NewReader(r.body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var api, web string
	for _, rec := range recs {
		for _, cell := range rec {
			if strings.HasPrefix(cell, "=") {
				t.Errorf("formula in the CSV: %q", cell)
			}
		}
		if rec[0] == "channel" && rec[1] == "api" {
			api = rec[3]
		}
		if rec[0] == "channel" && rec[1] == "web" {
			web = rec[3]
		}
	}
	if web != "" || api == "" {
		t.Errorf("channel cells: api %q, web %q (two web reports must not show)\n%s", api, web, r.body)
	}
	// A campaign's subject (the spam's, which often names its recipient)
	// is not published; its id is (the new user's trial, H1).
	if bytes.Contains(r.body, []byte(`HYPERLINK`)) || bytes.Contains(r.body, []byte(`victim`)) || !bytes.Contains(r.body, []byte("\ncampaign,c-")) {
		t.Errorf("a campaign's subject is in the published CSV, or its id is not:\n%s", r.body)
	}
	if r := do(t, "GET", n.url+"/api/v1/statistics", analyst, "", nil); r.status != 200 || bytes.Contains(r.body, []byte(`HYPERLINK`)) || bytes.Contains(r.body, []byte(`"label"`)) {
		t.Errorf("a campaign's subject is in the published JSON:\n%s", r.body)
	}
	// Narrowing the export to the two web reports withholds everything.
	r = do(t, "GET", n.url+"/api/v1/statistics?channel=web", analyst, "", nil)
	if m := r.json(t); m["withheld"] != true || m["total"] != nil {
		t.Errorf("export of two reports: %s", r.body)
	}
	for _, bad := range []string{"format=xml", "from=2020-01-01&to=2026-01-01", "country=xx1"} {
		if r := do(t, "GET", n.url+"/api/v1/statistics?"+bad, analyst, "", nil); r.status != 400 {
			t.Errorf("%s: %d", bad, r.status)
		}
	}
}

func TestMetricsForOperators(t *testing.T) {
	n, _ := startObserved(t, web.Config{}, nil)
	reporter := n.token(t, access.Reporter)
	do(t, "POST", n.url+"/api/v1/reports", reporter, "message/rfc822", []byte(spamMsg))
	do(t, "POST", n.url+"/api/v1/reports", reporter, "text/plain", []byte("   "))
	if r := do(t, "GET", n.url+"/metrics", "", "", nil); r.status != 401 {
		t.Errorf("/metrics without a token: %d", r.status)
	}
	if r := do(t, "GET", n.url+"/metrics", n.token(t, access.Analyst), "", nil); r.status != 403 {
		t.Errorf("/metrics with an analyst token: %d", r.status)
	}
	mt := n.token(t, access.Metrics)
	r := do(t, "GET", n.url+"/metrics", mt, "", nil)
	if r.status != 200 {
		t.Fatalf("/metrics: %d %s", r.status, r.body)
	}
	for _, want := range []string{`accord_reports_received_total{channel="api"} 1`, `accord_intake_submit_seconds_count{channel="api"} 1`,
		`accord_intake_commit_seconds_count 1`, `accord_intake_queue_depth 0`, "# TYPE accord_intake_commit_restarts_total counter\naccord_intake_commit_restarts_total 3",
		`accord_http_requests_total{code="201",route="POST /api/v1/reports"} 1`, `go_goroutines`} {
		if !bytes.Contains(r.body, []byte(want)) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if bytes.Contains(r.body, []byte("offers.example.biz")) || bytes.Contains(r.body, []byte("/r/")) {
		t.Error("/metrics names report content or ids")
	}
	// The metrics token's last use is recorded as every token's is (the
	// new user's trial, L5: `accord token list` said never).
	toks, err := n.store.Tokens(context.Background())
	used := false
	for _, tk := range toks {
		used = used || tk.Role == access.Metrics && !tk.LastUsedAt.IsZero()
	}
	if err != nil || !used {
		t.Errorf("the metrics token's last use is not recorded: %v %+v", err, toks)
	}
	if r := do(t, "GET", n.url+"/api/v1/reports", mt, "", nil); r.status != 403 {
		t.Errorf("a metrics token lists reports: %d", r.status)
	}
}

// artifact keeps a file a person should look at (screenshots): in
// $ACCORD_ARTIFACTS when the test command sets it, else the test's
// temporary folder.
func artifact(t *testing.T, name string, b []byte) {
	t.Helper()
	dir := os.Getenv("ACCORD_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("artifact: %s (%d bytes)", p, len(b))
}

// pageProblems records what the browser reports as wrong on a page: CSP
// refusals, script exceptions, console errors.
func pageProblems(ctx context.Context) func() []string {
	var mu sync.Mutex
	var out []string
	chromedp.Listen(ctx, func(ev any) {
		var msg string
		switch e := ev.(type) {
		case *cdplog.EventEntryAdded:
			if e.Entry.Level == cdplog.EntryLevelError || strings.Contains(e.Entry.Text, "Content Security Policy") {
				msg = "log: " + e.Entry.Text
			}
		case *runtime.EventExceptionThrown:
			msg = "exception: " + e.ExceptionDetails.Text
			if e.ExceptionDetails.Exception != nil {
				msg += " " + e.ExceptionDetails.Exception.Description
			}
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.ConsoleAPICalledTypeError {
				msg = "console.error"
			}
		}
		if msg != "" {
			mu.Lock()
			out = append(out, msg)
			mu.Unlock()
		}
	})
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), out...)
	}
}

func browserLogin(ctx context.Context, base, user string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		return chromedp.Void{}, chromedp.Do(ctx,
			chromedp.Navigate(base+"/login"),
			chromedp.SendKeys(chromedp.ID("user"), user),
			chromedp.SendKeys(chromedp.ID("password"), "a long passphrase"),
			chromedp.Submit(chromedp.ID("password")),
			chromedp.WaitVisible(chromedp.CSS("nav a[href='/desk/stats']")),
		)
	}
}

func TestBrowserDashboardAndCase(t *testing.T) {
	// Reports over the last nine days, from real networks.
	var mu sync.Mutex
	day := 0
	n, _ := startObserved(t, web.Config{}, func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		day++
		return time.Now().Add(-time.Duration(9-day/2) * 24 * time.Hour)
	})
	ctx := context.Background()
	h, _ := access.HashPassword("a long passphrase")
	n.store.CreateUser(ctx, access.User{Name: "olga", PasswordHash: h, Role: access.Authority, CreatedAt: time.Now()})
	var cid string
	for i := 0; i < 9; i++ {
		rec, err := n.desk.Submit(ctx, intake.Submission{Channel: []intake.Channel{intake.ChannelAPI, intake.ChannelSMTP, intake.ChannelWeb}[i%3],
			Raw: hostileSpam(i), SubmittedBy: "token:x"})
		if err != nil {
			t.Fatal(err)
		}
		cid = rec.Reports[0].CampaignID
	}
	if _, err := n.desk.Submit(ctx, intake.Submission{Channel: intake.ChannelWeb, Raw: []byte(spamMsg), SubmittedBy: "web"}); err != nil {
		t.Fatal(err)
	}
	bctx, requested := chromium(t)
	problems := pageProblems(bctx)
	err := chromedp.Do(bctx,
		browserLogin(bctx, n.url, "olga"),
		chromedp.EmulateViewport(1280, 900),
		chromedp.Navigate(n.url+"/desk/stats"),
		chromedp.WaitVisible(chromedp.CSS(".chart.drawn canvas")),
	)
	if err != nil {
		t.Fatal(err)
	}
	// Every table with figures has its chart.
	drawn, err := chromedp.Run(bctx, chromedp.Evaluate[int](`document.querySelectorAll(".chart.drawn canvas").length`))
	if err != nil {
		t.Fatal(err)
	}
	withData, err := chromedp.Run(bctx, chromedp.Evaluate[int](`document.querySelectorAll("table[data-chart]:has(tr[data-label])").length`))
	if err != nil {
		t.Fatal(err)
	}
	// A canvas with ink on it: some pixel is not transparent.
	inked, err := chromedp.Run(bctx, chromedp.Evaluate[bool](`(function(){var c=document.querySelector("#h-t-day ~ .chart canvas");
		var d=c.getContext("2d").getImageData(0,0,c.width,c.height).data;for(var i=3;i<d.length;i+=4){if(d[i]>0)return true}return false})()`))
	if err != nil {
		t.Fatal(err)
	}
	title, _ := chromedp.Run(bctx, chromedp.Title())
	imgs, _ := chromedp.Run(bctx, chromedp.Evaluate[int](`document.querySelectorAll("img").length`))
	label, _ := chromedp.Run(bctx, chromedp.Text(chromedp.CSS("#t-campaign tbody td")))
	if drawn != withData || drawn < 6 || !inked || title == "pwned" || imgs != 0 || !strings.Contains(label, "<img src=x") {
		t.Errorf("dashboard: %d charts, inked %v, title %q, %d img elements, campaign label %q", drawn, inked, title, imgs, label)
	}
	total := text(t, bctx, "total")
	if total != "10" {

		t.Errorf("dashboard total %q", total)
	}
	shot, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	artifact(t, "dashboard.png", shot)
	// The case, worked in the browser.
	err = chromedp.Do(bctx,
		chromedp.Navigate(n.url+"/desk/cases/"+cid),
		chromedp.Click(chromedp.CSS(`input[name="status"][value="investigating"]`)),
		chromedp.SendKeys(chromedp.ID("status-text"), "Same sender as case 12; worth pursuing"),
		chromedp.Click(chromedp.ID("set-status")),
		chromedp.WaitVisible(chromedp.CSS(".status-investigating")),
		chromedp.SendKeys(chromedp.ID("note-text"), "Hosting provider contacted <b>by phone</b>"),
		chromedp.Click(chromedp.ID("add-note")),
		chromedp.WaitVisible(chromedp.CSS("tr.ev-note")),
	)
	if err != nil {
		t.Fatal(err)
	}
	note, _ := chromedp.Run(bctx, chromedp.Text(chromedp.CSS("tr.ev-note td.text")))
	bolds, _ := chromedp.Run(bctx, chromedp.Evaluate[int](`document.querySelectorAll("#history b").length`))
	if note != "Hosting provider contacted <b>by phone</b>" || bolds != 0 {
		t.Errorf("note %q shown with %d live elements", note, bolds)
	}
	shot, err = chromedp.Run(bctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	artifact(t, "case.png", shot)
	for _, u := range requested() {
		if !strings.HasPrefix(u, n.url) && !strings.HasPrefix(u, "data:") { // data: the browser's own date-picker icon
			t.Errorf("the browser requested %s", u)
		}
	}
	if p := problems(); len(p) > 0 {
		t.Errorf("the browser reported problems: %v", p)
	}
}
