package rules

import (
	"fmt"
	"strings"
)

// node is a compiled predicate.
type node struct {
	op    byte // 'v' fact, 'c' constant, '!' not, '&' and, '|' or
	name  string
	val   Tri
	left  *node
	right *node
}

func (n *node) eval(f Facts) Tri {
	switch n.op {
	case 'v':
		return f[n.name].Value
	case 'c':
		return n.val
	case '!':
		return n.left.eval(f).not()
	case '&':
		return and(n.left.eval(f), n.right.eval(f))
	case '|':
		return or(n.left.eval(f), n.right.eval(f))
	}
	return Unknown
}

func (n *node) names(out map[string]bool) {
	if n == nil {
		return
	}
	if n.op == 'v' {
		out[n.name] = true
	}
	n.left.names(out)
	n.right.names(out)
}

// parseExpr compiles "commercial and not (consent or soft_opt_in)". The
// grammar: or-expr = and-expr {"or" and-expr}; and-expr = unary {"and"
// unary}; unary = "not" unary | "(" or-expr ")" | name | true | false |
// unknown. known lists the fact names allowed.
func parseExpr(s string, known map[string]bool) (*node, error) {
	p := &exprParser{toks: lex(s), known: known}
	if len(p.toks) > 512 {
		return nil, fmt.Errorf("expression too long")
	}
	n, err := p.or(0)
	if err != nil {
		return nil, err
	}
	if p.pos != len(p.toks) {
		return nil, fmt.Errorf("unexpected %q", p.toks[p.pos])
	}
	return n, nil
}

func lex(s string) []string {
	var out []string
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(' || c == ')':
			out = append(out, string(c))
			i++
		default:
			j := i
			for j < len(s) && s[j] != ' ' && s[j] != '\t' && s[j] != '\n' && s[j] != '\r' && s[j] != '(' && s[j] != ')' {
				j++
			}
			out = append(out, s[i:j])
			i = j
		}
	}
	return out
}

type exprParser struct {
	toks  []string
	pos   int
	known map[string]bool
}

func (p *exprParser) peek() string {
	if p.pos < len(p.toks) {
		return p.toks[p.pos]
	}
	return ""
}

func (p *exprParser) or(depth int) (*node, error) {
	l, err := p.and(depth)
	if err != nil {
		return nil, err
	}
	for p.peek() == "or" {
		p.pos++
		r, err := p.and(depth)
		if err != nil {
			return nil, err
		}
		l = &node{op: '|', left: l, right: r}
	}
	return l, nil
}

func (p *exprParser) and(depth int) (*node, error) {
	l, err := p.unary(depth)
	if err != nil {
		return nil, err
	}
	for p.peek() == "and" {
		p.pos++
		r, err := p.unary(depth)
		if err != nil {
			return nil, err
		}
		l = &node{op: '&', left: l, right: r}
	}
	return l, nil
}

func (p *exprParser) unary(depth int) (*node, error) {
	if depth > 64 {
		return nil, fmt.Errorf("expression nested too deeply")
	}
	t := p.peek()
	p.pos++
	switch t {
	case "":
		return nil, fmt.Errorf("unexpected end of expression")
	case "not":
		n, err := p.unary(depth + 1)
		if err != nil {
			return nil, err
		}
		return &node{op: '!', left: n}, nil
	case "(":
		n, err := p.or(depth + 1)
		if err != nil {
			return nil, err
		}
		if p.peek() != ")" {
			return nil, fmt.Errorf("missing )")
		}
		p.pos++
		return n, nil
	case "true":
		return &node{op: 'c', val: True}, nil
	case "false":
		return &node{op: 'c', val: False}, nil
	case "unknown":
		return &node{op: 'c', val: Unknown}, nil
	case ")", "and", "or":
		return nil, fmt.Errorf("unexpected %q", t)
	}
	if !p.known[t] {
		return nil, fmt.Errorf("unknown fact %q (known: %s)", t, strings.Join(sortedKeys(p.known), ", "))
	}
	return &node{op: 'v', name: t}, nil
}
