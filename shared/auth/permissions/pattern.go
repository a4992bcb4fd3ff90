package permissions

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxGlobLength bounds a pattern's glob: MLflow stores registered model names in 256 characters.
const MaxGlobLength = 256

// Pattern names a set of resources of one kind: "registered_model:hokusai-XRAY*". In the glob, *
// stands for any run of characters (none included) and every other character for itself; there
// is no escape, so a pattern cannot name a literal "*".
type Pattern struct {
	Kind Kind
	Glob string
}

func (p Pattern) String() string { return string(p.Kind) + ":" + p.Glob }

var errNoKind = errors.New(`a pattern is "<kind>:<glob>" with kind experiment or registered_model`)

// ParsePattern reads "<kind>:<glob>". Patterns come from key holders and grant managers, so the
// glob is an allowlist: printable characters without surrounding spaces, at most MaxGlobLength,
// and for experiments (whose ids MLflow issues as digits) only digits and *.
func ParsePattern(s string) (Pattern, error) {
	kind, glob, ok := strings.Cut(s, ":")
	if !ok {
		return Pattern{}, errNoKind
	}
	p := Pattern{Kind: Kind(kind), Glob: glob}
	if !p.Kind.Valid() {
		return Pattern{}, fmt.Errorf("pattern kind %q: %w", kind, errNoKind)
	}
	if err := checkGlob(p.Kind, glob); err != nil {
		return Pattern{}, fmt.Errorf("pattern %q: %w", s, err)
	}
	return p, nil
}

func checkGlob(kind Kind, glob string) error {
	switch {
	case glob == "":
		return errors.New("the glob is empty")
	case !utf8.ValidString(glob):
		return errors.New("the glob is not UTF-8")
	case utf8.RuneCountInString(glob) > MaxGlobLength:
		return fmt.Errorf("the glob is longer than %d characters", MaxGlobLength)
	case strings.TrimSpace(glob) != glob:
		return errors.New("the glob starts or ends with a space")
	}
	for _, r := range glob {
		if kind == Experiment && r != '*' && (r < '0' || r > '9') {
			return errors.New("an experiment glob has only digits and *")
		}
		if !unicode.IsPrint(r) && r != ' ' {
			return fmt.Errorf("the glob has the unprintable character %U", r)
		}
	}
	return nil
}

// Matches reports whether r is one of the resources p names, comparing names as the registry
// does (FoldName).
func (p Pattern) Matches(r Resource) bool {
	return p.Kind == r.Kind && globMatch([]rune(FoldName(p.Glob)), []rune(FoldName(r.ID)))
}

// globMatch matches * greedily, backtracking only to the last star: linear in practice and
// O(len(glob)·len(name)) at worst, so no glob a user sends is expensive.
func globMatch(glob, name []rune) bool {
	g, n := 0, 0
	star, mark := -1, 0
	for n < len(name) {
		switch {
		case g < len(glob) && glob[g] == '*':
			star, mark = g, n
			g++
		case g < len(glob) && glob[g] == name[n]:
			g++
			n++
		case star >= 0:
			mark++
			g, n = star+1, mark
		default:
			return false
		}
	}
	for g < len(glob) && glob[g] == '*' {
		g++
	}
	return g == len(glob)
}
