package proxy

import (
	"context"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// memoryCheckInterval is how often an idle proxy checks for memory to give
// back.
const memoryCheckInterval = 10 * time.Second

// returnMemory gives the memory of a burst back to the OS once the proxy is
// quiet. Go collects garbage when the heap grows, or every two minutes: a
// proxy that goes idle after clients fetched large values would keep their
// memory that long, and the scavenger then returns it only gradually. So
// when no collection ran for a whole interval while the process holds well
// over what was live at the last one, it collects and returns the free
// memory at once. Under load collections run on their own, and this does
// nothing.
func returnMemory(ctx context.Context) {
	samples := []metrics.Sample{
		{Name: "/gc/cycles/total:gc-cycles"},
		{Name: "/memory/classes/total:bytes"},
		{Name: "/memory/classes/heap/released:bytes"},
		{Name: "/gc/heap/live:bytes"},
	}
	t := time.NewTicker(memoryCheckInterval)
	defer t.Stop()
	var lastCycles uint64
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		metrics.Read(samples)
		cycles := samples[0].Value.Uint64()
		held := samples[1].Value.Uint64() - samples[2].Value.Uint64()
		live := samples[3].Value.Uint64()
		if cycles == lastCycles && held > 2*live+16<<20 {
			debug.FreeOSMemory()
			metrics.Read(samples)
			cycles = samples[0].Value.Uint64()
		}
		lastCycles = cycles
	}
}
