package budget

import (
	"math"
	"unicode/utf8"
)

// DefaultCharsPerToken suits English prose; code and many European languages
// are closer to 3, Chinese and Japanese to 1-1.5.
const DefaultCharsPerToken = 4.0

// EstimateCap is the largest estimate the contract reports (2^53): it keeps
// the number exact in every JSON parser, and only an absurdly small ratio
// reaches it.
const EstimateCap int64 = 1 << 53

// RatioEstimate is the contract's estimate of C code points at r characters
// per token: 0 for no text, else min(2^53, max(1, ceil(C / r))) with C / r
// computed as one float64 division (SPEC.md section 3).
func RatioEstimate(chars int, r float64) int64 {
	if chars == 0 {
		return 0
	}

	quotient := float64(chars) / r
	if quotient >= float64(EstimateCap) || math.IsNaN(quotient) {
		return EstimateCap
	}
	return max(1, int64(math.Ceil(quotient)))
}

// CountChars counts the code points of s, the unit of the estimate.
// Strings decoded by the providers are valid UTF-8, so this is exact.
func CountChars(s string) int {
	return utf8.RuneCountInString(s)
}
