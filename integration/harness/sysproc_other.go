//go:build !linux

package harness

import "syscall"

// sysProcAttr has nothing to add outside Linux: t.Cleanup stops processes.
func sysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{} }
