package label

import (
	"context"
	"errors"
	"time"
)

// Issued is a label as its issuing node keeps it.
type Issued struct {
	ID        string
	Sender    string
	Domain    string
	BodyHash  string
	Issued    time.Time
	Expires   time.Time
	RevokedAt time.Time // Zero: not revoked.
	Reason    string
}

// Store keeps the labels a node issued and their revocations.
// store/sqlstore implements it.
type Store interface {
	AddLabel(ctx context.Context, l Issued) error
	// RevokeLabel revokes one label (ErrNotFound; revoking twice keeps the
	// first time).
	RevokeLabel(ctx context.Context, id string, at time.Time, reason string) error
	// RevokeSenderLabels revokes every label of a sender issued up to at.
	RevokeSenderLabels(ctx context.Context, sender string, at time.Time, reason string) error
	// Revocations lists what the status list must carry at now: revoked
	// labels not yet expired, and sender revocations younger than keep.
	Revocations(ctx context.Context, now time.Time, keep time.Duration) ([]RevokedLabel, []RevokedSender, error)
	IssuedLabels(ctx context.Context, sender string, limit int) ([]Issued, error)
}

// ErrNotFound is an unknown label.
var ErrNotFound = errors.New("label: not found")
