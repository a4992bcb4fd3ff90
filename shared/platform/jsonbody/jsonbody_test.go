package jsonbody_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/hokusai-protocol/registry-gateway/shared/platform/apikey"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/httpapi"
	"github.com/hokusai-protocol/registry-gateway/shared/platform/jsonbody"
)

func TestRead(t *testing.T) {
	const limit = 16
	for _, tc := range []struct {
		name          string
		body          io.Reader
		contentLength int64 // -1: unknown, as with chunked encoding
		want          string
		wantErr       string // "413": the caller's tooLarge; else a substring of a plain error
	}{
		{name: "empty", body: strings.NewReader(""), contentLength: 0, want: ""},
		{name: "at the limit", body: strings.NewReader(strings.Repeat("x", limit)), contentLength: limit, want: strings.Repeat("x", limit)},
		{name: "at the limit, length unknown", body: strings.NewReader(strings.Repeat("x", limit)), contentLength: -1, want: strings.Repeat("x", limit)},
		{name: "declared too large", body: strings.NewReader("{}"), contentLength: limit + 1, wantErr: "413"},
		{name: "sent too large", body: strings.NewReader(strings.Repeat("x", limit+1)), contentLength: -1, wantErr: "413"},
		{name: "read failure", body: iotest.ErrReader(errors.New("connection reset")), contentLength: -1, wantErr: "read request body: connection reset"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/", tc.body)
			r.ContentLength = tc.contentLength
			tooLarge := httpapi.TooLarge("the caller's own words")
			got, err := jsonbody.Read(httptest.NewRecorder(), r, limit, tooLarge)
			switch {
			case tc.wantErr == "413":
				if err != tooLarge {
					t.Fatalf("err = %v, want the caller's 413", err)
				}
			case tc.wantErr != "":
				var he *httpapi.Error
				if err == nil || errors.As(err, &he) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want a plain error containing %q", err, tc.wantErr)
				}
			case err != nil || string(got) != tc.want:
				t.Fatalf("Read = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

// target is a set of fields of each kind a request body carries.
type target struct {
	S   string
	P   *string
	N   *int
	F   float64
	B   bool
	L   []string
	M   map[string]string
	Raw json.RawMessage
}

func (v *target) fields() []jsonbody.Field {
	return []jsonbody.Field{
		{Name: "s", Into: &v.S, Want: "a string"},
		{Name: "p", Into: &v.P, Want: "a string"},
		{Name: "n", Into: &v.N, Want: "a whole number"},
		{Name: "f", Into: &v.F, Want: "a number"},
		{Name: "b", Into: &v.B, Want: "a boolean"},
		{Name: "l", Into: &v.L, Want: "a list of strings"},
		{Name: "m", Into: &v.M, Want: "an object of string values"},
		{Name: "raw", Into: &v.Raw, Want: "a JSON value"},
	}
}

func ptr[T any](v T) *T { return &v }

func TestDecodeObject(t *testing.T) {
	key, err := apikey.Generate("live")
	if err != nil {
		t.Fatal(err)
	}
	var many []string
	for i := range 13 {
		many = append(many, fmt.Sprintf(`"u%02d":1`, i))
	}
	long := strings.Repeat("é", 70)
	for _, tc := range []struct {
		name   string
		body   string
		strict bool
		want   target
		errs   []httpapi.FieldError
	}{
		{name: "every field", strict: true,
			body: `{"s":"x","p":"y","n":3,"f":1.5,"b":true,"l":["a","b"],"m":{"k":"v"},"raw":{"a": [1]}}`,
			want: target{S: "x", P: ptr("y"), N: ptr(3), F: 1.5, B: true, L: []string{"a", "b"}, M: map[string]string{"k": "v"}, Raw: json.RawMessage(`{"a": [1]}`)}},
		{name: "absent and null leave zero values", strict: true, body: ` {"p":null,"n":null} `},
		{name: "the last of a repeated member wins", strict: true, body: `{"s":"a","s":"b"}`, want: target{S: "b"}},
		{name: "each member of the wrong type is named, in field order", strict: true,
			body: `{"m":[1],"s":1,"n":1.5,"b":"true","f":"1"}`,
			errs: []httpapi.FieldError{{Field: "s", Message: "must be a string"}, {Field: "n", Message: "must be a whole number"},
				{Field: "f", Message: "must be a number"}, {Field: "b", Message: "must be a boolean"}, {Field: "m", Message: "must be an object of string values"}}},
		{name: "a number out of range is a type error", strict: true, body: `{"f":1e400}`,
			errs: []httpapi.FieldError{{Field: "f", Message: "must be a number"}}},
		// Python's json.dumps writes non-finite floats as these literals; they are answered as
		// 1e400 is, by the field they are in, not as a body that is not JSON.
		{name: "NaN is a type error of its field", strict: true, body: `{"f":NaN}`,
			errs: []httpapi.FieldError{{Field: "f", Message: "must be a number"}}},
		{name: "Infinity is a type error of its field", strict: true, body: `{"f": Infinity}`,
			errs: []httpapi.FieldError{{Field: "f", Message: "must be a number"}}},
		{name: "-Infinity is a type error of its field", strict: true, body: `{"f":-Infinity }`,
			errs: []httpapi.FieldError{{Field: "f", Message: "must be a number"}}},
		{name: "non-finite literals name every field they are in", strict: true,
			body: `{"s":NaN,"n":Infinity,"l":["a",NaN],"m":{"k":-Infinity},"b":NaN}`,
			errs: []httpapi.FieldError{{Field: "s", Message: "must be a string"}, {Field: "n", Message: "must be a whole number"},
				{Field: "b", Message: "must be a boolean"}, {Field: "l", Message: "must be a list of strings"}, {Field: "m", Message: "must be an object of string values"}}},
		{name: "a non-finite literal in a raw member reaches it as an out-of-range number", strict: true,
			body: "{\"raw\":{\"a\":[NaN,\n-Infinity]}}", want: target{Raw: json.RawMessage("{\"a\":[1e999,\n-1e999]}")}},
		{name: "the literals inside strings are text", strict: true, body: `{"s":"NaN Infinity -Infinity","NaN":1}`,
			want: target{S: "NaN Infinity -Infinity"}, errs: []httpapi.FieldError{{Field: "NaN", Message: "unknown field"}}},
		{name: "names match exactly", strict: true, body: `{"S":"x","s ":"y"}`,
			errs: []httpapi.FieldError{{Field: "S", Message: "unknown field"}, {Field: "s ", Message: "unknown field"}}},
		{name: "unknown members come last, sorted", strict: true, body: `{"z":1,"s":2,"a":3}`,
			errs: []httpapi.FieldError{{Field: "s", Message: "must be a string"}, {Field: "a", Message: "unknown field"}, {Field: "z", Message: "unknown field"}}},
		{name: "not strict ignores unknown members", body: `{"z":1,"s":"x","S":2}`, want: target{S: "x"}},
		{name: "not strict still names type errors", body: `{"z":1,"s":2}`,
			errs: []httpapi.FieldError{{Field: "s", Message: "must be a string"}}},
		{name: "ten unknown members are named, the rest counted", strict: true, body: "{" + strings.Join(many, ",") + "}",
			errs: append(unknownFields("u00", "u01", "u02", "u03", "u04", "u05", "u06", "u07", "u08", "u09"),
				httpapi.FieldError{Field: "body", Message: "3 more unknown fields"})},
		{name: "a long unknown name is truncated", strict: true, body: `{"` + long + `":1}`,
			errs: unknownFields(strings.Repeat("é", 64) + "…")},
		{name: "an unknown name holding a key is redacted", strict: true, body: `{"` + key + `":1}`,
			errs: unknownFields("hk_live_[REDACTED]")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got target
			errs, err := jsonbody.DecodeObject([]byte(tc.body), got.fields(), tc.strict)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(errs, tc.errs) {
				t.Errorf("errors %v, want %v", errs, tc.errs)
			}
			// A member of the wrong type may leave its field half written: the caller refuses
			// the body, so only bodies without type errors are checked field by field.
			typeError := func(fe httpapi.FieldError) bool { return strings.HasPrefix(fe.Message, "must be ") }
			if !slices.ContainsFunc(errs, typeError) && !reflect.DeepEqual(got, tc.want) {
				t.Errorf("decoded %+v, want %+v", got, tc.want)
			}
		})
	}
}

func unknownFields(names ...string) []httpapi.FieldError {
	var out []httpapi.FieldError
	for _, n := range names {
		out = append(out, httpapi.FieldError{Field: n, Message: "unknown field"})
	}
	return out
}

// A body that is not one JSON object is refused whole, before any field: 400 for what is not
// exactly one JSON value, 422 for a value other than an object.
func TestDecodeObjectRefusesWhatIsNotAnObject(t *testing.T) {
	for _, tc := range []struct {
		body   string
		status int
		detail string
	}{
		{"", 400, "the request body is empty; send a JSON object"},
		{"  \n", 400, "the request body is empty; send a JSON object"},
		{"{", 400, "the request body is not valid JSON"},
		{`{"s":}`, 400, "the request body is not valid JSON"},
		{`{"s":"x"} {}`, 400, "the request body has data after its JSON value"},
		{`{"s":"x"} x`, 400, "the request body has data after its JSON value"},
		{"[]", 422, "[{body must be a JSON object}]"},
		{`"x"`, 422, "[{body must be a JSON object}]"},
		{"null", 422, "[{body must be a JSON object}]"},
		{"1", 422, "[{body must be a JSON object}]"},
		{"NaN", 422, "[{body must be a JSON object}]"},
		// Only the literals Python writes, where a value goes: anything else is not JSON.
		{`{"f":nan}`, 400, "the request body is not valid JSON"},
		{`{"f":-NaN}`, 400, "the request body is not valid JSON"},
		{`{"f":+Infinity}`, 400, "the request body is not valid JSON"},
		{`{"f":infinity}`, 400, "the request body is not valid JSON"},
		{`{"f":NaNx}`, 400, "the request body is not valid JSON"},
		{`{"f":1NaN}`, 400, "the request body is not valid JSON"},
		{`{"f":Infinit}`, 400, "the request body is not valid JSON"},
		{`{NaN:1}`, 400, "the request body is not valid JSON"},
		{`{"f":NaN NaN}`, 400, "the request body is not valid JSON"},
		{`{"s":"\"NaN}`, 400, "the request body is not valid JSON"},
		{`{"f":NaN} NaN`, 400, "the request body has data after its JSON value"},
	} {
		for _, strict := range []bool{true, false} {
			var v target
			errs, err := jsonbody.DecodeObject([]byte(tc.body), v.fields(), strict)
			he := httpapi.StatusOf(err)
			if errs != nil || he.Status != tc.status || fmt.Sprint(he.Detail) != tc.detail {
				t.Errorf("%q (strict %v): %v %v, want %d %s", tc.body, strict, errs, err, tc.status, tc.detail)
			}
		}
	}
}

func TestMembers(t *testing.T) {
	m, err := jsonbody.Members([]byte(` {"a": 1, "b":{"c":[true]}, "a":"x"} `))
	if err != nil {
		t.Fatal(err)
	}
	if len(m) != 2 || string(m["a"]) != `"x"` || string(m["b"]) != `{"c":[true]}` {
		t.Errorf("members %v", m)
	}
}

func TestMerge(t *testing.T) {
	fe := func(f, msg string) httpapi.FieldError { return httpapi.FieldError{Field: f, Message: msg} }
	for _, tc := range []struct {
		name            string
		decoding, rules []httpapi.FieldError
		want            []httpapi.FieldError
	}{
		{name: "nothing wrong"},
		{name: "rules alone", rules: []httpapi.FieldError{fe("a", "is required")}, want: []httpapi.FieldError{fe("a", "is required")}},
		{name: "a field of the wrong type is not also missing",
			decoding: []httpapi.FieldError{fe("a", "must be a string")},
			rules:    []httpapi.FieldError{fe("a", "is required"), fe("b", "is required")},
			want:     []httpapi.FieldError{fe("a", "must be a string"), fe("b", "is required")}},
		{name: "entries and paths belong to their member",
			decoding: []httpapi.FieldError{fe("tags", "must be an object"), fe("scopes", "must be a list")},
			rules:    []httpapi.FieldError{fe("tags.mlflow.user", "reserved"), fe("scopes[2]", "unknown scope"), fe("tagsx", "bad"), fe("scopesx[0]", "bad")},
			want:     []httpapi.FieldError{fe("tags", "must be an object"), fe("scopes", "must be a list"), fe("tagsx", "bad"), fe("scopesx[0]", "bad")}},
		{name: "unknown members stay last",
			decoding: []httpapi.FieldError{fe("a", "must be a string"), fe("x", "unknown field"), fe("body", "3 more unknown fields")},
			rules:    []httpapi.FieldError{fe("b", "is required")},
			want:     []httpapi.FieldError{fe("a", "must be a string"), fe("b", "is required"), fe("x", "unknown field"), fe("body", "3 more unknown fields")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			decoding := slices.Clone(tc.decoding)
			if got := jsonbody.Merge(decoding, tc.rules); !slices.Equal(got, tc.want) {
				t.Errorf("Merge = %v, want %v", got, tc.want)
			}
			if !slices.Equal(decoding, tc.decoding) {
				t.Errorf("Merge changed its input: %v", decoding)
			}
		})
	}
}

func TestTruncate(t *testing.T) {
	for _, tc := range []struct {
		s    string
		n    int
		want string
	}{
		{"", 3, ""},
		{"abc", 3, "abc"},
		{"abcd", 3, "abc…"},
		{"ééééé", 4, "éééé…"}, // characters, not bytes
		{"日本語", 3, "日本語"},
	} {
		if got := jsonbody.Truncate(tc.s, tc.n); got != tc.want {
			t.Errorf("Truncate(%q, %d) = %q, want %q", tc.s, tc.n, got, tc.want)
		}
	}
}

// FuzzDecodeObject: DecodeObject never panics, refuses a body only as a 400 or 422, names only
// fields, unknown members and the count of the rest; and a body it accepts without errors decodes
// each field exactly as that member's last value decodes on its own.
func FuzzDecodeObject(f *testing.F) {
	for _, seed := range []string{
		`{"s":"x","p":"y","n":3,"f":1.5,"b":true,"l":["a","b"],"m":{"k":"v"},"raw":{"a": [1]}}`,
		`{"s":"a","s":"b","m":{"x":"1"},"m":{"y":"2"},"l":["a"],"l":[]}`,
		`{"p":null,"n":null,"raw":null}`, `{"S":1}`, `{"s":1,"z":2}`, `{"n":1.5}`, `{"f":1e400}`,
		`{"f":NaN}`, `{"f":Infinity,"n":-Infinity}`, `{"raw":[NaN],"s":"NaN"}`, `{"f":-NaN}`, `NaN`, `{"s":"\"",NaN:1}`,
		`{"\u0073":"escaped name"}`, `{"s":"\ud800"}`, "{\"s\":\"\xff\"}",
		``, `{`, `[]`, `null`, `"x"`, `{} {}`, `{"a":1,"b":2,"c":3,"d":4,"e":5,"g":6,"h":7,"i":8,"j":9,"k":10,"o":11}`,
	} {
		f.Add([]byte(seed), true)
		f.Add([]byte(seed), false)
	}
	f.Fuzz(func(t *testing.T, body []byte, strict bool) {
		var got target
		fields := got.fields()
		errs, err := jsonbody.DecodeObject(body, fields, strict)
		if err != nil {
			var he *httpapi.Error
			if !errors.As(err, &he) || (he.Status != http.StatusBadRequest && he.Status != http.StatusUnprocessableEntity) {
				t.Fatalf("refusal %v is not a 400 or 422", err)
			}
			if errs != nil {
				t.Fatalf("errors %v beside a refusal", errs)
			}
			return
		}
		names := map[string]bool{}
		for _, f := range fields {
			names[f.Name] = true
		}
		unknown := 0
		for _, fe := range errs {
			switch {
			case fe.Message == "unknown field":
				unknown++
				if !strict || names[fe.Field] {
					t.Fatalf("%v reported (strict %v)", fe, strict)
				}
			case fe.Field == "body":
				if !strict || unknown != 10 {
					t.Fatalf("%v after %d unknown members", fe, unknown)
				}
			case !names[fe.Field] || !strings.HasPrefix(fe.Message, "must be "):
				t.Fatalf("unexpected error %v", fe)
			}
		}
		if len(errs) > 0 {
			return
		}
		last := lastMembers(t, nonFiniteBySyntaxErrors(body))
		for _, f := range fields {
			want := reflect.New(reflect.TypeOf(f.Into).Elem())
			if raw, ok := last[f.Name]; ok {
				if err := json.Unmarshal(raw, want.Interface()); err != nil {
					t.Fatalf("%s: accepted %s, which does not decode: %v", f.Name, raw, err)
				}
			}
			if g := reflect.ValueOf(f.Into).Elem().Interface(); !reflect.DeepEqual(g, want.Elem().Interface()) {
				t.Fatalf("%s = %#v, want %#v (body %q)", f.Name, g, want.Elem().Interface(), body)
			}
			delete(last, f.Name)
		}
		if strict && len(last) > 0 {
			t.Fatalf("strict decoding accepted unknown members %v", last)
		}
	})
}

// nonFiniteBySyntaxErrors is the fuzz target's second opinion on Python's non-finite literals: it
// replaces each one where encoding/json stops with a syntax error, as DecodeObject is meant to
// read them (NaN and Infinity as 1e999, -Infinity as -1e999).
func nonFiniteBySyntaxErrors(body []byte) []byte {
	body = slices.Clone(body)
	for {
		var se *json.SyntaxError
		if !errors.As(json.Unmarshal(body, new(any)), &se) {
			return body
		}
		at := int(se.Offset) - 1
		literal, number := "", ""
		switch {
		case at > 0 && bytes.HasPrefix(body[at-1:], []byte("-Infinity")):
			at, literal, number = at-1, "-Infinity", "-1e999"
		case at > 0 && body[at-1] == '-':
			return body
		case bytes.HasPrefix(body[at:], []byte("NaN")):
			literal, number = "NaN", "1e999"
		case bytes.HasPrefix(body[at:], []byte("Infinity")):
			literal, number = "Infinity", "1e999"
		default:
			return body
		}
		body = slices.Concat(body[:at], []byte(number), body[at+len(literal):])
	}
}

// lastMembers reads body, a JSON object, token by token: each member's name and its last raw value.
func lastMembers(t *testing.T, body []byte) map[string]json.RawMessage {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(body))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		t.Fatalf("accepted %q, which does not open an object: %v %v", body, tok, err)
	}
	out := map[string]json.RawMessage{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			t.Fatalf("accepted %q: %v", body, err)
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			t.Fatalf("accepted %q: %v", body, err)
		}
		out[tok.(string)] = raw
	}
	return out
}
