// Command chronoindex reorders a TREC-style index chronologically, by each
// message's Date header (the first Received date when Date is unreadable),
// keeping the index order among equal or unknown dates, which sort first.
//
//	chronoindex INDEX > INDEX.chrono
package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/accord-antispam/accord/internal/mail"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: chronoindex INDEX")
		os.Exit(2)
	}
	f, err := os.Open(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "chronoindex:", err)
		os.Exit(1)
	}
	type line struct {
		text string
		t    time.Time
	}
	var lines []line
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		_, path, _ := strings.Cut(sc.Text(), " ")
		raw, err := os.ReadFile(filepath.Join(filepath.Dir(os.Args[1]), path))
		if err != nil {
			fmt.Fprintln(os.Stderr, "chronoindex:", err)
			os.Exit(1)
		}
		m := mail.ParseBytes(raw, mail.Limits{})
		t, err := mail.ParseDate(m.Header.Get("Date"))
		if err != nil {
			for _, r := range m.Header.Values("Received") {
				if i := strings.LastIndexByte(r, ';'); i >= 0 {
					if t, err = mail.ParseDate(r[i+1:]); err == nil {
						break
					}
				}
			}
		}
		lines = append(lines, line{sc.Text(), t})
	}
	sort.SliceStable(lines, func(a, b int) bool { return lines[a].t.Before(lines[b].t) })
	w := bufio.NewWriter(os.Stdout)
	for _, l := range lines {
		fmt.Fprintln(w, l.text)
	}
	w.Flush()
}
