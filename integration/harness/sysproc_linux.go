package harness

import "syscall"

// sysProcAttr makes the kernel kill a child when the test process dies, so
// that a crashed or interrupted go test leaves no server behind. t.Cleanup
// remains the normal way processes are stopped.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
