// Command chronoindex reorders a TREC-style index chronologically, by each
// message's Date header (the first Received date when Date is unreadable),
// keeping the index order among equal or unknown dates, which sort first
// (classify.Chronological).
//
//	chronoindex INDEX > INDEX.chrono
package main

import (
	"bufio"
	"fmt"
	"os"

	"github.com/accord-antispam/accord/internal/classify"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: chronoindex INDEX")
		os.Exit(2)
	}
	ex, err := classify.ReadIndex(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "chronoindex:", err)
		os.Exit(1)
	}
	w := bufio.NewWriter(os.Stdout)
	for _, e := range classify.Chronological(ex) {
		label := "ham"
		if e.Spam {
			label = "spam"
		}
		fmt.Fprintln(w, label, e.Path)
	}
	w.Flush()
}
