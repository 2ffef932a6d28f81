package awstest

import "syscall"

// procAttr makes the kernel kill moto when the test binary dies without
// running its TestMain to the end (a panic or a timeout).
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
