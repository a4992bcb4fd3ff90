package mlflow

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode"

	"github.com/hokusai-protocol/registry-gateway/shared/auth/permissions"
)

// ErrInconclusive is a search that could not tell, within its bound, whether MLflow holds the
// registered model: its pattern matched too many other names.
var ErrInconclusive = errors.New("too many registered models match; MLflow's answer is inconclusive")

// modelSearchPage is MLflow's largest page of registered-models/search.
const modelSearchPage = 1000

// modelSearchPages bounds how many pages FindRegisteredModel reads. Almost every name needs one:
// only a name made mostly of characters the pattern must leave open (likeSuperset) matches more.
const modelSearchPages = 5

// FindRegisteredModel returns the name of the registered model MLflow holds that the gateway
// takes for name: equal under permissions.FoldName, the one comparison the registry's owner and
// grant items use. "" when MLflow holds none. Usually one call (GET registered-models/search).
//
// An exact registered-models/get would not do: on a case-sensitive database MLflow holds "Model"
// and "model" as two models, which the gateway owns and grants as one, so a new "model" would
// take over an existing "Model". MLflow's ILIKE lowers both sides the way its database does
// (SQLite only ASCII), so the pattern leaves every character whose case MLflow might fold
// differently open, and the answer is filtered here by the gateway's own folding.
func (c *Client) FindRegisteredModel(ctx context.Context, name string) (string, error) {
	want := permissions.FoldName(name)
	q := url.Values{
		"filter":      {"name ILIKE '" + likeSuperset(name) + "'"},
		"max_results": {strconv.Itoa(modelSearchPage)},
	}
	for range modelSearchPages {
		var out struct {
			RegisteredModels []struct {
				Name string `json:"name"`
			} `json:"registered_models"`
			NextPageToken string `json:"next_page_token"`
		}
		if err := c.call(ctx, http.MethodGet, "registered-models/search", q, nil, &out); err != nil {
			return "", err
		}
		for _, m := range out.RegisteredModels {
			if permissions.FoldName(m.Name) == want {
				return m.Name, nil
			}
		}
		if out.NextPageToken == "" {
			return "", nil
		}
		q.Set("page_token", out.NextPageToken)
	}
	return "", ErrInconclusive
}

// likeSuperset is a LIKE pattern matching every name that folds to name's folding, and some
// others. MLflow's filter has no escapes: LIKE's wildcards and the characters a quoted literal
// cannot hold (literal) become "_", which matches any one character (themselves included), as
// does every character whose case has a form outside ASCII (k's Kelvin sign, s's long s, é's É):
// no database's lower() is trusted with those. ASCII letters with ASCII-only cases stay, ILIKE
// matching them in either case; characters without case stay as they are.
func likeSuperset(name string) string {
	var b strings.Builder
	for _, r := range name {
		if strings.ContainsRune(`%_'"\`+"`\n\r", r) || !asciiCase(r) {
			b.WriteByte('_')
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// asciiCase: every case form of r (its simple-folding orbit) is r itself or ASCII, with r.
func asciiCase(r rune) bool {
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		if f > unicode.MaxASCII || r > unicode.MaxASCII {
			return false
		}
	}
	return true
}
