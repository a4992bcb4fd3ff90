package provision

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
)

// Character classes of Secrets Manager's password generator.
const (
	lowercase   = "abcdefghijklmnopqrstuvwxyz"
	uppercase   = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	digits      = "0123456789"
	punctuation = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
)

// generateSpec is CloudFormation's GenerateSecretString.
type generateSpec struct {
	PasswordLength          *int
	ExcludeCharacters       string
	ExcludeLowercase        bool
	ExcludeUppercase        bool
	ExcludeNumbers          bool
	ExcludePunctuation      bool
	IncludeSpace            bool
	RequireEachIncludedType *bool
	SecretStringTemplate    string
	GenerateStringKey       string
}

// generateSecret makes a value the way Secrets Manager does for GenerateSecretString: a random
// password, or the SecretStringTemplate JSON object with the password under GenerateStringKey.
// An absent spec gets the defaults, a 32-character password.
func generateSecret(raw json.RawMessage) (string, error) {
	var spec generateSpec
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &spec); err != nil {
			return "", fmt.Errorf("GenerateSecretString: %w", err)
		}
	}
	password, err := randomPassword(spec)
	if err != nil {
		return "", err
	}
	if (spec.SecretStringTemplate == "") != (spec.GenerateStringKey == "") {
		return "", errors.New("GenerateSecretString: SecretStringTemplate and GenerateStringKey go together")
	}
	if spec.SecretStringTemplate == "" {
		return password, nil
	}
	var obj map[string]any
	if err := json.Unmarshal([]byte(spec.SecretStringTemplate), &obj); err != nil || obj == nil {
		return "", fmt.Errorf("GenerateSecretString: SecretStringTemplate is not a JSON object: %q", spec.SecretStringTemplate)
	}
	obj[spec.GenerateStringKey] = password
	b, err := json.Marshal(obj)
	if err != nil {
		return "", fmt.Errorf("GenerateSecretString: %w", err)
	}
	return string(b), nil
}

func randomPassword(spec generateSpec) (string, error) {
	length := 32
	if spec.PasswordLength != nil {
		length = *spec.PasswordLength
	}
	if length < 1 || length > 4096 {
		return "", fmt.Errorf("GenerateSecretString: PasswordLength %d is outside 1–4096", length)
	}
	keep := func(set string) string {
		return strings.Map(func(r rune) rune {
			if strings.ContainsRune(spec.ExcludeCharacters, r) {
				return -1
			}
			return r
		}, set)
	}
	var classes []string
	for _, c := range []struct {
		set      string
		excluded bool
	}{
		{lowercase, spec.ExcludeLowercase},
		{uppercase, spec.ExcludeUppercase},
		{digits, spec.ExcludeNumbers},
		{punctuation, spec.ExcludePunctuation},
		{" ", !spec.IncludeSpace},
	} {
		if set := keep(c.set); !c.excluded && set != "" {
			classes = append(classes, set)
		}
	}
	if len(classes) == 0 {
		return "", errors.New("GenerateSecretString: every character is excluded")
	}
	requireEach := spec.RequireEachIncludedType == nil || *spec.RequireEachIncludedType
	if requireEach && length < len(classes) {
		return "", fmt.Errorf("GenerateSecretString: PasswordLength %d cannot hold one of each of %d character types", length, len(classes))
	}
	all := strings.Join(classes, "")
	out := make([]byte, length)
	for i := range out {
		out[i] = all[randInt(len(all))]
	}
	if requireEach {
		// Put one character of each class at distinct random positions; the rest stay uniform.
		positions := perm(length)
		for i, set := range classes {
			out[positions[i]] = set[randInt(len(set))]
		}
	}
	return string(out), nil
}

func randInt(n int) int {
	v, err := rand.Int(rand.Reader, big.NewInt(int64(n)))
	if err != nil {
		panic(err) // crypto/rand does not fail since Go 1.24
	}
	return int(v.Int64())
}

// perm is a uniformly random permutation of [0, n), by Fisher–Yates with crypto/rand.
func perm(n int) []int {
	p := make([]int, n)
	for i := range p {
		p[i] = i
	}
	for i := n - 1; i > 0; i-- {
		j := randInt(i + 1)
		p[i], p[j] = p[j], p[i]
	}
	return p
}
