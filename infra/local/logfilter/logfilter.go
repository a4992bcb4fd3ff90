// Package logfilter applies CloudWatch Logs filter patterns to log events locally, as
// subscription filters and metric filters do in AWS. It implements the JSON form of the
// filter pattern syntax ("Using filter patterns to match terms in JSON log events"):
//
//	{ $.field = "value" }     string equality; * in the value is a wildcard
//	{ $.field != "value" }    string inequality
//	{ $.a.b[0] > 5 }          numeric comparison: =, !=, <, <=, >, >=
//	{ $.flag IS TRUE }        IS TRUE, IS FALSE, IS NULL
//	{ $.field NOT EXISTS }
//	{ ($.a = "x" && $.b = "y") || $.c IS TRUE }
//
// and the empty pattern, which matches every event. Any other form (terms, quoted phrases,
// space-delimited [..] patterns, regular expressions) is refused by Parse: the harness fails at
// start rather than filter differently than AWS would.
package logfilter

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

// Pattern is a parsed filter pattern.
type Pattern struct {
	src  string
	expr node // nil: matches everything
}

// String is the pattern as written.
func (p *Pattern) String() string { return p.src }

// maxPattern is CloudWatch Logs' limit on a filter pattern's length.
const maxPattern = 1024

// Parse reads a filter pattern. Errors quote at most the unsupported token, never a value.
func Parse(src string) (*Pattern, error) {
	if len(src) > maxPattern {
		return nil, fmt.Errorf("filter pattern: longer than %d characters", maxPattern)
	}
	trimmed := strings.TrimSpace(src)
	if trimmed == "" {
		return &Pattern{src: src}, nil
	}
	if !strings.HasPrefix(trimmed, "{") {
		return nil, errors.New("filter pattern: only the JSON form { … } (or the empty pattern) is supported locally")
	}
	toks, err := lex(trimmed)
	if err != nil {
		return nil, err
	}
	ps := &parser{toks: toks}
	if err := ps.expect("{"); err != nil {
		return nil, err
	}
	e, err := ps.expr()
	if err != nil {
		return nil, err
	}
	if err := ps.expect("}"); err != nil {
		return nil, err
	}
	if ps.pos != len(ps.toks) {
		return nil, fmt.Errorf("filter pattern: unexpected %s after }", ps.toks[ps.pos])
	}
	return &Pattern{src: src, expr: e}, nil
}

// Match reports whether the log event message matches. A JSON pattern matches only a message
// that is one JSON value (leading and trailing space aside).
func (p *Pattern) Match(message string) bool {
	if p.expr == nil {
		return true
	}
	dec := json.NewDecoder(strings.NewReader(message))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return false
	}
	if _, err := dec.Token(); err != io.EOF {
		return false // more than one value, or trailing garbage
	}
	return p.expr.eval(doc)
}

// --- the expression tree --------------------------------------------------------------------

type node interface{ eval(doc any) bool }

type logical struct {
	and  bool
	args []node
}

func (l logical) eval(doc any) bool {
	for _, a := range l.args {
		if a.eval(doc) != l.and {
			return !l.and
		}
	}
	return l.and
}

type step struct {
	key   string
	index int // -1: key
}

type selector []step

// find walks doc; ok is false when the member or element is absent.
func (s selector) find(doc any) (any, bool) {
	cur := doc
	for _, st := range s {
		switch v := cur.(type) {
		case map[string]any:
			if st.index >= 0 {
				return nil, false
			}
			next, ok := v[st.key]
			if !ok {
				return nil, false
			}
			cur = next
		case []any:
			if st.index < 0 || st.index >= len(v) {
				return nil, false
			}
			cur = v[st.index]
		default:
			return nil, false
		}
	}
	return cur, true
}

type comparison struct {
	sel selector
	op  string // = != < <= > >= IS NOT-EXISTS
	// str is set for a string comparison, num for a numeric one, is for IS.
	str    *string
	num    float64
	isWhat string // TRUE FALSE NULL
}

func (c comparison) eval(doc any) bool {
	v, ok := c.sel.find(doc)
	if c.op == "NOT EXISTS" {
		return !ok
	}
	if !ok {
		return false
	}
	switch {
	case c.op == "IS":
		switch c.isWhat {
		case "TRUE":
			return v == true
		case "FALSE":
			return v == false
		}
		return v == nil
	case c.str != nil:
		// A string pattern compares string values only: a number or an object never equals,
		// nor differs from, a string.
		s, isStr := v.(string)
		if !isStr {
			return false
		}
		eq := wildcard(*c.str, s)
		return eq == (c.op == "=")
	}
	n, isNum := v.(json.Number)
	if !isNum {
		return false
	}
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil || math.IsInf(f, 0) {
		return false
	}
	switch c.op {
	case "=":
		return f == c.num
	case "!=":
		return f != c.num
	case "<":
		return f < c.num
	case "<=":
		return f <= c.num
	case ">":
		return f > c.num
	}
	return f >= c.num
}

// wildcard matches s against pattern, where * stands for any run of characters and nothing
// else is special: the parts between stars must appear in order, the first at the start and the
// last at the end.
func wildcard(pattern, s string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	last := parts[len(parts)-1]
	for _, part := range parts[1 : len(parts)-1] {
		i := strings.Index(s, part)
		if i < 0 {
			return false
		}
		s = s[i+len(part):]
	}
	return len(s) >= len(last) && strings.HasSuffix(s, last)
}

// --- the lexer and parser ---------------------------------------------------------------------

type token struct {
	kind string // punct, selector, string, word
	text string
}

func (t token) String() string {
	if t.kind == "string" {
		return "a quoted string"
	}
	return strconv.Quote(t.text)
}

func lex(s string) ([]token, error) {
	var toks []token
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case strings.HasPrefix(s[i:], "&&") || strings.HasPrefix(s[i:], "||") ||
			strings.HasPrefix(s[i:], "!=") || strings.HasPrefix(s[i:], "<=") || strings.HasPrefix(s[i:], ">="):
			toks = append(toks, token{"punct", s[i : i+2]})
			i += 2
		case strings.IndexByte("{}()=<>", c) >= 0:
			toks = append(toks, token{"punct", s[i : i+1]})
			i++
		case c == '"':
			j := i + 1
			for j < len(s) && s[j] != '"' {
				if s[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(s) {
				return nil, errors.New("filter pattern: unterminated quoted string")
			}
			v, err := strconv.Unquote(s[i : j+1])
			if err != nil {
				return nil, errors.New("filter pattern: bad escape in a quoted string")
			}
			toks = append(toks, token{"string", v})
			i = j + 1
		case c == '$':
			j := i + 1
			for j < len(s) && !strings.ContainsRune(" \t\r\n{}()=<>!&|\"", rune(s[j])) {
				j++
			}
			toks = append(toks, token{"selector", s[i:j]})
			i = j
		case c == '%' || c == '/':
			return nil, errors.New("filter pattern: regular expressions are not supported locally")
		default:
			j := i
			for j < len(s) && !strings.ContainsRune(" \t\r\n{}()=<>!&|\"", rune(s[j])) {
				j++
			}
			if j == i {
				return nil, fmt.Errorf("filter pattern: unexpected %q", s[i:i+1])
			}
			toks = append(toks, token{"word", s[i:j]})
			i = j
		}
	}
	return toks, nil
}

type parser struct {
	toks []token
	pos  int
}

func (p *parser) peek() (token, bool) {
	if p.pos < len(p.toks) {
		return p.toks[p.pos], true
	}
	return token{}, false
}

func (p *parser) next() (token, error) {
	t, ok := p.peek()
	if !ok {
		return t, errors.New("filter pattern: unexpected end")
	}
	p.pos++
	return t, nil
}

func (p *parser) expect(punct string) error {
	t, err := p.next()
	if err != nil {
		return err
	}
	if t.kind != "punct" || t.text != punct {
		return fmt.Errorf("filter pattern: expected %q, found %s", punct, t)
	}
	return nil
}

// maxDepth bounds nested parentheses.
const maxDepth = 32

// expr is terms joined by && or by || (mixing them needs parentheses: AWS documents no
// precedence between them, so the harness does not guess one).
func (p *parser) expr() (node, error) { return p.exprAt(0) }

func (p *parser) exprAt(depth int) (node, error) {
	first, err := p.term(depth)
	if err != nil {
		return nil, err
	}
	l := logical{args: []node{first}}
	op := ""
	for {
		t, ok := p.peek()
		if !ok || t.kind != "punct" || (t.text != "&&" && t.text != "||") {
			break
		}
		if op != "" && t.text != op {
			return nil, errors.New("filter pattern: && and || mixed without parentheses")
		}
		op = t.text
		p.pos++
		n, err := p.term(depth)
		if err != nil {
			return nil, err
		}
		l.args = append(l.args, n)
	}
	if op == "" {
		return first, nil
	}
	l.and = op == "&&"
	return l, nil
}

func (p *parser) term(depth int) (node, error) {
	t, err := p.next()
	if err != nil {
		return nil, err
	}
	if t.kind == "punct" && t.text == "(" {
		if depth >= maxDepth {
			return nil, errors.New("filter pattern: parentheses nested too deep")
		}
		n, err := p.exprAt(depth + 1)
		if err != nil {
			return nil, err
		}
		return n, p.expect(")")
	}
	if t.kind != "selector" {
		return nil, fmt.Errorf("filter pattern: expected a selector ($.…), found %s", t)
	}
	sel, err := parseSelector(t.text)
	if err != nil {
		return nil, err
	}
	c := comparison{sel: sel}
	op, err := p.next()
	if err != nil {
		return nil, err
	}
	switch {
	case op.kind == "word" && op.text == "IS":
		w, err := p.next()
		if err != nil {
			return nil, err
		}
		if w.kind != "word" || (w.text != "TRUE" && w.text != "FALSE" && w.text != "NULL") {
			return nil, fmt.Errorf("filter pattern: IS takes TRUE, FALSE or NULL, found %s", w)
		}
		c.op, c.isWhat = "IS", w.text
		return c, nil
	case op.kind == "word" && op.text == "NOT":
		w, err := p.next()
		if err != nil {
			return nil, err
		}
		if w.kind != "word" || w.text != "EXISTS" {
			return nil, fmt.Errorf("filter pattern: NOT takes EXISTS, found %s", w)
		}
		c.op = "NOT EXISTS"
		return c, nil
	case op.kind == "punct" && strings.Contains("= != < <= > >=", op.text) && op.text != "":
		c.op = op.text
	default:
		return nil, fmt.Errorf("filter pattern: expected an operator after the selector, found %s", op)
	}
	v, err := p.next()
	if err != nil {
		return nil, err
	}
	if v.kind != "string" && v.kind != "word" {
		return nil, fmt.Errorf("filter pattern: expected a value, found %s", v)
	}
	if f, err := strconv.ParseFloat(v.text, 64); v.kind == "word" && err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
		c.num = f
		return c, nil
	}
	if c.op != "=" && c.op != "!=" {
		return nil, fmt.Errorf("filter pattern: %s compares numbers only", op)
	}
	s := v.text
	c.str = &s
	return c, nil
}

// parseSelector reads $.a.b[0].c (the $ first; members by name, elements by index).
func parseSelector(s string) (selector, error) {
	bad := func() (selector, error) {
		return nil, errors.New("filter pattern: a selector is $ followed by .name or [index] steps")
	}
	if !strings.HasPrefix(s, "$") || len(s) == 1 {
		return bad()
	}
	var sel selector
	for rest := s[1:]; rest != ""; {
		switch rest[0] {
		case '.':
			j := 1
			for j < len(rest) && rest[j] != '.' && rest[j] != '[' {
				j++
			}
			key := rest[1:j]
			if key == "" || key == "*" {
				return bad()
			}
			sel = append(sel, step{key: key, index: -1})
			rest = rest[j:]
		case '[':
			end := strings.IndexByte(rest, ']')
			if end < 0 {
				return bad()
			}
			n, err := strconv.Atoi(rest[1:end])
			if err != nil || n < 0 {
				return bad()
			}
			sel = append(sel, step{index: n})
			rest = rest[end+1:]
		default:
			return bad()
		}
	}
	return sel, nil
}
