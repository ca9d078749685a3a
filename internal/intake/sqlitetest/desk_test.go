package sqlitetest

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/accord-antispam/accord/internal/analysis"
	"github.com/accord-antispam/accord/internal/intake"
	"github.com/accord-antispam/accord/internal/rules"
	"github.com/accord-antispam/accord/internal/store/sqlite"
	"github.com/accord-antispam/accord/internal/trace/geo"
)

type node struct {
	desk  *intake.Desk
	store intake.Store
	pub   ed25519.PublicKey
}

func newNode(t testing.TB) node {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "accord.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return newNodeOn(t, st, nil)
}

// newNodeOn starts a desk over a store; observe (if not nil) sees its
// submissions and commits.
func newNodeOn(t testing.TB, st intake.Store, observe func(intake.Observation)) node {
	t.Helper()
	lib, err := rules.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	pub, priv, _ := ed25519.GenerateKey(nil)
	d, err := intake.New(st, &analysis.Analyzer{Rules: lib, Geo: geo.Embedded()}, intake.Options{Secret: []byte("0123456789abcdef0123456789abcdef"), Signer: priv, Observe: observe})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.Close)
	return node{d, st, pub}
}

func read(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func unzip(t *testing.T, b []byte) map[string][]byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, f := range zr.File {
		rc, _ := f.Open()
		out[f.Name], _ = io.ReadAll(rc)
		rc.Close()
	}
	return out
}

func rezip(t *testing.T, files map[string][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for n, b := range files {
		w, _ := zw.Create(n)
		w.Write(b)
	}
	zw.Close()
	return buf.Bytes()
}

func verify(t *testing.T, b []byte) intake.VerifyResult {
	t.Helper()
	res, err := intake.VerifyBundle(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// A forward with two attached spams becomes two reports; each exports as a
// signed bundle that verifies offline, without the reporter's address.
func TestEvidenceBundle(t *testing.T) {
	ctx := context.Background()
	n := newNode(t)
	complaint := read(t, "forward-two-attached.eml")
	rec, err := n.desk.Submit(ctx, intake.Submission{Channel: intake.ChannelSMTP, Raw: complaint, Reporter: "alice@example.net", SubmittedBy: "smtp"})
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.Reports) != 2 || rec.Reports[0].CampaignID == rec.Reports[1].CampaignID {
		t.Fatalf("receipt %+v: want two reports in two campaigns", rec)
	}
	id := rec.Reports[0].ID
	var buf bytes.Buffer
	if err := n.desk.Export(ctx, id, &buf, intake.ExportOptions{Actor: "user:ana"}); err != nil {
		t.Fatal(err)
	}
	res := verify(t, buf.Bytes())
	if !res.OK() {
		t.Fatalf("fresh bundle has problems: %v", res.Problems)
	}
	if res.NodeKey == "" || res.Manifest.ReportID != id || res.Manifest.OriginalIncluded {
		t.Errorf("manifest %+v, key %q", res.Manifest, res.NodeKey)
	}
	files := unzip(t, buf.Bytes())
	for name, b := range files {
		if bytes.Contains(bytes.ToLower(b), []byte("alice@example.net")) {
			t.Errorf("%s names the reporter", name)
		}
	}
	if !bytes.Contains(files["message.redacted.eml"], []byte("Subject: Cheap meds, no prescription needed")) {
		t.Errorf("redacted message lost its content:\n%s", files["message.redacted.eml"])
	}
	if !strings.Contains(string(files["custody.json"]), `"exported"`) {
		t.Errorf("the export is not in the bundle's custody log:\n%s", files["custody.json"])
	}

	// With originals: the message is byte for byte what was attached.
	buf.Reset()
	if err := n.desk.Export(ctx, id, &buf, intake.ExportOptions{Actor: "user:ana", IncludeOriginal: true}); err != nil {
		t.Fatal(err)
	}
	if res := verify(t, buf.Bytes()); !res.OK() {
		t.Fatalf("bundle with originals: %v", res.Problems)
	}
	files = unzip(t, buf.Bytes())
	if !bytes.Equal(files["complaint.eml"], complaint) || !bytes.Contains(complaint, files["message.eml"]) {
		t.Error("originals are not byte-exact")
	}

	// Every kind of tampering shows.
	for name, change := range map[string]func(map[string][]byte){
		"message changed": func(f map[string][]byte) {
			f["message.eml"] = bytes.Replace(f["message.eml"], []byte("meds"), []byte("MEDS"), 1)
		},
		"message and hashes changed consistently": func(f map[string][]byte) {
			f["message.eml"] = append(f["message.eml"], '!')
			f["SHA256SUMS"] = nil
		},
		"custody entry rewritten": func(f map[string][]byte) {
			f["custody.json"] = bytes.Replace(f["custody.json"], []byte("user:ana"), []byte("user:bob"), 1)
		},
		"manifest edited": func(f map[string][]byte) {
			f["manifest.json"] = bytes.Replace(f["manifest.json"], []byte(`"channel": "smtp"`), []byte(`"channel": "api"`), 1)
		},
		"resigned by another key": func(f map[string][]byte) {
			_, other, _ := ed25519.GenerateKey(nil)
			f["manifest.sig"] = []byte(fmt.Sprintf("%x", ed25519.Sign(other, f["manifest.json"])))
		},
	} {
		f := unzip(t, buf.Bytes())
		change(f)
		if res := verify(t, rezip(t, f)); res.OK() {
			t.Errorf("%s: the bundle still verifies", name)
		}
	}
}

func TestStatusTokenAndCustody(t *testing.T) {
	ctx := context.Background()
	n := newNode(t)
	rec, err := n.desk.Submit(ctx, intake.Submission{Channel: intake.ChannelWeb, Raw: read(t, "forward-inline-gmail.eml"), SubmittedBy: "web"})
	if err != nil {
		t.Fatal(err)
	}
	r := rec.Reports[0]
	if _, err := n.desk.StatusView(ctx, r.ID, r.StatusToken+"x"); !errors.Is(err, intake.ErrNotFound) {
		t.Errorf("a wrong token opened the report: %v", err)
	}
	got, err := n.desk.StatusView(ctx, r.ID, r.StatusToken)
	if err != nil || got.ID != r.ID {
		t.Fatalf("status view: %v", err)
	}
	if _, err := n.desk.View(ctx, r.ID, "user:ana"); err != nil {
		t.Fatal(err)
	}
	es, err := n.store.Custody(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	var acts []string
	for _, e := range es {
		acts = append(acts, e.Actor+" "+e.Action)
	}
	if want := "web received|reporter status-viewed|user:ana viewed"; strings.Join(acts, "|") != want {
		t.Errorf("custody %q, want %q", strings.Join(acts, "|"), want)
	}
}

// Many reporters at once: every acknowledged report is stored, and Close
// waits for the ones in flight.
func TestConcurrentSubmitAndClose(t *testing.T) {
	ctx := context.Background()
	n := newNode(t)
	var wg sync.WaitGroup
	var mu sync.Mutex
	acked := map[string]bool{}
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 25; i++ {
				raw := fmt.Sprintf("From: s%d@spam%d.example\r\nSubject: offer %d-%d\r\nDate: Tue, 3 Nov 2026 10:00:00 +0000\r\n\r\nBuy cheap watches at http://w%d.example/ now, offer %d.\r\n", i, w, w, i, w, i)
				rec, err := n.desk.Submit(ctx, intake.Submission{Channel: intake.ChannelAPI, Raw: []byte(raw), SubmittedBy: "token:t"})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				acked[rec.Reports[0].ID] = true
				mu.Unlock()
			}
		}(w)
	}
	wg.Wait()
	n.desk.Close()
	if _, err := n.desk.Submit(ctx, intake.Submission{Channel: intake.ChannelAPI, Raw: []byte("Subject: late\r\nFrom: s@spam.example\r\n\r\nx")}); !errors.Is(err, intake.ErrClosed) {
		t.Errorf("submit after close: %v", err)
	}
	for id := range acked {
		if _, err := n.store.Report(ctx, id); err != nil {
			t.Errorf("acknowledged report %s missing: %v", id, err)
		}
	}
	if c, _ := n.store.CountReports(ctx); c != 200 || len(acked) != 200 {
		t.Errorf("%d stored, %d acknowledged, want 200", c, len(acked))
	}
}

// TestWriteBundleSeed refreshes the seed of FuzzVerifyBundle (package
// intake) with a real bundle: ACCORD_WRITE_SEED=1 go test -run BundleSeed.
func TestWriteBundleSeed(t *testing.T) {
	if os.Getenv("ACCORD_WRITE_SEED") == "" {
		t.Skip("set ACCORD_WRITE_SEED=1 to rewrite the fuzz seed")
	}
	n := newNode(t)
	ctx := context.Background()
	rec, err := n.desk.Submit(ctx, intake.Submission{Channel: intake.ChannelWeb, Raw: read(t, "forward-inline-gmail.eml"), SubmittedBy: "web"})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := n.desk.Export(ctx, rec.Reports[0].ID, &buf, intake.ExportOptions{Actor: "fuzz"}); err != nil {
		t.Fatal(err)
	}
	seed := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", buf.Bytes())
	if err := os.WriteFile(filepath.Join("..", "testdata", "fuzz", "FuzzVerifyBundle", "bundle"), []byte(seed), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestRejectKeepsNothing(t *testing.T) {
	ctx := context.Background()
	n := newNode(t)
	_, err := n.desk.Submit(ctx, intake.Submission{Channel: intake.ChannelSMTP, Raw: []byte("From: r@example.net\r\nSubject: x\r\n\r\n\r\n"), Reporter: "r@example.net"})
	var rej *intake.RejectError
	if !errors.As(err, &rej) || rej.Reason == "" {
		t.Fatalf("empty forward: %v", err)
	}
	if c, _ := n.store.CountReports(ctx); c != 0 {
		t.Errorf("%d reports after a rejection", c)
	}
}

// TestBundleRefusesWhatTheManifestDoesNotList: a forged message.eml with
// its SHA256SUMS line, an unlisted note, and a forged entry placed before
// the genuine one of the same name (unzip shows the first, a reader keeping
// the last saw the genuine one) all verified OK, signed by the pinned key.
func TestBundleRefusesWhatTheManifestDoesNotList(t *testing.T) {
	ctx := context.Background()
	n := newNode(t)
	rec, err := n.desk.Submit(ctx, intake.Submission{Channel: intake.ChannelSMTP, Raw: read(t, "forward-two-attached.eml"), Reporter: "alice@example.net", SubmittedBy: "smtp"})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := n.desk.Export(ctx, rec.Reports[0].ID, &buf, intake.ExportOptions{Actor: "user:ana"}); err != nil {
		t.Fatal(err)
	}
	genuine := buf.Bytes()
	if res := verify(t, genuine); !res.OK() {
		t.Fatalf("the genuine bundle: %v", res.Problems)
	}
	// entries rewrites the bundle entry by entry, in order, keeping
	// duplicates (a map would not).
	type entry struct {
		name string
		body []byte
	}
	rewrite := func(change func([]entry) []entry) []byte {
		zr, _ := zip.NewReader(bytes.NewReader(genuine), int64(len(genuine)))
		var es []entry
		for _, f := range zr.File {
			rc, _ := f.Open()
			b, _ := io.ReadAll(rc)
			rc.Close()
			es = append(es, entry{f.Name, b})
		}
		var out bytes.Buffer
		zw := zip.NewWriter(&out)
		for _, e := range change(es) {
			w, _ := zw.CreateHeader(&zip.FileHeader{Name: e.name, Method: zip.Store})
			w.Write(e.body)
		}
		zw.Close()
		return out.Bytes()
	}
	forgedMsg := []byte("From: someone-else@example.org\r\nSubject: forged\r\n\r\nnot what was reported\r\n")
	for _, c := range []struct {
		name   string
		change func([]entry) []entry
	}{
		{"a forged message.eml with its SHA256SUMS line", func(es []entry) []entry {
			for i := range es {
				if es[i].name == "SHA256SUMS" {
					es[i].body = append(es[i].body, []byte(fmt.Sprintf("%x  message.eml\n", sha256.Sum256(forgedMsg)))...)
				}
			}
			return append(es, entry{"message.eml", forgedMsg})
		}},
		{"an unlisted note", func(es []entry) []entry {
			return append(es, entry{"NOTE-from-analyst.txt", []byte("the sender is guilty\n")})
		}},
		{"a forged entry before the genuine one", func(es []entry) []entry {
			return append([]entry{{"message.redacted.eml", forgedMsg}}, es...)
		}},
	} {
		res := verify(t, rewrite(c.change))
		if res.OK() {
			t.Errorf("%s: the bundle verifies", c.name)
		}
	}
}

// TestCampaignExportLeavesOutTheRecipient: the default (redacted) campaign
// export kept the full subjects in campaign.json and "Jane Roe ([redacted])"
// in each verdict.json.
func TestCampaignExportLeavesOutTheRecipient(t *testing.T) {
	ctx := context.Background()
	n := newNode(t)
	spam := "Received: from mail.parcel.example (mail.parcel.example [203.0.113.50]) by mx.example.net; Tue, 3 Nov 2026 10:00:00 +0000\r\n" +
		"From: Parcel Service <track@parcel.example>\r\nTo: Jane Roe <jane.roe@example.net>\r\n" +
		"Subject: Jane Roe, your parcel for jane.roe@example.net is waiting\r\nDate: Tue, 3 Nov 2026 10:00:00 +0000\r\n" +
		"Message-ID: <p%d@parcel.example>\r\n\r\nDear Jane Roe, pay the customs fee at http://parcel.example/pay now.\r\n"
	var campaign string
	for i := 0; i < 2; i++ {
		rec, err := n.desk.Submit(ctx, intake.Submission{Channel: intake.ChannelWeb, Raw: []byte(fmt.Sprintf(spam, i)), SubmittedBy: "web"})
		if err != nil {
			t.Fatal(err)
		}
		if campaign != "" && rec.Reports[0].CampaignID != campaign {
			t.Fatalf("two campaigns for one spam run")
		}
		campaign = rec.Reports[0].CampaignID
	}
	var buf bytes.Buffer
	if err := n.desk.ExportCampaign(ctx, campaign, &buf, intake.ExportOptions{Actor: "user:ana"}); err != nil {
		t.Fatal(err)
	}
	if res := verify(t, buf.Bytes()); !res.OK() {
		t.Fatalf("campaign bundle: %v", res.Problems)
	}
	var check func(where string, files map[string][]byte)
	check = func(where string, files map[string][]byte) {
		for name, b := range files {
			if strings.HasSuffix(name, ".zip") {
				check(where+name+"/", unzip(t, b))
				continue
			}
			if name == "node.pub" || name == "manifest.sig" {
				continue // base64 key material: random letters spell "roe" about once in a thousand keys
			}
			low := bytes.ToLower(b)
			if bytes.Contains(low, []byte("jane")) || bytes.Contains(low, []byte("roe")) {
				t.Errorf("%s%s names the recipient", where, name)
			}
		}
	}
	check("", unzip(t, buf.Bytes()))
}

// TestStatusViewsAreLoggedOncePerInterval: 300 anonymous views of a status
// link in a second wrote 300 custody entries.
func TestStatusViewsAreLoggedOncePerInterval(t *testing.T) {
	ctx := context.Background()
	n := newNode(t)
	rec, err := n.desk.Submit(ctx, intake.Submission{Channel: intake.ChannelWeb, Raw: read(t, "forward-inline-gmail.eml"), SubmittedBy: "web"})
	if err != nil {
		t.Fatal(err)
	}
	r := rec.Reports[0]
	for i := 0; i < 300; i++ {
		if _, err := n.desk.StatusView(ctx, r.ID, r.StatusToken); err != nil {
			t.Fatal(err)
		}
	}
	cs, err := n.store.Custody(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	views := 0
	for _, c := range cs {
		if c.Action == "status-viewed" {
			views++
		}
	}
	if views != 1 {
		t.Fatalf("%d status-viewed entries for 300 views within a second, want 1", views)
	}
}

// TestAPIForwardKeepsItsReporter: a forward uploaded through the API
// (spam attached) records its From — the person who forwarded it — as the
// report's reporter, as the mailbox does. Unknown, redaction could not
// tell them from anyone, and their name in the spam's links went to
// partners under personal_data = false (fourth attack review).
func TestAPIForwardKeepsItsReporter(t *testing.T) {
	n := newNode(t)
	ctx := context.Background()
	rec, err := n.desk.Submit(ctx, intake.Submission{Channel: intake.ChannelAPI, Raw: read(t, "forward-two-attached.eml"), SubmittedBy: "token:x"})
	if err != nil {
		t.Fatal(err)
	}
	r, err := n.store.Report(ctx, rec.Reports[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if r.ReporterID == "" {
		t.Fatal("an API forward stored without its reporter")
	}
	if a, err := n.store.ReporterAddress(ctx, r.ReporterID); err != nil || a != "alice@example.net" {
		t.Fatalf("reporter %q %v, want the forward's From", a, err)
	}
	// A message sent as the spam itself has no reporter to take.
	rec, err = n.desk.Submit(ctx, intake.Submission{Channel: intake.ChannelAPI, Raw: read(t, "../../../cmd/accord/testdata/spam.eml"), SubmittedBy: "token:x"})
	if err != nil {
		t.Fatal(err)
	}
	if r, _ := n.store.Report(ctx, rec.Reports[0].ID); r.ReporterID != "" {
		t.Errorf("the spam's own sender taken for its reporter")
	}
}

// TestObservationSaysWhoseFault: the operators' figures see a replay as
// nothing stored, a submitter's mistake (no message, a reused or too long
// idempotency key) as rejected, and a submission the desk failed (closed)
// as neither.
func TestObservationSaysWhoseFault(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "accord.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	var mu sync.Mutex
	var seen []intake.Observation
	n := newNodeOn(t, st, func(o intake.Observation) {
		if !o.Commit {
			mu.Lock()
			seen = append(seen, o)
			mu.Unlock()
		}
	})
	spam := read(t, "forward-inline-gmail.eml")
	sub := func(raw []byte, key string) intake.Observation {
		t.Helper()
		n.desk.Submit(ctx, intake.Submission{Channel: intake.ChannelAPI, Raw: raw, SubmittedBy: "token:t", IdempotencyKey: key})
		mu.Lock()
		defer mu.Unlock()
		return seen[len(seen)-1]
	}
	if o := sub(spam, "k1"); o.Reports == 0 || o.Replayed || o.Rejected || o.Err != nil {
		t.Errorf("first: %+v", o)
	}
	if o := sub(spam, "k1"); o.Reports != 0 || !o.Replayed || o.Rejected || o.Err != nil {
		t.Errorf("replay: %+v", o)
	}
	for name, o := range map[string]intake.Observation{
		"reused key": sub(append([]byte("X-Other: 1\r\n"), spam...), "k1"),
		"long key":   sub(spam, strings.Repeat("k", intake.MaxIdempotencyKey+1)),
		"no message": sub(nil, ""),
	} {
		if !o.Rejected || o.Err == nil || o.Reports != 0 {
			t.Errorf("%s: %+v", name, o)
		}
	}
	n.desk.Close()
	if o := sub(spam, ""); o.Rejected || !errors.Is(o.Err, intake.ErrClosed) {
		t.Errorf("closed desk: %+v", o)
	}
}
