package filter

import (
	"context"
	"fmt"
	"testing"

	"github.com/accord-antispam/accord/internal/classify"
	"github.com/accord-antispam/accord/internal/mail"
)

// TestModelFileTakenInAfterTheDoorsLearned: a model file trained with
// accord learn after the node had learned through its doors reaches the
// shared model at the next start — its new messages, and a correction it
// made later than the door did — and starting again with the same file
// adds nothing. Before, the file was taken only while the store was
// empty: `accord score` and the filter then used two different models.
func TestModelFileTakenInAfterTheDoorsLearned(t *testing.T) {
	ctx := context.Background()
	st := NewMemStore()
	a, _ := newService(t, Deps{Store: st}, Config{})
	if err := a.StartModel(ctx, nil); err != nil {
		t.Fatal(err)
	}
	msgs := make([][]byte, 10)
	for i := range msgs {
		msgs[i] = msg("s@x.example", fmt.Sprintf("message %d", i), fmt.Sprintf("body words number %d here", i))
	}
	for i := 0; i < 4; i++ { // the doors: 0 and 2 spam, 1 and 3 ham
		if _, err := a.Learn(ctx, msgs[i], i%2 == 0, "rspamd"); err != nil {
			t.Fatal(err)
		}
	}
	// Later, accord learn: message 0 corrected to ham, 1 the same class
	// again, 4–9 new (spam).
	seed := classify.New(classify.Params{})
	learn := func(raw []byte, spam bool) {
		pm := mail.ParseBytes(raw, mail.Limits{})
		seed.LearnMessage(classify.Digest(pm.Raw), seed.Extract(pm, false), spam)
	}
	learn(msgs[0], false)
	learn(msgs[1], false)
	for i := 4; i < 10; i++ {
		learn(msgs[i], true)
	}
	b, _ := newService(t, Deps{Store: st}, Config{})
	if err := b.StartModel(ctx, seed); err != nil {
		t.Fatal(err)
	}
	if s, h := b.Model().Trained(); s != 7 || h != 3 {
		t.Fatalf("after the model file: %d spam, %d ham learned; want 7 and 3 (2 + 6 new − 1 corrected, and 2 + 1)", s, h)
	}
	recs, _, _ := st.LearnedSince(ctx, 0, modelID(b.Model()))
	c, _ := newService(t, Deps{Store: st}, Config{})
	if err := c.StartModel(ctx, seed); err != nil {
		t.Fatal(err)
	}
	again, _, _ := st.LearnedSince(ctx, 0, modelID(c.Model()))
	if len(again) != len(recs) {
		t.Fatalf("starting again with the same file stored %d more", len(again)-len(recs))
	}
}
