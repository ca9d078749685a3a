package sqlitetest

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/accord-antispam/accord/internal/intake"
)

func BenchmarkExtractForward(b *testing.B) {
	raw := read(b, "forward-two-attached.eml")
	for b.Loop() {
		if _, err := intake.Extract(raw, intake.Via{Mailbox: true}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSubmit is the desk end to end on SQLite: extraction, analysis,
// campaign assignment and a durable (synchronous) commit, with as many
// reporters at once as GOMAXPROCS×4, so group commit can work.
func BenchmarkSubmit(b *testing.B) {
	n := newNode(b)
	ctx := context.Background()
	raw := string(read(b, "forward-inline-gmail.eml"))
	b.SetParallelism(4)
	b.ResetTimer()
	var seq atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			msg := fmt.Sprintf("%s\nreference %d\n", raw, seq.Add(1))
			if _, err := n.desk.Submit(ctx, intake.Submission{Channel: intake.ChannelAPI, Raw: []byte(msg), SubmittedBy: "token:b"}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "reports/s")
}
