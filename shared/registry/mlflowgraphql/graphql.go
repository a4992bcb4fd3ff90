// Package mlflowgraphql judges a request to MLflow's GraphQL endpoint (POST <mount>/graphql, which
// MLflow 3.17's web UI reads runs, experiments and metric histories through) so per-resource
// permissions apply to it as to the REST API. A query is parsed and validated against the part of
// MLflow's schema the gateway admits (schema.graphql: MLflow's read fields only, no mutation, no
// introspection beyond __typename, which Apollo Client adds to every selection) with its
// variables coerced, bounded in size, depth and selections, and each root field is mapped to the
// resources its input names: an experiment id, or a run id the proxy resolves to its experiment.
// What MLflow's answer reaches but the input does not name (a run's modelVersions, which are
// other registered models') is filtered from the answer (answer.go), as MLflow's own basic-auth
// middleware does.
package mlflowgraphql

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
	"github.com/vektah/gqlparser/v2/validator"
	"github.com/vektah/gqlparser/v2/validator/rules"
)

//go:embed schema.graphql
var schemaText string

var schema = gqlparser.MustLoadSchema(&ast.Source{Name: "mlflow", Input: schemaText})

// Bounds. MLflow's own (graphql_no_batching.py) are a depth of 10, 1000 selections and 10 root
// fields; the gateway keeps them and bounds the text before parsing it at all.
const (
	MaxBody       = 64 << 10 // bytes of the request's JSON
	MaxTokens     = 10_000
	MaxDepth      = 10
	MaxSelections = 1000
	MaxRootFields = 10
	MaxResources  = 100 // ids one query may have checked (as the REST checks' maxListedIDs)
)

// ErrInvalid is a request the gateway does not admit: not JSON, not a query it can parse or
// validate, outside the allowlist or the bounds. The proxy answers it 400 INVALID_PARAMETER_VALUE.
var ErrInvalid = errors.New("invalid GraphQL request")

func invalid(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, a...))
}

// Kind is what an id names.
type Kind int

// Kinds of ids a query's input names.
const (
	Experiment Kind = iota + 1
	Run
)

func (k Kind) String() string {
	if k == Run {
		return "run"
	}
	return "experiment"
}

// Ref is one resource a query names.
type Ref struct {
	Kind Kind
	ID   string
}

// Judged is an admitted query: the resources it names (deduplicated, in order) and where its
// answer lists registered models' versions, for FilterAnswer.
type Judged struct {
	Fields   []string // the root fields, MLflow's names, for the audit log
	Refs     []Ref
	versions []versionList
}

// versionList is a run's modelVersions in the answer: the response keys leading to it from data
// (through lists, which are walked element by element) and the key each version's name is under.
type versionList struct {
	path    []string
	nameKey string
}

// request is the body MLflow's handler reads (handlers.py _graphql).
type request struct {
	Query         *string        `json:"query"`
	OperationName *string        `json:"operationName"`
	Variables     map[string]any `json:"variables"`
}

// roots are the admitted root fields and the ids each one's input names, by input field: a list
// field (…Ids) names every element.
var roots = map[string][]inputID{
	"mlflowGetExperiment":                {{"experimentId", Experiment}},
	"mlflowGetRun":                       {{"runId", Run}, {"runUuid", Run}},
	"mlflowListArtifacts":                {{"runId", Run}, {"runUuid", Run}},
	"mlflowGetMetricHistoryBulkInterval": {{"runIds", Run}},
	"mlflowSearchRuns":                   {{"experimentIds", Experiment}},
}

type inputID struct {
	field string
	kind  Kind
}

// Judge parses and checks one request body. Every id a root field's input names, whether written
// in the query or passed in variables, is in Refs; a root field that names none is refused, since
// there is nothing to judge it by.
func Judge(body []byte) (*Judged, error) {
	if len(body) > MaxBody {
		return nil, invalid("the request is over %d bytes", MaxBody)
	}
	var req request
	// Numbers as float64, not json.Number, which the variables' coercion would take for a
	// String (its Go kind is string), where MLflow refuses a number.
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&req); err != nil {
		return nil, invalid("the body is not a JSON object with query, variables and operationName")
	}
	if dec.More() {
		return nil, invalid("the body holds more than one JSON value")
	}
	if req.Query == nil || strings.TrimSpace(*req.Query) == "" {
		return nil, invalid("the body has no query")
	}
	doc, err := parser.ParseQueryWithTokenLimit(&ast.Source{Input: *req.Query}, MaxTokens)
	if err != nil {
		return nil, invalid("the query does not parse: %s", message(err))
	}
	for _, o := range doc.Operations {
		if o.Operation != ast.Query {
			return nil, invalid("only queries are served; the document has a %s", o.Operation)
		}
	}
	if errs := validator.ValidateWithRules(schema, doc, rules.NewDefaultRules()); len(errs) > 0 {
		return nil, invalid("the query is not one of MLflow's read queries the gateway serves: %s", message(errs[0]))
	}
	op, err := operation(doc, req.OperationName)
	if err != nil {
		return nil, err
	}
	vars, err := validator.VariableValues(schema, op, req.Variables)
	if err != nil {
		return nil, invalid("variables: %s", message(err))
	}
	w := walker{doc: doc, vars: vars, judged: &Judged{}, seen: map[Ref]bool{}}
	if err := w.selections(op.SelectionSet, nil, 1); err != nil {
		return nil, err
	}
	return w.judged, nil
}

// operation is the operation MLflow executes: the one named, or the only one.
func operation(doc *ast.QueryDocument, name *string) (*ast.OperationDefinition, error) {
	if name != nil && *name != "" {
		if op := doc.Operations.ForName(*name); op != nil {
			return op, nil
		}
		return nil, invalid("the document has no operation named %q", *name)
	}
	if len(doc.Operations) != 1 {
		return nil, invalid("the document has %d operations; operationName must name one", len(doc.Operations))
	}
	return doc.Operations[0], nil
}

type walker struct {
	doc    *ast.QueryDocument
	vars   map[string]any
	judged *Judged
	seen   map[Ref]bool
	count  int
}

// selections walks a selection set, fragments expanded where they are spread (the validator has
// refused cycles and unknown fragments), path being the response keys down to it.
func (w *walker) selections(set ast.SelectionSet, path []string, depth int) error {
	if depth > MaxDepth {
		return invalid("the query is deeper than %d", MaxDepth)
	}
	for _, sel := range set {
		// Every selection counts, spreads too: a fragment spreading another twice, and that one
		// the next, would otherwise expand without bound.
		w.count++
		if w.count > MaxSelections {
			return invalid("the query has more than %d selections", MaxSelections)
		}
		switch s := sel.(type) {
		case *ast.Field:
			if err := w.field(s, path, depth); err != nil {
				return err
			}
		case *ast.InlineFragment:
			if err := w.selections(s.SelectionSet, path, depth); err != nil {
				return err
			}
		case *ast.FragmentSpread:
			def := s.Definition
			if def == nil {
				def = w.doc.Fragments.ForName(s.Name)
			}
			if def == nil {
				return invalid("fragment %q is not defined", s.Name)
			}
			if err := w.selections(def.SelectionSet, path, depth); err != nil {
				return err
			}
		default:
			return invalid("an unknown kind of selection")
		}
	}
	return nil
}

func (w *walker) field(f *ast.Field, path []string, depth int) error {
	key := f.Alias
	if key == "" {
		key = f.Name
	}
	switch {
	case f.Name == "__typename":
		return nil // the type's name, which Apollo Client asks of every object
	case strings.HasPrefix(f.Name, "__"):
		return invalid("introspection (%s) is not served", f.Name)
	case f.Definition == nil || f.ObjectDefinition == nil:
		return invalid("field %q is not in MLflow's schema", f.Name)
	}
	if depth == 1 {
		if err := w.root(f); err != nil {
			return err
		}
	}
	here := append(slices.Clip(path), key)
	if f.Name == "modelVersions" && f.ObjectDefinition.Name == "MlflowRunExtension" {
		budget := MaxSelections
		name := nameKey(w.doc, f.SelectionSet, &budget)
		if name == "" {
			return invalid("modelVersions must select name, so each version can be judged by its registered model")
		}
		w.judged.versions = append(w.judged.versions, versionList{path: here, nameKey: name})
	}
	return w.selections(f.SelectionSet, here, depth+1)
}

// root records a root field's resources.
func (w *walker) root(f *ast.Field) error {
	ids, ok := roots[f.Name]
	if !ok {
		return invalid("field %q is not served", f.Name)
	}
	if len(w.judged.Fields) == MaxRootFields {
		return invalid("the query has more than %d root fields", MaxRootFields)
	}
	w.judged.Fields = append(w.judged.Fields, f.Name)
	input, _ := f.ArgumentMap(w.vars)["input"].(map[string]any)
	named := 0
	for _, in := range ids {
		var values []any
		switch v := input[in.field].(type) {
		case nil:
		case []any:
			values = v
		default:
			values = []any{v}
		}
		for _, v := range values {
			id, ok := v.(string)
			if !ok || id == "" {
				continue // null in a list: MLflow's parse_dict drops it
			}
			named++
			ref := Ref{in.kind, id}
			if w.seen[ref] {
				continue
			}
			if len(w.judged.Refs) == MaxResources {
				return invalid("the query names more than %d resources", MaxResources)
			}
			w.seen[ref] = true
			w.judged.Refs = append(w.judged.Refs, ref)
		}
	}
	if named == 0 {
		return invalid("%s names no %s in its input", f.Name, ids[0].kind)
	}
	return nil
}

// nameKey is the response key of the name field a modelVersions selection asks for, or "".
// budget bounds the selections looked at, as the walk's.
func nameKey(doc *ast.QueryDocument, set ast.SelectionSet, budget *int) string {
	for _, sel := range set {
		if *budget--; *budget < 0 {
			return ""
		}
		switch s := sel.(type) {
		case *ast.Field:
			if s.Name == "name" {
				if s.Alias != "" {
					return s.Alias
				}
				return s.Name
			}
		case *ast.InlineFragment:
			if k := nameKey(doc, s.SelectionSet, budget); k != "" {
				return k
			}
		case *ast.FragmentSpread:
			if def := doc.Fragments.ForName(s.Name); def != nil {
				if k := nameKey(doc, def.SelectionSet, budget); k != "" {
					return k
				}
			}
		}
	}
	return ""
}

// message is a parser's or validator's message without the source, which may be long.
func message(err error) string {
	msg := err.Error()
	const limit = 300
	if len(msg) > limit {
		msg = msg[:limit] + "…"
	}
	return msg
}

// Schema is the part of MLflow's schema the gateway admits.
func Schema() *ast.Schema { return schema }
