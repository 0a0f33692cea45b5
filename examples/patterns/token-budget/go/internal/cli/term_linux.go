package cli

import (
	"os"
	"syscall"
	"unsafe"
)

// isTerminal asks the kernel whether f is a terminal (TCGETS succeeds only on
// a tty). A plain character-device check would also accept /dev/null.
func isTerminal(f *os.File) bool {
	var termios syscall.Termios
	_, _, errno := syscall.Syscall(syscall.SYS_IOCTL, f.Fd(), syscall.TCGETS, uintptr(unsafe.Pointer(&termios)))
	return errno == 0
}
