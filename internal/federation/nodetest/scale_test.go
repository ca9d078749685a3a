package nodetest

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"modernc.org/sqlite"

	"github.com/accord-antispam/accord/internal/access"
	"github.com/accord-antispam/accord/internal/federation/stix"
	"github.com/accord-antispam/accord/internal/intake"
	"github.com/accord-antispam/accord/internal/store/sqlstore"
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

// fill files campaigns x per reports at the node, concurrently.
func fill(tb testing.TB, n *node, campaigns, per int) {
	tb.Helper()
	ctx := context.Background()
	var wg sync.WaitGroup
	jobs := make(chan [2]int)
	var failed atomic.Value
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				_, err := n.desk.Submit(ctx, intake.Submission{Channel: intake.ChannelSMTP, Raw: scaleMessage(j[0], j[1]),
					Reporter: fmt.Sprintf("reporter%d@example.fr", j[1]), SubmittedBy: "smtp"})
				if err != nil {
					failed.Store(err)
				}
			}
		}()
	}
	for i := 0; i < per; i++ {
		for c := 0; c < campaigns; c++ {
			jobs <- [2]int{c, i}
		}
	}
	close(jobs)
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		tb.Fatal(err)
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
		b.Logf("filed 10,000 reports in %s", time.Since(start).Round(time.Millisecond))
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
		var us []*node
		for i := 0; i < b.N+1; i++ {
			us = append(us, addPeer())
		}
		i := 0
		queries(b, func() {
			i++
			res, err := fr.svc.Sync(ctx, us[i].name)
			if err != nil || res.Items == 0 {
				b.Fatal(res, err)
			}
		})
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
	tx := &stix.TAXII{Fed: fr.svc, Tokens: fr.store, Mapper: &stix.Mapper{NodeKey: fr.pub, NodeName: "FR authority", Created: time.Now()}, Title: "FR"}
	mux := http.NewServeMux()
	mux.Handle(stix.Prefix, tx.Handler())
	srv := httptest.NewServer(mux)
	b.Cleanup(srv.Close)
	return srv.URL, token(b, fr, access.Peer, peer)
}

func scaleCollection(fr *node, peer string) string {
	tx := &stix.TAXII{Mapper: &stix.Mapper{NodeKey: fr.pub}}
	return tx.CollectionID(peer)
}
