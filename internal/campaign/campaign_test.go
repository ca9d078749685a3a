package campaign

import (
	"context"
	"fmt"
	"math/rand"
	"strings"
	"testing"
)

const base = `Dear friend, we are pleased to offer you an exclusive opportunity to
refinance your mortgage at the lowest rates of the year. Our specialists
review every application within one business day and approval is quick.
Do not miss this chance to lower your monthly payments and save thousands.`

func TestVariantsJoinOneCampaign(t *testing.T) {
	idx := NewMemIndex()
	ctx := context.Background()
	r := rand.New(rand.NewSource(1))
	names := []string{"John", "Maria", "Wei", "Aisha", "Pierre"}
	var first string
	for i := 0; i < 20; i++ {
		// Per-recipient variation: a name, an amount, a tracking number,
		// and a word swapped now and then.
		text := fmt.Sprintf("Hello %s! %s Reference %d, amount $%d.", names[i%5], base, r.Intn(1e6), r.Intn(9000)+1000)
		if i%3 == 0 {
			text = strings.Replace(text, "quick", "fast", 1)
		}
		id, err := idx.Add(ctx, fmt.Sprint(i), Sign(text, []string{fmt.Sprintf("track%d.loans.example", i%3), "loans.example"}, "offers.example", "AS64500"))
		if err != nil {
			t.Fatal(err)
		}
		if first == "" {
			first = id
		}
		if id != first {
			t.Fatalf("variant %d went to %s, not %s", i, id, first)
		}
	}
	other, _ := idx.Add(ctx, "x", Sign("The build farm is down for maintenance tonight; the release branch freezes on Friday and the changelog needs review.", nil, "project.example", "AS64501"))
	if other == first {
		t.Fatal("an unrelated message joined the campaign")
	}
	// A short message joins by its link domain.
	short, _ := idx.Add(ctx, "y", Sign("Click now", []string{"loans.example"}, "other.example", ""))
	if short != first {
		t.Errorf("short message with the campaign's link domain: %s", short)
	}
}

func TestSimilarityEstimate(t *testing.T) {
	a := Sign(base, nil, "", "")
	if s := Similarity(a.MinHash, a.MinHash); s != 1 {
		t.Fatalf("self similarity %v", s)
	}
	b := Sign("completely different words about gardening tomatoes and the autumn harvest in the north", nil, "", "")
	if s := Similarity(a.MinHash, b.MinHash); s > 0.2 {
		t.Errorf("unrelated texts similarity %v", s)
	}
}
