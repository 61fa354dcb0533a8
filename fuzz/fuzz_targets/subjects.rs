//! The subject trie must agree with the reference matcher on any patterns and subject.
#![no_main]

use std::net::SocketAddr;
use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use switchboard::broker::account::Account;
use switchboard::broker::client::ClientShared;
use switchboard::broker::outbound::OutboundBudget;
use switchboard::broker::sublist::{Sublist, Subscription};
use switchboard::proto::subject;

fuzz_target!(|data: &[u8]| {
    // Lines: patterns, and the last line is the subject.
    let mut lines: Vec<&[u8]> = data.split(|b| *b == b'\n').collect();
    let Some(literal) = lines.pop() else {
        return;
    };
    let client = Arc::new(ClientShared::new(
        1,
        SocketAddr::from(([127, 0, 0, 1], 1)),
        Arc::new(Account::new("$G")),
        1 << 20,
        Arc::new(OutboundBudget::new(u64::MAX)),
    ));
    let mut sublist = Sublist::new();
    let mut expected = 0;
    for pattern in lines.iter().take(64) {
        let sub = Arc::new(Subscription::new(client.clone(), pattern, None, b"1"));
        if sublist.insert(sub).is_ok()
            && subject::is_valid_subject(literal)
            && subject::matches(pattern, literal)
        {
            expected += 1;
        }
    }
    let found = sublist.match_subject(literal).psubs.len();
    if subject::is_valid_subject(literal) {
        assert_eq!(found, expected);
    }
});
