//! Role ARN globs: `*` stands for any run of characters (also none), every other character
//! for itself. Matching is linear in the lengths of the pattern and the text: the pattern is
//! cut at its stars into literal pieces; the first must start the text, the last must end
//! it, and each piece between is found at its leftmost place after the previous one. Taking
//! the leftmost place never loses a match (a later piece has at least as much text left), so
//! nothing is ever retried, unlike a backtracking matcher, which is exponential in the stars.

/// Whether `text` matches `pattern`.
pub fn matches(pattern: &str, text: &str) -> bool {
    let mut pieces = pattern.split('*');
    // split always yields a first piece; a pattern without a star is that piece alone.
    let first = pieces.next().unwrap_or_default();
    let Some(rest) = text.strip_prefix(first) else { return false };
    let middle: Vec<&str> = pieces.collect();
    let Some((last, middle)) = middle.split_last() else { return rest.is_empty() };
    if !rest.ends_with(last) {
        return false;
    }
    // `last` ends the text, so the middle pieces must fit before it. Cutting at a byte
    // index is safe: `last` is a suffix of `rest`, so the cut falls on a char boundary.
    let mut window = &rest[..rest.len() - last.len()];
    for piece in middle {
        // str::find is the Two-Way search: linear, without backtracking.
        match window.find(piece) {
            Some(at) => window = &window[at + piece.len()..],
            None => return false,
        }
    }
    true
}

/// Whether `arn` matches one of `patterns`.
pub fn matches_any(patterns: &[String], arn: &str) -> bool {
    patterns.iter().any(|p| matches(p, arn))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The definition, by backtracking: exponential, only for small inputs.
    fn reference(pattern: &[u8], text: &[u8]) -> bool {
        match pattern.split_first() {
            None => text.is_empty(),
            Some((b'*', rest)) => (0..=text.len()).any(|i| reference(rest, &text[i..])),
            Some((c, rest)) => text.split_first().is_some_and(|(t, tail)| t == c && reference(rest, tail)),
        }
    }

    #[test]
    fn role_patterns() {
        let allowed = vec!["arn:aws:iam::111111111111:role/elb-*".to_string(), "arn:aws:iam::222222222222:role/exact".to_string()];
        assert!(matches_any(&allowed, "arn:aws:iam::111111111111:role/elb-operator"));
        assert!(matches_any(&allowed, "arn:aws:iam::111111111111:role/elb-"));
        assert!(matches_any(&allowed, "arn:aws:iam::222222222222:role/exact"));
        assert!(!matches_any(&allowed, "arn:aws:iam::222222222222:role/exact2"));
        assert!(!matches_any(&allowed, "arn:aws:iam::333333333333:role/elb-operator"));
        assert!(!matches_any(&[], "arn:aws:iam::111111111111:role/elb-operator"));
        assert!(matches("arn:aws:iam::*:role/team-a-*", "arn:aws:iam::123456789012:role/team-a-web"));
        assert!(!matches("arn:aws:iam::*:role/team-a-*", "arn:aws:iam::123456789012:role/team-b-web"));
        assert!(matches("*", "") && matches("**", "x") && matches("", "") && !matches("", "x"));
        assert!(matches("a*b*c", "abc") && matches("a*b*c", "aXbYbZc") && !matches("a*b*c", "acb"));
        // The last piece must not overlap the first: "ab*ba" needs at least 4 characters.
        assert!(!matches("ab*ba", "aba") && matches("ab*ba", "abba"));
        assert!(matches("é*名", "é-x-名") && !matches("é*名", "e-x-名"));
    }

    #[test]
    fn pathological_patterns_are_answered_correctly() {
        // A backtracking matcher tries about C(10000, 40) splits here; this one scans the
        // text a few times.
        let text = "a".repeat(10_000);
        let stars = "a*".repeat(40);
        assert!(!matches(&format!("{stars}b"), &text));
        assert!(matches(&format!("{stars}a"), &text));
        assert!(!matches(&format!("{stars}a"), &"a".repeat(40)));
        assert!(matches(&format!("{stars}a"), &"a".repeat(41)));
        let arn = format!("arn:aws:iam::123456789012:role/{}", "a".repeat(2000));
        assert!(!matches(&format!("arn:aws:iam::*:role/{}b", "*a".repeat(60)), &arn));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// The linear matcher agrees with the definition.
        #[test]
        fn agrees_with_backtracking(pattern in "[ab*]{0,8}", text in "[ab]{0,10}") {
            prop_assert_eq!(matches(&pattern, &text), reference(pattern.as_bytes(), text.as_bytes()), "{} {}", pattern, text);
        }
    }
}
