package lambdatest

import "syscall"

// procAttr puts the emulator and the function it starts in a process group
// of their own, so Stop ends both, and has the kernel kill the emulator
// should the test binary die without stopping it.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
