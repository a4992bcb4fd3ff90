package template

import (
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// noValue is what Ref AWS::NoValue resolves to: CloudFormation drops the enclosing property or list
// element, and so does resolve.
type noValueType struct{}

var noValue any = noValueType{}

// isIntrinsic reports whether v is an intrinsic function call: an object with the single key Ref or
// Fn::<name>.
func isIntrinsic(v any) bool {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return false
	}
	for k := range m {
		return k == "Ref" || strings.HasPrefix(k, "Fn::")
	}
	return false
}

// resolve replaces every intrinsic function in v by its local value.
func (p *parser) resolve(v any) (any, error) {
	switch t := v.(type) {
	case map[string]any:
		if isIntrinsic(t) {
			for fn, arg := range t {
				return p.call(fn, arg)
			}
		}
		out := make(map[string]any, len(t))
		// Sorted, so that of several bad values the same one is always reported.
		for _, k := range slices.Sorted(maps.Keys(t)) {
			r, err := p.resolve(t[k])
			if err != nil {
				return nil, at(k, err)
			}
			if r != noValue {
				out[k] = r
			}
		}
		return out, nil
	case []any:
		out := make([]any, 0, len(t))
		for i, e := range t {
			r, err := p.resolve(e)
			if err != nil {
				return nil, atIndex(i, err)
			}
			if r != noValue {
				out = append(out, r)
			}
		}
		return out, nil
	}
	return v, nil
}

func (p *parser) resolveString(v any) (string, error) {
	r, err := p.resolve(v)
	if err != nil {
		return "", err
	}
	return scalar(r)
}

func (p *parser) resolveList(v any) ([]any, error) {
	r, err := p.resolve(v)
	if err != nil {
		return nil, err
	}
	list, ok := r.([]any)
	if !ok {
		return nil, fmt.Errorf("want a list, got %s", kind(r))
	}
	return list, nil
}

func (p *parser) call(fn string, arg any) (any, error) {
	var impl func(any) (any, error)
	switch fn {
	case "Ref":
		impl = p.refArg
	case "Fn::GetAtt":
		impl = p.getAttArg
	case "Fn::Join":
		impl = p.join
	case "Fn::Sub":
		impl = p.sub
	case "Fn::Select":
		impl = p.selectFn
	case "Fn::Split":
		impl = p.split
	case "Fn::FindInMap":
		impl = p.findInMap
	case "Fn::Base64":
		impl = p.base64
	case "Fn::If", "Fn::Equals", "Fn::And", "Fn::Or", "Fn::Not":
		return nil, fmt.Errorf("%s: conditions are not evaluated locally", fn)
	default:
		return nil, fmt.Errorf("intrinsic function %s is not supported locally", fn)
	}
	v, err := impl(arg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", fn, err)
	}
	return v, nil
}

func (p *parser) refArg(arg any) (any, error) {
	name, ok := arg.(string)
	if !ok {
		return nil, fmt.Errorf("want a name, got %s", kind(arg))
	}
	return p.ref(name)
}

// ref is what Ref returns for name: a pseudo parameter, a parameter's default, or per resource type
// what CloudFormation documents as the resource's Ref value.
func (p *parser) ref(name string) (any, error) {
	switch name {
	case "AWS::Region":
		return Region, nil
	case "AWS::AccountId":
		return AccountID, nil
	case "AWS::Partition":
		return "aws", nil
	case "AWS::StackName":
		return p.stack, nil
	case "AWS::URLSuffix":
		return "amazonaws.com", nil
	case "AWS::NoValue":
		return noValue, nil
	}
	if r, ok := p.resources[name]; ok {
		v, err := p.refValue(r)
		if err != nil {
			return nil, fmt.Errorf("resource %s: %w", name, err)
		}
		return v, nil
	}
	if prm := p.params[name]; prm != nil {
		return paramValue(name, prm)
	}
	if strings.HasPrefix(name, "AWS::") {
		return nil, fmt.Errorf("pseudo parameter %s is not supported locally", name)
	}
	return nil, fmt.Errorf("%q is no resource or parameter of this template", name)
}

func (p *parser) refValue(r *resource) (any, error) {
	switch r.Type {
	case typeTable, typeGlobalTable, typeBus, typeFunction, typeLogGroup:
		return p.name(r.ID)
	case typeQueue:
		return p.queueURL(r.ID)
	case typeSecret, typeTopic:
		return p.arn(r.ID)
	case typeRule:
		return p.ruleRef(r.ID)
	}
	return nil, fmt.Errorf("Ref to a %s is not supported locally", r.Type)
}

// paramValue is a parameter's default: the harness has no deploy-time parameter values.
func paramValue(name string, prm *parameter) (any, error) {
	if strings.HasPrefix(prm.Type, "AWS::SSM::Parameter::") {
		return nil, fmt.Errorf("parameter %s is read from SSM, which the harness does not have", name)
	}
	if prm.Default == nil {
		return nil, fmt.Errorf("parameter %s has no default", name)
	}
	s, err := scalar(prm.Default)
	if err != nil {
		return nil, fmt.Errorf("parameter %s: %w", name, err)
	}
	if prm.Type == "CommaDelimitedList" || strings.HasPrefix(prm.Type, "List<") {
		var list []any
		for _, e := range strings.Split(s, ",") {
			list = append(list, strings.TrimSpace(e))
		}
		return list, nil
	}
	return s, nil
}

// getAttArg accepts both forms, ["Logical", "Attr"] and "Logical.Attr".
func (p *parser) getAttArg(arg any) (any, error) {
	switch a := arg.(type) {
	case []any:
		if len(a) != 2 {
			break
		}
		id, ok := a[0].(string)
		if !ok {
			break
		}
		attr, err := p.resolveString(a[1])
		if err != nil {
			return nil, err
		}
		return p.getAtt(id, attr)
	case string:
		if id, attr, ok := strings.Cut(a, "."); ok {
			return p.getAtt(id, attr)
		}
	}
	return nil, errors.New(`want ["LogicalId", "Attribute"]`)
}

func (p *parser) getAtt(id, attr string) (any, error) {
	r, ok := p.resources[id]
	if !ok {
		return nil, fmt.Errorf("%q is no resource of this template", id)
	}
	v, err := p.attribute(r, attr)
	if err != nil {
		return nil, fmt.Errorf("resource %s: %w", id, err)
	}
	return v, nil
}

func (p *parser) attribute(r *resource, attr string) (string, error) {
	switch {
	case attr == "Arn" && hasARN(r.Type):
		return p.arn(r.ID)
	case r.Type == typeQueue && attr == "QueueName",
		r.Type == typeBus && attr == "Name",
		r.Type == typeTopic && attr == "TopicName":
		return p.name(r.ID)
	case r.Type == typeQueue && attr == "QueueUrl":
		return p.queueURL(r.ID)
	case r.Type == typeSecret && attr == "Id",
		r.Type == typeTopic && attr == "TopicArn":
		return p.arn(r.ID)
	case (r.Type == typeTable || r.Type == typeGlobalTable) && attr == "StreamArn":
		return "", errors.New("DynamoDB streams are not emulated locally")
	}
	return "", fmt.Errorf("attribute %s of a %s is not supported locally", attr, r.Type)
}

func (p *parser) join(arg any) (any, error) {
	a, ok := arg.([]any)
	if !ok || len(a) != 2 {
		return nil, errors.New("want [delimiter, [values…]]")
	}
	delim, err := p.resolveString(a[0])
	if err != nil {
		return nil, err
	}
	items, err := p.resolveList(a[1])
	if err != nil {
		return nil, err
	}
	parts := make([]string, len(items))
	for i, item := range items {
		if parts[i], err = scalar(item); err != nil {
			return nil, atIndex(i, err)
		}
	}
	return strings.Join(parts, delim), nil
}

// sub expands ${Name} (a variable of the map form, a pseudo parameter or a Ref) and
// ${Logical.Attr} (a Fn::GetAtt); ${!Literal} stands for the text ${Literal}.
func (p *parser) sub(arg any) (any, error) {
	text, vars, ok := subArgs(arg)
	if !ok {
		return nil, errors.New("want a string or [string, {variables}]")
	}
	// Each variable is resolved once, and the result is bounded: a variable used twice in a
	// variable used twice in … would otherwise grow exponentially with the template's depth.
	values := map[string]string{}
	var b strings.Builder
	for b.Len() <= maxSubLen {
		start := strings.Index(text, "${")
		if start < 0 {
			b.WriteString(text)
			break
		}
		b.WriteString(text[:start])
		end := strings.IndexByte(text[start:], '}')
		if end < 0 {
			return nil, fmt.Errorf("unterminated ${ in %q", text)
		}
		name := text[start+2 : start+end]
		text = text[start+end+1:]
		if literal, ok := strings.CutPrefix(name, "!"); ok {
			b.WriteString("${" + literal + "}")
			continue
		}
		val, done := values[name]
		if !done {
			var err error
			if val, err = p.subVar(strings.TrimSpace(name), vars); err != nil {
				return nil, fmt.Errorf("${%s}: %w", name, err)
			}
			values[name] = val
		}
		b.WriteString(val)
	}
	if b.Len() > maxSubLen {
		return nil, fmt.Errorf("expands to more than %d bytes", maxSubLen)
	}
	return b.String(), nil
}

// maxSubLen bounds a Fn::Sub result; no property of the resources read comes near it.
const maxSubLen = 1 << 20

func subArgs(arg any) (text string, vars map[string]any, ok bool) {
	switch a := arg.(type) {
	case string:
		return a, nil, true
	case []any:
		if len(a) != 2 {
			return "", nil, false
		}
		text, ok1 := a[0].(string)
		vars, ok2 := a[1].(map[string]any)
		return text, vars, ok1 && ok2
	}
	return "", nil, false
}

func (p *parser) subVar(name string, vars map[string]any) (string, error) {
	if v, ok := vars[name]; ok {
		return p.resolveString(v)
	}
	var (
		v   any
		err error
	)
	if id, attr, ok := strings.Cut(name, "."); ok && !strings.HasPrefix(name, "AWS::") {
		v, err = p.getAtt(id, attr)
	} else {
		v, err = p.ref(name)
	}
	if err != nil {
		return "", err
	}
	return scalar(v)
}

func (p *parser) selectFn(arg any) (any, error) {
	a, ok := arg.([]any)
	if !ok || len(a) != 2 {
		return nil, errors.New("want [index, [values…]]")
	}
	idx, err := p.resolveString(a[0])
	if err != nil {
		return nil, err
	}
	i, err := strconv.Atoi(idx)
	if err != nil {
		return nil, fmt.Errorf("index %q is not an integer", idx)
	}
	list, err := p.resolveList(a[1])
	if err != nil {
		return nil, err
	}
	if i < 0 || i >= len(list) {
		return nil, fmt.Errorf("index %d out of range of %d values", i, len(list))
	}
	return list[i], nil
}

func (p *parser) split(arg any) (any, error) {
	a, ok := arg.([]any)
	if !ok || len(a) != 2 {
		return nil, errors.New("want [delimiter, string]")
	}
	delim, err := p.resolveString(a[0])
	if err != nil {
		return nil, err
	}
	if delim == "" {
		return nil, errors.New("empty delimiter")
	}
	s, err := p.resolveString(a[1])
	if err != nil {
		return nil, err
	}
	var out []any
	for _, part := range strings.Split(s, delim) {
		out = append(out, part)
	}
	return out, nil
}

func (p *parser) findInMap(arg any) (any, error) {
	a, ok := arg.([]any)
	if !ok || len(a) != 3 {
		return nil, errors.New("want [map, top-level key, second-level key]")
	}
	keys := make([]string, 3)
	for i, k := range a {
		s, err := p.resolveString(k)
		if err != nil {
			return nil, atIndex(i, err)
		}
		keys[i] = s
	}
	top, _ := p.mappings[keys[0]].(map[string]any)
	second, _ := top[keys[1]].(map[string]any)
	v, ok := second[keys[2]]
	if !ok {
		return nil, fmt.Errorf("mapping %s has no %s.%s", keys[0], keys[1], keys[2])
	}
	return v, nil
}

func (p *parser) base64(arg any) (any, error) {
	s, err := p.resolveString(arg)
	if err != nil {
		return nil, err
	}
	return base64.StdEncoding.EncodeToString([]byte(s)), nil
}

// refTo reads {"Ref": id} or {"Fn::GetAtt": [id, attr]} without resolving it, for properties whose
// meaning is the resource pointed at (a parent resource, an authorizer) rather than a value.
func refTo(v any) (id, attr string, ok bool) {
	m, isMap := v.(map[string]any)
	if !isMap || len(m) != 1 {
		return "", "", false
	}
	if s, isStr := m["Ref"].(string); isStr {
		return s, "", true
	}
	switch a := m["Fn::GetAtt"].(type) {
	case []any:
		if len(a) == 2 {
			id, ok1 := a[0].(string)
			attr, ok2 := a[1].(string)
			return id, attr, ok1 && ok2
		}
	case string:
		return strings.Cut(a, ".")
	}
	return "", "", false
}
