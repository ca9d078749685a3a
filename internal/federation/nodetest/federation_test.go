// Package nodetest runs nodes that cooperate — each with its own SQLite
// store, complaint desk and federation service behind a loopback HTTP
// server — and checks what flows between them.
package nodetest

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/accord-antispam/accord/internal/analysis"
	"github.com/accord-antispam/accord/internal/federation"
	"github.com/accord-antispam/accord/internal/federation/fedhttp"
	"github.com/accord-antispam/accord/internal/intake"
	"github.com/accord-antispam/accord/internal/rules"
	"github.com/accord-antispam/accord/internal/store/sqlite"
	"github.com/accord-antispam/accord/internal/store/sqlstore"
	"github.com/accord-antispam/accord/internal/trace/geo"
)

// clock is shared by the nodes of a test and can be moved.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type node struct {
	name  string
	store *sqlstore.Store
	desk  *intake.Desk
	svc   *federation.Service
	url   string
	pub   string
	rt    *flakyTransport
}

// flakyTransport can lose the answer of the next request after the peer
// has handled it, as a network failure would.
type flakyTransport struct {
	mu         sync.Mutex
	loseAnswer bool
}

func (f *flakyTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	res, err := http.DefaultTransport.RoundTrip(r)
	f.mu.Lock()
	lose := f.loseAnswer
	f.loseAnswer = false
	f.mu.Unlock()
	if lose && err == nil {
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return nil, errors.New("connection reset (the test lost the answer)")
	}
	return res, err
}

func newNode(t testing.TB, c *clock, name, jurisdiction string) *node {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), name+".db"))
	if err != nil {
		t.Fatal(err)
	}
	return newNodeOn(t, c, name, jurisdiction, st)
}

// newNodeOn runs a node over an opened store.
func newNodeOn(t testing.TB, c *clock, name, jurisdiction string, st *sqlstore.Store) *node {
	t.Helper()
	return newNodeInbox(t, c, name, jurisdiction, st, 0)
}

// newNodeInbox runs a node whose inbox takes envelopes of at most
// maxEnvelope bytes (0: the default).
func newNodeInbox(t testing.TB, c *clock, name, jurisdiction string, st *sqlstore.Store, maxEnvelope int64) *node {
	t.Helper()
	return newNodeWith(t, c, name, jurisdiction, st, maxEnvelope, nil)
}

// newNodeWith is newNodeInbox with the inbox's bounds changed by set
// before it serves.
func newNodeWith(t testing.TB, c *clock, name, jurisdiction string, st *sqlstore.Store, maxEnvelope int64, set func(*fedhttp.Inbox)) *node {
	t.Helper()
	return newNodeServer(t, c, name, jurisdiction, st, maxEnvelope, set, nil)
}

// newNodeServer is newNodeWith with the HTTP server's settings changed by
// srv before it starts.
func newNodeServer(t testing.TB, c *clock, name, jurisdiction string, st *sqlstore.Store, maxEnvelope int64, set func(*fedhttp.Inbox), srv func(*http.Server)) *node {
	t.Helper()
	ctx := context.Background()
	lib, err := rules.Embedded()
	if err != nil {
		t.Fatal(err)
	}
	d, err := intake.New(st, &analysis.Analyzer{Rules: lib, Geo: geo.Embedded()}, intake.Options{Secret: []byte("0123456789abcdef0123456789abcdef"), Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	pub, priv, _ := ed25519.GenerateKey(nil)
	rt := &flakyTransport{}
	svc := &federation.Service{Store: st, Source: st, Key: priv, Jurisdiction: jurisdiction, Now: c.Now,
		Transport: &fedhttp.Transport{Client: &http.Client{Transport: rt, Timeout: 30 * time.Second}}}
	if err := svc.Init(ctx); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	in := fedhttp.NewInbox(svc, maxEnvelope, 0, nil)
	if set != nil {
		set(in)
	}
	mux.Handle(fedhttp.InboxPath, in)
	hs := httptest.NewUnstartedServer(mux)
	if srv != nil {
		srv(hs.Config)
	}
	hs.Start()
	t.Cleanup(func() { hs.Close(); d.Close(); st.Close() })
	return &node{name: name, store: st, desk: d, svc: svc, url: hs.URL, pub: base64.StdEncoding.EncodeToString(pub), rt: rt}
}

// know registers other as a peer of n under an agreement.
func (n *node) know(t testing.TB, other *node, jurisdiction, agreement string) {
	t.Helper()
	var a *federation.Agreement
	if agreement != "" {
		var err error
		if a, err = federation.ParseAgreement([]byte(agreement)); err != nil {
			t.Fatal(err)
		}
	}
	if err := n.store.AddPeer(context.Background(), federation.Peer{Name: other.name, URL: other.url, Jurisdiction: jurisdiction,
		Status: federation.StatusActive, Added: n.svc.Now(), Keys: []federation.PeerKey{{Key: other.pub, Status: federation.KeyActive, Added: n.svc.Now()}},
		Agreement: a}); err != nil {
		t.Fatal(err)
	}
}

// spam returns a message relayed from ip to our trusted MX.
func spam(ip, sender, subject, body string, i int) []byte {
	return []byte(fmt.Sprintf("Received: from mx.desk.example (mx.desk.example [10.0.0.5]) by in.desk.example with ESMTP id a%d; Tue, 3 Nov 2026 10:00:02 +0000\r\n"+
		"Received: from relay%d.example ([%s]) by mx.desk.example with SMTP id b%d; Tue, 3 Nov 2026 10:00:01 +0000\r\n"+
		"From: Offers <%s>\r\nTo: victim%d@example.net\r\nSubject: %s\r\nDate: Tue, 3 Nov 2026 10:00:00 +0000\r\nMessage-ID: <%d.%s>\r\n\r\n%s\r\n",
		i, i, ip, i, sender, i, subject, i, strings.ReplaceAll(sender, "@", "."), body))
}

func (n *node) file(t *testing.T, raw []byte, reporter string) intake.Receipted {
	t.Helper()
	rec, err := n.desk.Submit(context.Background(), intake.Submission{Channel: intake.ChannelSMTP, Raw: raw, Reporter: reporter, SubmittedBy: "smtp"})
	if err != nil {
		t.Fatal(err)
	}
	return rec.Reports[0]
}

const (
	frUS = `id = "FR-US-2026"
version = 1
audience = ["us"]
purposes = ["enforcement of anti-spam law"]
legal_basis = "MoU FR-US 2026, art. 3"
share = ["indicators", "campaigns", "reports", "evidence"]
tlp_max = "amber+strict"
personal_data = true
origins = ["US"]
retention_days = 365
`
	frAU = `id = "FR-AU-2026"
version = 1
audience = ["au"]
legal_basis = "MoU FR-AU 2026"
share = ["indicators"]
tlp_max = "green"
origins = ["*"]
`
	back = `id = "REPLY"
version = 1
audience = ["fr"]
share = []
`
)

const pharma = "Cheap meds without prescription. Order today at http://pharma-us.example/order?ref=victim and save up to 80 percent on every order."
const lottery = "You have won the international lottery. Send your bank details to claim the prize at http://lotto-cn.example/claim now."

func keys(items []federation.ReceivedItem) []string {
	var out []string
	for _, it := range items {
		out = append(out, it.Item.Key)
	}
	sort.Strings(out)
	return out
}

func allowed(t *testing.T, n *node, peer string) []string {
	t.Helper()
	lines, err := n.svc.Preview(context.Background(), peer, nil)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range lines {
		if l.Decision.Allow {
			out = append(out, l.Item.Key)
		}
	}
	sort.Strings(out)
	return out
}

func TestThreeAuthorities(t *testing.T) {
	ctx := context.Background()
	c := &clock{t: time.Date(2026, 11, 3, 10, 5, 0, 0, time.UTC)}
	fr, us, au := newNode(t, c, "fr", "FR"), newNode(t, c, "us", "US"), newNode(t, c, "au", "AU")
	fr.know(t, us, "US", frUS)
	fr.know(t, au, "AU", frAU)
	us.know(t, fr, "FR", back)
	au.know(t, fr, "FR", strings.Replace(back, `"fr"]`, `"fr"]`, 1))

	// Reports at FR: a US campaign of three, a Chinese one of two.
	var usReports, cnReports []string
	for i := 0; i < 3; i++ {
		usReports = append(usReports, fr.file(t, spam(fmt.Sprintf("12.0.0.%d", i+1), "deals@pharma-mailer.example", "Cheap meds", pharma, i), fmt.Sprintf("alice%d@example.fr", i)).ID)
	}
	for i := 0; i < 2; i++ {
		cnReports = append(cnReports, fr.file(t, spam(fmt.Sprintf("202.96.128.%d", i+1), "win@lotto-cn.example", "You won", lottery, 10+i), "bob@example.fr").ID)
	}

	// US: exactly what the preview allows, nothing else.
	want := allowed(t, fr, "us")
	res, err := fr.svc.Sync(ctx, "us")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := us.store.Received(ctx, federation.ReceivedFilter{Peer: "fr"})
	if !slices.Equal(keys(got), want) || len(want) == 0 {
		t.Fatalf("US received %v\nthe preview allowed %v", keys(got), want)
	}
	for _, id := range usReports {
		if !slices.Contains(want, "rep:"+id) || !slices.Contains(want, "ev:"+id) {
			t.Errorf("US did not get report %s and its evidence", id)
		}
	}
	for _, it := range got {
		if it.Item.Key == "ind:ipv4-addr:202.96.128.1" || slices.Contains(it.Item.Origins, "CN") {
			t.Errorf("US got an item of Chinese origin: %s", it.Item.Key)
		}
		for _, id := range cnReports {
			if strings.Contains(it.Item.Key, id) {
				t.Errorf("US got %s", it.Item.Key)
			}
		}
		if strings.Contains(string(it.Item.Body), "alice0@example.fr") || strings.Contains(string(it.Item.Body), "?ref=victim") {
			t.Errorf("%s carries the reporter or a tracking query: %s", it.Item.Key, it.Item.Body)
		}
	}
	t.Logf("US received %d items: %v; round: %v", len(got), keys(got), res)
	for _, it := range got {
		if it.Terms.Agreement != "FR-US-2026" || it.Terms.RetentionDays != 365 || it.Terms.OnwardSharing || !it.ExpiresAt.Equal(c.Now().AddDate(0, 0, 365)) {
			t.Errorf("%s came without the agreement's terms: %+v, expires %s", it.Item.Key, it.Terms, it.ExpiresAt)
			break
		}
	}
	if res.Withheld["origins"] == 0 {
		t.Errorf("the round does not say what origins withheld: %v", res)
	}

	// AU: indicators only, of every origin; no evidence, no reports.
	if _, err := fr.svc.Sync(ctx, "au"); err != nil {
		t.Fatal(err)
	}
	got, _ = au.store.Received(ctx, federation.ReceivedFilter{Peer: "fr"})
	if len(got) == 0 {
		t.Fatal("AU received nothing")
	}
	sawCN := false
	for _, it := range got {
		if it.Item.Kind != federation.KindIndicators {
			t.Errorf("AU received a %s: %s", it.Item.Kind, it.Item.Key)
		}
		sawCN = sawCN || it.Item.Key == "ind:ipv4-addr:202.96.128.1"
	}
	if !sawCN {
		t.Error("AU's agreement covers every origin, but the Chinese origin IP did not reach it")
	}

	// Again: nothing new, nothing sent twice.
	res, err = fr.svc.Sync(ctx, "us")
	if err != nil || res.Envelopes != 0 || res.Unchanged != len(want) {
		t.Errorf("second round: %v %v", res, err)
	}

	// A new report changes its campaign summary; only the changes go.
	fr.file(t, spam("12.0.0.9", "deals@pharma-mailer.example", "Cheap meds", pharma, 9), "carol@example.fr")
	res, err = fr.svc.Sync(ctx, "us")
	if err != nil || res.Envelopes != 1 || res.Items == 0 || res.Items >= len(want) {
		t.Errorf("incremental round: %v %v", res, err)
	}

	// Both custody logs of the link agree and verify.
	out, err := fr.svc.VerifyCustody(ctx, "us")
	if err != nil || len(out.Problems) > 0 {
		t.Fatalf("FR's custody: %v %v", out.Problems, err)
	}
	in, err := us.svc.VerifyCustody(ctx, "fr")
	if err != nil || len(in.Problems) > 0 {
		t.Fatalf("US's custody: %v %v", in.Problems, err)
	}
	if out.Out.Root != in.In.Root || out.Out.Size != in.In.Size || out.Out.Size == 0 || in.In.Checkpoint.ReceiverSignature == "" {
		t.Fatalf("the logs disagree: FR sent %d/%s, US received %d/%s", out.Out.Size, out.Out.Root, in.In.Size, in.In.Root)
	}

	// Mutual assistance: FR asks US for information.
	req, err := fr.svc.NewRequest(ctx, "us", federation.TypeInformation, "Who operates pharma-us.example?", "Subscriber data for 12.0.0.0/24, please.", "", "", "ana")
	if err != nil {
		t.Fatal(err)
	}
	if !req.Deadline.Equal(c.Now().AddDate(0, 0, 30)) {
		t.Errorf("deadline %s, want 30 days", req.Deadline)
	}
	sync := func(from *node, to string) {
		t.Helper()
		if _, err := from.svc.Sync(ctx, to); err != nil {
			t.Fatalf("%s → %s: %v", from.name, to, err)
		}
	}
	state := func(n *node) federation.State {
		t.Helper()
		r, err := n.store.Request(ctx, req.ID)
		if err != nil {
			t.Fatalf("%s: %v", n.name, err)
		}
		return r.State
	}
	sync(fr, "us")
	if s := state(us); s != federation.StateAcknowledged {
		t.Fatalf("at US: %s", s)
	}
	sync(us, "fr")
	if s := state(fr); s != federation.StateAcknowledged {
		t.Fatalf("at FR after the acknowledgement: %s", s)
	}
	if _, err := us.svc.Transition(ctx, req.ID, federation.ActAccept, "", "bob"); err != nil {
		t.Fatal(err)
	}
	if _, err := fr.svc.Transition(ctx, req.ID, federation.ActAccept, "", "ana"); err == nil {
		t.Error("the requester accepted its own request")
	}
	sync(us, "fr")
	c.Add(31 * 24 * time.Hour)
	r, _ := fr.store.Request(ctx, req.ID)
	if r.State != federation.StateAccepted || !r.Overdue(c.Now()) {
		t.Fatalf("after 31 days: %s, overdue %v", r.State, r.Overdue(c.Now()))
	}
	if _, err := us.svc.Transition(ctx, req.ID, federation.ActSupply, "Registrant: Example Pharma LLC, Delaware.", "bob"); err != nil {
		t.Fatal(err)
	}
	sync(us, "fr")
	r, _ = fr.store.Request(ctx, req.ID)
	if r.State != federation.StateInformation || r.Overdue(c.Now()) || r.Events[len(r.Events)-1].Note != "Registrant: Example Pharma LLC, Delaware." {
		t.Fatalf("after the answer: %+v", r)
	}
	if _, err := fr.svc.Transition(ctx, req.ID, federation.ActClose, "thanks", "ana"); err != nil {
		t.Fatal(err)
	}
	sync(fr, "us")
	if s := state(us); s != federation.StateClosed {
		t.Errorf("at US after closing: %s", s)
	}
	for _, pair := range [][2]*node{{fr, us}, {us, fr}} {
		a, _ := pair[0].svc.VerifyCustody(ctx, pair[1].name)
		b, _ := pair[1].svc.VerifyCustody(ctx, pair[0].name)
		if len(a.Problems)+len(b.Problems) > 0 || a.Out.Root != b.In.Root || a.Out.Size != b.In.Size {
			t.Errorf("%s→%s logs: %v %v, %d/%d", pair[0].name, pair[1].name, a.Problems, b.Problems, a.Out.Size, b.In.Size)
		}
	}
}

func TestEmptyAudienceSharesNothing(t *testing.T) {
	ctx := context.Background()
	c := &clock{t: time.Date(2026, 11, 3, 10, 5, 0, 0, time.UTC)}
	fr, de := newNode(t, c, "fr", "FR"), newNode(t, c, "de", "DE")
	fr.know(t, de, "DE", strings.NewReplacer(`audience = ["us"]`, `audience = []`, `origins = ["US"]`, `origins = ["*"]`).Replace(frUS))
	de.know(t, fr, "FR", back)
	fr.file(t, spam("46.4.0.1", "x@spam-de.example", "Angebot", pharma, 1), "a@example.fr")
	lines, err := fr.svc.Preview(ctx, "de", nil)
	if err != nil || len(lines) == 0 {
		t.Fatalf("preview %v %v", lines, err)
	}
	for _, l := range lines {
		if l.Decision.Allow || l.Decision.Clause != "audience" {
			t.Fatalf("%s: %v", l.Item.Key, l.Decision)
		}
	}
	res, err := fr.svc.Sync(ctx, "de")
	if err != nil || res.Envelopes != 0 {
		t.Fatalf("sync %v %v", res, err)
	}
	if got, _ := de.store.Received(ctx, federation.ReceivedFilter{}); len(got) != 0 {
		t.Fatalf("DE received %d items", len(got))
	}
}

func TestRefusedEnvelopesStoreNothing(t *testing.T) {
	ctx := context.Background()
	c := &clock{t: time.Date(2026, 11, 3, 10, 5, 0, 0, time.UTC)}
	fr, us := newNode(t, c, "fr", "FR"), newNode(t, c, "us", "US")
	fr.know(t, us, "US", frUS)
	us.know(t, fr, "FR", back)
	fr.file(t, spam("12.0.0.1", "deals@pharma-mailer.example", "Cheap meds", pharma, 1), "a@example.fr")

	// A node US does not know.
	mallory := newNode(t, c, "mallory", "XX")
	mallory.know(t, us, "US", frUS)
	mallory.file(t, spam("12.0.0.2", "deals@pharma-mailer.example", "Cheap meds", pharma, 2), "m@example.org")
	if _, err := mallory.svc.Sync(ctx, "us"); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Errorf("unknown key: %v", err)
	}
	// A revoked key.
	if err := us.store.SetKeyStatus(ctx, "fr", fr.pub, federation.KeyRevoked, c.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := fr.svc.Sync(ctx, "us"); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Errorf("revoked key: %v", err)
	}
	// A suspended peer on the sending side sends nothing.
	us.store.SetKeyStatus(ctx, "fr", fr.pub, federation.KeyActive, c.Now())
	fr.store.SetPeerStatus(ctx, "us", federation.StatusSuspended, c.Now())
	if _, err := fr.svc.Sync(ctx, "us"); err == nil {
		t.Error("sent to a suspended peer")
	}
	// FR itself, signing properly, with one malformed item beside a good
	// one: the envelope is refused whole.
	us.store.SetKeyStatus(ctx, "fr", fr.pub, federation.KeyActive, c.Now())
	good := federation.Item{Key: "ind:domain-name:pharma-us.example", Kind: federation.KindIndicators, TLP: federation.TLPGreen, Body: []byte(`{}`)}
	bad := federation.Item{Key: "ind:domain-name:x\x1b]0;owned\x07.example", Kind: federation.KindIndicators, TLP: federation.TLPGreen, Body: []byte(`{}`)}
	good.Hash, bad.Hash = federation.HashBody(good.Body), federation.HashBody(bad.Body)
	pk, err := federation.BuildPackage(fr.svc.Key, "indicators", []federation.Item{good, bad}, map[string]bool{good.Key: true, bad.Key: true}, c.Now())
	if err != nil {
		t.Fatal(err)
	}
	// With a checkpoint of the link as FR's own log would have it, so only
	// the item's form can refuse it.
	pl := federation.Payload{Packages: []federation.Package{pk}}
	var leaves [][]byte
	for _, e := range federation.EnvelopeLeaves(1, &pl, c.Now()) {
		leaves = append(leaves, e.Leaf)
	}
	pl.Checkpoint = federation.Checkpoint{From: fr.pub, To: us.pub, Seq: 1, Size: uint64(len(leaves)), Root: hex.EncodeToString(federation.Root(leaves)), Time: c.Now()}
	pl.Checkpoint.SenderSignature = base64.StdEncoding.EncodeToString(ed25519.Sign(fr.svc.Key, pl.Checkpoint.Statement()))
	payload, _ := json.Marshal(pl)
	sealed, err := federation.Seal(fr.svc.Key, federation.Envelope{Type: federation.TypeSync, To: us.pub, Seq: 1, Time: c.Now()}, payload)
	if err != nil {
		t.Fatal(err)
	}
	if res, err := http.Post(us.url+fedhttp.InboxPath, "application/json", bytes.NewReader(sealed)); err != nil || res.StatusCode != http.StatusBadRequest {
		t.Errorf("an envelope with a malformed item: %v %v", res, err)
	} else {
		res.Body.Close()
	}
	fr.store.SetPeerStatus(ctx, "us", federation.StatusSuspended, c.Now())
	if got, _ := us.store.Received(ctx, federation.ReceivedFilter{}); len(got) != 0 {
		t.Fatalf("US stored %d items from refused envelopes", len(got))
	}
	if l, _ := us.store.Link(ctx, "fr"); l.InSeq != 0 {
		t.Errorf("US advanced its sequence: %+v", l)
	}
	// A stolen envelope, replayed: refused, nothing changes.
	fr.store.SetPeerStatus(ctx, "us", federation.StatusActive, c.Now())
	var captured []byte
	capture := &captureTransport{next: http.DefaultTransport, got: &captured}
	fr.svc.Transport = &fedhttp.Transport{Client: &http.Client{Transport: capture}}
	if _, err := fr.svc.Sync(ctx, "us"); err != nil {
		t.Fatal(err)
	}
	before, _ := us.store.Log(ctx, "fr", federation.In)
	res, err := http.Post(us.url+fedhttp.InboxPath, "application/json", strings.NewReader(string(captured)))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	after, _ := us.store.Log(ctx, "fr", federation.In)
	if res.StatusCode != http.StatusConflict || len(after) != len(before) {
		t.Errorf("replay: %d, log %d → %d", res.StatusCode, len(before), len(after))
	}
	// The same envelope with its payload changed in transit.
	tampered := strings.Replace(string(captured), `"payload":"ey`, `"payload":"eX`, 1)
	res, _ = http.Post(us.url+fedhttp.InboxPath, "application/json", strings.NewReader(tampered))
	res.Body.Close()
	if res.StatusCode == http.StatusOK {
		t.Error("a tampered envelope was accepted")
	}
}

type captureTransport struct {
	next http.RoundTripper
	got  *[]byte
}

func (c *captureTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	b, _ := io.ReadAll(r.Body)
	*c.got = b
	r.Body = io.NopCloser(strings.NewReader(string(b)))
	return c.next.RoundTrip(r)
}

// A delivery whose answer is lost is sent again as it was, and both logs
// still agree: nothing twice, nothing missing.
func TestLostAnswerIsResumed(t *testing.T) {
	ctx := context.Background()
	c := &clock{t: time.Date(2026, 11, 3, 10, 5, 0, 0, time.UTC)}
	fr, us := newNode(t, c, "fr", "FR"), newNode(t, c, "us", "US")
	fr.know(t, us, "US", frUS)
	us.know(t, fr, "FR", back)
	fr.file(t, spam("12.0.0.1", "deals@pharma-mailer.example", "Cheap meds", pharma, 1), "a@example.fr")
	fr.rt.loseAnswer = true
	if _, err := fr.svc.Sync(ctx, "us"); err == nil {
		t.Fatal("the lost answer went unnoticed")
	}
	if got, _ := us.store.Received(ctx, federation.ReceivedFilter{}); len(got) == 0 {
		t.Fatal("the envelope did not reach US")
	}
	c.Add(time.Hour) // later, after the network is back
	fr.file(t, spam("12.0.0.2", "deals@pharma-mailer.example", "Cheap meds", pharma, 2), "b@example.fr")
	res, err := fr.svc.Sync(ctx, "us")
	if err != nil || res.Resumed == 0 || res.Envelopes != 1 || res.Dropped != 0 {
		t.Fatalf("resume: %v %v", res, err)
	}
	a, _ := fr.svc.VerifyCustody(ctx, "us")
	b, _ := us.svc.VerifyCustody(ctx, "fr")
	if len(a.Problems)+len(b.Problems) > 0 || a.Out.Root != b.In.Root {
		t.Fatalf("after resuming: %v %v; %s vs %s", a.Problems, b.Problems, a.Out.Root, b.In.Root)
	}
	if l, _ := fr.store.Link(ctx, "us"); l.OutSeq != 2 {
		t.Errorf("link %+v", l)
	}
}
