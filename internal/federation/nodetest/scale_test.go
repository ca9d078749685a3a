package nodetest

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"database/sql/driver"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"modernc.org/sqlite"

	"github.com/accord-antispam/accord/internal/access"
	"github.com/accord-antispam/accord/internal/analysis"
	"github.com/accord-antispam/accord/internal/campaign"
	"github.com/accord-antispam/accord/internal/intake"
	"github.com/accord-antispam/accord/internal/mail"
	"github.com/accord-antispam/accord/internal/rules"
	"github.com/accord-antispam/accord/internal/store/sqlstore"
	"github.com/accord-antispam/accord/internal/trace/geo"
)

// counter counts the SQL statements a store sends to its database, so a
// benchmark can say how many queries an operation costs.
type counter struct{ n atomic.Int64 }

type countingDriver struct {
	d driver.Driver
	c *counter
}

func (d countingDriver) Open(name string) (driver.Conn, error) {
	c, err := d.d.Open(name)
	if err != nil {
		return nil, err
	}
	return &countingConn{c.(connAll), d.c}, nil
}

type connAll interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ExecerContext
	driver.QueryerContext
	driver.ConnPrepareContext
}

type countingConn struct {
	connAll
	c *counter
}

func (c *countingConn) ExecContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Result, error) {
	c.c.n.Add(1)
	return c.connAll.ExecContext(ctx, q, args)
}

func (c *countingConn) QueryContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	c.c.n.Add(1)
	return c.connAll.QueryContext(ctx, q, args)
}

var registerCounting sync.Once
var sqlCounter = &counter{}

// openCounted opens a SQLite store whose statements are counted.
func openCounted(ctx context.Context, path string) (*sqlstore.Store, error) {
	registerCounting.Do(func() { sql.Register("sqlite-counted", countingDriver{&sqlite.Driver{}, sqlCounter}) })
	db, err := sql.Open("sqlite-counted", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=busy_timeout(10000)&_txlock=immediate")
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(sqlstore.SQLite.Concurrency)
	return sqlstore.Open(ctx, db, sqlstore.SQLite)
}

// campaignText is the body of campaign c: words of its own, so each
// campaign is a distinct spam run, with a link on its own domain.
func campaignText(c int) string {
	r := rand.New(rand.NewPCG(uint64(c), 7))
	const letters = "abcdefghijklmnoprstuvw"
	var words []string
	for i := 0; i < 60; i++ {
		n := 4 + r.IntN(6)
		var b strings.Builder
		for j := 0; j < n; j++ {
			b.WriteByte(letters[r.IntN(len(letters))])
		}
		words = append(words, b.String())
	}
	return strings.Join(words, " ")
}

// origins of the generated reports: networks registered in four countries.
var scaleOrigins = []string{"12.0.%d.%d", "202.96.%d.%d", "46.4.%d.%d", "80.12.%d.%d"}

// scaleMessage is report i of campaign c.
func scaleMessage(c, i int) []byte {
	ip := fmt.Sprintf(scaleOrigins[c%len(scaleOrigins)], 1+c%200, 1+i%250)
	return []byte(fmt.Sprintf("Received: from mx.desk.example (mx.desk.example [10.0.0.5]) by in.desk.example with ESMTP id a%d; Tue, 3 Nov 2026 10:00:02 +0000\r\n"+
		"Received: from relay%d.example ([%s]) by mx.desk.example with SMTP id b%d; Tue, 3 Nov 2026 10:00:01 +0000\r\n"+
		"From: Offers <sales@camp%d.example>\r\nTo: victim%d@example.net\r\nSubject: Offer %d for you\r\nDate: Tue, 3 Nov 2026 10:00:00 +0000\r\nMessage-ID: <%d.%d@camp%d.example>\r\n\r\n"+
		"%s. Order now at http://shop%d.example/offer/%d and save.\r\n",
		i, i, ip, i, c, i, c, c, i, c, campaignText(c), c, i%3))
}

// fill stores campaigns x per reports at the node straight through its
// store: each campaign's first message is analysed, and its verdict,
// with the origin address of each report, stands for the others (filing
// 10,000 messages through the desk's analysis would take minutes and
// measure the desk, not the federation).
func fill(tb testing.TB, n *node, campaigns, per int) {
	tb.Helper()
	fillWith(tb, n, campaigns, per, scaleMessage)
}

// fillWith is fill with message i of campaign c made by msg.
func fillWith(tb testing.TB, n *node, campaigns, per int, msg func(c, i int) []byte) {
	tb.Helper()
	ctx := context.Background()
	lib, err := rules.Embedded()
	if err != nil {
		tb.Fatal(err)
	}
	g := geo.Embedded()
	an := &analysis.Analyzer{Rules: lib, Geo: g}
	at := n.svc.Now()
	founded := map[string]bool{}
	assign := func(_ context.Context, _ campaign.Index, r *intake.Report) error {
		r.CampaignNew = !founded[r.CampaignID]
		founded[r.CampaignID] = true
		r.CampaignWhy = "generated"
		return nil
	}
	for c := 0; c < campaigns; c++ {
		v0, err := an.Analyze(ctx, analysis.Input{Message: mail.ParseBytes(msg(c, 0), mail.Limits{})})
		if err != nil {
			tb.Fatal(err)
		}
		tmpl, _ := json.Marshal(v0)
		sig := analysis.CampaignSignature(v0)
		var batches []*intake.Batch
		for i := 0; i < per; i++ {
			raw := msg(c, i)
			var v analysis.Verdict
			json.Unmarshal(tmpl, &v)
			ip := fmt.Sprintf(scaleOrigins[c%len(scaleOrigins)], 1+c%200, 1+i%250)
			v.Origin.IP = ip
			v.Origin.Country = g.Country(netip.MustParseAddr(ip))
			sum := sha256.Sum256(raw)
			id := fmt.Sprintf("r%03d%05d", c, i)
			reporter := fmt.Sprintf("reporter%d@example.fr", i)
			rep := &intake.Reporter{ID: "p" + hex.EncodeToString(sum[:8]), Address: reporter}
			cpl := &intake.Complaint{ID: "k" + id, ReceivedAt: at.Add(time.Duration(c*per+i) * time.Second), Channel: intake.ChannelSMTP, Raw: raw,
				SHA256: hex.EncodeToString(sum[:]), ReporterID: rep.ID}
			r := &intake.Report{ID: id, ComplaintID: cpl.ID, ReceivedAt: cpl.ReceivedAt, Channel: intake.ChannelSMTP, Form: intake.FormRaw, Raw: raw,
				SHA256: cpl.SHA256, ReporterID: rep.ID, SubmittedBy: "smtp", StatusHash: cpl.SHA256, Verdict: &v, Signature: sig,
				CampaignID: fmt.Sprintf("c-%04d", c)}
			batches = append(batches, &intake.Batch{Complaint: cpl, Reporter: rep, Reports: []*intake.Report{r},
				Custody: []intake.CustodyEntry{{ReportID: id, At: cpl.ReceivedAt, Actor: "smtp", Action: "received", Detail: "generated"}}})
		}
		if err := n.store.Commit(ctx, batches, assign); err != nil {
			tb.Fatal(err)
		}
	}
}

// scaleNode is FR with 10,000 reports (100 campaigns of 100), its store's
// statements counted; built once per test binary.
var scale struct {
	once sync.Once
	c    *clock
	fr   *node
	err  error
}

func scaleFR(b *testing.B) (*clock, *node) {
	scale.once.Do(func() {
		ctx := context.Background()
		dir, err := os.MkdirTemp("", "accord-scale")
		if err != nil {
			scale.err = err
			return
		}
		st, err := openCounted(ctx, filepath.Join(dir, "fr.db"))
		if err != nil {
			scale.err = err
			return
		}
		scale.c = &clock{t: time.Date(2026, 11, 3, 10, 5, 0, 0, time.UTC)}
		scale.fr = newNodeOn(&keepAlive{b}, scale.c, "fr", "FR", st)
		start := time.Now()
		fill(b, scale.fr, 100, 100)
		b.Logf("stored 10,000 reports in %s", time.Since(start).Round(time.Millisecond))
	})
	if scale.err != nil {
		b.Fatal(scale.err)
	}
	return scale.c, scale.fr
}

// keepAlive lets the shared node outlive the benchmark that built it.
type keepAlive struct{ testing.TB }

func (k *keepAlive) Cleanup(func())  {}
func (k *keepAlive) TempDir() string { d, _ := os.MkdirTemp("", "accord-scale"); return d }

const scaleAgreement = `id = "FR-US-2026"
version = 1
audience = ["%s"]
share = ["indicators", "campaigns", "reports", "statistics"]
tlp_max = "amber"
origins = ["*"]
`

// BenchmarkScale10k: at a node holding 10,000 reports, one sync round to
// a new peer (everything goes), one round with nothing new, and one page
// of the peer's TAXII collection; time and SQL statements per operation.
//
//	go test -run X -bench Scale10k -benchtime 3x ./internal/federation/nodetest/
func BenchmarkScale10k(b *testing.B) {
	ctx := context.Background()
	c, fr := scaleFR(b)
	peers := 0
	addPeer := func() *node {
		peers++
		name := fmt.Sprintf("us%d", peers)
		us := newNode(b, c, name, "US")
		fr.know(b, us, "US", fmt.Sprintf(scaleAgreement, name))
		us.know(b, fr, "FR", strings.Replace(back, `"fr"`, `"fr"`, 1))
		return us
	}
	queries := func(b *testing.B, f func()) {
		before := sqlCounter.n.Load()
		for b.Loop() {
			f()
		}
		b.ReportMetric(float64(sqlCounter.n.Load()-before)/float64(b.N), "queries/op")
	}
	b.Run("sync-first-round", func(b *testing.B) {
		// Each round goes to a new peer (everything is new to it); making
		// the peer is not timed, nor counted.
		var q int64
		for b.Loop() {
			b.StopTimer()
			us := addPeer()
			b.StartTimer()
			before := sqlCounter.n.Load()
			res, err := fr.svc.Sync(ctx, us.name)
			q += sqlCounter.n.Load() - before
			if err != nil || res.Items == 0 {
				b.Fatal(res, err)
			}
		}
		b.ReportMetric(float64(q)/float64(b.N), "queries/op")
	})
	us := addPeer()
	if _, err := fr.svc.Sync(ctx, us.name); err != nil {
		b.Fatal(err)
	}
	b.Run("sync-nothing-new", func(b *testing.B) {
		queries(b, func() {
			res, err := fr.svc.Sync(ctx, us.name)
			if err != nil || res.Items != 0 {
				b.Fatal(res, err)
			}
		})
	})
	srv, tok := scaleTAXII(b, fr, us.name)
	// The collections are brought up to date by the round (serve's
	// schedule) or by the first page after a change; a page itself reads.
	start, q0 := time.Now(), sqlCounter.n.Load()
	if r := taxiiGet(b, srv+"/taxii2/api/collections/"+scaleCollection(fr, us.name)+"/objects/?limit=1", tok, "application/taxii+json;version=2.1"); r.status != 200 {
		b.Fatal(r.status, string(r.raw))
	}
	b.Logf("first publication of the collections (mapping every item once): %s, %d statements", time.Since(start).Round(time.Millisecond), sqlCounter.n.Load()-q0)
	b.Run("taxii-page", func(b *testing.B) {
		queries(b, func() {
			r := taxiiGet(b, srv+"/taxii2/api/collections/"+scaleCollection(fr, us.name)+"/objects/?limit=100", tok, "application/taxii+json;version=2.1")
			if r.status != 200 {
				b.Fatal(r.status, string(r.raw))
			}
		})
	})
}

func scaleTAXII(b *testing.B, fr *node, peer string) (string, string) {
	_, srv := taxiiServer(b, fr, scale.c)
	return srv, token(b, fr, access.Peer, peer)
}

func scaleCollection(fr *node, peer string) string {
	p, _ := fr.store.Peer(context.Background(), peer)
	return p.Collection
}
