//! The demo traffic, seen as the inspector sees it: every pattern of the seed shows up in
//! the embedded broker's snapshots.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use switchboard::broker::BrokerHandle;
use switchboard::demo::Demo;
use switchboard::embedded::sampler::Sampler;
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
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let snapshot = loop {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let snap = sampler.sample();
        let replied = snap
            .latency
            .iter()
            .any(|l| l.subject == "demo.svc.add" && l.replies > 0);
        let subjects = |prefix: &str| snap.subjects.iter().any(|s| s.subject.starts_with(prefix));
        if replied && subjects("demo.jobs.") && subjects("demo.chat.") && subjects("demo.audit") {
            break snap;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "demo traffic incomplete"
        );
    };
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
