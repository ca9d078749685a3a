// Package iso3166 knows the country codes of ISO 3166-1 alpha-2: the 249
// officially assigned ones, so that a jurisdiction or an origin written
// "UK" (reserved, not assigned: the United Kingdom is GB) or "ZZ" is an
// error rather than a value that silently matches nothing.
package iso3166

import (
	"fmt"
	"strings"
)

const assigned = `AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ
BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ
CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ
DE DJ DK DM DO DZ
EC EE EG EH ER ES ET
FI FJ FK FM FO FR
GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY
HK HM HN HR HT HU
ID IE IL IM IN IO IQ IR IS IT
JE JM JO JP
KE KG KH KI KM KN KP KR KW KY KZ
LA LB LC LI LK LR LS LT LU LV LY
MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ
NA NC NE NF NG NI NL NO NP NR NU NZ
OM
PA PE PF PG PH PK PL PM PN PR PS PT PW PY
QA
RE RO RS RU RW
SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ
TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ
UA UG UM US UY UZ
VA VC VE VG VI VN VU
WF WS
YE YT
ZA ZM ZW`

var codes = func() map[string]bool {
	m := map[string]bool{}
	for _, c := range strings.Fields(assigned) {
		m[c] = true
	}
	return m
}()

// Mistaken codes people write, with the one they mean.
var instead = map[string]string{"UK": "GB", "EL": "GR", "EN": "GB"}

// Count is the number of assigned codes.
func Count() int { return len(codes) }

// Valid reports whether c is an assigned alpha-2 code (upper case).
func Valid(c string) bool { return codes[c] }

// Check returns nil for an assigned code and otherwise an error that says
// what was probably meant.
func Check(c string) error {
	if codes[c] {
		return nil
	}
	if m, ok := instead[c]; ok {
		return fmt.Errorf("%q is not an ISO 3166 country code: write %s", c, m)
	}
	return fmt.Errorf("%q is not an assigned ISO 3166 country code", c)
}
