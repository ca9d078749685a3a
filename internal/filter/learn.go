package filter

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/accord-antispam/accord/internal/classify"
	"github.com/accord-antispam/accord/internal/mail"
)

// Learning. What users teach the filter (rspamd /learnspam and /learnham,
// spamd TELL, a release from quarantine, the web page, IMAP folder moves
// through Dovecot) is stored as the message's features and class in the
// node's store — never its text — and learned at once by the instance that
// got it. Every instance learns what the others stored within one sync
// interval, and rebuilds the model from the whole stored set from time to
// time, so all instances converge on the same model, which does not
// depend on the order things were learned in. The model is also kept as a
// snapshot in the store so that a new instance starts at once.

func modelID(m *classify.Model) string { return fmt.Sprintf("bits=%d", m.Params().Bits) }

// ErrNotMail is returned for what is learned but is not a mail message.
var ErrNotMail = errors.New("not a mail message")

// mailFields are the header fields of which a mail message has at least
// one (a message a user moved, a spam trap's catch, a queued file).
var mailFields = []string{"From", "To", "Subject", "Date", "Message-ID", "Received", "Return-Path", "Sender", "Delivered-To"}

// IsMail returns ErrNotMail (wrapped, saying why) for what has none of the
// header fields every mail message has: binary garbage or a few random
// bytes were learned as messages and counted toward the 10 of each class
// the model needs before it speaks.
func IsMail(m *mail.Message) error {
	for _, f := range mailFields {
		if m.Header.Has(f) {
			return nil
		}
	}
	return fmt.Errorf("filter: learn: %w: no From, To, Subject, Date, Message-ID or Received field in its header", ErrNotMail)
}

// Learn teaches the filter that a message is spam or ham (ErrNotMail for
// what is not a mail message).
func (s *Service) Learn(ctx context.Context, raw []byte, spam bool, source string) (classify.Outcome, error) {
	if len(raw) == 0 {
		return 0, errors.New("filter: learn: empty message")
	}
	if int64(len(raw)) > s.cfg.MaxScan {
		return 0, fmt.Errorf("filter: learn: message of %d bytes is over the scan size (%d)", len(raw), s.cfg.MaxScan)
	}
	msg := mail.ParseBytes(raw, mail.DefaultLimits())
	if err := IsMail(msg); err != nil {
		return 0, err
	}
	m := s.model.Load()
	f := m.Extract(msg, false)
	now := s.now()
	dg := classify.Digest(msg.Raw)
	smp := m.Sample(dg, f, spam, now)
	b, _ := smp.MarshalBinary()
	if _, err := s.store.AddLearned(ctx, Learned{Digest: dg, Spam: spam, At: now, Source: source, Sample: b, ModelID: modelID(m)}); err != nil {
		return 0, fmt.Errorf("filter: learn: %w", err)
	}
	out := m.LearnMessageAt(dg, f, spam, now)
	return out, nil
}

// SyncModel brings this instance up to date with what every instance
// learned: it learns the stored records it has not seen yet. With
// rebuild, it rebuilds the model from the whole stored set instead (and
// saves it as the shared snapshot).
func (s *Service) SyncModel(ctx context.Context, rebuild bool) (learned int, err error) {
	s.learnMu.Lock()
	defer s.learnMu.Unlock()
	m := s.model.Load()
	if rebuild {
		recs, top, err := s.store.LearnedSince(ctx, 0, modelID(m))
		if err != nil {
			return 0, err
		}
		samples := make([]classify.Sample, 0, len(recs))
		for _, r := range recs {
			var smp classify.Sample
			if smp.UnmarshalBinary(r.Sample) == nil {
				samples = append(samples, smp)
			}
		}
		nm, _ := classify.Build(m.Params(), samples)
		s.model.Store(nm)
		s.learnedSeq = top
		if top == 0 {
			return 0, nil // nothing learned yet: no snapshot to share
		}
		var buf bytes.Buffer
		if _, err := nm.WriteScoring(&buf); err != nil {
			return 0, err
		}
		if err := s.store.PutSnapshot(ctx, Snapshot{Version: top, At: s.now(), Model: buf.Bytes()}); err != nil {
			return 0, fmt.Errorf("filter: save snapshot: %w", err)
		}
		return len(samples), nil
	}
	recs, top, err := s.store.LearnedSince(ctx, s.learnedSeq, modelID(m))
	if err != nil {
		return 0, err
	}
	for _, r := range recs {
		var smp classify.Sample
		if smp.UnmarshalBinary(r.Sample) != nil {
			continue
		}
		if m.LearnSample(smp) != classify.Known {
			learned++
		}
	}
	if top > s.learnedSeq {
		s.learnedSeq = top
	}
	return learned, nil
}

// StartModel sets the instance's model at start: the latest shared
// snapshot and what was learned since. What seed (a model file trained
// with accord learn) learned that the store does not hold yet — a message
// it has not learned, or learned as the other class before the file did —
// is stored first and the model rebuilt, so a file trained after the node
// started learning through its doors still reaches the one shared model
// (before, it was taken only while the store was empty, and ignored
// without a word after that).
func (s *Service) StartModel(ctx context.Context, seed *classify.Model) error {
	m := s.model.Load()
	recs, _, err := s.store.LearnedSince(ctx, 0, modelID(m))
	if err != nil {
		return err
	}
	if seed != nil && seed.Kept() > 0 && seed.Params().Bits == m.Params().Bits {
		type last struct {
			spam bool
			at   time.Time
		}
		known := make(map[uint64]last, len(recs))
		for _, r := range recs {
			known[r.Digest] = last{r.Spam, r.At}
		}
		added := 0
		// Past the retention, a message is not taken in again: the store
		// forgot it on purpose (learned_days).
		forgotten := s.now().AddDate(0, 0, -s.cfg.LearnedDays)
		for _, smp := range seed.KeptSamples() {
			if smp.At.Before(forgotten) {
				continue
			}
			// A sample's time has whole seconds: a correction in the file
			// loses only to a store entry of a later second.
			if k, ok := known[smp.Digest]; ok && (k.spam == smp.Spam || smp.At.Before(k.at.Truncate(time.Second))) {
				continue
			}
			b, _ := smp.MarshalBinary()
			if _, err := s.store.AddLearned(ctx, Learned{Digest: smp.Digest, Spam: smp.Spam, At: smp.At, Source: "model-file", Sample: b, ModelID: modelID(m)}); err != nil {
				return err
			}
			added++
		}
		if added > 0 {
			s.log.Info("filter: took in what the model file learned that the shared model did not hold", "messages", added)
			_, err := s.SyncModel(ctx, true)
			return err
		}
	}
	snap, err := s.store.LatestSnapshot(ctx)
	switch {
	case errors.Is(err, ErrNotFound):
		_, err = s.SyncModel(ctx, true)
		return err
	case err != nil:
		return err
	}
	nm, err := classify.Read(bytes.NewReader(snap.Model))
	if err != nil || nm.Params().Bits != m.Params().Bits {
		s.log.Warn("filter: the shared model snapshot is unusable; rebuilding", "err", err)
		_, err = s.SyncModel(ctx, true)
		return err
	}
	s.learnMu.Lock()
	s.model.Store(nm)
	s.learnedSeq = snap.Version
	s.learnMu.Unlock()
	_, err = s.SyncModel(ctx, false)
	return err
}

// Run keeps the instance in step until ctx ends: every sync interval it
// learns what other instances stored and reloads policies; every rebuild
// interval it purges what is past retention and rebuilds the model.
func (s *Service) Run(ctx context.Context, sync, rebuild time.Duration, reload func(context.Context)) {
	if sync <= 0 {
		sync = 5 * time.Second
	}
	if rebuild <= 0 {
		rebuild = time.Hour
	}
	t := time.NewTicker(sync)
	defer t.Stop()
	last := s.now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if _, err := s.SyncModel(ctx, false); err != nil {
			s.log.Warn("filter: sync learned messages", "err", err)
		}
		if err := s.ReloadPolicies(ctx); err != nil {
			s.log.Warn("filter: reload policies", "err", err)
		}
		if reload != nil {
			reload(ctx)
		}
		if s.now().Sub(last) >= rebuild {
			last = s.now()
			held, learned, err := s.Purge(ctx)
			if err != nil {
				s.log.Warn("filter: purge", "err", err)
			} else if held+learned > 0 {
				s.log.Info("filter: purged past retention", "held", held, "learned", learned)
			}
			if _, err := s.SyncModel(ctx, true); err != nil {
				s.log.Warn("filter: rebuild", "err", err)
			}
		}
	}
}

// delimiterIn is the sub-address delimiter an address uses: the first of
// [filter] recipient_delimiter's characters (by default "+") in its local
// part; the setting's default is "" in the configuration, so naming the
// setting printed "".
func (s *Service) delimiterIn(addr string) string {
	delims := s.cfg.RecipientDelimiter
	if delims == "" {
		delims = "+"
	}
	local, _, _ := strings.Cut(addr, "@")
	if i := strings.IndexAny(local, delims); i >= 0 {
		r, _ := utf8.DecodeRuneInString(local[i:])
		return string(r)
	}
	return delims
}

// PutPolicy validates and saves a policy, records who changed it, and
// applies it at once on this instance.
func (s *Service) PutPolicy(ctx context.Context, p Policy, by string) (Policy, error) {
	if err := p.Validate(); err != nil {
		return p, err
	}
	if p.Kind == ScopeRecipient {
		// Checks look a recipient up as the mailbox the MTA delivers to,
		// its sub-address removed: a policy set on a sub-address was
		// stored and listed, and never used.
		if box := s.Mailbox(p.Key); box != p.Key {
			return p, fmt.Errorf("%w: recipient %q is a sub-address of %s: the filter looks recipients up without the part from %q to the @ ([filter] recipient_delimiter), so this policy would never be used; set it on %s",
				ErrPolicy, p.Key, box, s.delimiterIn(p.Key), box)
		}
	}
	if err := s.thresholdsInOrder(p); err != nil {
		return p, err
	}
	p.UpdatedAt, p.UpdatedBy = s.now().UTC(), by
	if err := s.store.PutPolicy(ctx, p); err != nil {
		return p, err
	}
	if err := s.store.FilterAudit(ctx, AuditEntry{At: p.UpdatedAt, Actor: by, Action: "policy.set", Target: p.Scope()}); err != nil {
		s.log.Warn("audit", "err", err)
	}
	return p, s.ReloadPolicies(ctx)
}

// DeletePolicy removes a scope's policy (its settings fall back to the
// scope below).
func (s *Service) DeletePolicy(ctx context.Context, kind, key, by string) error {
	p := Policy{Kind: kind, Key: key}
	if err := p.Validate(); err != nil {
		return err
	}
	if err := s.store.DeletePolicy(ctx, p.Kind, p.Key); err != nil {
		return err
	}
	s.store.FilterAudit(ctx, AuditEntry{At: s.now(), Actor: by, Action: "policy.delete", Target: p.Scope()})
	return s.ReloadPolicies(ctx)
}

// Policy returns a scope's own policy (ErrNotFound when none is set).
func (s *Service) Policy(ctx context.Context, kind, key string) (Policy, error) {
	p := Policy{Kind: kind, Key: key}
	if err := p.Validate(); err != nil {
		return p, err
	}
	return s.store.Policy(ctx, p.Kind, p.Key)
}

// Policies lists every policy set.
func (s *Service) Policies(ctx context.Context) ([]Policy, error) { return s.store.Policies(ctx) }

// Store is the service's store (for the fronts' read-only views).
func (s *Service) Store() Store { return s.store }

// thresholdsInOrder refuses a policy whose own thresholds are out of
// order: unsure above spam (nothing would ever be unsure), a quarantine
// threshold below spam (everything tagged would be held), or a quarantine
// threshold below 0 (0 turns it off). Both `--unsure 10 --spam 2` and
// `--quarantine -5` were taken. Thresholds set in different scopes are
// not compared: a spam threshold below the built-in unsure one (spam
// -50: everything is spam) is a setting some operators want.
func (s *Service) thresholdsInOrder(p Policy) error {
	if p.Quarantine != nil && *p.Quarantine < 0 {
		return fmt.Errorf("%w: quarantine threshold %v: at least the spam threshold, or 0 for none", ErrPolicy, *p.Quarantine)
	}
	if p.Spam == nil {
		return nil
	}
	if p.Unsure != nil && *p.Unsure > *p.Spam {
		return fmt.Errorf("%w: unsure threshold %v above the spam threshold %v: unsure must be at most spam", ErrPolicy, *p.Unsure, *p.Spam)
	}
	if p.Quarantine != nil && *p.Quarantine > 0 && *p.Quarantine < *p.Spam {
		return fmt.Errorf("%w: quarantine threshold %v below the spam threshold %v: at least spam, or 0 for none", ErrPolicy, *p.Quarantine, *p.Spam)
	}
	return nil
}
