//! A rough password strength hint, shown while the password is typed.
//!
//! This is a hint, not a guarantee: it estimates the guessing work from the
//! length and the kinds of characters, and punishes obvious patterns.

/// How strong a password looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Strength {
    /// Nothing typed.
    Empty,
    /// Guessable quickly.
    Weak,
    /// Resists casual guessing, not a determined attacker with the file.
    Fair,
    /// Good.
    Strong,
}

impl Strength {
    /// Words for the hint.
    pub(crate) fn hint(self) -> &'static str {
        match self {
            Strength::Empty => "Choose a password.",
            Strength::Weak => {
                "Weak: someone with your computer could guess it. Use a longer phrase."
            }
            Strength::Fair => "Fair: longer is better, e.g. four or five random words.",
            Strength::Strong => "Strong.",
        }
    }

    /// 0..=1, for a bar.
    pub(crate) fn fraction(self) -> f32 {
        match self {
            Strength::Empty => 0.0,
            Strength::Weak => 0.25,
            Strength::Fair => 0.6,
            Strength::Strong => 1.0,
        }
    }
}

/// Estimate a password's strength.
pub(crate) fn estimate(pw: &str) -> Strength {
    if pw.is_empty() {
        return Strength::Empty;
    }
    let chars: Vec<char> = pw.chars().collect();
    let distinct = {
        let mut d = chars.clone();
        d.sort_unstable();
        d.dedup();
        d.len()
    };
    let mut pool = 0_u32;
    if chars.iter().any(char::is_ascii_lowercase) {
        pool += 26;
    }
    if chars.iter().any(char::is_ascii_uppercase) {
        pool += 26;
    }
    if chars.iter().any(char::is_ascii_digit) {
        pool += 10;
    }
    if chars.iter().any(|c| c.is_ascii_punctuation() || *c == ' ') {
        pool += 33;
    }
    if chars.iter().any(|c| !c.is_ascii()) {
        pool += 100;
    }
    // Repeated characters add little: count distinct ones more than repeats.
    let effective_len = distinct as f64 + (chars.len() - distinct) as f64 * 0.25;
    let bits = effective_len * f64::from(pool.max(2)).log2();
    let common = ["password", "123456", "qwerty", "letmein", "kith", "admin"];
    let lower = pw.to_lowercase();
    let bits = if common.iter().any(|c| lower.contains(c)) {
        bits / 2.0
    } else {
        bits
    };
    if chars.len() < 8 || bits < 40.0 {
        Strength::Weak
    } else if bits < 80.0 {
        Strength::Fair
    } else {
        Strength::Strong
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordering() {
        assert_eq!(estimate(""), Strength::Empty);
        assert_eq!(estimate("abc"), Strength::Weak);
        assert_eq!(estimate("aaaaaaaaaaaaaaaa"), Strength::Weak);
        assert_eq!(estimate("password123"), Strength::Weak);
        assert_eq!(estimate("Tr0ub4dor&3x"), Strength::Fair);
        assert_eq!(estimate("correct horse battery staple"), Strength::Strong);
    }
}
