package authcache

import (
	"container/list"
	"sync"
	"time"
)

// Memory is a bounded LRU of entries. A hit is a map lookup under a mutex: no I/O, no allocation.
// It is safe for concurrent use.
type Memory struct {
	max   int
	grace time.Duration

	mu    sync.Mutex
	order *list.List // front: most recently used; values are *memItem
	items map[string]*list.Element
}

type memItem struct {
	digest string
	entry  Entry
}

// NewMemory holds at most maxEntries entries. Valid entries are kept for grace after they expire,
// so they can stand in during an auth-service outage; 0 drops every entry once it expires.
func NewMemory(maxEntries int, grace time.Duration) *Memory {
	return &Memory{max: max(maxEntries, 1), grace: grace, order: list.New(), items: make(map[string]*list.Element)}
}

// Get returns the entry for digest unless it expired more than the grace ago (or, if invalid, at
// all). The caller checks Fresh: an entry past its expiry is only good as an outage stand-in.
func (m *Memory) Get(digest string, now time.Time) (Entry, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	el, ok := m.items[digest]
	if !ok {
		return Entry{}, false
	}
	it := el.Value.(*memItem)
	if !it.entry.retained(now, m.grace) {
		m.remove(el)
		return Entry{}, false
	}
	m.order.MoveToFront(el)
	return it.entry, true
}

// Put stores e for digest, evicting the least recently used entry when full.
func (m *Memory) Put(digest string, e Entry) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if el, ok := m.items[digest]; ok {
		el.Value.(*memItem).entry = e
		m.order.MoveToFront(el)
		return
	}
	for m.order.Len() >= m.max {
		m.remove(m.order.Back())
	}
	m.items[digest] = m.order.PushFront(&memItem{digest: digest, entry: e})
}

// Len is the number of entries held.
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.order.Len()
}

func (m *Memory) remove(el *list.Element) {
	m.order.Remove(el)
	delete(m.items, el.Value.(*memItem).digest)
}
