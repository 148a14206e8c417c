package hub

import (
	"fmt"

	"github.com/hubcap-dev/hubcap/internal/proc"
)

// SetMemoryLimit changes the memory limit that the next Restart runs the
// hub process under (bytes; 0 removes the limit). The running process keeps
// its cgroup until then. It fails with the controller's error (ErrNoCgroup
// and why) when no memory cgroup is usable on this machine.
func (h *Hub) SetMemoryLimit(limit int64) error {
	if limit < 0 {
		return fmt.Errorf("memory limit %d is negative", limit)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if limit > 0 && h.mc == nil {
		mc, err := proc.DetectMemoryController()
		if err != nil {
			return err
		}
		h.mc = &mc
	}
	if h.mc != nil && h.st.CgroupPrefix == "" {
		h.st.CgroupPrefix = "hubcap-" + randomHex(4)
	}
	h.st.MemoryLimit = limit
	return h.saveStateLocked()
}
