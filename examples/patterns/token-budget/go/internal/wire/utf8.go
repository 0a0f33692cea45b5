package wire

import (
	"strings"
	"unicode/utf8"
)

// DecodeUTF8 decodes b the way the WHATWG "UTF-8 decode" algorithm does:
// every maximal invalid subpart becomes one U+FFFD. Python's
// bytes.decode("utf-8", "replace") agrees, so a broken sequence counts as the
// same number of code points in every implementation. (Go's own conversions
// replace byte by byte instead, which would count "\xe4\xbd" as two.)
func DecodeUTF8(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}

	var out strings.Builder
	out.Grow(len(b) + 8)
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r != utf8.RuneError || size > 1 {
			out.WriteRune(r)
			i += size
			continue
		}

		out.WriteRune(utf8.RuneError)
		i += invalidSubpart(b[i:])
	}
	return out.String()
}

// invalidSubpart returns the length of the maximal subpart at the start of b,
// which is known not to begin a valid sequence: the lead byte plus the
// continuation bytes that were still acceptable when decoding failed.
func invalidSubpart(b []byte) int {
	need, lower, upper := leadByte(b[0])
	if need == 0 {
		return 1
	}

	n := 1
	for ; n <= need && n < len(b); n++ {
		if b[n] < lower || b[n] > upper {
			break
		}
		lower, upper = 0x80, 0xBF
	}
	return n
}

// leadByte gives the number of continuation bytes a lead byte needs and the
// allowed range of the first of them (Unicode table 3-7).
func leadByte(c byte) (need int, lower, upper byte) {
	switch {
	case c >= 0xC2 && c <= 0xDF:
		return 1, 0x80, 0xBF
	case c == 0xE0:
		return 2, 0xA0, 0xBF
	case c == 0xED:
		return 2, 0x80, 0x9F
	case c >= 0xE1 && c <= 0xEF:
		return 2, 0x80, 0xBF
	case c == 0xF0:
		return 3, 0x90, 0xBF
	case c == 0xF4:
		return 3, 0x80, 0x8F
	case c >= 0xF1 && c <= 0xF3:
		return 3, 0x80, 0xBF
	}
	return 0, 0, 0
}
