package permstore

import (
	"container/list"
	"context"
	"sync"
	"time"

	"github.com/hokusai-protocol/registry-gateway/shared/auth/permissions"
)

// Source is what Cached reads through: a Store.
type Source interface {
	Facts(ctx context.Context, r permissions.Resource) (permissions.Facts, error)
}

// DefaultCacheTTL is how long a resource's facts are kept: the longest a grant change, made in
// another function or instance, takes to be enforced (PERMISSIONS_CACHE_TTL).
const DefaultCacheTTL = 30 * time.Second

// DefaultCacheEntries bounds the cache: an entry is a few hundred bytes, so this is at most a
// few megabytes of a function's memory.
const DefaultCacheEntries = 10_000

// Cached keeps each resource's facts for a TTL, in a bounded LRU: a hit is a map lookup under a
// mutex, no I/O. What the store does not hold (no owner, no grants) is cached like any other
// answer, so unowned resources cost no more than owned ones; errors are not cached. It is safe
// for concurrent use. The Facts it returns are shared: callers only read them.
type Cached struct {
	src Source
	ttl time.Duration
	max int
	now func() time.Time

	mu    sync.Mutex
	order *list.List // front: most recently used; values are *cachedFacts
	items map[string]*list.Element
}

type cachedFacts struct {
	key     string
	facts   permissions.Facts
	expires time.Time
}

// NewCached caches src's answers for ttl (≤ 0: not at all), at most maxEntries of them.
func NewCached(src Source, ttl time.Duration, maxEntries int) *Cached {
	return &Cached{src: src, ttl: ttl, max: max(maxEntries, 1), now: time.Now, order: list.New(), items: make(map[string]*list.Element)}
}

// Facts returns r's facts from the cache, or from the source when they are not held or expired.
func (c *Cached) Facts(ctx context.Context, r permissions.Resource) (permissions.Facts, error) {
	if c.ttl <= 0 {
		return c.src.Facts(ctx, r)
	}
	k := cacheKey(r)
	if f, ok := c.get(k); ok {
		return f, nil
	}
	f, err := c.src.Facts(ctx, r)
	if err != nil {
		return permissions.Facts{}, err
	}
	c.put(k, f)
	return f, nil
}

// Forget drops r's facts, so a change this process made (a grant, an owner claimed) is enforced
// here at once; other processes see it within the TTL.
func (c *Cached) Forget(r permissions.Resource) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[cacheKey(r)]; ok {
		c.remove(el)
	}
}

// ForgetAll drops every resource's facts: a pattern grant applies to every resource of its kind,
// so its change here is enforced here at once.
func (c *Cached) ForgetAll() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.order.Init()
	clear(c.items)
}

// Len is the number of entries held.
func (c *Cached) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}

// cacheKey folds names as the store's keys do: "Model" and "model" are one resource.
func cacheKey(r permissions.Resource) string { return GrantsPK(r) }

func (c *Cached) get(k string) (permissions.Facts, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[k]
	if !ok {
		return permissions.Facts{}, false
	}
	it := el.Value.(*cachedFacts)
	if !c.now().Before(it.expires) {
		c.remove(el)
		return permissions.Facts{}, false
	}
	c.order.MoveToFront(el)
	return it.facts, true
}

func (c *Cached) put(k string, f permissions.Facts) {
	c.mu.Lock()
	defer c.mu.Unlock()
	expires := c.now().Add(c.ttl)
	if el, ok := c.items[k]; ok {
		it := el.Value.(*cachedFacts)
		it.facts, it.expires = f, expires
		c.order.MoveToFront(el)
		return
	}
	for c.order.Len() >= c.max {
		c.remove(c.order.Back())
	}
	c.items[k] = c.order.PushFront(&cachedFacts{key: k, facts: f, expires: expires})
}

func (c *Cached) remove(el *list.Element) {
	c.order.Remove(el)
	delete(c.items, el.Value.(*cachedFacts).key)
}
