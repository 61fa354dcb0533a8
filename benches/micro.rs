//! Criterion micro-benchmarks: the protocol parser and the sublist match.
//!
//! `cargo bench --bench micro`. Numbers are per operation on this machine; compare runs of
//! the same machine only.

use std::collections::HashMap;
use std::hint::black_box;
use std::net::SocketAddr;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use switchboard::broker::account::Account;
use switchboard::broker::client::ClientShared;
use switchboard::broker::outbound::OutboundBudget;
use switchboard::broker::sublist::{Sublist, SublistResult, Subscription};
use switchboard::proto::{Parser, ParserLimits};

fn pub_stream(payload: usize, count: usize) -> Vec<u8> {
    let body = vec![b'x'; payload];
    let mut out = Vec::new();
    for i in 0..count {
        out.extend_from_slice(format!("PUB bench.subject.{} {}\r\n", i % 16, payload).as_bytes());
        out.extend_from_slice(&body);
        out.extend_from_slice(b"\r\n");
    }
    out
}

fn parser(c: &mut Criterion) {
    let mut group = c.benchmark_group("parser");
    for payload in [16usize, 1024] {
        let count = 1000;
        let stream = pub_stream(payload, count);
        group.throughput(Throughput::Elements(count as u64));
        group.bench_with_input(BenchmarkId::new("pub", payload), &stream, |b, stream| {
            let limits = ParserLimits {
                max_control_line: 4096,
                max_payload: 1 << 20,
            };
            b.iter(|| {
                let mut parser = Parser::new(limits);
                let mut n = 0usize;
                // Feed in 64 KiB reads, as the connection does.
                for chunk in stream.chunks(64 * 1024) {
                    let mut pos = 0;
                    while let Ok(Some(op)) = parser.next_op(chunk, &mut pos) {
                        black_box(&op);
                        n += 1;
                    }
                }
                assert_eq!(n, count);
            });
        });
    }
    group.finish();
}

/// 10,000 subscriptions over 1 to 5 tokens, some with wildcards.
fn populated() -> (Sublist, Vec<Vec<u8>>) {
    let addr: SocketAddr = SocketAddr::from(([127, 0, 0, 1], 1));
    let client = Arc::new(ClientShared::new(
        1,
        addr,
        Arc::new(Account::new("$G")),
        1 << 20,
        Arc::new(OutboundBudget::new(u64::MAX)),
    ));
    let mut sublist = Sublist::new();
    let mut subjects = Vec::new();
    for i in 0..10_000usize {
        let depth = 1 + i % 5;
        let tokens: Vec<String> = (0..depth).map(|d| format!("t{}", (i >> d) % 40)).collect();
        let mut subject = tokens.join(".");
        subjects.push(subject.clone().into_bytes());
        // A tenth are wildcards: `*` or `>` under the subject's own prefix.
        if i % 10 == 0 && depth > 1 {
            let wildcard = if i % 20 == 0 { ">" } else { "*" };
            subject = format!("{}.{}", tokens[..depth - 1].join("."), wildcard);
        }
        let sub = Subscription::new(client.clone(), subject.as_bytes(), None, b"1");
        // Duplicate subjects are fine: every subscription is its own entry.
        let _ = sublist.insert(Arc::new(sub));
    }
    (sublist, subjects)
}

fn sublist_match(c: &mut Criterion) {
    let (sublist, subjects) = populated();
    let mut group = c.benchmark_group("sublist");
    group.throughput(Throughput::Elements(subjects.len() as u64));
    group.bench_function("match_uncached_10k", |b| {
        b.iter(|| {
            for s in &subjects {
                black_box(sublist.match_subject(s));
            }
        })
    });
    // What a connection's cache hit costs: one hash lookup returning the shared result.
    let cache: HashMap<Box<[u8]>, Arc<SublistResult>> = subjects
        .iter()
        .map(|s| {
            (
                s.clone().into_boxed_slice(),
                Arc::new(sublist.match_subject(s)),
            )
        })
        .collect();
    group.bench_function("match_cached_10k", |b| {
        b.iter(|| {
            for s in &subjects {
                black_box(cache.get(s.as_slice()).cloned());
            }
        })
    });
    for depth in 1..=5usize {
        let subject: Vec<u8> = (0..depth)
            .map(|d| format!("t{}", d))
            .collect::<Vec<_>>()
            .join(".")
            .into_bytes();
        group.throughput(Throughput::Elements(1));
        group.bench_with_input(BenchmarkId::new("match_tokens", depth), &subject, |b, s| {
            b.iter(|| black_box(sublist.match_subject(s)))
        });
    }
    group.finish();
}

criterion_group!(benches, parser, sublist_match);
criterion_main!(benches);
