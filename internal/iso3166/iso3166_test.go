package iso3166

import "testing"

func TestCodes(t *testing.T) {
	if Count() != 249 {
		t.Fatalf("%d codes, ISO 3166-1 assigns 249", Count())
	}
	for _, c := range []string{"GB", "FR", "US", "DE", "CN", "KR", "CA", "AU", "SS", "BQ", "CW", "SX", "AX"} {
		if Check(c) != nil {
			t.Errorf("%s refused", c)
		}
	}
	for _, c := range []string{"UK", "ZZ", "EU", "XK", "AN", "YU", "ZR", "fr", "F", "FRA", ""} {
		if Check(c) == nil {
			t.Errorf("%s accepted", c)
		}
	}
	if err := Check("UK"); err == nil || err.Error() != `"UK" is not an ISO 3166 country code: write GB` {
		t.Errorf("UK: %v", err)
	}
}
