//! Subject transforms, as nats-server applies them to stream subjects, republishing,
//! mirrors and sources (and account subject mappings): a source pattern with wildcards and a
//! destination that rebuilds a subject from its tokens, with `$N` / `{{wildcard(N)}}` and
//! nats-server's mapping functions (`partition`, `splitFromLeft`, `splitFromRight`,
//! `sliceFromLeft`, `sliceFromRight`, `split`, `left`, `right`, `random`). A `>` at the end
//! of the destination passes the rest of the subject through. Pure: no I/O.
//!
//! Errors carry nats-server's texts (`invalid mapping destination: ... in <token>`), since
//! clients see them in API errors.

use std::fmt;

use super::subject;

/// Why a transform cannot be built; `Display` is nats-server's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransformError {
    /// The source or destination is not a valid subject, the destination holds `*`, or only
    /// one of them ends in `>` (nats-server's `ErrBadSubject`).
    BadSubject,
    /// Something in the destination (nats-server's `mappingDestinationErr`): what, and the
    /// token it is in (empty when the whole destination is meant).
    Destination {
        kind: DestinationError,
        token: String,
    },
}

/// The kinds of destination errors, each with nats-server's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DestinationError {
    InvalidTransform,
    NotUsingAllWildcards,
    UnknownFunction,
    IndexOutOfRange,
    NotEnoughArgs,
    InvalidArg,
    TooManyArgs,
    NotSupportedForImport,
}

impl DestinationError {
    pub fn text(self) -> &'static str {
        match self {
            Self::InvalidTransform => "invalid mapping destination: invalid transform",
            Self::NotUsingAllWildcards => {
                "invalid mapping destination: not using all of the token wildcard(s)"
            }
            Self::UnknownFunction => "invalid mapping destination: unknown function",
            Self::IndexOutOfRange => "invalid mapping destination: wildcard index out of range",
            Self::NotEnoughArgs => {
                "invalid mapping destination: not enough arguments passed to the function"
            }
            Self::InvalidArg => {
                "invalid mapping destination: function argument is invalid or in the wrong format"
            }
            Self::TooManyArgs => {
                "invalid mapping destination: too many arguments passed to the function"
            }
            Self::NotSupportedForImport => {
                "invalid mapping destination: the only mapping function allowed for import \
                 transforms is {{Wildcard()}}"
            }
        }
    }
}

impl fmt::Display for TransformError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadSubject => f.write_str("invalid subject"),
            Self::Destination { kind, token } if token.is_empty() => f.write_str(kind.text()),
            Self::Destination { kind, token } => write!(f, "{} in {}", kind.text(), token),
        }
    }
}

impl std::error::Error for TransformError {}

fn dest_err(kind: DestinationError, token: impl Into<String>) -> TransformError {
    TransformError::Destination {
        kind,
        token: token.into(),
    }
}

/// What one destination token becomes.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Op {
    /// The token itself (a literal, or `>`).
    Literal(String),
    /// A source token, by its index in the source.
    Wildcard(usize),
    /// FNV-1a 32 of the given source tokens (the whole subject when none), modulo `n`.
    Partition(u32, Vec<usize>),
    SplitFromLeft(usize, i32),
    SplitFromRight(usize, i32),
    SliceFromLeft(usize, i32),
    SliceFromRight(usize, i32),
    Split(usize, String),
    Left(usize, i32),
    Right(usize, i32),
    Random(u32),
}

/// A parsed destination token before wildcard indexes are mapped to source tokens.
#[derive(Debug)]
enum Placeholder {
    None,
    Wildcard(i64),
    Partition(i64, Vec<i64>),
    IndexInt(Func, i64, i32),
    Split(i64, String),
    Random(i64),
}

#[derive(Debug, Clone, Copy)]
enum Func {
    SplitFromLeft,
    SplitFromRight,
    SliceFromLeft,
    SliceFromRight,
    Left,
    Right,
}

/// A compiled transform from `src` to `dest`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubjectTransform {
    src: String,
    dest: String,
    /// Tokens of the source.
    src_tokens: usize,
    ops: Vec<Op>,
}

impl SubjectTransform {
    /// Builds a transform as nats-server's `NewSubjectTransform`: an empty source is `>`;
    /// an empty destination is no transform at all ([`apply`](Self::apply) answers `None`).
    pub fn new(src: &str, dest: &str) -> Result<SubjectTransform, TransformError> {
        Self::build(src, dest, false)
    }

    /// The strict form used for import mappings, which must be reversible: only wildcards,
    /// and every source wildcard used.
    pub fn new_strict(src: &str, dest: &str) -> Result<SubjectTransform, TransformError> {
        Self::build(src, dest, true)
    }

    pub fn source(&self) -> &str {
        &self.src
    }

    pub fn destination(&self) -> &str {
        &self.dest
    }

    fn build(src: &str, dest: &str, strict: bool) -> Result<SubjectTransform, TransformError> {
        let src = if src.is_empty() { ">" } else { src };
        if dest.is_empty() {
            return Ok(SubjectTransform {
                src: src.to_string(),
                dest: String::new(),
                src_tokens: 0,
                ops: Vec::new(),
            });
        }
        let (svalid, stokens, npwcs, sfwc) = subject_info(src);
        let (dvalid, dtokens, dnpwcs, dfwc) = subject_info(dest);
        if !svalid || !dvalid || dnpwcs > 0 || sfwc != dfwc {
            return Err(TransformError::BadSubject);
        }
        // Source token index of each `*`, numbered from 1.
        let wildcard_positions: Vec<usize> = stokens
            .iter()
            .enumerate()
            .filter(|(_, t)| **t == "*")
            .map(|(i, _)| i)
            .collect();
        let position = |n: i64| -> usize {
            // nats-server looks the index up in a map: 0 or below finds the first token.
            if n >= 1 {
                wildcard_positions.get(n as usize - 1).copied().unwrap_or(0)
            } else {
                0
            }
        };
        let mut ops = Vec::with_capacity(dtokens.len());
        let has_wildcards = npwcs > 0 || sfwc;
        let mut placeholders = 0usize;
        for token in &dtokens {
            let ph = index_placeholders(token)?;
            if strict && !matches!(ph, Placeholder::None | Placeholder::Wildcard(_)) {
                return Err(dest_err(DestinationError::NotSupportedForImport, *token));
            }
            let op = match ph {
                Placeholder::None => Op::Literal(token.to_string()),
                Placeholder::Random(n) => Op::Random(n as u32),
                Placeholder::Partition(n, _) if !has_wildcards => Op::Partition(n as u32, vec![]),
                _ if !has_wildcards => {
                    return Err(dest_err(DestinationError::IndexOutOfRange, *token));
                }
                ph => {
                    let indexes: Vec<i64> = match &ph {
                        Placeholder::Wildcard(i)
                        | Placeholder::IndexInt(_, i, _)
                        | Placeholder::Split(i, _) => vec![*i],
                        Placeholder::Partition(_, is) => is.clone(),
                        Placeholder::None | Placeholder::Random(_) => vec![],
                    };
                    placeholders += indexes.len();
                    for i in &indexes {
                        if *i > npwcs as i64 {
                            return Err(dest_err(
                                DestinationError::IndexOutOfRange,
                                format!("{token}: [{i}]"),
                            ));
                        }
                    }
                    match ph {
                        Placeholder::Wildcard(i) => Op::Wildcard(position(i)),
                        Placeholder::Partition(n, is) => {
                            Op::Partition(n as u32, is.into_iter().map(position).collect())
                        }
                        Placeholder::IndexInt(f, i, n) => {
                            let p = position(i);
                            match f {
                                Func::SplitFromLeft => Op::SplitFromLeft(p, n),
                                Func::SplitFromRight => Op::SplitFromRight(p, n),
                                Func::SliceFromLeft => Op::SliceFromLeft(p, n),
                                Func::SliceFromRight => Op::SliceFromRight(p, n),
                                Func::Left => Op::Left(p, n),
                                Func::Right => Op::Right(p, n),
                            }
                        }
                        Placeholder::Split(i, sep) => Op::Split(position(i), sep),
                        Placeholder::None | Placeholder::Random(_) => unreachable!(),
                    }
                }
            };
            ops.push(op);
        }
        if strict && has_wildcards && placeholders < npwcs {
            return Err(dest_err(DestinationError::NotUsingAllWildcards, dest));
        }
        Ok(SubjectTransform {
            src: src.to_string(),
            dest: dest.to_string(),
            src_tokens: stokens.len(),
            ops,
        })
    }

    /// The transformed subject, or `None` when `subject` is not a literal subject matching
    /// the source (or the transform has no destination).
    pub fn apply(&self, subject: &str) -> Option<String> {
        if self.dest.is_empty() {
            return None;
        }
        if self.src == ">" && self.dest == ">" {
            return Some(subject.to_string());
        }
        if !subject::is_valid_literal_subject(subject.as_bytes()) {
            return None;
        }
        if self.src != ">" && !subject::matches(self.src.as_bytes(), subject.as_bytes()) {
            return None;
        }
        let tokens: Vec<&str> = subject.split('.').collect();
        Some(self.transform_tokens(&tokens))
    }

    fn transform_tokens(&self, tokens: &[&str]) -> String {
        let mut b = String::with_capacity(64);
        let last = self.ops.len() - 1;
        let token = |i: usize| tokens.get(i).copied().unwrap_or("");
        for (i, op) in self.ops.iter().enumerate() {
            match op {
                Op::Literal(t) => {
                    if t == ">" {
                        break;
                    }
                    b.push_str(t);
                }
                Op::Wildcard(i) => b.push_str(token(*i)),
                Op::Partition(n, indexes) => {
                    let key = if indexes.is_empty() {
                        tokens.join(".")
                    } else {
                        indexes.iter().map(|i| token(*i)).collect::<String>()
                    };
                    if *n == 0 {
                        b.push('0');
                    } else {
                        b.push_str(&(fnv1a32(key.as_bytes()) % n).to_string());
                    }
                }
                Op::SplitFromLeft(i, n) => {
                    let t = token(*i);
                    let p = *n as usize;
                    if *n > 0 && p < t.len() && t.is_char_boundary(p) {
                        b.push_str(&t[..p]);
                        b.push('.');
                        b.push_str(&t[p..]);
                    } else {
                        b.push_str(t);
                    }
                }
                Op::SplitFromRight(i, n) => {
                    let t = token(*i);
                    let p = *n as usize;
                    if *n > 0 && p < t.len() && t.is_char_boundary(t.len() - p) {
                        b.push_str(&t[..t.len() - p]);
                        b.push('.');
                        b.push_str(&t[t.len() - p..]);
                    } else {
                        b.push_str(t);
                    }
                }
                Op::SliceFromLeft(i, n) => {
                    let t = token(*i).as_bytes();
                    let size = *n as usize;
                    if *n > 0 && size < t.len() {
                        let parts: Vec<&[u8]> = t.chunks(size).collect();
                        b.push_str(&String::from_utf8_lossy(&parts.join(&b'.')));
                    } else {
                        b.push_str(token(*i));
                    }
                }
                Op::SliceFromRight(i, n) => {
                    let t = token(*i).as_bytes();
                    let size = *n as usize;
                    if *n > 0 && size < t.len() {
                        let rem = t.len() % size;
                        let mut parts: Vec<&[u8]> = Vec::new();
                        if rem > 0 {
                            parts.push(&t[..rem]);
                        }
                        parts.extend(t[rem..].chunks(size));
                        b.push_str(&String::from_utf8_lossy(&parts.join(&b'.')));
                    } else {
                        b.push_str(token(*i));
                    }
                }
                Op::Split(i, sep) => {
                    let t = token(*i);
                    let splits: Vec<&str> = if sep.is_empty() {
                        t.split_inclusive(|_| true).collect()
                    } else {
                        t.split(sep.as_str()).collect()
                    };
                    for (j, s) in splits.iter().enumerate() {
                        b.push_str(s);
                        if j + 1 < splits.len()
                            && !splits[j + 1].is_empty()
                            && !(j == 0 && s.is_empty())
                        {
                            b.push('.');
                        }
                    }
                }
                Op::Left(i, n) => {
                    let t = token(*i);
                    let size = *n as usize;
                    if *n > 0 && size < t.len() && t.is_char_boundary(size) {
                        b.push_str(&t[..size]);
                    } else {
                        b.push_str(t);
                    }
                }
                Op::Right(i, n) => {
                    let t = token(*i);
                    let size = *n as usize;
                    if *n > 0 && size < t.len() && t.is_char_boundary(t.len() - size) {
                        b.push_str(&t[t.len() - size..]);
                    } else {
                        b.push_str(t);
                    }
                }
                Op::Random(n) => {
                    if *n == 0 {
                        b.push('0');
                    } else {
                        let r = fastrand::u32(..i32::MAX as u32);
                        b.push_str(&(r % n).to_string());
                    }
                }
            }
            if i < last {
                b.push('.');
            }
        }
        if matches!(self.ops.last(), Some(Op::Literal(t)) if t == ">") {
            let from = self.src_tokens.saturating_sub(1);
            if let Some(rest) = tokens.get(from..) {
                b.push_str(&rest.join("."));
            }
        }
        b
    }
}

/// nats-server's `ValidateMapping`: whether `dest` is a usable destination for `src`
/// (an empty destination is).
pub fn validate_mapping(src: &str, dest: &str) -> Result<(), TransformError> {
    if dest.is_empty() {
        return Ok(());
    }
    let mut after_fwc = false;
    for t in dest.split('.') {
        if t.is_empty() || after_fwc {
            return Err(dest_err(DestinationError::InvalidTransform, t));
        }
        if is_mustache(t) {
            let known = [
                "partition",
                "wildcard",
                "splitFromLeft",
                "splitFromRight",
                "sliceFromLeft",
                "sliceFromRight",
                "split",
                "random",
            ];
            if !known.iter().any(|f| function_args(t, f).is_some()) {
                return Err(dest_err(DestinationError::UnknownFunction, t));
            }
            continue;
        }
        if t == ">" {
            after_fwc = true;
        } else if t.contains(['\t', '\n', '\x0c', '\r', ' ']) {
            return Err(dest_err(DestinationError::InvalidTransform, ""));
        }
    }
    SubjectTransform::new(src, dest).map(|_| ())
}

/// FNV-1a, 32 bits (Go's `hash/fnv` `New32a`).
pub fn fnv1a32(data: &[u8]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in data {
        h ^= u32::from(*b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

/// nats-server's `subjectInfo`: valid, tokens, number of `*`, ends with `>`.
fn subject_info(subject: &str) -> (bool, Vec<&str>, usize, bool) {
    if subject.is_empty() {
        return (false, vec![], 0, false);
    }
    let tokens: Vec<&str> = subject.split('.').collect();
    let mut npwcs = 0;
    let mut fwc = false;
    for t in &tokens {
        if t.is_empty() || fwc {
            return (false, vec![], 0, false);
        }
        match *t {
            ">" => fwc = true,
            "*" => npwcs += 1,
            _ => {}
        }
    }
    (true, tokens, npwcs, fwc)
}

fn is_mustache(t: &str) -> bool {
    t.len() > 4 && t.starts_with("{{") && t.ends_with("}}")
}

fn is_go_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\x0c' | b'\r' | b'\x0b')
}

/// What nats-server's `{{\s*name\s*\((.*)\)\s*}}` captures in `token` (the name's first
/// letter and its inner capitals in either case), split on `,\s*`.
fn function_args(token: &str, name: &str) -> Option<Vec<String>> {
    let t = token.as_bytes();
    let n = name.as_bytes();
    let mut start = 0;
    while let Some(found) = token.get(start..).and_then(|s| s.find("{{")) {
        let open = start + found;
        start = open + 1;
        let mut i = open + 2;
        while i < t.len() && is_go_space(t[i]) {
            i += 1;
        }
        let mut ok = true;
        for (k, c) in n.iter().enumerate() {
            let either = k == 0 || c.is_ascii_uppercase();
            match t.get(i + k) {
                Some(x) if x == c || (either && x.eq_ignore_ascii_case(c)) => {}
                _ => {
                    ok = false;
                    break;
                }
            }
        }
        if !ok {
            continue;
        }
        i += n.len();
        while i < t.len() && is_go_space(t[i]) {
            i += 1;
        }
        if t.get(i) != Some(&b'(') {
            continue;
        }
        let inner_start = i + 1;
        // The greedy `(.*)`: the last `)` followed by `\s*}}`.
        let mut close = None;
        for j in (inner_start..t.len()).rev() {
            if t[j] != b')' {
                continue;
            }
            let mut k = j + 1;
            while k < t.len() && is_go_space(t[k]) {
                k += 1;
            }
            if t.get(k..k + 2) == Some(b"}}") && !t[inner_start..j].contains(&b'\n') {
                close = Some(j);
                break;
            }
        }
        let Some(close) = close else {
            continue;
        };
        return Some(split_args(&token[inner_start..close]));
    }
    None
}

/// Go's `regexp.MustCompile(`,\s*`).Split(s, -1)`.
fn split_args(s: &str) -> Vec<String> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut from = 0;
    let mut i = 0;
    while i < b.len() {
        if b[i] == b',' {
            out.push(s[from..i].to_string());
            i += 1;
            while i < b.len() && is_go_space(b[i]) {
                i += 1;
            }
            from = i;
        } else {
            i += 1;
        }
    }
    out.push(s[from..].to_string());
    out
}

/// Go's `strconv.Atoi` on a trimmed argument.
fn atoi(s: &str) -> Option<i64> {
    let s = s.trim_matches(' ');
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// nats-server's `indexPlaceHolders`: what a destination token asks for.
fn index_placeholders(token: &str) -> Result<Placeholder, TransformError> {
    if token.len() <= 1 {
        return Ok(Placeholder::None);
    }
    if let Some(n) = token.strip_prefix('$') {
        // `$x` that is not a number stays a literal (other things start with `$`).
        return Ok(match atoi_strict(n) {
            Some(i) => Placeholder::Wildcard(i),
            None => Placeholder::None,
        });
    }
    if !is_mustache(token) {
        return Ok(Placeholder::None);
    }
    let bad = |kind| Err(dest_err(kind, token));
    use DestinationError::*;
    if let Some(args) = function_args(token, "wildcard") {
        if args.len() == 1 && args[0].is_empty() {
            return bad(NotEnoughArgs);
        }
        if args.len() != 1 {
            return bad(TooManyArgs);
        }
        return match atoi(&args[0]) {
            Some(i) => Ok(Placeholder::Wildcard(i)),
            None => bad(InvalidArg),
        };
    }
    if let Some(args) = function_args(token, "partition") {
        let Some(n) = atoi(&args[0]).filter(|n| *n <= i64::from(i32::MAX)) else {
            return bad(InvalidArg);
        };
        let mut indexes = Vec::new();
        for a in &args[1..] {
            match atoi(a) {
                Some(i) => indexes.push(i),
                None => return bad(InvalidArg),
            }
        }
        // A negative count is taken as its 32-bit unsigned value, as Go's conversion does.
        let n = i64::from(n as i32 as u32);
        return Ok(Placeholder::Partition(n, indexes));
    }
    for (name, func) in [
        ("splitFromLeft", Func::SplitFromLeft),
        ("splitFromRight", Func::SplitFromRight),
        ("sliceFromLeft", Func::SliceFromLeft),
        ("sliceFromRight", Func::SliceFromRight),
        ("right", Func::Right),
        ("left", Func::Left),
    ] {
        if let Some(args) = function_args(token, name) {
            if args.len() < 2 {
                return bad(NotEnoughArgs);
            }
            if args.len() > 2 {
                return bad(TooManyArgs);
            }
            let Some(i) = atoi(&args[0]) else {
                return bad(InvalidArg);
            };
            let Some(n) = atoi(&args[1]).and_then(|n| i32::try_from(n).ok()) else {
                return bad(InvalidArg);
            };
            return Ok(Placeholder::IndexInt(func, i, n));
        }
    }
    if let Some(args) = function_args(token, "split") {
        if args.len() < 2 {
            return bad(NotEnoughArgs);
        }
        if args.len() > 2 {
            return bad(TooManyArgs);
        }
        let Some(i) = atoi(&args[0]) else {
            return bad(InvalidArg);
        };
        if args[1].contains([' ', '.']) {
            return bad(InvalidArg);
        }
        return Ok(Placeholder::Split(i, args[1].clone()));
    }
    if let Some(args) = function_args(token, "random") {
        if args.len() != 1 {
            return bad(NotEnoughArgs);
        }
        return match atoi(&args[0]).filter(|n| *n <= i64::from(i32::MAX)) {
            Some(n) => Ok(Placeholder::Random(i64::from(n as i32 as u32))),
            None => bad(InvalidArg),
        };
    }
    bad(UnknownFunction)
}

/// `strconv.Atoi` without trimming (the `$N` form).
fn atoi_strict(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
#[path = "transform_tests.rs"]
mod tests;
