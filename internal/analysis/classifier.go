package analysis

import (
	"github.com/accord-antispam/accord/internal/classify"
	"github.com/accord-antispam/accord/internal/mail"
)

// ModelClassifier plugs a classify.Model into the Analyzer.
type ModelClassifier struct {
	Model *classify.Model
}

// Classify scores the message and explains the score.
func (c ModelClassifier) Classify(m *mail.Message, _ *mail.Content) Spam {
	f := c.Model.Extract(m, true)
	r := c.Model.Score(f, true)
	f.Release()
	p := c.Model.Params()
	s := Spam{
		Score:      r.Score,
		Class:      r.Class,
		Thresholds: Thresholds{Ham: p.HamBelow, Spam: p.SpamFrom},
		Reasons:    []SpamReason{},
	}
	ns, nh := c.Model.Trained()
	s.Trained = ns + nh
	for _, x := range r.Reasons {
		s.Reasons = append(s.Reasons, SpamReason{Feature: x.Feature, Weight: x.Weight})
	}
	return s
}
