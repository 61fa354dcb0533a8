//! The subject filters (message view, subject tree): a NATS wildcard pattern
//! (`orders.*.created`, `telemetry.>`) matched with the broker's own matcher; any text
//! without a wildcard token is a case-insensitive substring (`orders`, `eu.created`).

use crate::proto::subject;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum SubjectFilter {
    /// Empty text: everything matches.
    #[default]
    All,
    /// A valid subject with a wildcard token.
    Pattern(Vec<u8>),
    /// Anything else: substring, lower-cased.
    Contains(String),
}

impl SubjectFilter {
    pub fn parse(text: &str) -> Self {
        let text = text.trim();
        if text.is_empty() {
            return Self::All;
        }
        let bytes = text.as_bytes();
        if subject::has_wildcard(bytes) && subject::is_valid_subject(bytes) && !text.contains(' ') {
            Self::Pattern(text.as_bytes().to_vec())
        } else {
            Self::Contains(text.to_lowercase())
        }
    }

    pub fn matches(&self, subj: &[u8]) -> bool {
        match self {
            Self::All => true,
            Self::Pattern(p) => subject::matches(p, subj),
            Self::Contains(needle) => String::from_utf8_lossy(subj)
                .to_lowercase()
                .contains(needle.as_str()),
        }
    }

    pub fn is_all(&self) -> bool {
        matches!(self, Self::All)
    }
}

/// The filter that shows a subject-tree node: the subject itself for a leaf, `path.>` for
/// a branch.
pub fn filter_for_node(path: &str, has_children: bool) -> String {
    if has_children {
        format!("{path}.>")
    } else {
        path.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_use_the_broker_matcher() {
        let f = SubjectFilter::parse("orders.*.created");
        assert!(f.matches(b"orders.eu.created"));
        assert!(!f.matches(b"orders.eu.shipped"));
        assert!(!f.matches(b"orders.created"));
        let f = SubjectFilter::parse("telemetry.>");
        assert!(f.matches(b"telemetry.a.b.c"));
        assert!(!f.matches(b"telemetry"));
        assert!(SubjectFilter::parse(">").matches(b"anything.at.all"));
    }

    #[test]
    fn text_without_wildcards_is_a_substring() {
        let f = SubjectFilter::parse(" Orders.Created ");
        assert!(f.matches(b"orders.created"));
        assert!(f.matches(b"orders.created.v2"));
        assert!(!f.matches(b"orders.shipped"));
        assert!(SubjectFilter::parse("eu").matches(b"orders.eu.created"));
        assert!(
            !SubjectFilter::parse("foo*").matches(b"foo.bar"),
            "foo* is no wildcard"
        );
    }

    #[test]
    fn empty_matches_all_and_invalid_is_substring() {
        assert!(SubjectFilter::parse("  ").is_all());
        let f = SubjectFilter::parse("Ord ers");
        assert_eq!(f, SubjectFilter::Contains("ord ers".into()));
        let f = SubjectFilter::parse("..eu");
        assert!(f.matches(b"orders..eu"));
        assert!(!f.matches(b"orders.eu"));
    }

    #[test]
    fn node_filters() {
        assert_eq!(filter_for_node("a.b", false), "a.b");
        assert_eq!(filter_for_node("a", true), "a.>");
    }
}
