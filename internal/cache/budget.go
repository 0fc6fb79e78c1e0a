package cache

import "sync/atomic"

// Budget bounds the memory that bodies hold while they are being written
// (fetched): the bytes no store accounts for yet. A body given a budget
// (Body.LimitMemory) reserves its bytes before it holds them and gives them
// back when it is finished (stored bodies are then counted by the Store's
// bound); when the budget is spent, the rest of the body goes to a spill
// file instead of memory. One Budget is shared by every PoP of a process.
type Budget struct {
	limit int64
	used  atomic.Int64
}

// NewBudget returns a budget of limit bytes.
func NewBudget(limit int64) *Budget { return &Budget{limit: limit} }

// Limit is the budget's size in bytes.
func (b *Budget) Limit() int64 { return b.limit }

// InUse is the number of bytes reserved now.
func (b *Budget) InUse() int64 { return b.used.Load() }

// reserve takes n bytes if they fit.
func (b *Budget) reserve(n int64) bool {
	for {
		u := b.used.Load()
		if u+n > b.limit {
			return false
		}
		if b.used.CompareAndSwap(u, u+n) {
			return true
		}
	}
}

func (b *Budget) release(n int64) { b.used.Add(-n) }
