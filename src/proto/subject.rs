//! Subject grammar as nats-server applies it to clients: subjects are opaque bytes split on
//! `.`; a token may not be empty; `*` and `>` are wildcards only as whole tokens, and `>` must
//! be last. UTF-8 is deliberately not checked (nats-server routes any bytes).

/// Splits a subject into its tokens.
pub fn tokens(subject: &[u8]) -> impl Iterator<Item = &[u8]> {
    subject.split(|&b| b == b'.')
}

/// A subject that may be subscribed to: wildcards allowed, no empty token, `>` last.
pub fn is_valid_subject(subject: &[u8]) -> bool {
    if subject.is_empty() {
        return false;
    }
    let mut after_full_wildcard = false;
    for token in tokens(subject) {
        if token.is_empty() || after_full_wildcard {
            return false;
        }
        if token == b">" {
            after_full_wildcard = true;
        }
    }
    true
}

/// A subject that may be published to in pedantic mode: valid and without wildcards.
pub fn is_valid_literal_subject(subject: &[u8]) -> bool {
    is_valid_subject(subject) && tokens(subject).all(|t| t != b"*" && t != b">")
}

/// True when the subject contains a wildcard token.
pub fn has_wildcard(subject: &[u8]) -> bool {
    tokens(subject).any(|t| t == b"*" || t == b">")
}

/// The reference matcher: does `pattern` (which may hold wildcards) match `subject`?
///
/// Wildcards in `subject` are literal bytes here, which is what nats-server does with a
/// PUB to `foo.*`: only patterns whose token is `*` or a wildcard cover it.
pub fn matches(pattern: &[u8], subject: &[u8]) -> bool {
    let mut pattern_tokens = tokens(pattern);
    let mut subject_tokens = tokens(subject);
    loop {
        match (pattern_tokens.next(), subject_tokens.next()) {
            (Some(b">"), Some(s)) => return !s.is_empty() && subject_tokens.all(|t| !t.is_empty()),
            (Some(b"*"), Some(s)) if !s.is_empty() => continue,
            (Some(p), Some(s)) if p == s && !s.is_empty() => continue,
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// Is every subject that `narrow` matches also matched by `broad` (nats-server's
/// `subjectIsSubsetMatch`)? Both may hold wildcards.
pub fn is_subset(narrow: &str, broad: &str) -> bool {
    let mut n = narrow.split('.');
    let mut b = broad.split('.');
    loop {
        match (n.next(), b.next()) {
            (Some(_), Some(">")) => return true,
            (Some(">"), _) | (None, Some(_)) => return false,
            (Some("*"), Some("*")) => continue,
            (Some("*"), _) => return false,
            (Some(_), Some("*")) => continue,
            (Some(x), Some(y)) if x == y => continue,
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// The subjects both patterns match, as one pattern; `None` when they match nothing in
/// common (nats-server's `SubjectsCollide`, returning the overlap).
pub fn intersection(a: &str, b: &str) -> Option<String> {
    let mut out: Vec<&str> = Vec::new();
    let mut x = a.split('.');
    let mut y = b.split('.');
    loop {
        match (x.next(), y.next()) {
            (Some(">"), Some(t)) => {
                out.push(t);
                out.extend(y.by_ref());
                break;
            }
            (Some(t), Some(">")) => {
                out.push(t);
                out.extend(x.by_ref());
                break;
            }
            (Some("*"), Some(t)) | (Some(t), Some("*")) => out.push(t),
            (Some(s), Some(t)) if s == t => out.push(s),
            (None, None) => break,
            _ => return None,
        }
    }
    Some(out.join("."))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subsets_and_intersections() {
        assert!(is_subset("foo.bar", "foo.*"));
        assert!(is_subset("foo.*", "foo.>"));
        assert!(is_subset("foo.>", "foo.>"));
        assert!(is_subset("foo.*.baz", "foo.>"));
        assert!(!is_subset("foo.>", "foo.*"));
        assert!(!is_subset("foo.*", "foo.bar"));
        assert!(!is_subset("foo", "foo.>"));
        assert!(!is_subset("foo.bar.baz", "foo.*"));
        assert_eq!(intersection("foo.*", "*.bar").as_deref(), Some("foo.bar"));
        assert_eq!(
            intersection("foo.>", "*.bar.*").as_deref(),
            Some("foo.bar.*")
        );
        assert_eq!(intersection(">", "a.b").as_deref(), Some("a.b"));
        assert_eq!(intersection("a.*", "a.b.c"), None);
        assert_eq!(intersection("a.b", "a.c"), None);
    }

    #[test]
    fn validity() {
        for ok in [
            &b"foo"[..],
            b"foo.bar",
            b"*",
            b">",
            b"foo.*.bar",
            b"foo.>",
            b"foo*",
            b"\xff.a",
        ] {
            assert!(is_valid_subject(ok), "{:?}", String::from_utf8_lossy(ok));
        }
        for bad in [&b""[..], b".", b"a..b", b".a", b"a.", b">.a", b"a.>.b"] {
            assert!(!is_valid_subject(bad), "{:?}", String::from_utf8_lossy(bad));
        }
        assert!(is_valid_literal_subject(b"foo.bar"));
        assert!(is_valid_literal_subject(b"foo*"));
        assert!(!is_valid_literal_subject(b"foo.*"));
        assert!(!is_valid_literal_subject(b"foo.>"));
    }

    #[test]
    fn matching() {
        assert!(matches(b"foo.bar", b"foo.bar"));
        assert!(matches(b"foo.*", b"foo.bar"));
        assert!(!matches(b"foo.*", b"foo.bar.baz"));
        assert!(matches(b"foo.>", b"foo.bar.baz"));
        assert!(!matches(b"foo.>", b"foo"));
        assert!(matches(b">", b"foo"));
        assert!(matches(b"*.bar", b"foo.bar"));
        assert!(!matches(b"foo*", b"foox"));
        assert!(matches(b"foo.*", b"foo.*"));
        assert!(!matches(b"foo.bar", b"foo.*"));
        assert!(!matches(b"foo.*", b"foo."));
        assert!(!matches(b"foo.>", b"foo.a..b"));
    }
}
