package gateway

import (
	"net/url"
	"strings"

	"github.com/hokusai-protocol/registry-gateway/infra/local/template"
)

// router matches request paths against the template's resources the way API Gateway does: a
// literal segment beats a {param}, which beats a greedy {proxy+}; then the method, or ANY.
type router struct {
	root *node
}

type node struct {
	literal map[string]*node
	param   *node  // {name}
	greedy  *node  // {name+}
	name    string // parameter name for param/greedy nodes
	path    string // resource path, e.g. /api/mlflow/{proxy+}
	methods map[string]*template.Route
}

func newNode() *node {
	return &node{literal: map[string]*node{}, methods: map[string]*template.Route{}}
}

func newRouter(routes []*template.Route) *router {
	r := &router{root: newNode()}
	r.root.path = "/"
	for _, rt := range routes {
		n := r.root
		for _, seg := range segments(rt.Path) {
			n = n.child(seg)
		}
		n.path = rt.Path
		n.methods[rt.Method] = rt
	}
	return r
}

func (n *node) child(seg string) *node {
	switch {
	case strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "+}"):
		if n.greedy == nil {
			n.greedy = newNode()
			n.greedy.name = seg[1 : len(seg)-2]
		}
		return n.greedy
	case strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}"):
		if n.param == nil {
			n.param = newNode()
			n.param.name = seg[1 : len(seg)-1]
		}
		return n.param
	default:
		c, ok := n.literal[seg]
		if !ok {
			c = newNode()
			n.literal[seg] = c
		}
		return c
	}
}

func unescape(seg string) string {
	if s, err := url.PathUnescape(seg); err == nil {
		return s
	}
	return seg
}

func segments(path string) []string {
	path = strings.Trim(path, "/")
	if path == "" {
		return nil
	}
	return strings.Split(path, "/")
}

// match returns the route for method on path, the request's path still percent-encoded, with its
// path parameters as the client encoded them. A segment matches a literal resource segment by its
// decoded value; an encoded slash stays inside its segment.
func (r *router) match(method, path string) (*template.Route, map[string]string) {
	params := map[string]string{}
	n := r.root.find(segments(path), params)
	if n == nil {
		return nil, nil
	}
	rt := n.methods[method]
	if rt == nil {
		rt = n.methods["ANY"]
	}
	if rt == nil {
		return nil, nil
	}
	return rt, params
}

func (n *node) find(segs []string, params map[string]string) *node {
	if len(segs) == 0 {
		if len(n.methods) > 0 {
			return n
		}
		return nil
	}
	if c, ok := n.literal[unescape(segs[0])]; ok {
		if found := c.find(segs[1:], params); found != nil {
			return found
		}
	}
	if n.param != nil && segs[0] != "" {
		if found := n.param.find(segs[1:], params); found != nil {
			params[n.param.name] = segs[0]
			return found
		}
	}
	if n.greedy != nil && len(n.greedy.methods) > 0 {
		params[n.greedy.name] = strings.Join(segs, "/")
		return n.greedy
	}
	return nil
}
