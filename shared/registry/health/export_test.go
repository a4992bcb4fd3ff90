package health

import "time"

// SetClock replaces the handler's clock, so a test moves time past RetryAfter without waiting.
func (h *Handler) SetClock(now func() time.Time) { h.now = now }
