//go:build !linux

package cli

import "os"

// isTerminal approximates a tty check without golang.org/x/term: a character
// device. (/dev/null passes too; that only means the default prompt is used.)
func isTerminal(f *os.File) bool {
	info, err := f.Stat()
	return err == nil && info.Mode()&os.ModeCharDevice != 0
}
