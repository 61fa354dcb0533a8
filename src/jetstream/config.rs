//! A stream's configuration as the `$JS.API` carries it (nats-server's `StreamConfig`, same
//! JSON names, order and omissions) and its checks and defaults (`checkStreamCfg`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::errors::ApiError;
use crate::proto::{subject, transform};

/// nats-server's `JSMaxNameLen`, `JSMaxDescriptionLen` and `JSMaxMetadataLen`.
const MAX_NAME_LEN: usize = 255;
const MAX_DESCRIPTION_LEN: usize = 4 * 1024;
const MAX_METADATA_LEN: usize = 128 * 1024;
/// `StreamMaxReplicas`.
const MAX_REPLICAS: i64 = 5;
/// The default duplicate window (`StreamDefaultDuplicatesWindow`).
pub const DEFAULT_DUPLICATE_WINDOW: i64 = 120_000_000_000;
const MIN_WINDOW_NANOS: i64 = 100_000_000;
/// The API level this server speaks (`JSApiLevel`) and the metadata keys it sets.
pub const API_LEVEL: u32 = 5;
pub const REQUIRED_LEVEL_KEY: &str = "_nats.req.level";
pub const SERVER_VERSION_KEY: &str = "_nats.ver";
pub const SERVER_LEVEL_KEY: &str = "_nats.level";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Retention {
    #[default]
    Limits,
    Interest,
    #[serde(rename = "workqueue")]
    WorkQueue,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Discard {
    #[default]
    Old,
    New,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Storage {
    #[default]
    File,
    Memory,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    #[default]
    None,
    S2,
}

/// The policies' own names, refused as nats-server refuses others:
/// `can not unmarshal "\"disk\""` (the raw JSON, quoted).
macro_rules! policy_from_json {
    ($ty:ident { $($text:literal => $variant:ident),+ $(,)? }) => {
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let value = serde_json::Value::deserialize(d)?;
                match value.as_str() {
                    $(Some($text) => Ok($ty::$variant),)+
                    _ => Err(serde::de::Error::custom(format!(
                        "can not unmarshal {:?}",
                        value.to_string()
                    ))),
                }
            }
        }
    };
}

policy_from_json!(Retention { "limits" => Limits, "interest" => Interest, "workqueue" => WorkQueue });
policy_from_json!(Storage { "file" => File, "memory" => Memory });

/// nats-server reads the discard policy in any case.
impl<'de> Deserialize<'de> for Discard {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(d)?;
        match value.as_str().map(str::to_ascii_lowercase).as_deref() {
            Some("old") => Ok(Discard::Old),
            Some("new") => Ok(Discard::New),
            _ => Err(serde::de::Error::custom(format!(
                "can not unmarshal {:?}",
                value.to_string()
            ))),
        }
    }
}

impl<'de> Deserialize<'de> for Compression {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match String::deserialize(d)?.as_str() {
            "none" => Ok(Compression::None),
            "s2" => Ok(Compression::S2),
            _ => Err(serde::de::Error::custom("unknown compression algorithm")),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsumerLimits {
    #[serde(default, skip_serializing_if = "is_zero")]
    pub inactive_threshold: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub max_ack_pending: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubjectTransform {
    #[serde(default)]
    pub src: String,
    #[serde(default)]
    pub dest: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RePublish {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub src: String,
    #[serde(default)]
    pub dest: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub headers_only: bool,
}

/// Where a mirror or a source reads from (nats-server's `StreamSource`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamSource {
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "is_zero_u64")]
    pub opt_start_seq: u64,
    /// RFC 3339, as the request gave it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opt_start_time: Option<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub filter_subject: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subject_transforms: Vec<SubjectTransform>,
    /// Another account or domain: refused (not served yet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external: Option<serde_json::Value>,
    /// A durable consumer on the origin: refused (not served yet).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consumer: Option<serde_json::Value>,
}

impl StreamSource {
    /// nats-server's `composeIName`: the name, the filters and the destinations, which tell
    /// two sources of one stream apart (and fill the `Nats-Stream-Source` header).
    pub fn iname(&self) -> (String, String, String) {
        if self.subject_transforms.is_empty() {
            let filter = if self.filter_subject.is_empty() {
                ">".to_string()
            } else {
                self.filter_subject.clone()
            };
            return (self.name.clone(), filter, ">".to_string());
        }
        let or_all = |s: &str| {
            if s.is_empty() {
                ">".to_string()
            } else {
                s.to_string()
            }
        };
        let srcs: Vec<String> = self
            .subject_transforms
            .iter()
            .map(|t| or_all(&t.src))
            .collect();
        let dests: Vec<String> = self
            .subject_transforms
            .iter()
            .map(|t| or_all(&t.dest))
            .collect();
        (self.name.clone(), srcs.join("\x0c"), dests.join("\x0c"))
    }
}

fn is_zero(v: &i64) -> bool {
    *v == 0
}
fn is_zero_u64(v: &u64) -> bool {
    *v == 0
}
fn is_false(v: &bool) -> bool {
    !*v
}

/// `StreamConfig`. Fields switchboard does not serve (placement, external mirrors and
/// sources, ...) are kept as JSON so a request that names them can be refused with a clear
/// error.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StreamConfig {
    #[serde(default)]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subjects: Vec<String>,
    #[serde(default)]
    pub retention: Retention,
    #[serde(default)]
    pub max_consumers: i64,
    #[serde(default)]
    pub max_msgs: i64,
    #[serde(default)]
    pub max_bytes: i64,
    /// Nanoseconds, as Go's `time.Duration`.
    #[serde(default)]
    pub max_age: i64,
    #[serde(default, rename = "max_msgs_per_subject")]
    pub max_msgs_per: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub max_msg_size: i64,
    #[serde(default)]
    pub discard: Discard,
    #[serde(default)]
    pub storage: Storage,
    #[serde(default, rename = "num_replicas")]
    pub replicas: i64,
    #[serde(default, skip_serializing_if = "is_false")]
    pub no_ack: bool,
    #[serde(default, rename = "duplicate_window", skip_serializing_if = "is_zero")]
    pub duplicates: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub placement: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mirror: Option<StreamSource>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sources: Vec<StreamSource>,
    #[serde(default)]
    pub compression: Compression,
    #[serde(default, skip_serializing_if = "is_zero_u64")]
    pub first_seq: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject_transform: Option<SubjectTransform>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub republish: Option<RePublish>,
    #[serde(default)]
    pub allow_direct: bool,
    #[serde(default)]
    pub mirror_direct: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub discard_new_per_subject: bool,
    #[serde(default)]
    pub sealed: bool,
    #[serde(default)]
    pub deny_delete: bool,
    #[serde(default)]
    pub deny_purge: bool,
    #[serde(default, rename = "allow_rollup_hdrs")]
    pub allow_rollup: bool,
    #[serde(default)]
    pub consumer_limits: ConsumerLimits,
    #[serde(default)]
    pub allow_msg_ttl: bool,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub subject_delete_marker_ttl: i64,
    #[serde(default, skip_serializing_if = "is_false")]
    pub allow_msg_counter: bool,
    #[serde(default, rename = "allow_atomic", skip_serializing_if = "is_false")]
    pub allow_atomic_publish: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub allow_msg_schedules: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub persist_mode: Option<serde_json::Value>,
    #[serde(default, rename = "allow_batched", skip_serializing_if = "is_false")]
    pub allow_batch_publish: bool,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
}

/// nats-server's `isValidName`: no wildcards, separators or whitespace.
pub fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && !name
            .chars()
            .any(|c| matches!(c, '.' | '*' | '>' | ' ' | '\t' | '\r' | '\n' | '\x0c'))
}

/// nats-server's `subjectIsSubsetMatch`: whether every subject `subset` matches is matched
/// by `of`.
pub fn subject_is_subset(subset: &str, of: &str) -> bool {
    let (ts, to): (Vec<&str>, Vec<&str>) = (subset.split('.').collect(), of.split('.').collect());
    for (i, t) in to.iter().enumerate() {
        let Some(s) = ts.get(i) else {
            return false;
        };
        match *t {
            ">" => return true,
            "*" if *s != ">" => {}
            _ if t == s => {}
            _ => return false,
        }
    }
    ts.len() == to.len()
}

/// Whether two subjects (wildcards allowed) can match a common subject.
pub fn subjects_collide(a: &str, b: &str) -> bool {
    let (ta, tb): (Vec<&str>, Vec<&str>) = (a.split('.').collect(), b.split('.').collect());
    let mut i = 0;
    loop {
        match (ta.get(i), tb.get(i)) {
            (Some(&">"), Some(_)) | (Some(_), Some(&">")) => return true,
            (Some(x), Some(y)) => {
                if *x != "*" && *y != "*" && x != y {
                    return false;
                }
            }
            (None, None) => return true,
            _ => return false,
        }
        i += 1;
    }
}

impl StreamConfig {
    /// Checks a requested configuration and fills nats-server's defaults (`checkStreamCfg`
    /// for a server without clustering). `pedantic` refuses defaults instead of filling them.
    pub fn normalized(&self, pedantic: bool) -> Result<StreamConfig, ApiError> {
        let mut cfg = self.clone();
        if !is_valid_name(&cfg.name) || cfg.name.contains(['\\', '/']) {
            return Err(ApiError::stream_invalid_config(
                "stream name is required and can not contain '.', '*', '>', '\\', '/'",
            ));
        }
        if cfg.name.len() > MAX_NAME_LEN {
            return Err(ApiError::stream_invalid_config(format!(
                "stream name is too long, maximum allowed is {MAX_NAME_LEN}"
            )));
        }
        if cfg.description.len() > MAX_DESCRIPTION_LEN {
            return Err(ApiError::stream_invalid_config(format!(
                "stream description is too long, maximum allowed is {MAX_DESCRIPTION_LEN}"
            )));
        }
        let metadata_len: usize = cfg.metadata.iter().map(|(k, v)| k.len() + v.len()).sum();
        if metadata_len > MAX_METADATA_LEN {
            return Err(ApiError::stream_invalid_config(format!(
                "stream metadata exceeds maximum size of {MAX_METADATA_LEN} bytes"
            )));
        }
        if cfg.replicas == 0 {
            cfg.replicas = 1;
        }
        if cfg.replicas > MAX_REPLICAS {
            return Err(ApiError::stream_invalid_config(format!(
                "maximum replicas is {MAX_REPLICAS}"
            )));
        }
        if cfg.replicas < 0 {
            return Err(ApiError::replicas_negative());
        }
        for (value, name) in [
            (&mut cfg.max_msgs, "max_msgs"),
            (&mut cfg.max_msgs_per, "max_msgs_per_subject"),
            (&mut cfg.max_bytes, "max_bytes"),
            (&mut cfg.max_msg_size, "max_msg_size"),
            (&mut cfg.max_consumers, "max_consumers"),
        ] {
            if *value == 0 || *value < -1 {
                if pedantic {
                    return Err(ApiError::pedantic(format!("{name} must be set to -1")));
                }
                *value = -1;
            }
        }
        if cfg.max_age < 0 {
            return Err(ApiError::stream_invalid_config(
                "max age can not be negative",
            ));
        }
        if cfg.max_age != 0 && cfg.max_age < MIN_WINDOW_NANOS {
            return Err(ApiError::stream_invalid_config(
                "max age needs to be >= 100ms",
            ));
        }
        if cfg.duplicates == 0 && cfg.mirror.is_none() && cfg.sources.is_empty() {
            if cfg.max_age != 0 && cfg.max_age < DEFAULT_DUPLICATE_WINDOW {
                if pedantic {
                    return Err(ApiError::pedantic(
                        "duplicate window cannot be bigger than max age",
                    ));
                }
                cfg.duplicates = cfg.max_age;
            } else {
                cfg.duplicates = DEFAULT_DUPLICATE_WINDOW;
            }
        }
        if cfg.duplicates < 0 {
            return Err(ApiError::stream_invalid_config(
                "duplicates window can not be negative",
            ));
        }
        if cfg.max_age != 0 && cfg.duplicates > cfg.max_age {
            return Err(ApiError::stream_invalid_config(
                "duplicates window can not be larger then max age",
            ));
        }
        if cfg.duplicates > 0 && cfg.duplicates < MIN_WINDOW_NANOS {
            return Err(ApiError::stream_invalid_config(
                "duplicates window needs to be >= 100ms",
            ));
        }
        if cfg.deny_purge && cfg.allow_rollup {
            return Err(ApiError::stream_invalid_config(
                "roll-ups require the purge permission",
            ));
        }
        if cfg.discard_new_per_subject {
            if cfg.discard != Discard::New {
                return Err(ApiError::stream_invalid_config(
                    "discard new per subject requires discard new policy to be set",
                ));
            }
            if cfg.max_msgs_per <= 0 {
                return Err(ApiError::stream_invalid_config(
                    "discard new per subject requires max msgs per subject > 0",
                ));
            }
        }
        if cfg.subject_delete_marker_ttl > 0 {
            if cfg.subject_delete_marker_ttl < 1_000_000_000 {
                return Err(ApiError::stream_invalid_config(
                    "subject delete marker TTL must be at least 1 second",
                ));
            }
            cfg.allow_msg_ttl = true;
            cfg.allow_rollup = true;
            cfg.deny_purge = false;
        } else if cfg.subject_delete_marker_ttl < 0 {
            return Err(ApiError::stream_invalid_config(
                "subject delete marker TTL must not be negative",
            ));
        }
        cfg.check_mirror_and_sources()?;
        cfg.refuse_unserved()?;
        if cfg.subjects.is_empty() {
            if cfg.mirror.is_none() && cfg.sources.is_empty() {
                cfg.subjects.push(cfg.name.clone());
            }
        } else {
            for (i, subj) in cfg.subjects.iter().enumerate() {
                if !subject::is_valid_subject(subj.as_bytes()) {
                    return Err(ApiError::stream_invalid_config("invalid subject"));
                }
                if cfg.subjects[..i].contains(subj) {
                    return Err(ApiError::stream_invalid_config(
                        "duplicate subjects detected",
                    ));
                }
                if subj == ">" && !cfg.no_ack {
                    return Err(ApiError::stream_invalid_config(
                        "capturing all subjects requires no-ack to be true",
                    ));
                }
                if !cfg.no_ack
                    && ["$JS.API.>", "$KV.>", "$O.>"]
                        .iter()
                        .any(|ns| *ns == "$JS.API.>" && subjects_collide(subj, ns))
                {
                    return Err(ApiError::stream_invalid_config(
                        "subjects that overlap with jetstream api require no-ack to be true",
                    ));
                }
                if !cfg.no_ack && subjects_collide(subj, "$SYS.>") {
                    return Err(ApiError::stream_invalid_config(
                        "subjects that overlap with system api require no-ack to be true",
                    ));
                }
                if let Some(other) = cfg.subjects[i + 1..]
                    .iter()
                    .find(|t| subjects_collide(t, subj))
                {
                    return Err(ApiError::stream_invalid_config(format!(
                        "subject {subj:?} overlaps with {other:?}"
                    )));
                }
            }
        }
        cfg.check_transform_and_republish(pedantic)?;
        set_static_metadata(&mut cfg);
        Ok(cfg)
    }

    /// nats-server's checks of a mirror and of sources that need no other stream.
    fn check_mirror_and_sources(&self) -> Result<(), ApiError> {
        if let Some(m) = &self.mirror {
            if self.first_seq > 0 {
                return Err(ApiError::mirror_with_first_seq());
            }
            if !self.subjects.is_empty() {
                return Err(ApiError::mirror_with_subjects());
            }
            if !self.sources.is_empty() {
                return Err(ApiError::mirror_with_sources());
            }
            if self.allow_msg_counter {
                return Err(ApiError::mirror_with(10173, "also calculate counters"));
            }
            if self.allow_atomic_publish {
                return Err(ApiError::mirror_with(10198, "also use atomic publishing"));
            }
            if self.allow_batch_publish {
                return Err(ApiError::mirror_with(10209, "also use batch publishing"));
            }
            if self.allow_msg_schedules {
                return Err(ApiError::mirror_with(10186, "also schedule messages"));
            }
            if !m.filter_subject.is_empty() && !m.subject_transforms.is_empty() {
                return Err(ApiError::mirror_multiple_filters());
            }
            if self.subject_delete_marker_ttl > 0 {
                return Err(ApiError::stream_invalid_config(
                    "subject delete markers forbidden on mirrors",
                ));
            }
            for (i, tr) in m.subject_transforms.iter().enumerate() {
                if !tr.src.is_empty() && !subject::is_valid_subject(tr.src.as_bytes()) {
                    return Err(ApiError::mirror_invalid_subject_filter(format!(
                        "invalid subject {}",
                        tr.src
                    )));
                }
                transform::validate_mapping(&tr.src, &tr.dest)
                    .map_err(ApiError::mirror_invalid_transform_destination)?;
                if m.subject_transforms
                    .iter()
                    .enumerate()
                    .any(|(j, other)| j != i && subjects_collide(&tr.src, &other.src))
                {
                    return Err(ApiError::mirror_overlapping_subject_filters());
                }
            }
            if m.external.is_none() && !is_valid_name(&m.name) {
                return Err(ApiError::mirror_invalid_stream_name());
            }
        }
        if !self.sources.is_empty() && self.allow_msg_schedules {
            return Err(ApiError::source_with_msg_schedules());
        }
        let mut inames = Vec::new();
        for src in &self.sources {
            if !is_valid_name(&src.name) {
                return Err(ApiError::source_invalid_stream_name());
            }
            let iname = (src.external.as_ref().map(|e| e.to_string()), src.iname());
            if inames.contains(&iname) {
                return Err(ApiError::source_duplicate_detected());
            }
            inames.push(iname);
            if !src.filter_subject.is_empty() && !src.subject_transforms.is_empty() {
                return Err(ApiError::source_multiple_filters());
            }
            for tr in &src.subject_transforms {
                if !tr.src.is_empty() && !subject::is_valid_subject(tr.src.as_bytes()) {
                    return Err(ApiError::source_invalid_subject_filter(format!(
                        "invalid subject {}",
                        tr.src
                    )));
                }
                transform::validate_mapping(&tr.src, &tr.dest)
                    .map_err(ApiError::source_invalid_transform_destination)?;
            }
            for (i, tr) in src.subject_transforms.iter().enumerate() {
                if src
                    .subject_transforms
                    .iter()
                    .enumerate()
                    .any(|(j, other)| j != i && subject_is_subset(&tr.src, &other.src))
                {
                    return Err(ApiError::source_overlapping_subject_filters());
                }
            }
        }
        Ok(())
    }

    /// The stream's own subject transform and its republish (`checkStreamCfg`'s last steps).
    fn check_transform_and_republish(&mut self, pedantic: bool) -> Result<(), ApiError> {
        if let Some(tr) = &self.subject_transform {
            if !tr.src.is_empty() && !subject::is_valid_subject(tr.src.as_bytes()) {
                return Err(ApiError::transform_invalid_source(format!(
                    "invalid subject {}",
                    tr.src
                )));
            }
            transform::validate_mapping(&tr.src, &tr.dest)
                .map_err(ApiError::transform_invalid_destination)?;
        }
        let Some(rp) = &mut self.republish else {
            return Ok(());
        };
        if rp.src.is_empty() {
            if pedantic {
                return Err(ApiError::pedantic("republish source can not be empty"));
            }
            rp.src = ">".to_string();
        }
        if let Some(tr) = &self.subject_transform {
            if rp.dest == ">"
                && rp.src == ">"
                && self.subjects.len() == 1
                && tr.src == self.subjects[0]
            {
                if pedantic {
                    return Err(ApiError::pedantic(
                        "implicit republish based on subject transform",
                    ));
                }
                rp.src = tr.dest.clone();
                rp.dest = tr.dest.clone();
            }
        }
        if self.subjects.iter().any(|s| subjects_collide(&rp.dest, s)) {
            return Err(ApiError::stream_invalid_config(
                "stream configuration for republish destination forms a cycle",
            ));
        }
        if transform::SubjectTransform::new(&rp.src, &rp.dest).is_err() {
            return Err(ApiError::stream_invalid_config(format!(
                "stream configuration for republish with transform from '{}' to '{}' not valid",
                rp.src, rp.dest
            )));
        }
        Ok(())
    }

    /// What this server does not serve yet gets an error naming it, never silence.
    fn refuse_unserved(&self) -> Result<(), ApiError> {
        let external = self.mirror.iter().chain(&self.sources);
        let unserved = [
            (
                self.mirror.as_ref().is_some_and(|m| m.external.is_some()),
                "mirror external",
            ),
            (
                self.sources.iter().any(|s| s.external.is_some()),
                "sources external",
            ),
            (
                external.clone().any(|s| s.consumer.is_some()),
                "mirror or source consumer",
            ),
            (self.allow_msg_counter, "allow_msg_counter"),
            (self.allow_atomic_publish, "allow_atomic"),
            (self.allow_msg_schedules, "allow_msg_schedules"),
            (self.allow_batch_publish, "allow_batched"),
            (self.compression == Compression::S2, "compression s2"),
            (
                self.subject_delete_marker_ttl > 0,
                "subject_delete_marker_ttl",
            ),
        ];
        match unserved.iter().find(|(used, _)| *used) {
            Some((_, what)) => Err(ApiError::stream_invalid_config(format!(
                "{what} is not supported by switchboard yet"
            ))),
            None => Ok(()),
        }
    }

    /// The configuration as a response shows it: with the server's version and API level.
    pub fn with_dynamic_metadata(&self) -> StreamConfig {
        let mut cfg = self.clone();
        cfg.metadata.insert(
            SERVER_VERSION_KEY.to_string(),
            crate::proto::info::NATS_COMPAT_VERSION.to_string(),
        );
        cfg.metadata
            .insert(SERVER_LEVEL_KEY.to_string(), API_LEVEL.to_string());
        cfg
    }

    /// Checks an update of this configuration to `new` (already normalized) and applies
    /// what sealing implies (`configUpdateCheck` on a single server).
    pub fn updated(&self, new: &StreamConfig) -> Result<StreamConfig, ApiError> {
        let refuse = |why: &str| Err(ApiError::stream_invalid_config(why));
        let mut cfg = new.clone();
        if cfg.name != self.name {
            return refuse("stream configuration name must match original");
        }
        if cfg.replicas > 1 {
            return Err(ApiError::replicas_not_supported());
        }
        if cfg.storage != self.storage {
            return refuse("stream configuration update can not change storage type");
        }
        if cfg.retention != self.retention
            && (cfg.retention == Retention::WorkQueue || self.retention == Retention::WorkQueue)
        {
            return refuse(
                "stream configuration update can not change retention policy to/from workqueue",
            );
        }
        if self.sealed && !cfg.sealed {
            return refuse("stream configuration update can not unseal a sealed stream");
        }
        if self.deny_delete && !cfg.deny_delete {
            return refuse("stream configuration update can not cancel deny message deletes");
        }
        if self.deny_purge && !cfg.deny_purge {
            return refuse("stream configuration update can not cancel deny purge");
        }
        // Removing the mirror promotes it to a plain stream; changing it is refused.
        if cfg.mirror.is_some() && cfg.mirror != self.mirror {
            return Err(ApiError::mirror_not_updatable());
        }
        if self.allow_msg_ttl && !cfg.allow_msg_ttl {
            return refuse("message TTL status can not be disabled");
        }
        if cfg.sealed {
            cfg.max_age = 0;
            cfg.discard = Discard::New;
            cfg.deny_delete = true;
            cfg.deny_purge = true;
            cfg.allow_rollup = false;
        }
        Ok(cfg)
    }
}

/// Stores `_nats.req.level`: the API level a server needs to serve this stream.
fn set_static_metadata(cfg: &mut StreamConfig) {
    cfg.metadata.remove(SERVER_VERSION_KEY);
    cfg.metadata.remove(SERVER_LEVEL_KEY);
    let level = if cfg.allow_msg_ttl || cfg.subject_delete_marker_ttl > 0 {
        1
    } else {
        0
    };
    cfg.metadata
        .insert(REQUIRED_LEVEL_KEY.to_string(), level.to_string());
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(name: &str) -> StreamConfig {
        StreamConfig {
            name: name.into(),
            ..Default::default()
        }
    }

    #[test]
    fn defaults_are_nats_servers() {
        let cfg = named("ORDERS").normalized(false).unwrap();
        assert_eq!(cfg.subjects, vec!["ORDERS".to_string()]);
        assert_eq!(
            (
                cfg.max_msgs,
                cfg.max_bytes,
                cfg.max_msgs_per,
                cfg.max_msg_size,
                cfg.max_consumers
            ),
            (-1, -1, -1, -1, -1)
        );
        assert_eq!(cfg.replicas, 1);
        assert_eq!(cfg.duplicates, DEFAULT_DUPLICATE_WINDOW);
        assert_eq!(
            cfg.metadata.get(REQUIRED_LEVEL_KEY).map(String::as_str),
            Some("0")
        );
        let short = StreamConfig {
            max_age: 1_000_000_000,
            ..named("S")
        };
        assert_eq!(short.normalized(false).unwrap().duplicates, 1_000_000_000);
        let ttl = StreamConfig {
            allow_msg_ttl: true,
            ..named("T")
        };
        let ttl = ttl.normalized(false).unwrap();
        assert_eq!(
            ttl.metadata.get(REQUIRED_LEVEL_KEY).map(String::as_str),
            Some("1")
        );
        assert_eq!(
            ttl.with_dynamic_metadata()
                .metadata
                .get(SERVER_LEVEL_KEY)
                .map(String::as_str),
            Some("5")
        );
    }

    #[test]
    fn bad_configurations_get_nats_servers_errors() {
        let cases = [
            (
                named("a.b"),
                "stream name is required and can not contain '.', '*', '>', '\\', '/'",
            ),
            (
                StreamConfig {
                    subjects: vec!["a".into(), "a".into()],
                    ..named("S")
                },
                // nats-server meets the duplicate as an overlap first.
                "subject \"a\" overlaps with \"a\"",
            ),
            (
                StreamConfig {
                    subjects: vec!["a.*".into(), "a.b".into()],
                    ..named("S")
                },
                "subject \"a.*\" overlaps with \"a.b\"",
            ),
            (
                StreamConfig {
                    max_age: 10,
                    ..named("S")
                },
                "max age needs to be >= 100ms",
            ),
            (
                StreamConfig {
                    deny_purge: true,
                    allow_rollup: true,
                    ..named("S")
                },
                "roll-ups require the purge permission",
            ),
            (
                StreamConfig {
                    discard_new_per_subject: true,
                    ..named("S")
                },
                "discard new per subject requires discard new policy to be set",
            ),
            (
                StreamConfig {
                    subjects: vec![">".into()],
                    ..named("S")
                },
                "capturing all subjects requires no-ack to be true",
            ),
            (
                StreamConfig {
                    subjects: vec!["$JS.API.>".into()],
                    ..named("S")
                },
                "subjects that overlap with jetstream api require no-ack to be true",
            ),
        ];
        for (cfg, want) in cases {
            let err = cfg.normalized(false).unwrap_err();
            assert_eq!(err.description, want, "{cfg:?}");
            assert_eq!(err.err_code, 10052);
        }
        let pedantic = named("S").normalized(true).unwrap_err();
        assert_eq!(
            pedantic.description,
            "pedantic mode: max_msgs must be set to -1"
        );
        let mirror = StreamConfig {
            mirror: Some(StreamSource {
                name: "O".into(),
                external: Some(serde_json::json!({"api": "$JS.hub.API"})),
                ..Default::default()
            }),
            ..named("S")
        };
        assert_eq!(
            mirror.normalized(false).unwrap_err().description,
            "mirror external is not supported by switchboard yet"
        );
    }

    #[test]
    fn updates_refuse_what_nats_server_refuses_and_sealing_locks_the_stream() {
        let old = named("S").normalized(false).unwrap();
        let memory = StreamConfig {
            storage: Storage::Memory,
            ..old.clone()
        };
        assert_eq!(
            old.updated(&memory).unwrap_err().description,
            "stream configuration update can not change storage type"
        );
        let sealed = StreamConfig {
            sealed: true,
            ..old.clone()
        };
        let sealed = old.updated(&sealed).unwrap();
        assert!(sealed.deny_delete && sealed.deny_purge && sealed.discard == Discard::New);
        assert_eq!(
            sealed.updated(&old).unwrap_err().description,
            "stream configuration update can not unseal a sealed stream"
        );
    }

    #[test]
    fn subjects_collide_when_one_subject_can_match_both() {
        assert!(subjects_collide("a.>", "a.b.c"));
        assert!(subjects_collide("a.*", "a.b"));
        assert!(subjects_collide("*.b", "a.*"));
        assert!(!subjects_collide("a.*", "a.b.c"));
        assert!(!subjects_collide("a.b", "a.c"));
        assert!(subjects_collide(">", "x"));
    }

    #[test]
    fn the_json_keeps_nats_servers_names_and_omissions() {
        let cfg = named("S").normalized(false).unwrap();
        let text = serde_json::to_string(&cfg).unwrap();
        assert!(
            text.starts_with(
                r#"{"name":"S","subjects":["S"],"retention":"limits","max_consumers":-1"#
            ),
            "{text}"
        );
        assert!(!text.contains("description"));
        assert!(!text.contains("first_seq"));
        assert!(text.contains(r#""consumer_limits":{}"#));
        let parsed: StreamConfig = serde_json::from_str(
            r#"{"name":"W","retention":"workqueue","storage":"memory","discard":"new","unknown":1}"#,
        )
        .unwrap();
        assert_eq!(parsed.retention, Retention::WorkQueue);
        assert_eq!(parsed.storage, Storage::Memory);
        assert!(serde_json::from_str::<StreamConfig>(r#"{"name":"W","storage":"tape"}"#).is_err());
    }
}
