package lint

import (
	"context"

	"github.com/accord-antispam/accord/internal/consent"
)

// NodeFacts answers for a registered sender from the node's own consent
// service: for lint run on the node, and for labels.
type NodeFacts struct {
	Service *consent.Service
	ID      string // The sender's id.
}

// Sender implements SenderFacts.
func (n NodeFacts) Sender(ctx context.Context) (SenderInfo, error) {
	sd, err := n.Service.Store().Sender(ctx, n.ID)
	if err != nil {
		return SenderInfo{}, err
	}
	st, err := n.Service.Standing(ctx, sd.ID)
	if err != nil {
		return SenderInfo{}, err
	}
	return SenderInfo{ID: sd.ID, Domains: sd.Domains, Jurisdictions: sd.Jurisdictions, PostalAddress: sd.PostalAddress, Status: sd.Status,
		ComplaintRate: st.Rate, Sent: st.Sent, JudgedBy: st.JudgedBy, Complainants: st.Complainants, Good: st.Good, Why: st.Why}, nil
}

// Recipient implements SenderFacts.
func (n NodeFacts) Recipient(ctx context.Context, address, list string) (RecipientInfo, error) {
	h, err := n.Service.Hash(n.ID, address)
	if err != nil {
		return RecipientInfo{}, err
	}
	recs, err := n.Service.Records(ctx, n.ID, h)
	if err != nil {
		return RecipientInfo{}, err
	}
	sups, err := n.Service.Suppressions(ctx, n.ID, address)
	if err != nil {
		return RecipientInfo{}, err
	}
	return Summarize(recs, sups, list), nil
}

// Summarize reads a recipient's records and suppressions for one list
// ("" any).
func Summarize(recs []consent.Record, sups []consent.Suppression, list string) RecipientInfo {
	var ri RecipientInfo
	ri.Records = len(recs)
	for _, r := range recs {
		if (list == "" || r.List == list) && r.Status == consent.RecordActive && !ri.ConsentOnRecord {
			ri.ConsentOnRecord, ri.Basis, ri.Confirmed, ri.Record = true, r.Basis, r.Confirmed, r.ID
			ri.Since = r.Created
			ri.Method, ri.ObtainedAt = r.Capture.Method, r.Capture.ObtainedAt
			if r.Customer != nil {
				ri.SaleDate, ri.ProductCategory = r.Customer.Since, r.Customer.ProductCategory
			}
			if r.Confirmed {
				ri.Since = r.ConfirmedAt
			}
		}
	}
	if x, ok := consent.SuppressedOn(sups, list); ok {
		ri.OptedOut, ri.OptedOutAt, ri.OptOutReason = true, x.RequestedAt, x.Reason
	}
	return ri
}
