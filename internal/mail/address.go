package mail

import (
	"mime"
	"net/mail"
	"strings"
)

// Address is one parsed mailbox.
type Address struct {
	Name   string `json:"name,omitempty"` // Display name, decoded.
	Addr   string `json:"address"`        // local@domain as written (domain lower-cased).
	Domain string `json:"domain,omitempty"`
}

// ParseAddressList parses an address-list header value. It first tries the
// strict RFC 5322 grammar; when that fails (as it often does on spam), it
// recovers every "<addr>" and bare "local@domain" it can find. strict reports
// whether the strict grammar accepted the value.
func ParseAddressList(v string) (addrs []Address, strict bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil, true
	}
	ap := mail.AddressParser{WordDecoder: &mime.WordDecoder{CharsetReader: charsetReader}}
	if list, err := ap.ParseList(v); err == nil {
		for _, a := range list {
			addrs = append(addrs, newAddress(a.Name, a.Address))
		}
		return addrs, true
	}
	return lenientAddresses(v), false
}

func newAddress(name, addr string) Address {
	addr = strings.TrimSpace(addr)
	a := Address{Name: strings.TrimSpace(name), Addr: addr}
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		a.Domain = strings.ToLower(strings.Trim(addr[i+1:], "[]. "))
		a.Addr = addr[:i+1] + a.Domain
	}
	return a
}

// lenientAddresses recovers addresses from a malformed list, splitting on
// commas outside quotes and angle brackets.
func lenientAddresses(v string) []Address {
	var out []Address
	for _, item := range splitList(v) {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		name := ""
		addr := ""
		if lt := strings.LastIndexByte(item, '<'); lt >= 0 {
			gt := strings.IndexByte(item[lt:], '>')
			if gt > 0 {
				addr = item[lt+1 : lt+gt]
			} else {
				addr = item[lt+1:]
			}
			name = strings.Trim(strings.TrimSpace(item[:lt]), `"`)
		} else {
			// A bare address, maybe followed by "(Name)".
			f := strings.Fields(stripComments(item))
			for _, w := range f {
				if strings.Contains(w, "@") {
					addr = w
					break
				}
			}
			if i, j := strings.IndexByte(item, '('), strings.LastIndexByte(item, ')'); i >= 0 && j > i {
				name = item[i+1 : j]
			}
		}
		addr = strings.Trim(addr, " \t\"'<>;,")
		if addr == "" {
			continue
		}
		dn, _ := DecodeHeader(name)
		out = append(out, newAddress(dn, addr))
	}
	return out
}

func splitList(v string) []string {
	var out []string
	inQ, angle, start := false, 0, 0
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case '"':
			inQ = !inQ
		case '<':
			if !inQ {
				angle++
			}
		case '>':
			if !inQ && angle > 0 {
				angle--
			}
		case ',':
			if !inQ && angle == 0 {
				out = append(out, v[start:i])
				start = i + 1
			}
		}
	}
	return append(out, v[start:])
}

// AddrSpec extracts the address from a Return-Path or similar "<addr>" value.
// An empty path "<>" gives "".
func AddrSpec(v string) string {
	v = strings.TrimSpace(stripComments(v))
	if i := strings.IndexByte(v, '<'); i >= 0 {
		if j := strings.IndexByte(v[i:], '>'); j > 0 {
			return strings.TrimSpace(v[i+1 : i+j])
		}
		return strings.TrimSpace(v[i+1:])
	}
	if f := strings.Fields(v); len(f) > 0 {
		return f[0]
	}
	return ""
}

// DomainOf returns the lower-case domain of an address, or "".
func DomainOf(addr string) string {
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		return strings.ToLower(strings.Trim(addr[i+1:], "[]. >"))
	}
	return ""
}
