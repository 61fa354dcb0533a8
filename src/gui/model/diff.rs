//! A line diff of two payloads (longest common subsequence), for "compare with the previous
//! message on the same subject". JSON is pretty-printed first so fields line up.

use super::payload;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiffKind {
    Same,
    Removed,
    Added,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiffLine {
    pub kind: DiffKind,
    pub text: String,
}

/// Above this many lines on either side the diff is not computed line by line.
pub const MAX_DIFF_LINES: usize = 2000;

/// The text both payloads are compared as: pretty JSON when both parse, else text.
pub fn comparable_text(old: &[u8], new: &[u8]) -> (String, String) {
    match (payload::render_json(old), payload::render_json(new)) {
        (Ok(a), Ok(b)) => (a, b),
        _ => (payload::render_text(old), payload::render_text(new)),
    }
}

/// The lines of `new` against `old`: unchanged, removed from `old`, added in `new`.
pub fn diff_lines(old: &str, new: &str) -> Vec<DiffLine> {
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    if a.len() > MAX_DIFF_LINES || b.len() > MAX_DIFF_LINES {
        let mut out: Vec<DiffLine> = a.iter().map(|l| line(DiffKind::Removed, l)).collect();
        out.extend(b.iter().map(|l| line(DiffKind::Added, l)));
        return out;
    }
    // lcs[i][j]: length of the LCS of a[i..] and b[j..].
    let mut lcs = vec![vec![0u32; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::with_capacity(a.len().max(b.len()));
    while i < a.len() && j < b.len() {
        if a[i] == b[j] {
            out.push(line(DiffKind::Same, a[i]));
            i += 1;
            j += 1;
        } else if lcs[i + 1][j] >= lcs[i][j + 1] {
            out.push(line(DiffKind::Removed, a[i]));
            i += 1;
        } else {
            out.push(line(DiffKind::Added, b[j]));
            j += 1;
        }
    }
    out.extend(a[i..].iter().map(|l| line(DiffKind::Removed, l)));
    out.extend(b[j..].iter().map(|l| line(DiffKind::Added, l)));
    out
}

fn line(kind: DiffKind, text: &str) -> DiffLine {
    DiffLine {
        kind,
        text: text.to_string(),
    }
}

/// True when nothing changed.
pub fn is_identical(diff: &[DiffLine]) -> bool {
    diff.iter().all(|l| l.kind == DiffKind::Same)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(d: &[DiffLine]) -> Vec<(DiffKind, &str)> {
        d.iter().map(|l| (l.kind, l.text.as_str())).collect()
    }

    #[test]
    fn changed_line_is_removed_then_added() {
        let d = diff_lines("a\nb\nc", "a\nB\nc\nd");
        assert_eq!(
            kinds(&d),
            [
                (DiffKind::Same, "a"),
                (DiffKind::Removed, "b"),
                (DiffKind::Added, "B"),
                (DiffKind::Same, "c"),
                (DiffKind::Added, "d"),
            ]
        );
        assert!(!is_identical(&d));
        assert!(is_identical(&diff_lines("x\ny", "x\ny")));
    }

    #[test]
    fn json_is_compared_field_by_field() {
        let (a, b) = comparable_text(br#"{"id":1,"state":"new"}"#, br#"{"id":1,"state":"paid"}"#);
        let d = diff_lines(&a, &b);
        let changed: Vec<_> = d.iter().filter(|l| l.kind != DiffKind::Same).collect();
        assert_eq!(changed.len(), 2);
        assert_eq!(changed[0].text.trim(), "\"state\": \"new\"");
        assert_eq!(changed[1].text.trim(), "\"state\": \"paid\"");
    }

    #[test]
    fn empty_sides() {
        assert_eq!(kinds(&diff_lines("", "x")), [(DiffKind::Added, "x")]);
        assert_eq!(kinds(&diff_lines("x", "")), [(DiffKind::Removed, "x")]);
    }
}
