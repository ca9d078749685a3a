package classify

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// TestReleasedFeaturesReused: lists handed back by Release and reused for
// other messages — explained or not, longer or shorter — give each message
// the features a fresh extraction gives, and keep nothing of the message
// they held.
func TestReleasedFeaturesReused(t *testing.T) {
	var msgs []string
	for i := 0; i < 6; i++ {
		body := strings.Repeat(fmt.Sprintf("word%d offer%d cheap watches %d ", i, i*7, i), 40*(i%3)+1)
		msgs = append(msgs, fmt.Sprintf("Subject: message %d\r\nFrom: s%d@example.net\r\nContent-Type: text/plain\r\n\r\n%s\r\n", i, i, body))
	}
	type snap struct {
		idx   []uint32
		pair  []bool
		tag   []uint8
		names []string
	}
	take := func(f *featureSet) snap {
		s := snap{idx: append([]uint32{}, f.idx...), pair: append([]bool{}, f.pair...), tag: append([]uint8{}, f.tag...)}
		if f.names != nil {
			s.names = nameStrings(f)
		}
		return s
	}
	p := DefaultParams()
	want := map[string]snap{}
	for _, m := range msgs {
		for _, explain := range []bool{false, true} {
			want[fmt.Sprint(m, explain)] = take(extract(parse([]byte(m)), p, explain)) // never released
		}
	}
	for round := 0; round < 3; round++ {
		for i := range msgs {
			m := msgs[(i*5+round)%len(msgs)]
			explain := (i+round)%2 == 0
			f := extract(parse([]byte(m)), p, explain)
			if got := take(f); !reflect.DeepEqual(got, want[fmt.Sprint(m, explain)]) {
				t.Fatalf("round %d, message %d (explain %v): features differ after reuse", round, i, explain)
			}
			names := f.names
			Features{f}.Release()
			for k, n := range names[:cap(names)] {
				if n != (fname{}) {
					t.Fatalf("a released name is kept: %d %+v", k, n)
				}
			}
		}
	}
}
