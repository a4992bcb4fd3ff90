package provision

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestGenerateSecret(t *testing.T) {
	for _, tc := range []struct {
		name  string
		spec  string
		check func(string) bool
	}{
		{"defaults", ``, func(s string) bool {
			return len(s) == 32 && strings.ContainsAny(s, lowercase) && strings.ContainsAny(s, uppercase) &&
				strings.ContainsAny(s, digits) && strings.ContainsAny(s, punctuation) && !strings.Contains(s, " ")
		}},
		{"empty object", `{}`, func(s string) bool { return len(s) == 32 }},
		{"length and exclusions", `{"PasswordLength":12,"ExcludePunctuation":true,"ExcludeCharacters":"0123456789"}`, func(s string) bool {
			return len(s) == 12 && !strings.ContainsAny(s, punctuation+digits)
		}},
		{"digits only", `{"PasswordLength":6,"ExcludeLowercase":true,"ExcludeUppercase":true,"ExcludePunctuation":true}`, func(s string) bool {
			return len(s) == 6 && strings.Trim(s, digits) == ""
		}},
		{"space", `{"PasswordLength":8,"IncludeSpace":true,"ExcludeLowercase":true,"ExcludeUppercase":true,"ExcludePunctuation":true,"ExcludeNumbers":true}`, func(s string) bool {
			return s == "        "
		}},
		{"template", `{"SecretStringTemplate":"{\"user\":\"u\"}","GenerateStringKey":"pw","PasswordLength":10}`, func(s string) bool {
			var v map[string]string
			return json.Unmarshal([]byte(s), &v) == nil && v["user"] == "u" && len(v["pw"]) == 10
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for range 20 { // the value is random; a few draws catch a class left out by chance
				got, err := generateSecret(json.RawMessage(tc.spec))
				if err != nil {
					t.Fatal(err)
				}
				if !tc.check(got) {
					t.Fatalf("generated %q", got)
				}
			}
		})
	}
}

func TestGenerateSecretRejects(t *testing.T) {
	for name, spec := range map[string]string{
		"key without template": `{"GenerateStringKey":"pw"}`,
		"template not object":  `{"SecretStringTemplate":"[1]","GenerateStringKey":"pw"}`,
		"nothing left":         `{"ExcludeLowercase":true,"ExcludeUppercase":true,"ExcludePunctuation":true,"ExcludeNumbers":true}`,
		"too short":            `{"PasswordLength":2}`,
		"zero length":          `{"PasswordLength":0}`,
		"not JSON":             `{`,
	} {
		if got, err := generateSecret(json.RawMessage(spec)); err == nil {
			t.Errorf("%s: generated %q, want an error", name, got)
		}
	}
}
