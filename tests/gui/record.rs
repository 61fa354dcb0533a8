//! UI tests of Record & replay with egui_kittest against a real in-process broker: record
//! from the window while an async-nats client publishes, open a recording by typed path,
//! browse it, and replay it into the broker while a real subscriber counts what arrives.

use crate::support;

use std::path::Path;
use std::time::Duration;

use crate::gui::{go, has_containing, settle, type_into, wait_until};
use egui::accesskit::Role;
use egui_kittest::kittest::{NodeT, Queryable};
use egui_kittest::Harness;
use futures_util::StreamExt;

use switchboard::broker::BrokerHandle;
use switchboard::connect::ConnectArgs;
use switchboard::gui::app::InspectorApp;
use switchboard::gui::panels::View;
use switchboard::gui::{GuiContext, Source};
use switchboard::options::Options;
use switchboard::record::format::{Message, Meta, Record};
use switchboard::record::reader::read_all;
use switchboard::record::writer::RecordWriter;

struct Rig {
    harness: Harness<'static, InspectorApp>,
    url: String,
    broker: Option<BrokerHandle>,
    runtime: tokio::runtime::Runtime,
}

fn rig() -> Rig {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let broker = runtime
        .block_on(BrokerHandle::start(Options {
            port: 0,
            ..Options::default()
        }))
        .unwrap();
    let url = format!("nats://{}", broker.local_addr());
    let server = broker.server().clone();
    let (feed, control) = runtime
        .block_on(async { switchboard::embedded::attach(server, None) })
        .unwrap();
    let ctx = GuiContext {
        source: Source {
            feed,
            control,
            client: ConnectArgs::url(&url),
            label: "embedded broker".into(),
            demo: None,
        },
        runtime: runtime.handle().clone(),
    };
    let harness = Harness::builder()
        .with_size(egui::vec2(1400.0, 900.0))
        .with_max_steps(32)
        .build_eframe(move |cc| InspectorApp::new(&cc.egui_ctx, ctx));
    Rig {
        harness,
        url,
        broker: Some(broker),
        runtime,
    }
}

impl Drop for Rig {
    fn drop(&mut self) {
        if let Some(broker) = self.broker.take() {
            self.runtime.block_on(broker.shutdown());
        }
    }
}

impl Rig {
    fn client(&self) -> async_nats::Client {
        self.runtime.block_on(support::clients::connect_url(
            &self.url,
            async_nats::ConnectOptions::new(),
        ))
    }
}

fn messages(path: &Path) -> Vec<Message> {
    let (records, tail) = read_all(path).unwrap();
    assert!(tail.is_none(), "{tail:?}");
    records
        .into_iter()
        .filter_map(|r| match r {
            Record::Message(m) => Some(m),
            _ => None,
        })
        .collect()
}

/// Opens the recording at `path` from the Record & replay view's `tab` and waits for it.
fn open_recording(rig: &mut Rig, tab: &str, path: &Path) {
    go(&mut rig.harness, "Record & replay");
    go(&mut rig.harness, tab);
    type_into(
        &mut rig.harness,
        "Recording file",
        &path.display().to_string(),
    );
    go(&mut rig.harness, "Open");
    wait_until(&mut rig.harness, "the recording to load", |h| {
        h.state().recordings.opened.is_some()
    });
}

#[test]
fn records_from_the_window_with_live_counters_and_a_status_indicator() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub/dir/gui.rec");
    let mut rig = rig();
    go(&mut rig.harness, "Record & replay");
    rig.harness.state_mut().recordings.record_path = path.display().to_string();
    type_into(&mut rig.harness, "Subject patterns", "rec.>");
    go(&mut rig.harness, "Record");
    wait_until(&mut rig.harness, "the recording to start", |h| {
        h.state().recordings.live.is_some()
    });
    assert!(has_containing(&rig.harness, "REC 0 msgs"));

    let client = rig.client();
    rig.runtime.block_on(async {
        for (subject, payload) in [("rec.a", "one"), ("other.x", "no"), ("rec.b", "two")] {
            client.publish(subject, payload.into()).await.unwrap();
        }
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("K", "v");
        client
            .publish_with_headers("rec.h", headers, "".into())
            .await
            .unwrap();
        client.flush().await.unwrap();
    });
    wait_until(&mut rig.harness, "three messages counted", |h| {
        h.state()
            .recordings
            .live
            .as_ref()
            .is_some_and(|l| l.counters.messages == 3)
    });
    assert!(has_containing(&rig.harness, "REC 3 msgs"));
    assert!(rig.harness.query_by_label("Dropped").is_some());

    // The indicator leads back to the view from anywhere.
    go(&mut rig.harness, "Overview");
    assert_eq!(rig.harness.state().view, View::Overview);
    let badge = rig
        .harness
        .get_all_by_label_contains("REC 3 msgs")
        .next()
        .unwrap();
    badge.click();
    settle(&mut rig.harness);
    assert_eq!(rig.harness.state().view, View::Recordings);

    go(&mut rig.harness, "Stop recording");
    wait_until(&mut rig.harness, "the recording to stop", |h| {
        h.state().recordings.finished.is_some()
    });
    let finished = rig.harness.state().recordings.finished.clone().unwrap();
    assert_eq!(finished.counters.messages, 3);
    assert_eq!(finished.counters.drops, 0);
    assert!(has_containing(&rig.harness, "Saved 3 messages"));
    assert!(!has_containing(&rig.harness, "REC "));

    let recorded = messages(&path);
    let subjects: Vec<&[u8]> = recorded.iter().map(|m| m.subject.as_slice()).collect();
    assert_eq!(subjects, vec![&b"rec.a"[..], b"rec.b", b"rec.h"]);
    assert_eq!(recorded[0].payload, b"one");
    assert!(recorded[2]
        .headers
        .as_ref()
        .unwrap()
        .starts_with(b"NATS/1.0"));
    assert!(recorded[2].payload.is_empty());
}

#[test]
fn bad_subjects_and_unwritable_files_are_shown_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let mut rig = rig();
    go(&mut rig.harness, "Record & replay");
    type_into(&mut rig.harness, "Subject patterns", "ok.> bad..subject");
    assert!(has_containing(
        &rig.harness,
        "not a valid subject: bad..subject"
    ));
    let record = rig
        .harness
        .get_all_by_label("Record")
        .find(|n| n.accesskit_node().role() == Role::Button)
        .unwrap();
    assert!(record.accesskit_node().is_disabled());

    rig.harness.state_mut().recordings.record_subjects.clear();
    // A file where a folder should be: the file can't be created.
    rig.harness.state_mut().recordings.record_path = file.join("x.rec").display().to_string();
    settle(&mut rig.harness);
    go(&mut rig.harness, "Record");
    wait_until(&mut rig.harness, "the error", |h| {
        h.state().recordings.record_error.is_some()
    });
    assert!(has_containing(&rig.harness, "can't start recording"));
    assert!(rig.harness.state().recordings.live.is_none());
}

fn write_recording(path: &Path, n: u64) {
    let mut w = RecordWriter::create(path, &Meta::default()).unwrap();
    for i in 0..n {
        let subject = if i % 2 == 0 { "rp.even" } else { "rp.odd" };
        w.write_message(&Message {
            time_ns: 1_800_000_000_000_000_000 + i * 1_000_000,
            subject: subject.into(),
            reply: (i == 1).then(|| b"rp.reply".to_vec()),
            headers: (i == 2).then(|| b"NATS/1.0\r\nTrace: 7\r\n\r\n".to_vec()),
            payload: format!("payload {i}").into_bytes(),
            publisher: Some(9),
            receivers: Some(1),
        })
        .unwrap();
    }
    w.write_connection(9, "sensor").unwrap();
    w.finish(0).unwrap();
}

#[test]
fn opens_browses_and_replays_a_recording_into_the_broker() {
    const N: u64 = 25;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("replay me.rec");
    write_recording(&path, N);
    let mut rig = rig();
    open_recording(&mut rig, "Summary", &path);
    assert!(
        has_containing(&rig.harness, "25 messages"),
        "summary headline"
    );
    assert!(has_containing(&rig.harness, "on 2 subjects"));
    assert!(rig.harness.query_by_label("rp.even").is_some());
    assert!(rig.harness.query_by_label("rp.odd").is_some());
    assert!(has_containing(&rig.harness, "sensor #9"));
    let opened = rig.harness.state().recordings.opened.as_ref().unwrap();
    assert_eq!(opened.rates.total(), N);

    go(&mut rig.harness, "Browse");
    assert!(has_containing(&rig.harness, "25 of 25 shown"));
    type_into(&mut rig.harness, "Subject filter", "rp.odd");
    assert!(has_containing(&rig.harness, "12 of 25 shown"));

    let client = rig.client();
    let mut sub = rig
        .runtime
        .block_on(async {
            let sub = client.subscribe("rp.>").await?;
            client.flush().await.map(|()| sub).map_err(Into::into)
        })
        .map_err(|e: async_nats::Error| e)
        .unwrap();
    go(&mut rig.harness, "Replay");
    go(&mut rig.harness, "max");
    go(&mut rig.harness, "Play");
    wait_until(&mut rig.harness, "the replay to finish", |h| {
        h.state().recordings.replay_result.is_some()
    });
    let outcome = rig
        .harness
        .state()
        .recordings
        .replay_result
        .clone()
        .unwrap()
        .unwrap();
    assert_eq!(
        (outcome.sent, outcome.skipped, outcome.stopped),
        (N, 0, false)
    );
    assert!(has_containing(&rig.harness, "Finished: 25 messages sent"));
    let got: Vec<async_nats::Message> = rig.runtime.block_on(async {
        let mut got = Vec::new();
        while got.len() < N as usize {
            match tokio::time::timeout(Duration::from_secs(10), sub.next()).await {
                Ok(Some(m)) => got.push(m),
                _ => break,
            }
        }
        got
    });
    assert_eq!(got.len(), N as usize);
    for (i, m) in got.iter().enumerate() {
        assert_eq!(m.payload, format!("payload {i}").as_bytes(), "in order");
    }
    assert_eq!(got[1].reply.as_deref(), Some("rp.reply"));
    assert_eq!(
        got[2]
            .headers
            .as_ref()
            .unwrap()
            .get("Trace")
            .unwrap()
            .as_str(),
        "7"
    );
}

#[test]
fn replay_filters_and_remaps_subjects() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("remap.rec");
    write_recording(&path, 6);
    let mut rig = rig();
    open_recording(&mut rig, "Replay", &path);
    type_into(&mut rig.harness, "Remap", "rp.>=copy");
    assert!(
        has_containing(&rig.harness, "same wildcards"),
        "remap errors inline"
    );
    rig.harness.state_mut().recordings.replay_form.remaps = "rp.>=copy.>".into();
    type_into(&mut rig.harness, "Only subjects", "rp.even");
    rig.harness.state_mut().recordings.replay_form.speed = "max".into();
    let client = rig.client();
    let mut sub = rig
        .runtime
        .block_on(async {
            let sub = client.subscribe(">").await?;
            client.flush().await.map(|()| sub).map_err(Into::into)
        })
        .map_err(|e: async_nats::Error| e)
        .unwrap();
    go(&mut rig.harness, "Play");
    wait_until(&mut rig.harness, "the replay to finish", |h| {
        h.state().recordings.replay_result.is_some()
    });
    let subjects: Vec<String> = rig.runtime.block_on(async {
        let mut got = Vec::new();
        while got.len() < 3 {
            match tokio::time::timeout(Duration::from_secs(10), sub.next()).await {
                Ok(Some(m)) => got.push(m.subject.to_string()),
                _ => break,
            }
        }
        got
    });
    assert_eq!(subjects, vec!["copy.even"; 3]);
}
