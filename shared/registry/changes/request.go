package changes

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf16"
	"unicode/utf8"
)

// field is one protobuf field of a request message: its proto name and its JSON (camelCase) name,
// both of which MLflow's ParseDict accepts.
type field struct{ name, jsonName string }

func f(name string) field { return field{name, name} }

// Fields of MLflow's registry request messages (service.proto / model_registry.proto).
var (
	fName        = f("name")
	fNewName     = field{"new_name", "newName"}
	fVersion     = f("version")
	fAlias       = f("alias")
	fKey         = f("key")
	fValue       = f("value")
	fDescription = f("description")
	fStage       = f("stage")
	fArchive     = field{"archive_existing_versions", "archiveExistingVersions"}
	fSource      = f("source")
	fRunID       = field{"run_id", "runId"}
	fModelID     = field{"model_id", "modelId"}
)

// request is a write's JSON body as MLflow's _get_request_message reads it: top-level keys exact
// (not case-folded, as encoding/json's struct decoding would), the last of a duplicated key
// winning as in a Python dict.
type request map[string]json.RawMessage

// parseRequest reads body the way MLflow's _get_normalized_request_json does: Flask's
// get_json(silent=True) decodes the bytes in the encoding json.loads detects (UTF-8, with or
// without BOM, UTF-16 or UTF-32) and yields nothing for a body it cannot decode or parse, which
// MLflow then reads as {}; a body that is a JSON string is decoded a second time (older clients
// double-encode); null is {}.
func parseRequest(body []byte) (request, error) {
	text, ok := pythonJSONText(body)
	if !ok {
		return request{}, nil
	}
	var top any
	if err := json.Unmarshal(text, &top); err != nil {
		return request{}, nil
	}
	if s, isString := top.(string); isString {
		// The second decoding is not silent in MLflow: a failure there is its error, not {}.
		text = []byte(s)
		if err := json.Unmarshal(text, &top); err != nil {
			return nil, fmt.Errorf("double-encoded body: %w", err)
		}
	}
	if top == nil {
		return request{}, nil
	}
	if _, isObject := top.(map[string]any); !isObject {
		return nil, errors.New("body is not a JSON object")
	}
	var r request
	if err := json.Unmarshal(text, &r); err != nil {
		return nil, fmt.Errorf("body: %w", err)
	}
	return r, nil
}

// pythonJSONText is body as UTF-8 text, decoded as Python's json.detect_encoding would, or false
// when Python could not decode it.
func pythonJSONText(b []byte) ([]byte, bool) {
	switch {
	case bytes.HasPrefix(b, []byte{0xFF, 0xFE, 0, 0}) || bytes.HasPrefix(b, []byte{0, 0, 0xFE, 0xFF}):
		return utf32Text(b[4:], b[0] == 0xFF)
	case bytes.HasPrefix(b, []byte{0xFF, 0xFE}) || bytes.HasPrefix(b, []byte{0xFE, 0xFF}):
		return utf16Text(b[2:], b[0] == 0xFF)
	case bytes.HasPrefix(b, []byte{0xEF, 0xBB, 0xBF}):
		b = b[3:]
	case len(b) >= 4 && b[0] == 0:
		if b[1] != 0 {
			return utf16Text(b, false)
		}
		return utf32Text(b, false)
	case len(b) >= 4 && b[1] == 0:
		if b[2] != 0 || b[3] != 0 {
			return utf16Text(b, true)
		}
		return utf32Text(b, true)
	case len(b) == 2 && b[0] == 0:
		return utf16Text(b, false)
	case len(b) == 2 && b[1] == 0:
		return utf16Text(b, true)
	}
	return b, utf8.Valid(b)
}

func utf16Text(b []byte, little bool) ([]byte, bool) {
	if len(b)%2 != 0 {
		return nil, false
	}
	units := make([]uint16, len(b)/2)
	for i := range units {
		if little {
			units[i] = binary.LittleEndian.Uint16(b[2*i:])
		} else {
			units[i] = binary.BigEndian.Uint16(b[2*i:])
		}
	}
	var out []byte
	for i := 0; i < len(units); i++ {
		r := rune(units[i])
		if utf16.IsSurrogate(r) {
			if i+1 >= len(units) {
				return nil, false
			}
			if r = utf16.DecodeRune(r, rune(units[i+1])); r == utf8.RuneError {
				return nil, false
			}
			i++
		}
		out = utf8.AppendRune(out, r)
	}
	return out, true
}

func utf32Text(b []byte, little bool) ([]byte, bool) {
	if len(b)%4 != 0 {
		return nil, false
	}
	var out []byte
	for i := 0; i < len(b); i += 4 {
		var r rune
		if little {
			r = rune(binary.LittleEndian.Uint32(b[i:]))
		} else {
			r = rune(binary.BigEndian.Uint32(b[i:]))
		}
		if !utf8.ValidRune(r) {
			return nil, false
		}
		out = utf8.AppendRune(out, r)
	}
	return out, true
}

// raw is the field's value as MLflow's ParseDict takes it: under its proto name or its JSON name,
// never both (MLflow's _reject_conflicting_field_aliases refuses that), null being unset.
func (r request) raw(fd field) (json.RawMessage, error) {
	v, hasName := r[fd.name]
	if fd.jsonName != fd.name {
		alt, hasAlias := r[fd.jsonName]
		switch {
		case hasName && hasAlias:
			return nil, fmt.Errorf("both %q and %q", fd.name, fd.jsonName)
		case hasAlias:
			v = alt
		}
	}
	if v == nil || string(bytes.TrimSpace(v)) == "null" {
		return nil, nil
	}
	return v, nil
}

// str is a string field (nil: not sent). ParseDict accepts only a JSON string for one.
func (r request) str(fd field) (*string, error) {
	v, err := r.raw(fd)
	if v == nil || err != nil {
		return nil, err
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return nil, fmt.Errorf("%s is not a string", fd.name)
	}
	return &s, nil
}

// boolean is a bool field (nil: not sent). ParseDict accepts only true or false for one.
func (r request) boolean(fd field) (*bool, error) {
	v, err := r.raw(fd)
	if v == nil || err != nil {
		return nil, err
	}
	var b bool
	if err := json.Unmarshal(v, &b); err != nil {
		return nil, fmt.Errorf("%s is not true or false", fd.name)
	}
	return &b, nil
}

// reader collects the first error of several field reads, so a change is read in straight lines.
type reader struct {
	req request
	err error
}

func (rd *reader) str(fd field) string {
	s := rd.optional(fd)
	if s == nil {
		return ""
	}
	return *s
}

func (rd *reader) optional(fd field) *string {
	s, err := rd.req.str(fd)
	rd.err = errors.Join(rd.err, err)
	return s
}

func (rd *reader) boolean(fd field) *bool {
	b, err := rd.req.boolean(fd)
	rd.err = errors.Join(rd.err, err)
	return b
}

// required is a string field MLflow needs for the call to succeed.
func (rd *reader) required(fd field) string {
	s := rd.str(fd)
	if s == "" && rd.err == nil {
		rd.err = fmt.Errorf("no %s", fd.name)
	}
	return s
}

// ParseBody is a request's JSON body as MLflow's _get_request_message reads it (parseRequest):
// its top-level fields, raw. Other readers of MLflow requests (the search filter) use it, so a
// body means one thing to the gateway and to MLflow.
func ParseBody(body []byte) (map[string]json.RawMessage, error) { return parseRequest(body) }
