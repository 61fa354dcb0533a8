//! What holds a consumer's deliveries back (issue 17): a pause (`CONSUMER.PAUSE` and
//! `pause_until`), a replay at the original pace (`replay_policy: original`), a rate
//! limit (`rate_limit_bps`) and `max_ack_pending`. Only lower bounds on time are checked: a slow machine makes
//! them longer, never shorter.

use std::time::{Duration, Instant};

use async_nats::jetstream::{
    self,
    consumer::{pull, push, AckPolicy, ReplayPolicy},
    stream,
};
use bytes::Bytes;
use futures_util::StreamExt;
use serde_json::Value;
use tokio::time::timeout;

use super::{fetch_all, payloads, publish_ok, text, LIMIT};
use crate::js::for_each_js_target_async;
use crate::support::clients::{connect, STEP};

async fn api(client: &async_nats::Client, subject: &str, body: String) -> Value {
    let reply = timeout(STEP, client.request(subject.to_string(), Bytes::from(body)))
        .await
        .expect("an answer within 5 s")
        .unwrap();
    serde_json::from_slice(&reply.payload).unwrap()
}

/// A pause holds pull deliveries until it ends or is lifted; the answer and the
/// consumer's info say so; a consumer created paused starts paused.
#[test]
fn js_consumer_pause() {
    for_each_js_target_async(LIMIT, |info| async move {
        let client = connect(&info).await;
        let ctx = jetstream::new(client.clone());
        let stream = ctx
            .create_stream(stream::Config {
                name: "PAUSE".into(),
                subjects: vec!["pause.>".into()],
                ..Default::default()
            })
            .await
            .unwrap();
        for i in 1..=3u64 {
            publish_ok(&ctx, "pause.x", &format!("m{i}"), i).await;
        }
        let c: jetstream::consumer::PullConsumer = stream
            .create_consumer(pull::Config {
                durable_name: Some("C".into()),
                ack_policy: AckPolicy::Explicit,
                ..Default::default()
            })
            .await
            .unwrap();

        // Paused for a minute: a fetch gets nothing.
        let until = chrono::Utc::now() + chrono::Duration::seconds(60);
        let until_text = until.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
        let answer = api(
            &client,
            "$JS.API.CONSUMER.PAUSE.PAUSE.C",
            format!(r#"{{"pause_until":"{until_text}"}}"#),
        )
        .await;
        assert_eq!(
            answer["type"],
            "io.nats.jetstream.api.v1.consumer_pause_response"
        );
        assert_eq!(answer["paused"], true);
        let remaining = answer["pause_remaining"].as_u64().unwrap();
        assert!(remaining > 50_000_000_000 && remaining <= 60_000_000_000);
        let ci = stream.consumer_info("C").await.unwrap();
        assert!(ci.paused);
        assert!(ci.config.pause_until.is_some());
        let got = c
            .fetch()
            .max_messages(3)
            .expires(Duration::from_millis(500))
            .messages()
            .await
            .unwrap()
            .collect::<Vec<_>>()
            .await;
        assert!(got.is_empty(), "a paused consumer delivered {}", got.len());

        // Resumed (no time): the messages come.
        let answer = api(&client, "$JS.API.CONSUMER.PAUSE.PAUSE.C", String::new()).await;
        assert_eq!(answer["paused"], false);
        assert_eq!(answer["pause_until"], "0001-01-01T00:00:00Z");
        assert!(answer.get("pause_remaining").is_none());
        assert!(!stream.consumer_info("C").await.unwrap().paused);
        assert_eq!(payloads(&fetch_all(&c, 3).await), ["m1", "m2", "m3"]);

        // A short pause ends by itself.
        let until = chrono::Utc::now() + chrono::Duration::milliseconds(700);
        let until_text = until.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
        let paused_at = Instant::now();
        api(
            &client,
            "$JS.API.CONSUMER.PAUSE.PAUSE.C",
            format!(r#"{{"pause_until":"{until_text}"}}"#),
        )
        .await;
        publish_ok(&ctx, "pause.x", "m4", 4).await;
        let got: Vec<jetstream::Message> = c
            .batch()
            .max_messages(1)
            .expires(Duration::from_secs(3))
            .messages()
            .await
            .unwrap()
            .take(1)
            .map(Result::unwrap)
            .collect()
            .await;
        assert_eq!(payloads(&got), ["m4"]);
        assert!(
            paused_at.elapsed() >= Duration::from_millis(500),
            "delivered {:?} into a 700 ms pause",
            paused_at.elapsed()
        );

        // Unknown consumer.
        let answer = api(&client, "$JS.API.CONSUMER.PAUSE.PAUSE.NOPE", String::new()).await;
        assert_eq!(answer["error"]["err_code"], 10014);
    });
}

/// `replay_policy: original` keeps the gaps the stream saw between messages; the rate
/// limit keeps deliveries under `rate_limit_bps` once the burst (the stream's largest
/// message) is used.
#[test]
fn js_replay_original_and_rate_limit() {
    for_each_js_target_async(LIMIT, |info| async move {
        let client = connect(&info).await;
        let ctx = jetstream::new(client.clone());
        let stream = ctx
            .create_stream(stream::Config {
                name: "PACE".into(),
                subjects: vec!["pace.>".into()],
                max_message_size: 2000,
                ..Default::default()
            })
            .await
            .unwrap();
        for i in 1..=3u64 {
            publish_ok(&ctx, "pace.orig", &format!("m{i}"), i).await;
            if i < 3 {
                tokio::time::sleep(Duration::from_millis(400)).await;
            }
        }
        let c: jetstream::consumer::PullConsumer = stream
            .create_consumer(pull::Config {
                durable_name: Some("ORIG".into()),
                filter_subject: "pace.orig".into(),
                replay_policy: ReplayPolicy::Original,
                ack_policy: AckPolicy::None,
                ..Default::default()
            })
            .await
            .unwrap();
        let mut msgs = c
            .fetch()
            .max_messages(3)
            .expires(Duration::from_secs(5))
            .messages()
            .await
            .unwrap();
        let mut times = Vec::new();
        while let Some(m) = timeout(STEP, msgs.next()).await.unwrap() {
            m.unwrap();
            times.push(Instant::now());
        }
        assert_eq!(times.len(), 3);
        // The stream saw 800 ms or more from the first to the last; a late first delivery
        // (a busy machine) may shorten what the client sees, by less than 300 ms.
        let span = times[2] - times[0];
        assert!(
            span >= Duration::from_millis(500),
            "800 ms of messages replayed in {span:?}"
        );

        // 12 messages of 1000 bytes at 10,000 bytes a second, after a burst of 2000.
        let body = "x".repeat(1000);
        for i in 0..12u64 {
            publish_ok(&ctx, "pace.rate", &body, 4 + i).await;
        }
        let inbox = client.new_inbox();
        let mut sub = client.subscribe(inbox.clone()).await.unwrap();
        let started = Instant::now();
        stream
            .create_consumer(push::Config {
                durable_name: Some("RATE".into()),
                deliver_subject: inbox,
                filter_subject: "pace.rate".into(),
                rate_limit: 80_000,
                ack_policy: AckPolicy::None,
                ..Default::default()
            })
            .await
            .unwrap();
        for n in 0..12 {
            timeout(STEP, sub.next())
                .await
                .unwrap_or_else(|_| panic!("delivery {n} within 5 s"))
                .unwrap();
        }
        assert!(
            started.elapsed() >= Duration::from_millis(700),
            "10.5 kB over the burst at 10 kB/s took {:?}",
            started.elapsed()
        );
    });
}

/// `max_ack_pending` holds deliveries back while that many wait for an acknowledgement;
/// each acknowledgement lets one more through, for pull and push consumers alike.
#[test]
fn js_max_ack_pending_stalls() {
    for_each_js_target_async(LIMIT, |info| async move {
        let client = connect(&info).await;
        let ctx = jetstream::new(client.clone());
        let stream = ctx
            .create_stream(stream::Config {
                name: "MAP".into(),
                subjects: vec!["map.>".into()],
                ..Default::default()
            })
            .await
            .unwrap();
        for i in 1..=6u64 {
            publish_ok(&ctx, "map.x", &format!("m{i}"), i).await;
        }
        let c: jetstream::consumer::PullConsumer = stream
            .create_consumer(pull::Config {
                durable_name: Some("P".into()),
                ack_policy: AckPolicy::Explicit,
                max_ack_pending: 2,
                ..Default::default()
            })
            .await
            .unwrap();
        let batch = |c: jetstream::consumer::PullConsumer| async move {
            c.batch()
                .max_messages(5)
                .expires(Duration::from_millis(600))
                .messages()
                .await
                .unwrap()
                .filter_map(|m| async move { m.ok() })
                .collect::<Vec<_>>()
                .await
        };
        let first = batch(c.clone()).await;
        assert_eq!(payloads(&first), ["m1", "m2"]);
        first[0].double_ack().await.unwrap();
        assert_eq!(payloads(&batch(c.clone()).await), ["m3"]);

        let inbox = client.new_inbox();
        let mut sub = client.subscribe(inbox.clone()).await.unwrap();
        stream
            .create_consumer(push::Config {
                durable_name: Some("Q".into()),
                deliver_subject: inbox,
                ack_policy: AckPolicy::Explicit,
                max_ack_pending: 3,
                ..Default::default()
            })
            .await
            .unwrap();
        let mut got = Vec::new();
        for _ in 0..3 {
            got.push(timeout(STEP, sub.next()).await.unwrap().unwrap());
        }
        assert!(
            timeout(Duration::from_millis(300), sub.next())
                .await
                .is_err(),
            "a fourth delivery past max_ack_pending 3"
        );
        let reply = got[1].reply.clone().unwrap();
        client.request(reply, Bytes::new()).await.unwrap();
        let fourth = timeout(STEP, sub.next()).await.unwrap().unwrap();
        assert_eq!(text(&fourth.payload), "m4");
    });
}
