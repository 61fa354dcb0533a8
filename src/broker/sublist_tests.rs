#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::Arc;

use proptest::prelude::*;

use super::*;
use crate::broker::account::Account;
use crate::broker::client::ClientShared;
use crate::broker::outbound::OutboundBudget;

fn client(id: u64) -> Arc<ClientShared> {
    let addr: SocketAddr = "127.0.0.1:1".parse().unwrap();
    Arc::new(ClientShared::new(
        id,
        addr,
        Arc::new(Account::new("$G")),
        1 << 20,
        Arc::new(OutboundBudget::new(u64::MAX)),
    ))
}

fn sub(c: &Arc<ClientShared>, subject: &str, queue: Option<&str>) -> Arc<Subscription> {
    Arc::new(Subscription::new(
        c.clone(),
        subject.as_bytes(),
        queue.map(str::as_bytes),
        b"1",
    ))
}

fn subjects(result: &SublistResult) -> Vec<String> {
    let mut v: Vec<String> = result
        .psubs
        .iter()
        .map(|s| String::from_utf8_lossy(&s.subject).into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn literal_and_wildcard_matches() {
    let c = client(1);
    let mut sl = Sublist::new();
    for s in [
        "foo.bar",
        "foo.*",
        "foo.>",
        ">",
        "*.bar",
        "foo.bar.baz",
        "foo*",
    ] {
        sl.insert(sub(&c, s, None)).unwrap();
    }
    assert_eq!(sl.count(), 7);
    assert_eq!(
        subjects(&sl.match_subject(b"foo.bar")),
        vec!["*.bar", ">", "foo.*", "foo.>", "foo.bar"]
    );
    assert_eq!(
        subjects(&sl.match_subject(b"foo.bar.baz")),
        vec![">", "foo.>", "foo.bar.baz"]
    );
    assert_eq!(subjects(&sl.match_subject(b"foo")), vec![">"]);
    assert_eq!(subjects(&sl.match_subject(b"foo*")), vec![">", "foo*"]);
    assert!(sl.match_subject(b"foo..bar").is_empty());
}

#[test]
fn invalid_subjects_are_rejected() {
    let c = client(1);
    let mut sl = Sublist::new();
    for bad in ["", "a..b", ".a", "a.", "a.>.b", ">.a"] {
        assert!(sl.insert(sub(&c, bad, None)).is_err(), "{bad:?}");
    }
    assert_eq!(sl.count(), 0);
}

#[test]
fn queue_groups_merge_by_name_across_subjects() {
    let c = client(1);
    let mut sl = Sublist::new();
    sl.insert(sub(&c, "foo.*", Some("q"))).unwrap();
    sl.insert(sub(&c, "foo.>", Some("q"))).unwrap();
    sl.insert(sub(&c, "foo.bar", Some("r"))).unwrap();
    let r = sl.match_subject(b"foo.bar");
    assert!(r.psubs.is_empty());
    let mut groups: Vec<(String, usize)> = r
        .qsubs
        .iter()
        .map(|g| {
            (
                String::from_utf8_lossy(&g.name).into_owned(),
                g.members.len(),
            )
        })
        .collect();
    groups.sort();
    assert_eq!(groups, vec![("q".to_string(), 2), ("r".to_string(), 1)]);
}

#[test]
fn remove_prunes_and_moves_generation() {
    let c = client(1);
    let mut sl = Sublist::new();
    let generation = sl.generation();
    let a = sub(&c, "foo.bar", None);
    let b = sub(&c, "foo.bar", Some("q"));
    sl.insert(a.clone()).unwrap();
    sl.insert(b.clone()).unwrap();
    let g1 = generation.load(std::sync::atomic::Ordering::Acquire);
    assert!(sl.remove(&a));
    assert!(!sl.remove(&a));
    assert!(sl.remove(&b));
    assert!(generation.load(std::sync::atomic::Ordering::Acquire) > g1);
    assert_eq!(sl.count(), 0);
    assert!(sl.root.is_empty(), "empty branches are pruned");
}

proptest! {
    /// The trie agrees with the reference matcher on random patterns and subjects.
    #[test]
    fn trie_agrees_with_reference_matcher(
        patterns in proptest::collection::vec(
            proptest::collection::vec(prop_oneof!["a", "b", "c", Just("*".to_string())], 1..4)
                .prop_flat_map(|tokens| (Just(tokens), any::<bool>())),
            1..20,
        ),
        subject in proptest::collection::vec(prop_oneof!["a", "b", "c"], 1..5),
    ) {
        let c = client(1);
        let mut sl = Sublist::new();
        let mut expected = Vec::new();
        for (tokens, full) in &patterns {
            let mut pattern = tokens.join(".");
            if *full {
                pattern.push_str(".>");
            }
            sl.insert(sub(&c, &pattern, None)).unwrap();
            if crate::proto::subject::matches(pattern.as_bytes(), subject.join(".").as_bytes()) {
                expected.push(pattern);
            }
        }
        expected.sort();
        prop_assert_eq!(subjects(&sl.match_subject(subject.join(".").as_bytes())), expected);
    }
}

#[test]
fn long_subjects_match_past_the_tokens_kept_on_the_stack() {
    let c = client(1);
    let mut sl = Sublist::new();
    let long: Vec<String> = (0..20).map(|i| format!("t{i}")).collect();
    let literal = long.join(".");
    let mut wild = long.clone();
    wild[18] = "*".into();
    for s in [literal.as_str(), &wild.join("."), "t0.>", "t0.t1"] {
        sl.insert(sub(&c, s, None)).unwrap();
    }
    let got = subjects(&sl.match_subject(literal.as_bytes()));
    let mut want = vec![literal.clone(), wild.join("."), "t0.>".to_string()];
    want.sort();
    assert_eq!(got, want);
    let mut other = long.clone();
    other[19] = "x".into();
    let got = subjects(&sl.match_subject(other.join(".").as_bytes()));
    assert_eq!(got, vec!["t0.>".to_string()]);
    let empty_token = format!("{literal}..end");
    assert!(sl.match_subject(empty_token.as_bytes()).is_empty());
}
