//! Priority groups of pull consumers (issue 17): a pinned client gets the messages while
//! it asks (`Nats-Pin-Id`), others wait, a wrong pin is refused, `CONSUMER.UNPIN` and the
//! pin's timeout hand the pin on; overflow requests are served only past their minimums;
//! the request checks answer with nats-server's statuses. Pull requests are raw
//! `CONSUMER.MSG.NEXT` bodies, so the exchange is the one any client has.

use std::time::{Duration, Instant};

use async_nats::jetstream::{
    self,
    consumer::{pull, AckPolicy, PriorityPolicy},
    stream,
};
use async_nats::{Client, Message};
use bytes::Bytes;
use futures_util::StreamExt;
use serde_json::Value;
use tokio::time::timeout;

use super::{publish_ok, LIMIT};
use crate::js::for_each_js_target_async;
use crate::support::clients::{connect, STEP};

/// A pull request in flight: its inbox subscription.
struct Pull {
    sub: async_nats::Subscriber,
}

async fn pull(client: &Client, consumer: &str, body: &str) -> Pull {
    let inbox = client.new_inbox();
    let sub = client.subscribe(inbox.clone()).await.unwrap();
    client
        .publish_with_reply(
            format!("$JS.API.CONSUMER.MSG.NEXT.PG.{consumer}"),
            inbox,
            Bytes::from(body.to_string()),
        )
        .await
        .unwrap();
    client.flush().await.unwrap();
    Pull { sub }
}

impl Pull {
    /// The next message or status within `wait`.
    async fn next(&mut self, wait: Duration) -> Option<Message> {
        timeout(wait, self.sub.next()).await.ok().flatten()
    }

    async fn status(&mut self) -> (u16, String) {
        let m = self.next(STEP).await.expect("a status within 5 s");
        let code = m.status.expect("a status message").as_u16();
        (code, m.description.unwrap_or_default())
    }

    /// `n` deliveries and the pin id each carries.
    async fn deliveries(&mut self, n: usize) -> Vec<(String, Option<String>)> {
        let mut got = Vec::new();
        while got.len() < n {
            let m = self.next(STEP).await.expect("a delivery within 5 s");
            assert!(
                m.status.is_none(),
                "status {:?} {:?}",
                m.status,
                m.description
            );
            let pin = m
                .headers
                .as_ref()
                .and_then(|h| h.get("Nats-Pin-Id"))
                .map(|v| v.as_str().to_string());
            got.push((String::from_utf8_lossy(&m.payload).into_owned(), pin));
        }
        got
    }
}

async fn api(client: &Client, subject: String, body: &str) -> Value {
    let reply = timeout(STEP, client.request(subject, Bytes::from(body.to_string())))
        .await
        .expect("an answer within 5 s")
        .unwrap();
    serde_json::from_slice(&reply.payload).unwrap()
}

#[test]
fn js_priority_groups() {
    for_each_js_target_async(LIMIT, |info| async move {
        let client = connect(&info).await;
        let ctx = jetstream::new(client.clone());
        let stream = ctx
            .create_stream(stream::Config {
                name: "PG".into(),
                subjects: vec!["pg.>".into()],
                ..Default::default()
            })
            .await
            .unwrap();
        for i in 1..=10u64 {
            publish_ok(&ctx, "pg.x", &format!("m{i}"), i).await;
        }
        stream
            .create_consumer(pull::Config {
                durable_name: Some("PIN".into()),
                ack_policy: AckPolicy::None,
                priority_policy: PriorityPolicy::PinnedClient,
                priority_groups: vec!["A".into()],
                priority_timeout: Duration::from_secs(1),
                ..Default::default()
            })
            .await
            .unwrap();

        // The request checks.
        for (body, want) in [
            (r#"{"batch":1}"#, "Bad Request - Priority Group missing"),
            (
                r#"{"batch":1,"group":"B"}"#,
                "Bad Request - Invalid Priority Group",
            ),
            (
                r#"{"batch":1,"group":"A","min_pending":3}"#,
                "Bad Request - Not a Overflow Priority consumer",
            ),
            (
                r#"{"batch":1,"group":"A","priority":10}"#,
                "Bad Request - Priority must be between 0 and 9",
            ),
        ] {
            let got = pull(&client, "PIN", body).await.status().await;
            assert_eq!(got, (400, want.to_string()), "{body}");
        }

        // The first request gets the pin.
        let mut first = pull(
            &client,
            "PIN",
            r#"{"batch":2,"group":"A","expires":2000000000}"#,
        )
        .await;
        let got = first.deliveries(2).await;
        let pin = got[0].1.clone().expect("a Nats-Pin-Id header");
        assert_eq!(pin.len(), 22);
        assert_eq!(
            got,
            [
                ("m1".into(), Some(pin.clone())),
                ("m2".into(), Some(pin.clone()))
            ]
        );
        let ci = api(&client, "$JS.API.CONSUMER.INFO.PG.PIN".into(), "").await;
        assert_eq!(ci["priority_groups"][0]["group"], "A");
        assert_eq!(ci["priority_groups"][0]["pinned_client_id"], pin.as_str());

        // Another client waits; the pinned one is served; a wrong pin is refused.
        let mut other = pull(
            &client,
            "PIN",
            r#"{"batch":2,"group":"A","expires":3000000000}"#,
        )
        .await;
        let mut again = pull(
            &client,
            "PIN",
            &format!(r#"{{"batch":2,"group":"A","id":"{pin}","expires":2000000000}}"#),
        )
        .await;
        assert_eq!(
            again.deliveries(2).await,
            [
                ("m3".into(), Some(pin.clone())),
                ("m4".into(), Some(pin.clone()))
            ]
        );
        let wrong = pull(&client, "PIN", r#"{"batch":1,"group":"A","id":"bogus"}"#)
            .await
            .status()
            .await;
        assert_eq!(wrong, (423, "Nats-Pin-Id mismatch".to_string()));
        assert!(
            other.next(Duration::from_millis(300)).await.is_none(),
            "a client without the pin was served"
        );

        // Unpinned by the API: the waiting client gets a new pin.
        let answer = api(
            &client,
            "$JS.API.CONSUMER.UNPIN.PG.PIN".into(),
            r#"{"group":"A"}"#,
        )
        .await;
        assert_eq!(
            answer["type"],
            "io.nats.jetstream.api.v1.consumer_unpin_response"
        );
        assert!(answer.get("error").is_none(), "{answer}");
        let got = other.deliveries(2).await;
        let new_pin = got[0].1.clone().expect("a new pin");
        assert_ne!(new_pin, pin);
        assert_eq!(got[1].1.as_deref(), Some(new_pin.as_str()));
        let answer = api(
            &client,
            "$JS.API.CONSUMER.UNPIN.PG.PIN".into(),
            r#"{"group":"Z"}"#,
        )
        .await;
        assert_eq!(answer["error"]["err_code"], 10160);

        // Without requests for the priority timeout (1 s) the pin goes.
        let started = Instant::now();
        let mut late = pull(
            &client,
            "PIN",
            r#"{"batch":1,"group":"A","expires":4000000000}"#,
        )
        .await;
        let got = late.deliveries(1).await;
        assert!(started.elapsed() >= Duration::from_millis(700));
        let late_pin = got[0].1.clone().expect("a pin after the timeout");
        assert_ne!(late_pin, new_pin);

        // Overflow: served only past the minimum pending.
        stream
            .create_consumer(pull::Config {
                durable_name: Some("OVF".into()),
                ack_policy: AckPolicy::None,
                priority_policy: PriorityPolicy::Overflow,
                priority_groups: vec!["A".into()],
                ..Default::default()
            })
            .await
            .unwrap();
        let timed_out = pull(
            &client,
            "OVF",
            r#"{"batch":1,"group":"A","min_pending":100,"expires":500000000}"#,
        )
        .await
        .status()
        .await;
        assert_eq!(timed_out.0, 408);
        let got = pull(&client, "OVF", r#"{"batch":1,"group":"A","min_pending":5}"#)
            .await
            .deliveries(1)
            .await;
        assert_eq!(got, [("m1".to_string(), None)]);
    });
}
