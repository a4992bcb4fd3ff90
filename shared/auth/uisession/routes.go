package uisession

import "slices"

// Mounts are the tracking-URI mounts the UI is served under, as API paths without slashes: the
// MLflow client prints links under whichever one its tracking URI names.
var Mounts = []string{"api/mlflow", "mlflow", ""}

// UI route suffixes under a mount, as API Gateway resource paths: the page itself (the mount's
// root), its static files, the ajax-api calls it makes, its GraphQL queries and the artifact views
// its pages link to (relative to the page, so under the mount). The session cookie is accepted on
// these resources and nowhere else.
var uiSuffixes = []string{"", "/static-files/{proxy+}", "/ajax-api/{proxy+}", "/get-artifact", "/model-versions/get-artifact", "/graphql"}

// UIRoutes are the UI's resources under a mount, relative to it, with the method API Gateway
// opens for each (the page and files are read; the ajax-api calls are the catalog's, any method).
var UIRoutes = []struct{ Path, Method string }{
	{"", "GET"}, {"static-files/{proxy+}", "GET"}, {"ajax-api/{proxy+}", "ANY"},
	{"get-artifact", "GET"}, {"model-versions/get-artifact", "GET"},
	{"graphql", "POST"}, // the run page's queries (the proxy judges each one)
}

// UIResources are the API Gateway resource paths (as in a proxy event's resource) on which the
// authorizer accepts the session cookie: each of uiSuffixes under each of Mounts.
func UIResources() []string {
	var out []string
	for _, m := range Mounts {
		for _, s := range uiSuffixes {
			p := "/" + m + s
			if m == "" {
				p = s
				if s == "" {
					p = "/"
				}
			}
			out = append(out, p)
		}
	}
	return out
}

var uiResources = UIResources()

// IsUIResource reports whether resource (the route API Gateway matched, never the raw path, which
// the client writes) is one of UIResources.
func IsUIResource(resource string) bool { return slices.Contains(uiResources, resource) }

// Sign-in routes (resource paths relative to the API root, as the stack adds them).
const (
	// SessionsPath exchanges a key (Authorization header, checked by the API-key authorizer) for
	// the session cookie: the sign-in page posts here.
	SessionsPath = "api/ui/sessions"
	// LinksPath mints a one-time sign-in link with a key.
	LinksPath = "api/ui/signin-links"
	// SignoutPath ends the cookie's session.
	SignoutPath = "api/ui/signout"
	// PagePath is the sign-in page and LinkPath a link's landing, under each mount.
	PagePath = "signin"
	LinkPath = "signin/{token}"
)

// MountPath is rel under mount, as a resource path relative to the API root.
func MountPath(mount, rel string) string {
	switch {
	case mount == "":
		return rel
	case rel == "":
		return mount
	}
	return mount + "/" + rel
}

// AuthMethodKey is the authorizer context member naming how the caller authenticated, and
// AuthMethodSession its value for the cookie (a key leaves it absent, as before sessions).
const (
	AuthMethodKey     = "auth_method"
	AuthMethodSession = "session"
)
