package changes

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Fields is a request body read as MLflow's _get_request_message reads it (parseRequest), for the
// proxy's other readers: the fields that name the resource a call addresses.
type Fields struct{ req request }

// ReadFields reads body as MLflow does; an error is a body MLflow refuses too.
func ReadFields(body []byte) (Fields, error) {
	r, err := parseRequest(body)
	return Fields{r}, err
}

// String is the string field under its proto name or its JSON (camelCase) name, "" when unset or
// null; an error for both names at once or a value that is not a string, which MLflow refuses.
func (f Fields) String(name string) (string, error) {
	s, err := f.req.str(protoField(name))
	if s == nil || err != nil {
		return "", err
	}
	return *s, nil
}

// Strings is a repeated string field, as String reads a single one.
func (f Fields) Strings(name string) ([]string, error) {
	v, err := f.req.raw(protoField(name))
	if v == nil || err != nil {
		return nil, err
	}
	var out []string
	if err := json.Unmarshal(v, &out); err != nil {
		return nil, fmt.Errorf("%s is not a list of strings", name)
	}
	return out, nil
}

// protoField is a field by its proto name, with the JSON name protobuf derives from it.
func protoField(name string) field {
	parts := strings.Split(name, "_")
	for i := 1; i < len(parts); i++ {
		if parts[i] != "" {
			parts[i] = strings.ToUpper(parts[i][:1]) + parts[i][1:]
		}
	}
	return field{name, strings.Join(parts, "")}
}
