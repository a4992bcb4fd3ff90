// Package permstore keeps the permission model's facts (package permissions) in the registrations
// table (partition key pk only): who owns each registered model and experiment, the grants to
// users on each resource, the pattern grants, and each user's grants (for MLflow's list call).
// Reading the facts of one resource is one BatchGetItem; Cached puts a bounded TTL cache in front.
package permstore

import "github.com/hokusai-protocol/registry-gateway/shared/auth/permissions"

// Item key prefixes. OWNER# items are the registry's (package regstore claims them for model names
// and versions, with these keys); the rest are this package's.
const (
	OwnerPrefix           = "OWNER#"
	ExperimentOwnerPrefix = "EXPOWNER#"
	GrantsPrefix          = "GRANTS#"
	UserGrantsPrefix      = "USERGRANTS#"
	// PatternsPK is the one item holding every pattern grant: a resource's facts need all of its
	// kind, so they are read together.
	PatternsPK = GrantsPrefix + "PATTERNS"
)

// Attribute names.
const (
	PKAttr       = "pk"
	userIDAttr   = "user_id"
	grantsAttr   = "grants"
	patternsAttr = "patterns"
	versionAttr  = "version"
)

// ModelOwnerPK is the key of a registered model's owner item. Names fold (permissions.FoldName):
// MLflow on a case-insensitive database reads "Model" and "model" as one registered model, so one
// user may not own the one and another the other.
func ModelOwnerPK(name string) string { return OwnerPrefix + "MODEL#" + permissions.FoldName(name) }

// ExperimentOwnerPK is the key of an experiment's owner item.
func ExperimentOwnerPK(experimentID string) string { return ExperimentOwnerPrefix + experimentID }

// OwnerPK is the key of r's owner item.
func OwnerPK(r permissions.Resource) string {
	if r.Kind == permissions.Experiment {
		return ExperimentOwnerPK(r.ID)
	}
	return ModelOwnerPK(r.ID)
}

// GrantsPK is the key of the item holding the user grants on r: GRANTS#<kind>#<folded id>.
func GrantsPK(r permissions.Resource) string {
	return GrantsPrefix + string(r.Kind) + "#" + permissions.FoldName(r.ID)
}

// UserGrantsPK is the key of the item listing one user's grants on resources.
func UserGrantsPK(userID string) string { return UserGrantsPrefix + userID }

// userGrantKey is a resource's key in a user's grants map; the kind first, so no name makes an
// experiment's key and a model's collide.
func userGrantKey(r permissions.Resource) string {
	return string(r.Kind) + "#" + permissions.FoldName(r.ID)
}
