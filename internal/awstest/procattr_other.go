//go:build !linux

package awstest

import "syscall"

func procAttr() *syscall.SysProcAttr { return nil }
