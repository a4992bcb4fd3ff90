package permstore

import "time"

// SetClock replaces the cache's clock, so tests move time instead of waiting for it.
func (c *Cached) SetClock(now func() time.Time) { c.now = now }
