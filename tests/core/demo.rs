//! The demo traffic, seen as the inspector sees it: every pattern of the seed shows up in
//! the embedded broker's snapshots.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use crate::support::try_wait_for_async;

use switchboard::broker::BrokerHandle;
use switchboard::demo::Demo;
use switchboard::embedded::sampler::Sampler;
use switchboard::inspect::snapshot::Snapshot;
use switchboard::options::Options;

#[tokio::test]
async fn demo_shows_every_pattern() {
    let handle = BrokerHandle::start(Options {
        port: 0,
        ..Options::default()
    })
    .await
    .unwrap();
    let server = handle.server().clone();
    server.tap.set_latency_tracking(true);
    let url = format!("nats://{}", handle.local_addr());
    let demo = Demo::start(&url).await.unwrap();
    let mut sampler = Sampler::new(server.clone(), None);
    // Every pattern seen, and the listeners of each in place (the demo clients subscribe on
    // tasks of their own, so a snapshot may come before all of them are).
    let complete = |snap: &Snapshot| {
        let replied = snap
            .latency
            .iter()
            .any(|l| l.subject == "demo.svc.add" && l.replies > 0);
        let subjects = |prefix: &str| snap.subjects.iter().any(|s| s.subject.starts_with(prefix));
        let workers = snap
            .queue_groups
            .iter()
            .any(|g| g.queue == "workers" && g.members.len() == 3);
        let listened = snap
            .subjects
            .iter()
            .any(|s| s.subject == "demo.sensors.lab.temperature" && s.subscribers == 2);
        replied
            && workers
            && listened
            && subjects("demo.jobs.")
            && subjects("demo.chat.")
            && subjects("demo.audit")
    };
    let mut last = None;
    let snapshot = try_wait_for_async(Duration::from_secs(10), async || {
        let snap = sampler.sample();
        if complete(&snap) {
            return Some(snap);
        }
        last = Some(snap);
        None
    })
    .await
    .unwrap_or_else(|| {
        let last = last.unwrap_or_default();
        panic!(
            "demo traffic incomplete; subjects: {:?}, queue groups: {:?}, latency: {:?}",
            last.subjects
                .iter()
                .map(|s| (&s.subject, s.subscribers))
                .collect::<Vec<_>>(),
            last.queue_groups
                .iter()
                .map(|g| (&g.queue, g.members.len()))
                .collect::<Vec<_>>(),
            last.latency
                .iter()
                .map(|l| (&l.subject, l.replies))
                .collect::<Vec<_>>(),
        )
    });
    assert!(snapshot
        .connections
        .iter()
        .all(|c| c.name.starts_with("demo-")));
    let workers = snapshot
        .queue_groups
        .iter()
        .find(|g| g.queue == "workers")
        .unwrap();
    assert_eq!(workers.members.len(), 3);
    let audit = snapshot
        .subjects
        .iter()
        .find(|s| s.subject == "demo.audit.log")
        .unwrap();
    assert_eq!(
        audit.no_interest_msgs, audit.msgs,
        "nobody listens to the audit log"
    );
    let readings = snapshot
        .subjects
        .iter()
        .find(|s| s.subject == "demo.sensors.lab.temperature")
        .unwrap();
    assert_eq!(readings.subscribers, 2);
    demo.stop().await;
    handle.shutdown().await;
}
