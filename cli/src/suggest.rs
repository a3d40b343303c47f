//! Typo suggestions: which known name a mistyped subcommand or flag most likely meant.
//!
//! Owns the distance measure and the threshold for "close enough". It never decides which
//! names are candidates; the error that asks does, from the subcommands' flags.

/// The candidate closest to `typed`, if it is close enough to be a typo of it.
///
/// A candidate qualifies when `typed` is a prefix of it (`--max` for `--max-body`) or when at
/// most [`MAX_TYPO_EDITS`] edits, and fewer than half its length, turn one into the other.
pub(crate) fn closest<'a>(
    typed: &str,
    candidates: impl Iterator<Item = &'a str>,
) -> Option<&'a str> {
    let mut best: Option<(usize, &str)> = None;
    for candidate in candidates {
        let distance = if typed.len() >= MIN_PREFIX_LEN && candidate.starts_with(typed) {
            candidate.len() - typed.len()
        } else {
            let distance = edit_distance(typed, candidate);
            if distance > MAX_TYPO_EDITS || distance * 2 >= candidate.len() {
                continue;
            }
            distance
        };
        // Ties go to the earlier candidate: each subcommand lists its more common flags first.
        match best {
            Some((shortest, _)) if shortest <= distance => {}
            _ => best = Some((distance, candidate)),
        }
    }
    best.map(|(_, candidate)| candidate)
}

/// The number of single-character insertions, deletions, substitutions and swaps of
/// neighbours that turn `a` into `b` (optimal string alignment distance).
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // Three rows of the distance table: before the previous character of `a`, the previous
    // one, and the current one; each row has `b.len() + 1` cells, so every index below is in
    // range (`j` runs over `1..=b.len()`, `i` over `1..=a.len()`).
    let mut before: Vec<usize> = vec![0; b.len() + 1];
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current: Vec<usize> = vec![0; b.len() + 1];
    for i in 1..=a.len() {
        current[0] = i;
        for j in 1..=b.len() {
            let substitution = usize::from(a[i - 1] != b[j - 1]);
            let mut cell = (previous[j] + 1)
                .min(current[j - 1] + 1)
                .min(previous[j - 1] + substitution);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                cell = cell.min(before[j - 2] + 1);
            }
            current[j] = cell;
        }
        std::mem::swap(&mut before, &mut previous);
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

/// Suggestions allow at most two edits: enough for a doubled, dropped or swapped letter,
/// few enough that the suggestion is still recognisably the word that was typed.
const MAX_TYPO_EDITS: usize = 2;

/// A typed prefix must be at least this long to suggest a flag: one letter says too little.
const MIN_PREFIX_LEN: usize = 2;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        let names = [
            "http",
            "static",
            "max-body",
            "ack-timeout",
            "transport",
            "store",
            "fsync",
        ];
        let cases: &[(&str, Option<&str>)] = &[
            ("htp", Some("http")),
            ("htttp", Some("http")),
            ("https", Some("http")),
            ("statc", Some("static")),
            ("transprot", Some("transport")),
            ("fsnyc", Some("fsync")),
            ("max", Some("max-body")),
            ("ack", Some("ack-timeout")),
            ("stor", Some("store")),
            ("x", None),
            ("tcp", None),
            ("bind", None),
            ("", None),
        ];
        for (typed, expected) in cases {
            assert_eq!(
                closest(typed, names.into_iter()),
                *expected,
                "closest({typed:?})"
            );
        }
    }

    #[test]
    fn measures_edit_distance() {
        let cases = [
            ("", "", 0),
            ("", "abc", 3),
            ("abc", "", 3),
            ("abc", "abc", 0),
            ("abc", "abd", 1),
            ("abc", "acb", 1),
            ("abc", "ab", 1),
            ("kitten", "sitting", 3),
            ("é", "e", 1),
        ];
        for (a, b, expected) in cases {
            assert_eq!(edit_distance(a, b), expected, "edit_distance({a:?}, {b:?})");
        }
    }
}
