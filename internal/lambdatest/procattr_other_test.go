//go:build !linux

package lambdatest

import "syscall"

// procAttr puts the emulator and the function it starts in a process group
// of their own, so Stop ends both.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
