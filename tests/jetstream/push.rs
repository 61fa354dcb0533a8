//! Push consumers (issue 17): deliveries to a deliver subject and to a deliver group,
//! redelivery after the ack wait, pull requests refused, an idle ephemeral removed, flow
//! control and idle heartbeats with nats-server's headers, and an ordered consumer that
//! goes on, without a gap or a duplicate, across a server restart.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use async_nats::jetstream::{
    self,
    consumer::{push, AckPolicy},
    stream,
};
use async_nats::{Message, StatusCode};
use bytes::Bytes;
use futures_util::StreamExt;
use tokio::time::timeout;

use super::{publish_ok, LIMIT};
use crate::js::{self, for_each_js_target_async, JsServer};
use crate::support::clients::{connect, STEP};
use crate::support::for_each_target_bare;

/// The next message of a subscription, within [`STEP`].
async fn next_msg(sub: &mut async_nats::Subscriber) -> Message {
    timeout(STEP, sub.next())
        .await
        .expect("no message within 5 s")
        .expect("subscription ended")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn header(m: &Message, name: &str) -> Option<String> {
    m.headers
        .as_ref()
        .and_then(|h| h.get(name))
        .map(|v| v.as_str().to_string())
}

/// Reads an ordered consumer's payloads into `got` until it holds `upto`; resets (a
/// missed heartbeat) are reported by the client and recovered, so they are skipped.
async fn read_ordered(msgs: &mut push::Ordered, got: &mut Vec<String>, upto: u64) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while (got.len() as u64) < upto {
        assert!(Instant::now() < deadline, "stuck after {}", got.len());
        match timeout(STEP, msgs.next()).await {
            Ok(Some(Ok(m))) => got.push(text(&m.payload)),
            Ok(Some(Err(_))) | Err(_) => {}
            Ok(None) => panic!("the ordered consumer ended"),
        }
    }
}

/// Deliveries to a deliver subject in order, a redelivery after the ack wait, the
/// consumer's info (push bound), a pull request refused, a deliver group sharing the
/// messages, and an ephemeral with nobody listening removed after its inactive threshold.
#[test]
fn js_push_consumers() {
    for_each_js_target_async(LIMIT, |info| async move {
        let client = connect(&info).await;
        let ctx = jetstream::new(client.clone());
        let stream = ctx
            .create_stream(stream::Config {
                name: "PUSH".into(),
                subjects: vec!["push.>".into()],
                ..Default::default()
            })
            .await
            .unwrap();
        for i in 1..=10u64 {
            publish_ok(&ctx, &format!("push.{i}"), &format!("m{i}"), i).await;
        }

        let consumer = stream
            .create_consumer(push::Config {
                durable_name: Some("P".into()),
                deliver_subject: "deliver.p".into(),
                ack_policy: AckPolicy::Explicit,
                ack_wait: Duration::from_millis(500),
                ..Default::default()
            })
            .await
            .unwrap();
        let mut messages = consumer.messages().await.unwrap();
        let mut seen = Vec::new();
        while seen.len() < 10 {
            let m = timeout(STEP, messages.next())
                .await
                .expect("a delivery within 5 s")
                .unwrap()
                .unwrap();
            let i = m.info().unwrap();
            assert_eq!((i.stream, i.consumer), ("PUSH", "P"));
            assert_eq!(i.stream_sequence, i.consumer_sequence);
            assert_eq!(i.delivered, 1);
            assert_eq!(m.subject.as_str(), format!("push.{}", i.stream_sequence));
            seen.push(text(&m.payload));
            if i.stream_sequence != 3 {
                m.ack().await.unwrap();
            }
        }
        assert_eq!(seen, (1..=10).map(|i| format!("m{i}")).collect::<Vec<_>>());
        // m3 was not acknowledged: it comes again after the ack wait, with the next
        // consumer sequence.
        let again = timeout(STEP, messages.next())
            .await
            .expect("a redelivery within 5 s")
            .unwrap()
            .unwrap();
        let i = again.info().unwrap();
        assert_eq!(
            (
                text(&again.payload),
                i.delivered,
                i.stream_sequence,
                i.consumer_sequence
            ),
            ("m3".to_string(), 2, 3, 11)
        );
        again.double_ack().await.unwrap();
        let ci = ctx
            .get_stream("PUSH")
            .await
            .unwrap()
            .consumer_info("P")
            .await
            .unwrap();
        assert!(ci.push_bound, "a subscriber listens on the deliver subject");
        assert_eq!(
            (ci.num_ack_pending, ci.num_pending, ci.num_waiting),
            (0, 0, 0)
        );
        assert_eq!(
            (ci.delivered.consumer_sequence, ci.ack_floor.stream_sequence),
            (11, 10)
        );

        // A pull request to a push consumer.
        let inbox = client.new_inbox();
        let mut replies = client.subscribe(inbox.clone()).await.unwrap();
        client
            .publish_with_reply("$JS.API.CONSUMER.MSG.NEXT.PUSH.P", inbox, Bytes::from("1"))
            .await
            .unwrap();
        let refused = next_msg(&mut replies).await;
        assert_eq!(refused.status, Some(StatusCode::from_u16(409).unwrap()));
        assert_eq!(
            refused.description.as_deref(),
            Some("Consumer is push based")
        );

        // A deliver group: each message goes to one member.
        let mut a = client
            .queue_subscribe("deliver.g", "workers".into())
            .await
            .unwrap();
        let mut b = client
            .queue_subscribe("deliver.g", "workers".into())
            .await
            .unwrap();
        client.flush().await.unwrap();
        stream
            .create_consumer(push::Config {
                durable_name: Some("G".into()),
                deliver_subject: "deliver.g".into(),
                deliver_group: Some("workers".into()),
                ack_policy: AckPolicy::None,
                ..Default::default()
            })
            .await
            .unwrap();
        let mut got = BTreeSet::new();
        let deadline = Instant::now() + STEP;
        let mut count = 0;
        while count < 10 && Instant::now() < deadline {
            let m = tokio::select! {
                Some(m) = a.next() => m,
                Some(m) = b.next() => m,
                _ = tokio::time::sleep_until(deadline.into()) => break,
            };
            got.insert(text(&m.payload));
            count += 1;
        }
        assert_eq!(count, 10, "each message once to the group");
        assert_eq!(got.len(), 10);

        // An ephemeral push consumer nobody listens to goes after its inactive threshold.
        let eph = stream
            .create_consumer(push::Config {
                deliver_subject: "deliver.nobody".into(),
                inactive_threshold: Duration::from_millis(300),
                ..Default::default()
            })
            .await
            .unwrap();
        let name = eph.cached_info().name.clone();
        let deadline = Instant::now() + STEP;
        loop {
            if stream.consumer_info(&name).await.is_err() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the idle ephemeral was not removed"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
}

/// Flow control: with 64 KiB messages the first request comes past half the starting
/// window (2 MiB), deliveries stop past the window, idle heartbeats then name the request
/// the consumer waits for (`Nats-Consumer-Stalled`) with the last sequences, and the
/// answer lets the rest through.
#[test]
fn js_push_flow_control_and_heartbeats() {
    const COUNT: u64 = 64;
    const SIZE: usize = 64 * 1024;
    for_each_js_target_async(LIMIT, |info| async move {
        let client = connect(&info).await;
        let ctx = jetstream::new(client.clone());
        let stream = ctx
            .create_stream(stream::Config {
                name: "FC".into(),
                subjects: vec!["fc.>".into()],
                storage: stream::StorageType::Memory,
                ..Default::default()
            })
            .await
            .unwrap();
        for i in 1..=COUNT {
            let mut body = vec![b'.'; SIZE];
            body[..8].copy_from_slice(format!("{i:08}").as_bytes());
            let ack = ctx.publish("fc.x", body.into()).await.unwrap();
            assert_eq!(ack.await.unwrap().sequence, i);
        }
        let inbox = client.new_inbox();
        let mut sub = client.subscribe(inbox.clone()).await.unwrap();
        stream
            .create_consumer(push::Config {
                durable_name: Some("F".into()),
                deliver_subject: inbox,
                ack_policy: AckPolicy::None,
                flow_control: true,
                idle_heartbeat: Duration::from_millis(250),
                ..Default::default()
            })
            .await
            .unwrap();

        let mut data = Vec::new();
        let mut requests = Vec::new();
        // Until a heartbeat says the consumer is stalled.
        let stalled = loop {
            let m = next_msg(&mut sub).await;
            if m.status.is_none() {
                data.push(text(&m.payload[..8]).parse::<u64>().unwrap());
                continue;
            }
            assert_eq!(m.status, Some(StatusCode::from_u16(100).unwrap()));
            match &m.reply {
                Some(reply) => {
                    assert_eq!(m.description.as_deref(), Some("FlowControl Request"));
                    assert!(reply.starts_with("$JS.FC.FC.F."), "{reply}");
                    requests.push(reply.to_string());
                }
                None => {
                    assert_eq!(m.description.as_deref(), Some("Idle Heartbeat"));
                    if let Some(fc) = header(&m, "Nats-Consumer-Stalled") {
                        break (m, fc);
                    }
                    assert!(data.is_empty(), "a heartbeat without a stall mid-stream");
                }
            }
        };
        let (heartbeat, fc) = stalled;
        assert_eq!(
            requests,
            std::slice::from_ref(&fc),
            "one request, the one it waits for"
        );
        let n = data.len() as u64;
        assert!(
            (30..=34).contains(&n),
            "deliveries stop past 2 MiB in flight, got {n}"
        );
        assert_eq!(data, (1..=n).collect::<Vec<_>>());
        assert_eq!(
            header(&heartbeat, "Nats-Last-Consumer"),
            Some(n.to_string())
        );
        assert_eq!(header(&heartbeat, "Nats-Last-Stream"), Some(n.to_string()));

        // Answer every request: the rest comes.
        client.publish(fc, Bytes::new()).await.unwrap();
        let deadline = Instant::now() + STEP;
        while (data.len() as u64) < COUNT {
            assert!(Instant::now() < deadline, "stalled at {}", data.len());
            let m = next_msg(&mut sub).await;
            match (&m.status, &m.reply) {
                (None, _) => data.push(text(&m.payload[..8]).parse::<u64>().unwrap()),
                (Some(_), Some(reply)) => {
                    client.publish(reply.clone(), Bytes::new()).await.unwrap();
                }
                (Some(_), None) => {}
            }
        }
        assert_eq!(data, (1..=COUNT).collect::<Vec<_>>());
    });
}

/// An ordered consumer (async-nats' `OrderedConfig`: push, flow control, heartbeats, in
/// memory) reads a file stream; the server is killed and started again on the same store
/// and port; the client makes a new consumer from where it was and reads on, messages
/// published after the restart included, in order and each once.
#[test]
fn js_ordered_consumer_across_restart() {
    const BEFORE: u64 = 200;
    const AFTER: u64 = 50;
    for_each_target_bare(|target| {
        let rt = js::runtime();
        let js = JsServer::start(target);
        let url = js.info().url();
        let js = js::block_on_within(&rt, LIMIT, async move {
            let client = timeout(STEP, async_nats::ConnectOptions::new().connect(url))
                .await
                .expect("connect within 5 s")
                .unwrap();
            let ctx = jetstream::new(client.clone());
            let stream = ctx
                .create_stream(stream::Config {
                    name: "ORD".into(),
                    subjects: vec!["ord.>".into()],
                    ..Default::default()
                })
                .await
                .unwrap();
            for i in 1..=BEFORE {
                publish_ok(&ctx, &format!("ord.{}", i % 3), &format!("m{i}"), i).await;
            }
            let consumer = stream
                .create_consumer(push::OrderedConfig {
                    deliver_subject: client.new_inbox(),
                    ..Default::default()
                })
                .await
                .unwrap();
            let mut msgs = consumer.messages().await.unwrap();
            let mut got = Vec::new();
            read_ordered(&mut msgs, &mut got, BEFORE / 2).await;

            let js = tokio::task::spawn_blocking(move || js.restart_same_port())
                .await
                .unwrap();
            let deadline = Instant::now() + Duration::from_secs(10);
            while client.connection_state() != async_nats::connection::State::Connected {
                assert!(Instant::now() < deadline, "the client did not reconnect");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            for i in BEFORE + 1..=BEFORE + AFTER {
                publish_ok(&ctx, "ord.new", &format!("m{i}"), i).await;
            }
            read_ordered(&mut msgs, &mut got, BEFORE + AFTER).await;
            assert_eq!(
                got,
                (1..=BEFORE + AFTER)
                    .map(|i| format!("m{i}"))
                    .collect::<Vec<_>>()
            );
            js
        });
        drop(js);
    });
}
