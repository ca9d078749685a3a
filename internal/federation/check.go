package federation

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// keyPrefix is how the key of each kind of item begins (see Collect).
var keyPrefix = map[Kind]string{
	KindIndicators: "ind:",
	KindCampaigns:  "camp:",
	KindReports:    "rep:",
	KindEvidence:   "ev:",
	KindStatistics: "stats:",
}

// maxKey bounds an item's key (an indicator's URL is the longest).
const maxKey = 4096

// CheckItem says why a received item cannot be held as it is: an unknown
// kind or marking, a key that does not name its kind or carries control
// characters, an origin that is not a country code (two capital letters)
// or "unknown", a body that is not JSON. A signature says who sent an
// item, not that it is well formed; what is kept is shown to analysts and
// served on, so it is checked before anything is stored.
func CheckItem(it Item) error {
	prefix, ok := keyPrefix[it.Kind]
	if !ok {
		return fmt.Errorf("item %.80q: unknown kind %.40q", it.Key, it.Kind)
	}
	if !strings.HasPrefix(it.Key, prefix) || len(it.Key) == len(prefix) || len(it.Key) > maxKey || !printable(it.Key) {
		return fmt.Errorf("item %.80q: not a key of a %s item", it.Key, it.Kind)
	}
	if !it.TLP.Valid() {
		return fmt.Errorf("item %.80q: unknown marking %.40q", it.Key, it.TLP)
	}
	for _, o := range it.Origins {
		if o != "unknown" && !(len(o) == 2 && o[0] >= 'A' && o[0] <= 'Z' && o[1] >= 'A' && o[1] <= 'Z') {
			return fmt.Errorf("item %.80q: origin %.40q is not a country code", it.Key, o)
		}
	}
	if len(it.Campaign) > 256 || !printable(it.Campaign) {
		return fmt.Errorf("item %.80q: not a campaign id", it.Key)
	}
	if len(it.Body) > 0 && !json.Valid(it.Body) {
		return fmt.Errorf("item %.80q: the body is not JSON", it.Key)
	}
	return nil
}

// printable: valid UTF-8 with no control or format character.
func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return false
		}
	}
	return true
}
