package world

import (
	"runtime/debug"

	"github.com/strata-cdn/strata/internal/config"
)

// Memory is the memory budget of a process running PoPs, derived from their
// configured caches:
//
//	limit = caches + bodies + overhead
//	caches   = pop.memoryCacheSize × the PoPs this process runs
//	bodies   = caches / 4, at least 32 MiB: bodies being fetched, not yet
//	           stored (past it, new bodies stream through spill files)
//	overhead = 64 MiB: the runtime, connections, buffers, the control plane
//
// The limit becomes the Go runtime's soft memory limit (GOMEMLIMIT), so the
// collector works harder as the heap nears it instead of letting it grow to
// GOGC's multiple of the live heap.
type Memory struct {
	Caches, Bodies, Overhead int64
}

// MemoryOverhead is the fixed part of the budget.
const MemoryOverhead = 64 << 20

const minBodies = 32 << 20

// Limit is the budget in bytes.
func (m Memory) Limit() int64 { return m.Caches + m.Bodies + m.Overhead }

// MemoryBudget is the budget of a process that runs the PoPs of cfg
// (validated), or only the PoP only.
func MemoryBudget(cfg *config.Config, only string) Memory {
	n := int64(len(cfg.Topology.PoPs))
	if n == 0 || only != "" {
		n = 1
	}
	caches := n * int64(cfg.PoP.MemoryCacheSize)
	return Memory{Caches: caches, Bodies: max(caches/4, minBodies), Overhead: MemoryOverhead}
}

// SetMemoryLimit makes m's limit the runtime's memory limit, unless
// GOMEMLIMIT (gomemlimit, the environment's value) is set: then the
// runtime already follows it. It returns the limit in effect and whether
// it is the environment's.
func SetMemoryLimit(m Memory, gomemlimit string) (limit int64, fromEnv bool) {
	if gomemlimit != "" {
		return debug.SetMemoryLimit(-1), true
	}
	debug.SetMemoryLimit(m.Limit())
	return m.Limit(), false
}
