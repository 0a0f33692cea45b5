//! The ratio estimator of SPEC §3: tokens from counted code points.

/// The default `chars-per-token` divisor.
pub const DEFAULT_CHARS_PER_TOKEN: f64 = 4.0;

/// Counts Unicode code points, the unit of SPEC §2 (not bytes, not UTF-16 units).
pub fn code_points(text: &str) -> u64 {
    text.chars().count() as u64
}

/// The largest estimate reported: 2^53, the last integer every JSON parser
/// holds exactly (SPEC §3).
pub const ESTIMATE_CAP: u64 = 1 << 53;

/// `0` for no text, else `min(2^53, max(1, ceil(C / r)))`, computed with one
/// double division.
///
/// `conformance/oracle.py` is the executable form of this rule; keep the two
/// in step.
pub fn ratio_estimate(counted_chars: u64, chars_per_token: f64) -> u64 {
    if counted_chars == 0 {
        return 0;
    }

    // One IEEE-754 division, then ceil on that double: splitting the division
    // or rounding earlier changes results for ratios such as 0.1 or 3.3.
    let quotient = counted_chars as f64 / chars_per_token;
    if quotient >= ESTIMATE_CAP as f64 {
        return ESTIMATE_CAP;
    }

    (quotient.ceil() as u64).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_text_is_zero_tokens() {
        assert_eq!(ratio_estimate(0, 4.0), 0);
    }

    #[test]
    fn any_text_is_at_least_one_token() {
        assert_eq!(ratio_estimate(1, 4.0), 1);
        assert_eq!(ratio_estimate(1, 1000.0), 1);
    }

    #[test]
    fn rounds_up_after_one_division() {
        assert_eq!(ratio_estimate(4, 4.0), 1);
        assert_eq!(ratio_estimate(5, 4.0), 2);
        assert_eq!(ratio_estimate(9, 4.0), 3);
        assert_eq!(ratio_estimate(10, 2.5), 4);
        // 21 / 0.7 is 30.000000000000004 as one double division, so ceil
        // gives 31; multiplying by a rounded 1 / 0.7 would give 30.
        assert_eq!(ratio_estimate(21, 0.7), 31);
    }

    #[test]
    fn absurdly_small_ratios_are_capped() {
        assert_eq!(ratio_estimate(1, 5e-324), ESTIMATE_CAP);
        assert_eq!(ratio_estimate(3, 1e-300), ESTIMATE_CAP);
    }

    #[test]
    fn counts_code_points_not_bytes() {
        assert_eq!(code_points("café 你好 🙂"), 9);
        assert_eq!(code_points(""), 0);
        assert_eq!(code_points("\u{FFFD}"), 1);
    }
}
