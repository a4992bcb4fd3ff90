package permissions

import "slices"

// Kind is a kind of resource that carries permissions, spelled as MLflow's auth API spells
// resource types.
type Kind string

const (
	Experiment      Kind = "experiment"
	RegisteredModel Kind = "registered_model"
)

// Valid reports whether k is one of the kinds.
func (k Kind) Valid() bool { return k == Experiment || k == RegisteredModel }

// Resource is one experiment (ID: its experiment id) or registered model (ID: its name as sent).
// Runs, logged models, traces and artifacts are their experiment's; model versions and aliases
// their registered model's.
type Resource struct {
	Kind Kind
	ID   string
}

// Grant gives UserID a level on one resource (Target its id or name) or, when Pattern, on every
// resource of Kind its glob (Target) matches.
type Grant struct {
	Kind    Kind
	Target  string
	Pattern bool
	UserID  string
	Level   Level
}

// applies reports whether g is a grant to userID on r.
func (g Grant) applies(userID string, r Resource) bool {
	if g.UserID != userID || g.Kind != r.Kind {
		return false
	}
	if g.Pattern {
		return Pattern{Kind: g.Kind, Glob: g.Target}.Matches(r)
	}
	return FoldName(g.Target) == FoldName(r.ID)
}

// Facts are what the store knows of one resource: its owner ("" unowned) and the grants that
// apply (the user grants on it and every pattern grant of its kind).
type Facts struct {
	Owner  string
	Grants []Grant
}

// Caller is who asks: their user id, whether they are an admin, and their key's narrowing
// (Patterns; none means the key is not narrowed).
type Caller struct {
	UserID   string
	Admin    bool
	Patterns []Pattern
}

// narrowedAway reports whether the caller's key is narrowed to patterns none of which name r.
func (c Caller) narrowedAway(r Resource) bool {
	return len(c.Patterns) > 0 && !slices.ContainsFunc(c.Patterns, func(p Pattern) bool { return p.Matches(r) })
}

// Policy is the deployment's rule: the default level of every caller on every resource.
type Policy struct {
	Default Level
}

// Effective is the level c holds on r. An admin manages everything, an owner their resource;
// anyone else holds the highest of their grants on r and the default, except that on an unowned
// resource (one that existed before the gateway knew it) the default never reaches Manage. A key
// narrowed to patterns holds at most Read on a resource none of them name, an admin's key too:
// the narrowing is the key's, whoever holds it.
func (p Policy) Effective(c Caller, r Resource, f Facts) Level {
	level := p.held(c, r, f)
	if c.narrowedAway(r) {
		level = min(level, Read)
	}
	return level
}

func (p Policy) held(c Caller, r Resource, f Facts) Level {
	if c.Admin || c.UserID != "" && f.Owner == c.UserID {
		return Manage
	}
	level := p.Default
	if f.Owner == "" {
		level = min(level, Edit)
	}
	level = max(level, NoPermissions)
	if c.UserID == "" {
		return level
	}
	for _, g := range f.Grants {
		if g.applies(c.UserID, r) {
			level = max(level, g.Level)
		}
	}
	return level
}

// CanCreate reports whether c may create r, a new experiment or registered model of that id or
// name: anyone with write scope may (the scope is the caller's check), unless their key is
// narrowed to patterns none of which name it.
func (p Policy) CanCreate(c Caller, r Resource) bool {
	return r.Kind.Valid() && !c.narrowedAway(r)
}
