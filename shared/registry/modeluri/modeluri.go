// Package modeluri parses the model URIs the registry accepts (runs:/<run_id>/<path>,
// models:/<model_id>) as MLflow reads them. It calls nothing, so the registration's rules, which
// call nothing either, and the MLflow proxy share it.
package modeluri

import (
	"fmt"
	"path"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"
)

// MaxLength is the longest model URI accepted, in characters.
const MaxLength = 1000

var (
	// runIDPattern is MLflow's own rule for run ids; it also keeps ids safe inside search filters.
	runIDPattern = regexp.MustCompile(`^[a-zA-Z0-9][\w-]{0,255}$`)
	// modelIDPattern is a logged model id (MLflow writes m-<32 hex>).
	modelIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,255}$`)
	// artifactPathPattern is a run-relative model path without quotes, which cannot be put in a
	// search filter.
	artifactPathPattern = regexp.MustCompile(`^[\w][\w.\- /]{0,255}$`)
)

// Ref is what a model URI points at: a run's model path, or a logged model.
type Ref struct {
	RunID, ArtifactPath string // runs:/<run>/<path>
	ModelID             string // models:/<model_id>
}

// Error is a URI that is not one of the accepted forms; its text is for the client.
type Error struct{ Reason string }

func (e *Error) Error() string { return e.Reason }

const forms = "must be runs:/<run_id>/<path> or models:/<model_id>"

// ValidRunID reports whether id is an MLflow run id (letters, digits, _ and -).
func ValidRunID(id string) bool { return runIDPattern.MatchString(id) }

// Parse parses uri; an *Error says why it is not an accepted model URI.
func Parse(uri string) (Ref, error) {
	if utf8.RuneCountInString(uri) > MaxLength {
		return Ref{}, &Error{fmt.Sprintf("must be at most %d characters", MaxLength)}
	}
	if strings.HasPrefix(uri, "runs:") {
		return ParseRuns(uri)
	}
	if id, ok := strings.CutPrefix(uri, "models:/"); ok {
		if !modelIDPattern.MatchString(id) {
			return Ref{}, &Error{forms + " (models:/<name>/<version> and aliases name a registered version, which is already registered)"}
		}
		return Ref{ModelID: id}, nil
	}
	return Ref{}, &Error{forms}
}

// ParseRuns parses a runs:/<run_id>/<path> URI. The path is a plain relative one: no "..", no
// quotes (it goes into a search filter), trailing slashes dropped.
func ParseRuns(uri string) (Ref, error) {
	if utf8.RuneCountInString(uri) > MaxLength {
		return Ref{}, &Error{fmt.Sprintf("must be at most %d characters", MaxLength)}
	}
	rest, ok := strings.CutPrefix(uri, "runs:/")
	if !ok || strings.HasPrefix(rest, "/") {
		return Ref{}, &Error{forms}
	}
	run, p, _ := strings.Cut(rest, "/")
	p = strings.Trim(p, "/")
	if !runIDPattern.MatchString(run) || p == "" {
		return Ref{}, &Error{forms}
	}
	if !artifactPathPattern.MatchString(p) || path.Clean(p) != p || slices.Contains(strings.Split(p, "/"), "..") {
		return Ref{}, &Error{"the model path in a runs:/ URI must be a plain relative path such as model"}
	}
	return Ref{RunID: run, ArtifactPath: p}, nil
}
