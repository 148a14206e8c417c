package pgtest

import "syscall"

// detached puts the watchdog in its own session, so that signals to the
// test's process group do not reach it.
func detached() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setsid: true} }

func ownerUID(fi interface{ Sys() any }) uint32 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Uid
	}
	return 0
}
