package template

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// pathError locates an error inside a resource's properties, e.g. "Environment.Variables.MLFLOW_URL".
type pathError struct {
	path string
	err  error
}

func (e *pathError) Error() string { return e.path + ": " + e.err.Error() }
func (e *pathError) Unwrap() error { return e.err }

// at prefixes err's location with key. Nested locations merge into one path so that a message
// reads "Targets[0].Arn: …" rather than "Targets: [0]: Arn: …".
func at(key string, err error) error {
	if err == nil || key == "" {
		return err
	}
	if pe, ok := err.(*pathError); ok {
		sep := "."
		if strings.HasPrefix(pe.path, "[") {
			sep = ""
		}
		return &pathError{path: key + sep + pe.path, err: pe.err}
	}
	return &pathError{path: key, err: err}
}

func atIndex(i int, err error) error { return at(fmt.Sprintf("[%d]", i), err) }

// props reads one object of a resource's properties. Values are resolved only when read, so an
// intrinsic the harness cannot resolve fails only if the model needs that property.
type props struct {
	p      *parser
	m      map[string]any
	prefix string // location of m inside the resource, for errors
}

func (pr props) where(key string, err error) error { return at(pr.prefix, at(key, err)) }

// resolved is the value of key with intrinsics resolved; ok is false when the key is absent, null
// or AWS::NoValue.
func (pr props) resolved(key string) (v any, ok bool, err error) {
	raw, ok := pr.m[key]
	if !ok || raw == nil {
		return nil, false, nil
	}
	v, err = pr.p.resolve(raw)
	if err != nil {
		return nil, false, pr.where(key, err)
	}
	if v == noValue {
		return nil, false, nil
	}
	return v, true, nil
}

func (pr props) str(key string) (string, bool, error) {
	v, ok, err := pr.resolved(key)
	if !ok || err != nil {
		return "", ok, err
	}
	s, err := scalar(v)
	return s, true, pr.where(key, err)
}

// need reads a string property the model cannot do without.
func (pr props) need(key string) (string, error) {
	s, ok, err := pr.str(key)
	if err == nil && !ok {
		err = pr.where(key, errors.New("missing"))
	}
	return s, err
}

func (pr props) strOr(key, def string) (string, error) {
	s, ok, err := pr.str(key)
	if !ok {
		return def, err
	}
	return s, err
}

func (pr props) integer(key string, def int) (int, error) {
	v, ok, err := pr.resolved(key)
	if !ok || err != nil {
		return def, err
	}
	n, err := toInt(v)
	return n, pr.where(key, err)
}

// seconds reads an integer number of seconds.
func (pr props) seconds(key string, def int) (time.Duration, error) {
	n, err := pr.integer(key, def)
	return time.Duration(n) * time.Second, err
}

func (pr props) float(key string) (float64, error) {
	v, ok, err := pr.resolved(key)
	if !ok || err != nil {
		return 0, err
	}
	f, err := toFloat(v)
	return f, pr.where(key, err)
}

func (pr props) boolean(key string, def bool) (bool, error) {
	v, ok, err := pr.resolved(key)
	if !ok || err != nil {
		return def, err
	}
	b, err := toBool(v)
	return b, pr.where(key, err)
}

func (pr props) strs(key string) ([]string, error) {
	v, ok, err := pr.resolved(key)
	if !ok || err != nil {
		return nil, err
	}
	list, ok := v.([]any)
	if !ok {
		return nil, pr.where(key, fmt.Errorf("want a list, got %s", kind(v)))
	}
	out := make([]string, 0, len(list))
	for i, e := range list {
		s, err := scalar(e)
		if err != nil {
			return nil, pr.where(key, atIndex(i, err))
		}
		out = append(out, s)
	}
	return out, nil
}

// strMap reads an object of strings, such as Environment.Variables or ResponseParameters.
func (pr props) strMap(key string) (map[string]string, error) {
	v, ok, err := pr.resolved(key)
	if !ok || err != nil {
		return nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, pr.where(key, fmt.Errorf("want an object, got %s", kind(v)))
	}
	out := make(map[string]string, len(m))
	// Sorted, so that of several bad values the same one is always reported.
	for _, k := range slices.Sorted(maps.Keys(m)) {
		s, err := scalar(m[k])
		if err != nil {
			return nil, pr.where(key, at(k, err))
		}
		out[k] = s
	}
	return out, nil
}

// obj reads a nested object without resolving what is inside it: its properties are resolved as
// they are read.
func (pr props) obj(key string) (props, bool, error) {
	v, ok := pr.m[key]
	if !ok || v == nil {
		return props{}, false, nil
	}
	if isIntrinsic(v) {
		r, err := pr.p.resolve(v)
		if err != nil {
			return props{}, false, pr.where(key, err)
		}
		if r == noValue {
			return props{}, false, nil
		}
		v = r
	}
	m, ok := v.(map[string]any)
	if !ok {
		return props{}, false, pr.where(key, fmt.Errorf("want an object, got %s", kind(v)))
	}
	return props{p: pr.p, m: m, prefix: joinPath(pr.prefix, key)}, true, nil
}

// objs reads a list of objects, such as Targets or MethodSettings.
func (pr props) objs(key string) ([]props, error) {
	v, ok := pr.m[key]
	if !ok || v == nil {
		return nil, nil
	}
	if isIntrinsic(v) {
		r, err := pr.p.resolve(v)
		if err != nil {
			return nil, pr.where(key, err)
		}
		v = r
	}
	list, ok := v.([]any)
	if !ok {
		return nil, pr.where(key, fmt.Errorf("want a list, got %s", kind(v)))
	}
	out := make([]props, 0, len(list))
	for i, e := range list {
		m, ok := e.(map[string]any)
		if !ok {
			return nil, pr.where(key, atIndex(i, fmt.Errorf("want an object, got %s", kind(e))))
		}
		out = append(out, props{p: pr.p, m: m, prefix: fmt.Sprintf("%s[%d]", joinPath(pr.prefix, key), i)})
	}
	return out, nil
}

// decode resolves key and unmarshals it into dst, for plain nested shapes such as KeySchema.
func (pr props) decode(key string, dst any) (bool, error) {
	v, ok, err := pr.resolved(key)
	if !ok || err != nil {
		return false, err
	}
	b, err := json.Marshal(v)
	if err == nil {
		err = json.Unmarshal(b, dst)
	}
	return true, pr.where(key, err)
}

// rawJSON resolves key and returns it as JSON. A string value is taken to be JSON text already,
// as CloudFormation allows for Json-typed properties.
func (pr props) rawJSON(key string) (json.RawMessage, error) {
	v, ok, err := pr.resolved(key)
	if !ok || err != nil {
		return nil, err
	}
	if s, ok := v.(string); ok {
		if !json.Valid([]byte(s)) {
			return nil, pr.where(key, fmt.Errorf("not valid JSON: %q", s))
		}
		return json.RawMessage(s), nil
	}
	b, err := marshal(v)
	return b, pr.where(key, err)
}

// marshal is v as compact JSON, with "<", ">" and "&" kept as they are: patterns such as
// {"numeric": [">", 0]} should read as written.
func marshal(v any) (json.RawMessage, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

func joinPath(prefix, key string) string {
	if prefix == "" {
		return key
	}
	return prefix + "." + key
}

// scalar is v as a string the way CloudFormation passes scalars to string properties.
func scalar(v any) (string, error) {
	switch t := v.(type) {
	case string:
		return t, nil
	case json.Number:
		return t.String(), nil
	case bool:
		return strconv.FormatBool(t), nil
	}
	return "", fmt.Errorf("want a string, got %s", kind(v))
}

func toInt(v any) (int, error) {
	s, err := scalar(v)
	if err != nil {
		return 0, fmt.Errorf("want an integer, got %s", kind(v))
	}
	if n, err := strconv.Atoi(strings.TrimSpace(s)); err == nil {
		return n, nil
	}
	// JSON allows 3.0 and 3e1 for integers.
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || f != math.Trunc(f) || math.Abs(f) > math.MaxInt32 {
		return 0, fmt.Errorf("want an integer, got %q", s)
	}
	return int(f), nil
}

func toFloat(v any) (float64, error) {
	s, err := scalar(v)
	if err != nil {
		return 0, fmt.Errorf("want a number, got %s", kind(v))
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return 0, fmt.Errorf("want a number, got %q", s)
	}
	return f, nil
}

// toBool accepts true and "true" alike, as CloudFormation does.
func toBool(v any) (bool, error) {
	switch t := v.(type) {
	case bool:
		return t, nil
	case string:
		switch strings.ToLower(t) {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
	}
	return false, fmt.Errorf("want a boolean, got %s", kind(v))
}

// kind describes v for error messages.
func kind(v any) string {
	switch t := v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "an object"
	case []any:
		return "a list"
	case string:
		return fmt.Sprintf("%q", t)
	case json.Number:
		return t.String()
	case bool:
		return strconv.FormatBool(t)
	}
	return fmt.Sprintf("%T", v)
}
