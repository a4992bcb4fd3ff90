package permissions

import (
	"strings"
	"unicode"
)

// FoldName is how the gateway compares registered model names: MLflow on a case-insensitive
// database (MySQL's default collations) reads "Model" and "model" as one registered model, so a
// grant, a pattern or an owner of the one must be of the other too. Each character maps to one
// representative of its Unicode simple case-folding orbit (the equivalence strings.EqualFold
// tests), so names equal under folding fold to one string. The registry's owner items are keyed
// by it (regstore.ModelOwnerPK) and so are the permission store's items.
func FoldName(s string) string {
	return strings.Map(func(r rune) rune {
		least := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			least = min(least, f)
		}
		return least
	}, s)
}
