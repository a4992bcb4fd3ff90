package authcache_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hokusai-protocol/registry-gateway/shared/auth/authcache"
	"github.com/hokusai-protocol/registry-gateway/shared/auth/principal"
)

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func valid(user string, expires time.Time) authcache.Entry {
	return authcache.Entry{Valid: true, Principal: principal.Principal{UserID: user}, ExpiresAt: expires}
}

func TestMemoryEvictsLeastRecentlyUsed(t *testing.T) {
	m := authcache.NewMemory(2, 0)
	m.Put("a", valid("a", t0.Add(time.Minute)))
	m.Put("b", valid("b", t0.Add(time.Minute)))
	if _, ok := m.Get("a", t0); !ok { // a is now the most recently used
		t.Fatal("a missing")
	}
	m.Put("c", valid("c", t0.Add(time.Minute)))
	if _, ok := m.Get("b", t0); ok {
		t.Error("b should have been evicted")
	}
	for _, d := range []string{"a", "c"} {
		if _, ok := m.Get(d, t0); !ok {
			t.Errorf("%s evicted", d)
		}
	}
	if m.Len() != 2 {
		t.Errorf("len %d, want 2", m.Len())
	}
}

func TestMemoryBoundUnderLoad(t *testing.T) {
	m := authcache.NewMemory(100, 0)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 1000 {
				d := fmt.Sprintf("%d-%d", g, i)
				m.Put(d, valid(d, t0.Add(time.Minute)))
				m.Get(d, t0)
			}
		})
	}
	wg.Wait()
	if m.Len() != 100 {
		t.Errorf("len %d, want 100", m.Len())
	}
}

func TestMemoryExpiry(t *testing.T) {
	const grace = 5 * time.Minute
	for _, tc := range []struct {
		name      string
		grace     time.Duration
		entry     authcache.Entry
		at        time.Time
		wantFound bool
		wantFresh bool
	}{
		{"fresh", grace, valid("u", t0.Add(time.Minute)), t0, true, true},
		{"expired valid within grace is kept, not fresh", grace, valid("u", t0), t0.Add(time.Minute), true, false},
		{"expired valid beyond grace is dropped", grace, valid("u", t0), t0.Add(grace), false, false},
		{"no grace: dropped at expiry", 0, valid("u", t0), t0, false, false},
		{"invalid is dropped at expiry, grace or not", grace, authcache.Entry{ExpiresAt: t0}, t0, false, false},
		{"invalid fresh", grace, authcache.Entry{ExpiresAt: t0.Add(time.Second)}, t0, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := authcache.NewMemory(10, tc.grace)
			m.Put("d", tc.entry)
			e, ok := m.Get("d", tc.at)
			if ok != tc.wantFound || ok && e.Fresh(tc.at) != tc.wantFresh {
				t.Errorf("found %v fresh %v, want %v %v", ok, ok && e.Fresh(tc.at), tc.wantFound, tc.wantFresh)
			}
			if !ok && m.Len() != 0 {
				t.Error("an unusable entry was kept")
			}
		})
	}
}

func TestEntryWithinGrace(t *testing.T) {
	e := valid("u", t0)
	for _, tc := range []struct {
		at   time.Time
		want bool
	}{
		{t0.Add(-time.Second), false}, // still fresh
		{t0, true},
		{t0.Add(4 * time.Minute), true},
		{t0.Add(5 * time.Minute), false},
	} {
		if got := e.WithinGrace(tc.at, 5*time.Minute); got != tc.want {
			t.Errorf("at %s: %v, want %v", tc.at.Sub(t0), got, tc.want)
		}
	}
	if (authcache.Entry{ExpiresAt: t0}).WithinGrace(t0.Add(time.Second), time.Hour) {
		t.Error("an invalid entry never stands in")
	}
}

func BenchmarkMemoryHit(b *testing.B) {
	m := authcache.NewMemory(10000, 0)
	for i := range 10000 {
		m.Put(fmt.Sprint(i), valid("u", t0.Add(time.Hour)))
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := m.Get("5000", t0); !ok {
			b.Fatal("miss")
		}
	}
}
