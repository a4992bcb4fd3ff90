package apikey

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// AllowedEnvironments is the one reading of ALLOWED_KEY_PREFIXES, which the authorizer and the
// keys function both take: entries lower-cased and de-duplicated, an unknown one or an empty list
// refused — a typo here must not silently refuse every key in production.
func AllowedEnvironments(list []string) ([]string, error) {
	var envs []string
	for _, e := range list {
		e = strings.ToLower(strings.TrimSpace(e))
		if e == "" {
			continue
		}
		if !slices.Contains(Environments, e) {
			return nil, fmt.Errorf("ALLOWED_KEY_PREFIXES: %q is not one of %s", e, strings.Join(Environments, ", "))
		}
		if !slices.Contains(envs, e) {
			envs = append(envs, e)
		}
	}
	if len(envs) == 0 {
		return nil, errors.New("ALLOWED_KEY_PREFIXES must name at least one of " + strings.Join(Environments, ", "))
	}
	return envs, nil
}
