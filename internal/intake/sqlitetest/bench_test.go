package sqlitetest

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/accord-antispam/accord/internal/intake"
	"github.com/accord-antispam/accord/internal/store/postgres"
	"github.com/accord-antispam/accord/internal/store/sqlite"
	"github.com/accord-antispam/accord/internal/store/sqlstore"
)

func BenchmarkExtractForward(b *testing.B) {
	raw := read(b, "forward-two-attached.eml")
	for b.Loop() {
		if _, err := intake.Extract(raw, intake.Via{Mailbox: true}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSubmit is the desk end to end: extraction, analysis, campaign
// assignment and a durable (synchronous) commit, with as many reporters at
// once as GOMAXPROCS×4, so group commit can work — on SQLite, and on
// PostgreSQL when ACCORD_POSTGRES_DSN names a server (test.sh and
// bench/loadtest.sh start one), each run in a fresh schema. Every message
// is distinct and shaped like real traffic (realisticMessage: runs of
// several kinds of spam, variants within each, their own senders, domains
// and relays), or is the real corpus when ACCORD_CORPUS names it: reports
// join their run's campaign or found one, as at a real desk, and the
// campaigns/report figure says so. ms/commit and complaints/commit are the
// group commits' own figures (the store's share of a submission).
func BenchmarkSubmit(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) {
		st, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "accord.db"))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { st.Close() })
		benchSubmit(b, st)
	})
	b.Run("postgres", func(b *testing.B) {
		benchSubmit(b, postgresStores(b, 1)...)
	})
	// The commit that takes the custody head before reading the campaigns
	// (where a commit ends when its snapshots keep meeting new campaigns).
	b.Run("postgres-lockfirst", func(b *testing.B) {
		st := postgresStores(b, 1)[0]
		st.LockFirst()
		benchSubmit(b, st)
	})
	// Two desks on one database, as two serve processes behind a load
	// balancer: submissions alternate between them.
	b.Run("postgres-2instances", func(b *testing.B) {
		benchSubmit(b, postgresStores(b, 2)...)
	})
	b.Run("postgres-2instances-lockfirst", func(b *testing.B) {
		sts := postgresStores(b, 2)
		for _, st := range sts {
			st.LockFirst()
		}
		benchSubmit(b, sts...)
	})
}

func benchSubmit[S intake.Store](b *testing.B, stores ...S) {
	var commits, complaints, commitNanos atomic.Int64
	var nodes []node
	for _, st := range stores {
		nodes = append(nodes, newNodeOn(b, st, func(o intake.Observation) {
			if o.Commit {
				commits.Add(1)
				complaints.Add(int64(o.Reports))
				commitNanos.Add(int64(o.Duration))
			}
		}))
	}
	ctx := context.Background()
	corpus := corpusSpam(b)
	wal := walBytes(b, stores[0])
	b.SetParallelism(4)
	b.ResetTimer()
	var seq atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := int(seq.Add(1))
			msg := realisticMessage(i)
			if len(corpus) > 0 {
				msg = corpus[i%len(corpus)]
			}
			if _, err := nodes[i%len(nodes)].desk.Submit(ctx, intake.Submission{Channel: intake.ChannelAPI, Raw: msg, SubmittedBy: "token:b"}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "reports/s")
	if wal != nil {
		b.ReportMetric(float64(wal())/1024/float64(b.N), "WAL-KB/report")
	}
	c := commits.Load()
	if c > 0 {
		b.ReportMetric(float64(commitNanos.Load())/float64(c)/1e6, "ms/commit")
		b.ReportMetric(float64(complaints.Load())/float64(c), "complaints/commit")
	}
	var again, locked int64
	for _, st := range stores {
		if r, ok := any(st).(interface{ CommitRetries() (int64, int64) }); ok {
			a, l := r.CommitRetries()
			again, locked = again+a, locked+l
		}
	}
	if c > 0 {
		b.ReportMetric(float64(again)/float64(c), "retries/commit")
		b.ReportMetric(float64(locked)/float64(c), "locked/commit")
	}
	if st, err := nodes[0].desk.Store().Stats(ctx); err == nil && st.Reports > 0 {
		b.ReportMetric(float64(st.Campaigns)/float64(st.Reports), "campaigns/report")
	}
}

// walBytes, on PostgreSQL, starts counting the write-ahead log the server
// writes (each report's message is in it once, with its analysis and
// rows: what a commit costs the server's disk); nil on SQLite.
func walBytes(b *testing.B, st any) func() int64 {
	s, ok := st.(*sqlstore.Store)
	if !ok || !s.SnapshotCommits() {
		return nil
	}
	var start string
	if err := s.DB().QueryRow(`SELECT pg_current_wal_lsn()::text`).Scan(&start); err != nil {
		b.Fatal(err)
	}
	return func() int64 {
		var n float64
		if err := s.DB().QueryRow(`SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1::pg_lsn)`, start).Scan(&n); err != nil {
			b.Fatal(err)
		}
		return int64(n)
	}
}

// postgresStores opens n stores on one fresh schema of the PostgreSQL
// that ACCORD_POSTGRES_DSN names, or skips.
func postgresStores(b *testing.B, n int) []*sqlstore.Store {
	dsn := os.Getenv("ACCORD_POSTGRES_DSN")
	if dsn == "" {
		b.Skip("ACCORD_POSTGRES_DSN not set (test.sh and bench/loadtest.sh start a PostgreSQL)")
	}
	schema := fmt.Sprintf("bench%d_%d", os.Getpid(), time.Now().UnixNano()%1e9)
	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer admin.Close()
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if a, err := sql.Open("pgx", dsn); err == nil {
			a.Exec("DROP SCHEMA " + schema + " CASCADE")
			a.Close()
		}
	})
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	var out []*sqlstore.Store
	for range n {
		st, err := postgres.Open(context.Background(), dsn+sep+"search_path="+schema)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { st.Close() })
		out = append(out, st)
	}
	return out
}

// corpusSpam reads up to 2,000 spam of the public corpus when
// ACCORD_CORPUS names its folder (bench/corpus.sh), else nothing.
func corpusSpam(b *testing.B) [][]byte {
	dir := os.Getenv("ACCORD_CORPUS")
	if dir == "" {
		return nil
	}
	idx, err := os.ReadFile(filepath.Join(dir, "index"))
	if err != nil {
		b.Fatal(err)
	}
	var out [][]byte
	for _, line := range strings.Split(strings.TrimSpace(string(idx)), "\n") {
		label, path, _ := strings.Cut(line, " ")
		if label != "spam" {
			continue
		}
		if m, err := os.ReadFile(filepath.Join(dir, path)); err == nil {
			out = append(out, m)
		}
		if len(out) == 2000 {
			break
		}
	}
	return out
}

// realisticMessage is message i of a synthetic stream of distinct spam:
// about one in five starts a new run (its own kind, text, sender domain,
// link domain and relay), the others are variants of an earlier run.
func realisticMessage(i int) []byte {
	r := rand.New(rand.NewPCG(uint64(i), 3))
	run := i
	if i > 1 && r.IntN(5) != 0 {
		run = r.IntN(i)
	}
	rr := rand.New(rand.NewPCG(uint64(run), 5))
	k := benchKinds[rr.IntN(len(benchKinds))]
	var body strings.Builder
	for s := 0; s < 5; s++ {
		if r.IntN(5) == 0 {
			continue
		}
		body.WriteString(k.lines[rr.IntN(len(k.lines))] + "\r\n")
	}
	fmt.Fprintf(&body, "Your personal code: %d-%d\r\nhttp://%s%d.example/%s?id=%d\r\n", run, r.IntN(1e6), k.stem, run, k.stem, r.IntN(1e9))
	return []byte(fmt.Sprintf("Received: from mx.isp.example (mx.isp.example [192.0.2.10]) by inbox.example.net with ESMTP id q%d; Tue, 3 Nov 2026 10:00:02 +0000\r\n"+
		"Received: from relay%d.%s.example (relay%d.%s.example [198.51.%d.%d]) by mx.isp.example with SMTP id p%d; Tue, 3 Nov 2026 10:00:01 +0000\r\n"+
		"From: %s <news@%s%d.example>\r\nTo: you%d@example.net\r\nSubject: %s %d\r\nDate: Tue, 3 Nov 2026 10:00:00 +0000\r\n"+
		"Message-ID: <%d.%d@%s%d.example>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s",
		i, run%50, k.stem, run%50, k.stem, run%200, 1+run%250, i, k.name, k.stem, run, i, k.subject, r.IntN(100), i, run, k.stem, run, body.String()))
}

var benchKinds = []struct {
	stem, name, subject string
	lines               []string
}{
	{"pharm", "Online Pharmacy", "Save on your prescriptions", []string{"Get the best prices on your prescriptions today.", "Save up to 80% on brand medication.",
		"Discreet worldwide shipping in 48 hours.", "Our licensed pharmacists are available around the clock.", "Order now and receive free pills with every order."}},
	{"loans", "Loan Center", "You are pre-approved", []string{"You are pre-approved for a loan of up to $50,000.", "Refinance your mortgage at the lowest rate of the year.",
		"Bad credit is not a problem for our lenders.", "Funds deposited within 24 hours of approval.", "Apply in minutes from your phone."}},
	{"coin", "Crypto Club", "Double your Bitcoin", []string{"Double your Bitcoin in 30 days with our trading robot.", "Early investors earned 340% last month.",
		"Join the private presale before it closes.", "Our AI predicts the market with 97% accuracy.", "Limited places remain in the investor club."}},
	{"secure", "Account Security", "Action required on your account", []string{"Your account has been suspended due to unusual activity.", "Verify your identity within 24 hours to avoid closure.",
		"We detected a sign-in from a new device.", "Click below to restore full access.", "Failure to confirm will result in permanent loss of your data."}},
	{"lotto", "Prize Department", "Congratulations, you have won", []string{"Your email was selected in our annual draw.", "You have won a prize of 850,000 euros.",
		"Contact our claims agent to release your winnings.", "Send your full name and address to process the transfer.", "This notification is confidential."}},
	{"shop", "Outlet Store", "Luxury watches at 90% off", []string{"Luxury watches at 90% off this weekend only.", "Designer handbags from the official outlet.",
		"Free delivery on orders over 50 dollars.", "Clearance sale: everything must go.", "Shop the collection before it sells out."}},
}
