// Package permissions is the per-resource permission model of SPEC's issue 14: MLflow's levels on
// experiments and registered models, owners, grants to users and to name patterns, keys narrowed
// to patterns, and the deployment-wide default. It does no I/O: package permstore keeps the facts
// it decides on.
package permissions

import "fmt"

// Level is an MLflow permission level; the order is MLflow's (each level implies the ones below).
type Level int

const (
	NoPermissions Level = iota
	Read
	Use
	Edit
	Manage
)

// levelNames are MLflow's names of the levels (mlflow/server/auth/permissions.py), the strings
// its auth REST API and its client send.
var levelNames = [...]string{"NO_PERMISSIONS", "READ", "USE", "EDIT", "MANAGE"}

func (l Level) String() string {
	if l < NoPermissions || l > Manage {
		return fmt.Sprintf("Level(%d)", int(l))
	}
	return levelNames[l]
}

// ParseLevel reads MLflow's name of a level, exactly as MLflow spells it: MLflow itself rejects
// "read" or " READ", and a grant stored under a name MLflow would not accept could not be shown
// back to its client.
func ParseLevel(s string) (Level, error) {
	for i, n := range levelNames {
		if s == n {
			return Level(i), nil
		}
	}
	return 0, fmt.Errorf("permission level %q is not one of NO_PERMISSIONS, READ, USE, EDIT, MANAGE", s)
}
