package analysis

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/accord-antispam/accord/internal/mail"
)

// Links to three generated host names under one domain (a wildcard DNS
// entry's, a pharmacy campaign's shape) make random-hosts; a site's own
// named hosts, a content network's numbered image servers, two generated
// names, or generated names under different domains do not.
func TestRandomHosts(t *testing.T) {
	a := analyzer(t, nil)
	head := "From: Shop <s@shop.example>\r\nTo: ana@example.org\r\nSubject: hello\r\nDate: Mon, 2 Mar 2026 10:00:00 +0000\r\nMessage-ID: <r1@shop.example>\r\nMIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
	para := "<p>" + strings.Repeat("The river rises in the hills and flows west to the sea. ", 10) + "</p>"
	links := func(hosts ...string) string {
		var b strings.Builder
		for _, h := range hosts {
			fmt.Fprintf(&b, `<a href="http://%s/">here</a> `, h)
		}
		return b.String()
	}
	for _, c := range []struct {
		name, body string
		want       bool
	}{
		{"generated hosts under one domain", links("1b5f.pillrx.example", "d271.pillrx.example", "a9e.pillrx.example") + para, true},
		{"generated hosts, one deeper", links("330.shop.pillrx.example", "4fa21d.pillrx.example", "0e8.pillrx.example") + para, true},
		{"generated hosts written out", "<p>http://1b5f.pillrx.example/ http://d271.pillrx.example/ http://a9e.pillrx.example/</p>" + para, true},
		{"two generated hosts", links("1b5f.pillrx.example", "d271.pillrx.example", "www.pillrx.example") + para, false},
		{"the same generated host three times", `<a href="http://1b5f.pillrx.example/a">a</a> <a href="http://1b5f.pillrx.example/b">b</a> <a href="http://1b5f.pillrx.example/c">c</a>` + para, false},
		{"generated hosts under three domains", links("1b5f.one.example", "d271.two.example", "a9e.three.example") + para, false},
		{"a site's named hosts", links("www.news.example", "lists.news.example", "ns1.news.example", "ns2.news.example", "ns3.news.example", "image4.news.example", "mp3.news.example") + para, false},
		{"hex words without a digit", links("cafe.news.example", "bad.news.example", "fade.news.example", "deed.news.example") + para, false},
		{"hyphenated numbered relays", links("rly-zc01.mail.example", "air-zc04.mail.example", "rly-zc02.mail.example") + para, false},
		{"a content network's numbered image servers", `<img src="http://a1552.g.cdn.example/x.gif"><img src="http://a772.g.cdn.example/y.gif"><img src="http://a99e.g.cdn.example/z.gif">` + para, false},
	} {
		v, err := a.Analyze(context.Background(), Input{Source: c.name, Message: mail.ParseBytes([]byte(head+c.body+"\r\n"), mail.DefaultLimits())})
		if err != nil {
			t.Fatal(err)
		}
		if got := slices.Contains(reasonCodes(v), ReasonRandomHosts); got != c.want {
			t.Errorf("%s: random-hosts %v, want %v (reasons %v)", c.name, got, c.want, reasonCodes(v))
		}
	}
}

// randomHostsReference counts randomHosts's hosts the plain way: a map of
// distinct hosts per domain, the label checked by its definition.
func randomHostsReference(urls []mail.URL) int {
	hosts := map[string]map[string]bool{}
	best := 0
	for _, u := range urls {
		if u.Source != "href" && u.Source != "text" || u.Domain == "" || !strings.HasSuffix(u.Host, "."+u.Domain) {
			continue
		}
		label, _, _ := strings.Cut(strings.TrimSuffix(u.Host, "."+u.Domain), ".")
		hex := strings.Trim(label, "0123456789abcdef") == ""
		digit := strings.ContainsAny(label, "0123456789")
		if len(label) < 3 || !hex || !digit {
			continue
		}
		if hosts[u.Domain] == nil {
			hosts[u.Domain] = map[string]bool{}
		}
		hosts[u.Domain][u.Host] = true
		best = max(best, len(hosts[u.Domain]))
	}
	return best
}

func FuzzRandomHosts(f *testing.F) {
	f.Add("1b5f.pillrx.example d271.pillrx.example a9e.pillrx.example", "pillrx.example", "href")
	f.Add("www.news.example ns1.news.example 33.news.example", "news.example", "text")
	f.Add("a1552.g.cdn.example a772.g.cdn.example", "cdn.example", "src")
	f.Fuzz(func(t *testing.T, hosts, domain, source string) {
		var urls []mail.URL
		for _, h := range strings.Fields(hosts) {
			urls = append(urls, mail.URL{Host: h, Domain: domain, Source: source})
		}
		if _, got := randomHosts(urls); got != randomHostsReference(urls) {
			t.Fatalf("randomHosts(%q under %q, %s) = %d, the plain count says %d", hosts, domain, source, got, randomHostsReference(urls))
		}
	})
}

// BenchmarkRandomHosts is the check's work on a campaign's links (nine
// generated hosts) and on a newsletter's forty links to named hosts.
func BenchmarkRandomHosts(b *testing.B) {
	var campaign, newsletter []mail.URL
	for i := range 9 {
		campaign = append(campaign, mail.URL{Host: fmt.Sprintf("%x.pillrx.example", 0x1b5f+i*977), Domain: "pillrx.example", Source: "href"})
	}
	for i := range 40 {
		h := []string{"www", "lists", "news", "store"}[i%4] + ".news.example"
		newsletter = append(newsletter, mail.URL{Host: h, Domain: "news.example", Source: "href"})
	}
	b.Run("campaign", func(b *testing.B) {
		for b.Loop() {
			randomHosts(campaign)
		}
	})
	b.Run("newsletter", func(b *testing.B) {
		for b.Loop() {
			randomHosts(newsletter)
		}
	})
}
