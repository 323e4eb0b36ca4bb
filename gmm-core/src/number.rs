//! The one way the workspace prints a number for people: three significant digits, fixed
//! notation between 1e-3 and 1e4 (`0.0504`, `1.00`, `123`), scientific with a two-digit exponent
//! outside it (`5.04e-06`, `1.23e+05`). Machine-readable outputs (CSV, JSON) keep every digit.

use std::fmt;

/// `x` with three significant digits ([`Sig3`]'s `Display`).
///
/// ```
/// use gmm_core::Sig3;
/// assert_eq!(Sig3(0.05039).to_string(), "0.0504");
/// assert_eq!(Sig3(1.0).to_string(), "1.00");
/// assert_eq!(Sig3(5.039e-6).to_string(), "5.04e-06");
/// assert_eq!(Sig3(-123456.0).to_string(), "-1.23e+05");
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sig3(pub f64);

impl fmt::Display for Sig3 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let x = self.0;
        if x == 0.0 {
            return f.write_str("0");
        }
        if !x.is_finite() {
            return write!(f, "{x}");
        }
        // The exponent after rounding to three digits (0.09996 is 1.00e-1, printed 0.100).
        let sci = format!("{x:.2e}");
        let (mantissa, exponent) = sci.split_once('e').unwrap_or((&sci, "0"));
        let exponent: i32 = exponent.parse().unwrap_or(0);
        if (-3..4).contains(&exponent) {
            let decimals = (2 - exponent).max(0) as usize;
            write!(f, "{x:.decimals$}")
        } else {
            let sign = if exponent < 0 { '-' } else { '+' };
            write!(f, "{mantissa}e{sign}{:02}", exponent.abs())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Sig3;

    #[test]
    fn three_significant_digits_and_no_short_exponents() {
        let cases = [
            (0.0, "0"),
            (0.05039, "0.0504"),
            (1.0, "1.00"),
            (0.09996, "0.100"),
            (999.6, "1000"),
            (9999.6, "1.00e+04"),
            (0.001, "0.00100"),
            (0.000999, "9.99e-04"),
            (5.039e-6, "5.04e-06"),
            (2.5e-120, "2.50e-120"),
            (-0.5, "-0.500"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "inf"),
        ];
        for (x, shown) in cases {
            assert_eq!(Sig3(x).to_string(), shown, "{x}");
        }
    }
}
