// Command filterload sends a corpus through a filter's door with
// concurrent clients and prints throughput and latency: the same client
// for every filter that speaks the protocol.
//
//	filterload -proto http -addr 127.0.0.1:11333 [-c 8] [-n 3000] INDEX
//	filterload -proto milter -addr 127.0.0.1:11332 [-c 8] [-n 3000] INDEX
//	filterload -proto learn -addr 127.0.0.1:11334 INDEX   (POST /learnspam|/learnham, for training)
//
// http posts each message to /checkv2 with rspamd's headers (one
// keep-alive connection per client, as an MTA would keep); milter plays
// an MTA through the milter protocol, one session per message. Every
// failure is counted and printed; a run with failures says so.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/d--j/go-milter"

	"github.com/accord-antispam/accord/internal/classify"
)

func main() {
	proto := flag.String("proto", "http", "http (rspamd /checkv2), milter, or learn")
	addr := flag.String("addr", "127.0.0.1:11333", "the door's address")
	conc := flag.Int("c", 8, "concurrent clients")
	n := flag.Int("n", 0, "messages to send (default: the whole index once)")
	from := flag.Int("from", 0, "start at this index line")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: filterload -proto http|milter|learn -addr ADDR [-c N] [-n N] INDEX")
		os.Exit(2)
	}
	ex, err := classify.ReadIndex(flag.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ex = ex[min(*from, len(ex)):]
	if *n <= 0 {
		*n = len(ex)
	}
	var next atomic.Int64
	var failed atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	var firstErr atomic.Value
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < *conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 1, DisableCompression: true}}
			var mine []time.Duration
			for {
				i := int(next.Add(1)) - 1
				if i >= *n {
					break
				}
				e := ex[i%len(ex)]
				t0 := time.Now()
				var err error
				switch *proto {
				case "http":
					err = checkHTTP(client, *addr, e.Raw)
				case "learn":
					err = learnHTTP(client, *addr, e)
				case "milter":
					err = checkMilter(*addr, e.Raw)
				default:
					err = fmt.Errorf("unknown -proto %q", *proto)
				}
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	el := time.Since(start)
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	q := func(p float64) float64 {
		if len(lat) == 0 {
			return 0
		}
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Microseconds()) / 1000
	}
	fmt.Printf("proto=%s addr=%s clients=%d sent=%d ok=%d failed=%d seconds=%.2f msg/s=%.1f p50_ms=%.2f p99_ms=%.2f\n",
		*proto, *addr, *conc, *n, len(lat), failed.Load(), el.Seconds(), float64(len(lat))/el.Seconds(), q(0.50), q(0.99))
	if e := firstErr.Load(); e != nil {
		fmt.Printf("first failure: %s\n", e)
		os.Exit(1)
	}
}

func checkHTTP(c *http.Client, addr string, raw []byte) error {
	req, _ := http.NewRequest("POST", "http://"+addr+"/checkv2", bytes.NewReader(raw))
	req.Header.Set("IP", "192.0.2.10")
	req.Header.Set("Helo", "client.example")
	req.Header.Set("From", "<sender@client.example>")
	req.Header.Set("Rcpt", "<user@example.org>")
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != 200 {
		return fmt.Errorf("HTTP %d: %.200s", resp.StatusCode, b)
	}
	var r struct {
		Action string  `json:"action"`
		Score  float64 `json:"score"`
	}
	if err := json.Unmarshal(b, &r); err != nil || r.Action == "" {
		return fmt.Errorf("not an rspamd answer: %.200s", b)
	}
	return nil
}

func learnHTTP(c *http.Client, addr string, e classify.Example) error {
	path := "/learnham"
	if e.Spam {
		path = "/learnspam"
	}
	resp, err := c.Post("http://"+addr+path, "message/rfc822", bytes.NewReader(e.Raw))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	// rspamd answers 208 for a message it learned already and 204 when
	// it declines to learn: neither is a failure of the run.
	if resp.StatusCode != 200 && resp.StatusCode != 204 && resp.StatusCode != 208 {
		return fmt.Errorf("learn: HTTP %d: %.200s", resp.StatusCode, b)
	}
	return nil
}

// checkMilter plays one SMTP transaction through the milter protocol.
func checkMilter(addr string, raw []byte) error {
	c := milter.NewClient("tcp", addr, milter.WithDialer(&net.Dialer{Timeout: 10 * time.Second}), milter.WithReadTimeout(60*time.Second), milter.WithWriteTimeout(60*time.Second))
	s, err := c.Session(milter.NewMacroBag())
	if err != nil {
		return err
	}
	defer s.Close()
	step := func(a *milter.Action, err error) error {
		if err != nil {
			return err
		}
		if a.Type != milter.ActionContinue {
			return fmt.Errorf("early answer %v", a.Type)
		}
		return nil
	}
	if err := step(s.Conn("client.example", milter.FamilyInet, 4321, "192.0.2.10")); err != nil {
		return err
	}
	if err := step(s.Helo("client.example")); err != nil {
		return err
	}
	if err := step(s.Mail("<sender@client.example>", "")); err != nil {
		return err
	}
	if err := step(s.Rcpt("<user@example.org>", "")); err != nil {
		return err
	}
	if err := step(s.DataStart()); err != nil {
		return err
	}
	head, body, _ := bytes.Cut(raw, []byte("\n\n"))
	if i := bytes.Index(raw, []byte("\r\n\r\n")); i >= 0 && (len(head) == len(raw) || i < len(head)) {
		head, body = raw[:i], raw[i+4:]
	}
	var key string
	var val strings.Builder
	flush := func() error {
		if key == "" {
			return nil
		}
		err := step(s.HeaderField(key, strings.TrimSpace(val.String()), nil))
		key = ""
		val.Reset()
		return err
	}
	for _, line := range strings.Split(strings.ReplaceAll(string(head), "\r\n", "\n"), "\n") {
		if line == "" {
			continue
		}
		if (line[0] == ' ' || line[0] == '\t') && key != "" {
			val.WriteString("\n" + line)
			continue
		}
		if err := flush(); err != nil {
			return err
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		key = k
		val.WriteString(v)
	}
	if err := flush(); err != nil {
		return err
	}
	if err := step(s.HeaderEnd()); err != nil {
		return err
	}
	_, act, err := s.BodyReadFrom(bytes.NewReader(body))
	if err != nil {
		return err
	}
	if act.Type == milter.ActionTempFail {
		return fmt.Errorf("tempfail")
	}
	return nil
}
