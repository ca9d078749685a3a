package analysis

import (
	"fmt"

	"github.com/accord-antispam/accord/internal/campaign"
)

// CampaignSignature is the grouping signature of an analysed message: its
// text, link domains, sender domain and origin network.
func CampaignSignature(v *Verdict) campaign.Signature {
	network := ""
	if v.Origin.Network != nil {
		network = fmt.Sprintf("AS%d", v.Origin.Network.ASN)
	}
	return campaign.Sign(v.Message.Subject+"\n"+v.Content.Text+"\n"+v.Content.HTMLText, v.Content.Domains, v.Sender.Domains.From, network)
}
