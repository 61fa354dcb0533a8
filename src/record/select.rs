//! Which recorded messages a replay sends, and under which subject: `--subject` patterns
//! and `--remap OLD=NEW` rules. A remap's wildcards carry over in order: `*` in OLD is
//! replaced by the token it matched at the next `*` of NEW, and a trailing `>` by the rest.

use std::str::FromStr;

use crate::proto::subject;

/// A `--subject` pattern or `--remap` rule that can't be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectError {
    #[error("remap {0:?} is not OLD=NEW")]
    NotOldNew(String),
    #[error("remap {remap:?}: {part:?} is not a valid subject")]
    InvalidSubject { remap: String, part: String },
    #[error("remap {0:?}: both sides need the same wildcards (`*` count and trailing `>`)")]
    Wildcards(String),
    #[error("invalid subject pattern {0:?}")]
    InvalidPattern(String),
}

/// One `OLD=NEW` subject rewrite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remap {
    from: Vec<Vec<u8>>,
    to: Vec<Vec<u8>>,
}

fn split(s: &[u8]) -> Vec<Vec<u8>> {
    subject::tokens(s).map(<[u8]>::to_vec).collect()
}

fn wildcards(tokens: &[Vec<u8>]) -> (usize, bool) {
    let stars = tokens.iter().filter(|t| t.as_slice() == b"*").count();
    let full = tokens.last().is_some_and(|t| t.as_slice() == b">");
    (stars, full)
}

impl FromStr for Remap {
    type Err = SelectError;

    fn from_str(s: &str) -> Result<Self, SelectError> {
        let (from, to) = s
            .split_once('=')
            .ok_or_else(|| SelectError::NotOldNew(s.to_string()))?;
        for part in [from, to] {
            if !subject::is_valid_subject(part.as_bytes()) {
                return Err(SelectError::InvalidSubject {
                    remap: s.to_string(),
                    part: part.to_string(),
                });
            }
        }
        let (from, to) = (split(from.as_bytes()), split(to.as_bytes()));
        if wildcards(&from) != wildcards(&to) {
            return Err(SelectError::Wildcards(s.to_string()));
        }
        Ok(Remap { from, to })
    }
}

impl Remap {
    /// The rewritten subject, or `None` when OLD does not match.
    pub fn apply(&self, subj: &[u8]) -> Option<Vec<u8>> {
        let tokens: Vec<&[u8]> = subject::tokens(subj).collect();
        if tokens.iter().any(|t| t.is_empty()) {
            return None;
        }
        let mut stars: Vec<&[u8]> = Vec::new();
        let mut rest: Option<usize> = None;
        for (i, pattern) in self.from.iter().enumerate() {
            match pattern.as_slice() {
                b">" => {
                    if i >= tokens.len() {
                        return None;
                    }
                    rest = Some(i);
                    break;
                }
                b"*" => stars.push(tokens.get(i)?),
                literal => {
                    if *tokens.get(i)? != literal {
                        return None;
                    }
                }
            }
        }
        if rest.is_none() && tokens.len() != self.from.len() {
            return None;
        }
        let mut out: Vec<u8> = Vec::with_capacity(subj.len() + 16);
        let mut next_star = stars.into_iter();
        for (i, t) in self.to.iter().enumerate() {
            if i > 0 {
                out.push(b'.');
            }
            match t.as_slice() {
                b"*" => out.extend_from_slice(next_star.next()?),
                b">" => out.extend_from_slice(subj.get(tail_offset(subj, rest?)?..)?),
                literal => out.extend_from_slice(literal),
            }
        }
        Some(out)
    }
}

/// Byte offset of token `index` in a subject.
fn tail_offset(subj: &[u8], index: usize) -> Option<usize> {
    if index == 0 {
        return Some(0);
    }
    subj.iter()
        .enumerate()
        .filter(|(_, &b)| b == b'.')
        .nth(index - 1)
        .map(|(i, _)| i + 1)
}

/// Subject filter and remaps together.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    patterns: Vec<Vec<u8>>,
    remaps: Vec<Remap>,
}

impl Selection {
    pub fn new(patterns: &[String], remaps: Vec<Remap>) -> Result<Self, SelectError> {
        for p in patterns {
            if !subject::is_valid_subject(p.as_bytes()) {
                return Err(SelectError::InvalidPattern(p.clone()));
            }
        }
        Ok(Selection {
            patterns: patterns.iter().map(|p| p.as_bytes().to_vec()).collect(),
            remaps,
        })
    }

    /// True when the recorded subject passes the filter (filters apply before remapping).
    pub fn wants(&self, subj: &[u8]) -> bool {
        self.patterns.is_empty() || self.patterns.iter().any(|p| subject::matches(p, subj))
    }

    /// The subject to publish to: the first matching remap's result, else unchanged.
    pub fn target(&self, subj: &[u8]) -> Vec<u8> {
        self.remaps
            .iter()
            .find_map(|r| r.apply(subj))
            .unwrap_or_else(|| subj.to_vec())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn remap(s: &str) -> Remap {
        s.parse().unwrap()
    }

    #[test]
    fn remaps_carry_wildcards() {
        assert_eq!(
            remap("old.>=new.>").apply(b"old.a.b").unwrap(),
            b"new.a.b".to_vec()
        );
        assert_eq!(remap("old.>=new.>").apply(b"old"), None);
        assert_eq!(remap("old.>=new.>").apply(b"other.a"), None);
        assert_eq!(
            remap("a.*.c=x.*.y").apply(b"a.B.c").unwrap(),
            b"x.B.y".to_vec()
        );
        assert_eq!(remap("a.*.c=x.*.y").apply(b"a.B.c.d"), None);
        assert_eq!(remap("a.b=c").apply(b"a.b").unwrap(), b"c".to_vec());
        assert_eq!(
            remap("*.>=pre.*.>").apply(b"t.u.v").unwrap(),
            b"pre.t.u.v".to_vec()
        );
        assert_eq!(remap(">=r.>").apply(b"x.y").unwrap(), b"r.x.y".to_vec());
        assert!("a.>=b".parse::<Remap>().is_err());
        assert!("a.*=b.*.*".parse::<Remap>().is_err());
        assert!("nonsense".parse::<Remap>().is_err());
        assert!("a..b=c".parse::<Remap>().is_err());
    }

    #[test]
    fn selection_filters_then_remaps() {
        let s =
            Selection::new(&["orders.>".into()], vec![remap("orders.>=test.orders.>")]).unwrap();
        assert!(s.wants(b"orders.new"));
        assert!(!s.wants(b"users.new"));
        assert_eq!(s.target(b"orders.new"), b"test.orders.new".to_vec());
        assert!(Selection::new(&["a..b".into()], vec![]).is_err());
    }
}
