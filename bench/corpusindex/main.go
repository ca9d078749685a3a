// Command corpusindex prints the TREC-style index of a corpus laid out as
// DIR/{ham,spam}/FILE, in the fixed order Accord's benchmarks use: the lines
// sorted bytewise, then shuffled by Fisher–Yates (i = n-1 down to 1,
// j = next() mod (i+1)) driven by splitmix64 seeded with 732.
package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: corpusindex DIR")
		os.Exit(2)
	}
	var lines []string
	for _, cls := range []string{"ham", "spam"} {
		entries, err := os.ReadDir(filepath.Join(os.Args[1], cls))
		if err != nil {
			fmt.Fprintln(os.Stderr, "corpusindex:", err)
			os.Exit(1)
		}
		for _, e := range entries {
			lines = append(lines, cls+" ./"+cls+"/"+e.Name())
		}
	}
	sort.Strings(lines)
	state := uint64(732)
	next := func() uint64 {
		state += 0x9E3779B97F4A7C15
		z := state
		z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
		z = (z ^ (z >> 27)) * 0x94D049BB133111EB
		return z ^ (z >> 31)
	}
	for i := len(lines) - 1; i > 0; i-- {
		j := next() % uint64(i+1)
		lines[i], lines[j] = lines[j], lines[i]
	}
	w := bufio.NewWriter(os.Stdout)
	for _, l := range lines {
		fmt.Fprintln(w, l)
	}
	w.Flush()
}
