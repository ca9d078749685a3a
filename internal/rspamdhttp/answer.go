package rspamdhttp

import (
	"math"
	"slices"
	"strconv"
	"unicode/utf8"
)

// appendJSON appends r as encoding/json marshals it (the same bytes: map
// keys sorted, HTML-safe escaping, invalid UTF-8 as \ufffd, numbers as
// ES6 writes them), without reflection: written for every answer, the
// generic encoder was a tenth of the door's own work. ok is false when r
// holds a number JSON cannot carry (NaN, ±Inf), which encoding/json
// refuses; the caller then leaves the answer to it.
func appendJSON(b []byte, r *Result) (_ []byte, ok bool) {
	ok = true
	num := func(b []byte, f float64) []byte {
		if math.IsInf(f, 0) || math.IsNaN(f) {
			ok = false
			return b
		}
		return appendFloat(b, f)
	}
	b = append(b, `{"is_skipped":`...)
	b = strconv.AppendBool(b, r.IsSkipped)
	b = append(b, `,"score":`...)
	b = num(b, r.Score)
	b = append(b, `,"required_score":`...)
	b = num(b, r.RequiredScore)
	b = append(b, `,"action":`...)
	b = appendString(b, r.Action)
	b = append(b, `,"thresholds":`...)
	if r.Thresholds == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '{')
		for i, k := range sortedKeys(r.Thresholds) {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(appendString(b, k), ':')
			b = num(b, r.Thresholds[k])
		}
		b = append(b, '}')
	}
	b = append(b, `,"symbols":`...)
	if r.Symbols == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '{')
		for i, k := range sortedKeys(r.Symbols) {
			if i > 0 {
				b = append(b, ',')
			}
			s := r.Symbols[k]
			b = append(appendString(b, k), `:{"name":`...)
			b = appendString(b, s.Name)
			b = append(b, `,"score":`...)
			b = num(b, s.Score)
			b = append(b, `,"metric_score":`...)
			b = num(b, s.MetricScore)
			if s.Description != "" {
				b = append(b, `,"description":`...)
				b = appendString(b, s.Description)
			}
			if len(s.Options) > 0 {
				b = append(b, `,"options":`...)
				b = appendStrings(b, s.Options)
			}
			b = append(b, '}')
		}
		b = append(b, '}')
	}
	b = append(b, `,"messages":`...)
	b = appendStringMap(b, r.Messages)
	if r.MessageID != "" {
		b = append(b, `,"message-id":`...)
		b = appendString(b, r.MessageID)
	}
	b = append(b, `,"time_real":`...)
	b = num(b, r.TimeReal)
	if m := r.Milter; m != nil {
		b = append(b, `,"milter":{`...)
		comma := false
		if len(m.AddHeaders) > 0 {
			b = append(b, `"add_headers":{`...)
			for i, k := range sortedKeys(m.AddHeaders) {
				if i > 0 {
					b = append(b, ',')
				}
				h := m.AddHeaders[k]
				b = append(appendString(b, k), `:{"value":`...)
				b = appendString(b, h.Value)
				b = append(b, `,"order":`...)
				b = append(strconv.AppendInt(b, int64(h.Order), 10), '}')
			}
			b = append(b, '}')
			comma = true
		}
		if len(m.RemoveHeaders) > 0 {
			if comma {
				b = append(b, ',')
			}
			b = append(b, `"remove_headers":{`...)
			for i, k := range sortedKeys(m.RemoveHeaders) {
				if i > 0 {
					b = append(b, ',')
				}
				b = append(appendString(b, k), ':')
				b = strconv.AppendInt(b, int64(m.RemoveHeaders[k]), 10)
			}
			b = append(b, '}')
			comma = true
		}
		if m.Reject != "" {
			if comma {
				b = append(b, ',')
			}
			b = append(b, `"reject":`...)
			b = appendString(b, m.Reject)
		}
		b = append(b, '}')
	}
	if len(r.URLs) > 0 {
		b = append(b, `,"urls":`...)
		b = appendStrings(b, r.URLs)
	}
	if len(r.Emails) > 0 {
		b = append(b, `,"emails":`...)
		b = appendStrings(b, r.Emails)
	}
	b = append(b, `,"accord_reference":`...)
	b = appendString(b, r.Reference)
	if len(r.Recipients) > 0 {
		b = append(b, `,"accord_recipients":`...)
		b = appendStringMap(b, r.Recipients)
	}
	return append(b, '}'), ok
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func appendStringMap(b []byte, m map[string]string) []byte {
	if m == nil {
		return append(b, "null"...)
	}
	b = append(b, '{')
	for i, k := range sortedKeys(m) {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(appendString(b, k), ':')
		b = appendString(b, m[k])
	}
	return append(b, '}')
}

func appendStrings(b []byte, list []string) []byte {
	b = append(b, '[')
	for i, s := range list {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendString(b, s)
	}
	return append(b, ']')
}

// appendFloat writes a finite f as encoding/json does (ES6): plain
// decimals, exponents below 1e-6 and from 1e21, without a leading zero in
// the exponent.
func appendFloat(b []byte, f float64) []byte {
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

const hexDigits = "0123456789abcdef"

// appendString writes s as a JSON string as encoding/json does with its
// default HTML escaping.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
