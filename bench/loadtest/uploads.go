package main

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"os"
	"regexp"
	"strings"
	"sync"
	"time"
)

// runUploads: eight large uploads at once (each under the 25 MB limit)
// to a freshly started node, through the API and through the web form,
// on SQLite and on PostgreSQL; prints the server's peak memory, checks
// that every acknowledged upload is stored byte for byte (the SHA-256 of
// the message in its evidence bundle, read back through the API), and
// that one over the limit is refused with 413.
func runUploads(bin, dsn string, size int) {
	fmt.Printf("\n## Eight concurrent uploads of %.0f MiB, a fresh node each time (then one of %.0f MiB, over the 25 MiB limit)\n\n",
		float64(size)/(1<<20), float64(size+2<<20)/(1<<20))
	fmt.Printf("| store | door | answers | seconds | stored intact | over the limit | peak RSS MiB | RSS before MiB |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n")
	big := bigMessage(size)
	stores := []string{"sqlite"}
	if dsn != "" {
		stores = append(stores, "postgres")
	}
	failed := false
	for _, store := range stores {
		for _, door := range []string{"api", "form"} {
			conf := liftedRates
			var drop func()
			if store == "postgres" {
				d, dr, err := schemaDSN(dsn, "uploads")
				if err != nil {
					fail(err)
				}
				conf, drop = pgConfig(d), dr
			}
			// The evidence bundle then holds the message as received.
			conf += "[privacy]\nexport_original = true\n"
			n, err := startWith(bin, conf, "")
			if err != nil {
				fail(err)
			}
			before := peakRSS(n.cmd.Process.Pid)
			var (
				mu    sync.Mutex
				codes []string
				ids   = map[string]string{} // report id → SHA-256 of what was sent
				wg    sync.WaitGroup
			)
			t0 := time.Now()
			for w := 0; w < 8; w++ {
				wg.Add(1)
				go func(w int) {
					defer wg.Done()
					msg := append([]byte(fmt.Sprintf("X-Upload: %d\r\n", w)), big...)
					sum := sha256.Sum256(msg)
					id, code := upload(n, door, msg)
					mu.Lock()
					defer mu.Unlock()
					codes = append(codes, code)
					if id != "" {
						ids[id] = hex.EncodeToString(sum[:])
					}
				}(w)
			}
			wg.Wait()
			elapsed := time.Since(t0)
			peak := peakRSS(n.cmd.Process.Pid)
			_, over := upload(n, door, append(bigMessage(size+2<<20), '\n'))
			intact := 0
			for id, want := range ids {
				if storedSHA256(n, id) == want {
					intact++
				}
			}
			n.stop()
			if drop != nil {
				drop()
			}
			if intact != len(ids) || over != "413" {
				failed = true
			}
			fmt.Printf("| %s | %s | %s | %.1f | %d of %d | %s | %.0f | %.0f |\n", store, door, strings.Join(codes, " "), elapsed.Seconds(),
				intact, len(ids), over, float64(peak)/(1<<20), float64(before)/(1<<20))
		}
	}
	fmt.Printf("\n(peak RSS: the serve process's high-water mark, VmHWM — %s)\n", loadAvg())
	if failed {
		fmt.Println("FAILED: an acknowledged upload is missing or not stored byte for byte, or one over the limit was not refused with 413")
		os.Exit(1)
	}
}

// storedSHA256 is the SHA-256 of the message the node gives back for a
// report: message.eml of its evidence bundle (GET …/evidence), "" when
// there is none.
func storedSHA256(n *node, id string) string {
	code, b := n.get("/api/v1/reports/" + id + "/evidence")
	if code != 200 {
		return ""
	}
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return ""
	}
	for _, f := range zr.File {
		if f.Name != "message.eml" {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			return ""
		}
		h := sha256.New()
		_, err = io.Copy(h, rc)
		rc.Close()
		if err != nil {
			return ""
		}
		return hex.EncodeToString(h.Sum(nil))
	}
	return ""
}

// upload sends one message through the API (message/rfc822) or the web
// form (a file field, with the form's CSRF token); returns the report id
// and the HTTP answer.
func upload(n *node, door string, msg []byte) (id, code string) {
	client := &http.Client{Timeout: 5 * time.Minute}
	var req *http.Request
	switch door {
	case "api":
		req, _ = http.NewRequest("POST", "http://"+n.http+"/api/v1/reports", bytes.NewReader(msg))
		req.Header.Set("Authorization", "Bearer "+n.reporter)
		req.Header.Set("Content-Type", "message/rfc822")
	default:
		jar, _ := cookiejar.New(nil)
		client.Jar = jar
		client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		res, err := client.Get("http://" + n.http + "/")
		if err != nil {
			return "", err.Error()
		}
		page, _ := io.ReadAll(res.Body)
		res.Body.Close()
		m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindSubmatch(page)
		if m == nil {
			return "", "no CSRF token"
		}
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		mw.WriteField("csrf", string(m[1]))
		fw, _ := mw.CreateFormFile("file", "spam.eml")
		fw.Write(msg)
		mw.Close()
		req, _ = http.NewRequest("POST", "http://"+n.http+"/report", &body)
		req.Header.Set("Content-Type", mw.FormDataContentType())
		req.Header.Set("Origin", "http://"+n.http)
	}
	res, err := client.Do(req)
	if err != nil {
		return "", err.Error()
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	switch {
	case door == "api" && res.StatusCode == 201:
		var out struct {
			ID string `json:"id"`
		}
		json.Unmarshal(b, &out)
		return out.ID, "201"
	case door == "form" && res.StatusCode == 303:
		// The result page: /r/{id}?t=…
		loc := res.Header.Get("Location")
		if m := regexp.MustCompile(`^/r/([a-z0-9]+)\?`).FindStringSubmatch(loc); m != nil {
			return m[1], "303"
		}
		return "", "303 to " + loc
	}
	return "", fmt.Sprint(res.StatusCode)
}
