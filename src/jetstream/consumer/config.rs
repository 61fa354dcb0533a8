//! A consumer's configuration as nats-server 2.15.1 reads and writes it (`ConsumerConfig`):
//! field names, order and omissions, its defaults (`setConsumerConfigDefaults`) and its
//! checks (`checkConsumerCfg`), with its error codes and texts.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::super::config::{
    is_valid_name, subject_is_subset, Retention, StreamConfig, API_LEVEL, REQUIRED_LEVEL_KEY,
    SERVER_LEVEL_KEY, SERVER_VERSION_KEY,
};
use super::super::errors::ApiError;

/// nats-server's `JsAckWaitDefault` (30 s), in nanoseconds.
pub const ACK_WAIT_DEFAULT: i64 = 30_000_000_000;
/// nats-server's `JsDefaultMaxAckPending`.
pub const MAX_ACK_PENDING_DEFAULT: i64 = 1000;
/// nats-server's `JSWaitQueueDefaultMax`.
pub const MAX_WAITING_DEFAULT: i64 = 512;
/// nats-server's `JsDeleteWaitTimeDefault`: ephemerals' inactive threshold (5 s).
pub const INACTIVE_THRESHOLD_DEFAULT: i64 = 5_000_000_000;
const MAX_DESCRIPTION_LEN: usize = 4 * 1024;
const MAX_METADATA_LEN: usize = 128 * 1024;
const MAX_NAME_LEN: usize = 255;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeliverPolicy {
    #[default]
    #[serde(rename = "all")]
    All,
    #[serde(rename = "last")]
    Last,
    #[serde(rename = "new")]
    New,
    #[serde(rename = "by_start_sequence")]
    ByStartSequence,
    #[serde(rename = "by_start_time")]
    ByStartTime,
    #[serde(rename = "last_per_subject")]
    LastPerSubject,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum AckPolicy {
    #[default]
    #[serde(rename = "none")]
    None,
    #[serde(rename = "all")]
    All,
    #[serde(rename = "explicit")]
    Explicit,
    #[serde(rename = "flow_control")]
    FlowControl,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReplayPolicy {
    #[default]
    #[serde(rename = "instant")]
    Instant,
    #[serde(rename = "original")]
    Original,
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

/// `ConsumerConfig`, in nats-server's field order. Durations are Go's nanoseconds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsumerConfig {
    #[serde(
        default,
        rename = "durable_name",
        skip_serializing_if = "String::is_empty"
    )]
    pub durable: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(default)]
    pub deliver_policy: DeliverPolicy,
    #[serde(default, skip_serializing_if = "is_zero_u64")]
    pub opt_start_seq: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opt_start_time: Option<String>,
    #[serde(default)]
    pub ack_policy: AckPolicy,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub ack_wait: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub max_deliver: i64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub backoff: Vec<i64>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub filter_subject: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filter_subjects: Vec<String>,
    #[serde(default)]
    pub replay_policy: ReplayPolicy,
    #[serde(
        default,
        rename = "rate_limit_bps",
        skip_serializing_if = "is_zero_u64"
    )]
    pub rate_limit: u64,
    #[serde(
        default,
        rename = "sample_freq",
        skip_serializing_if = "String::is_empty"
    )]
    pub sample_frequency: String,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub max_waiting: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub max_ack_pending: i64,
    #[serde(default, skip_serializing_if = "is_false")]
    pub flow_control: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub headers_only: bool,
    #[serde(default, rename = "max_batch", skip_serializing_if = "is_zero")]
    pub max_request_batch: i64,
    #[serde(default, rename = "max_expires", skip_serializing_if = "is_zero")]
    pub max_request_expires: i64,
    #[serde(default, rename = "max_bytes", skip_serializing_if = "is_zero")]
    pub max_request_max_bytes: i64,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub deliver_subject: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub deliver_group: String,
    #[serde(default, rename = "idle_heartbeat", skip_serializing_if = "is_zero")]
    pub heartbeat: i64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub inactive_threshold: i64,
    #[serde(default, rename = "num_replicas")]
    pub replicas: i64,
    #[serde(default, rename = "mem_storage", skip_serializing_if = "is_false")]
    pub memory_storage: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub direct: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub sourcing: bool,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pause_until: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub priority_groups: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority_policy: Option<String>,
    #[serde(default, rename = "priority_timeout", skip_serializing_if = "is_zero")]
    pub pinned_ttl: i64,
}

/// How pull requests of a priority group share a consumer's messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Priority {
    None,
    /// Requests with minimums are served only past them (`min_pending`, `min_ack_pending`).
    Overflow,
    /// One client (the one holding the pin id) gets the messages until it goes quiet.
    PinnedClient,
    /// Requests with a lower `priority` number go first.
    Prioritized,
}

/// How long a pinned client keeps its pin without a request (`JsDefaultPinnedTTL`).
pub const PINNED_TTL_DEFAULT: i64 = 2 * 60 * 1_000_000_000;

/// nats-server's `validGroupName`: `[a-zA-Z0-9/_=-]{1,16}`.
pub fn is_valid_group_name(name: &str) -> bool {
    (1..=16).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'_' | b'=' | b'-'))
}

/// The fields a strict decoder accepts in a create request (`config.*`).
pub const CREATE_FIELDS: &[&str] = &[
    "stream_name",
    "action",
    "pedantic",
    "config.durable_name",
    "config.name",
    "config.description",
    "config.deliver_policy",
    "config.opt_start_seq",
    "config.opt_start_time",
    "config.ack_policy",
    "config.ack_wait",
    "config.max_deliver",
    "config.backoff",
    "config.filter_subject",
    "config.filter_subjects",
    "config.replay_policy",
    "config.rate_limit_bps",
    "config.sample_freq",
    "config.max_waiting",
    "config.max_ack_pending",
    "config.flow_control",
    "config.headers_only",
    "config.max_batch",
    "config.max_expires",
    "config.max_bytes",
    "config.deliver_subject",
    "config.deliver_group",
    "config.idle_heartbeat",
    "config.inactive_threshold",
    "config.num_replicas",
    "config.mem_storage",
    "config.direct",
    "config.sourcing",
    "config.metadata",
    "config.pause_until",
    "config.priority_groups",
    "config.priority_policy",
    "config.priority_timeout",
];

impl ConsumerConfig {
    /// Its filters (`filter_subject` or `filter_subjects`); empty means every subject.
    pub fn filters(&self) -> Vec<String> {
        if !self.filter_subject.is_empty() {
            vec![self.filter_subject.clone()]
        } else {
            self.filter_subjects.clone()
        }
    }

    /// The priority policy (`priority_policy`) as a value.
    pub fn priority(&self) -> Priority {
        match self.priority_policy.as_deref() {
            Some("overflow") => Priority::Overflow,
            Some("pinned_client") => Priority::PinnedClient,
            Some("prioritized") => Priority::Prioritized,
            _ => Priority::None,
        }
    }

    pub fn is_durable(&self) -> bool {
        !self.durable.is_empty()
    }

    /// The configuration as a response shows it: with the server's version and API level.
    pub fn with_dynamic_metadata(&self) -> ConsumerConfig {
        let mut cfg = self.clone();
        cfg.metadata.insert(
            SERVER_VERSION_KEY.to_string(),
            crate::proto::info::NATS_COMPAT_VERSION.to_string(),
        );
        cfg.metadata
            .insert(SERVER_LEVEL_KEY.to_string(), API_LEVEL.to_string());
        cfg
    }

    /// `setStaticConsumerMetadata`: the API level needed to serve this consumer.
    pub fn set_static_metadata(&mut self) {
        self.metadata.remove(SERVER_VERSION_KEY);
        self.metadata.remove(SERVER_LEVEL_KEY);
        let level = if self.ack_policy == AckPolicy::FlowControl {
            4
        } else if self.pause_until.is_some()
            || self.priority_policy.as_deref().is_some_and(|p| p != "none")
            || self.pinned_ttl != 0
            || !self.priority_groups.is_empty()
        {
            1
        } else {
            0
        };
        self.metadata
            .insert(REQUIRED_LEVEL_KEY.to_string(), level.to_string());
    }

    /// Fills in nats-server's defaults and checks the result against the stream's
    /// configuration and the account's `max_ack_pending` (0 for none).
    pub fn normalized(
        &self,
        stream: &StreamConfig,
        account_max_ack_pending: i64,
        pedantic: bool,
    ) -> Result<ConsumerConfig, ApiError> {
        let mut c = self.clone();
        c.set_defaults(stream, account_max_ack_pending, pedantic)?;
        c.check(stream, account_max_ack_pending)?;
        c.check_served()?;
        Ok(c)
    }

    fn set_defaults(
        &mut self,
        stream: &StreamConfig,
        acc_max_ack_pending: i64,
        pedantic: bool,
    ) -> Result<(), ApiError> {
        let pedantic_err = |why: &str| Err(ApiError::pedantic(why));
        if self.max_deliver == 0 || self.max_deliver < -1 {
            if pedantic && self.max_deliver < -1 {
                return pedantic_err("max_deliver must be set to -1");
            }
            self.max_deliver = -1;
        }
        fn zero_negative(value: &mut i64, why: &str, pedantic: bool) -> Result<(), ApiError> {
            if *value < 0 {
                if pedantic {
                    return Err(ApiError::pedantic(why));
                }
                *value = 0;
            }
            Ok(())
        }
        zero_negative(
            &mut self.max_waiting,
            "max_waiting must not be negative",
            pedantic,
        )?;
        if self.max_ack_pending < -1 {
            if pedantic {
                return pedantic_err("max_ack_pending must be set to -1");
            }
            self.max_ack_pending = -1;
        }
        zero_negative(
            &mut self.max_request_batch,
            "max_batch must not be negative",
            pedantic,
        )?;
        zero_negative(
            &mut self.max_request_expires,
            "max_expires must not be negative",
            pedantic,
        )?;
        zero_negative(
            &mut self.max_request_max_bytes,
            "max_bytes must not be negative",
            pedantic,
        )?;
        zero_negative(
            &mut self.heartbeat,
            "idle_heartbeat must not be negative",
            pedantic,
        )?;
        zero_negative(
            &mut self.inactive_threshold,
            "inactive_threshold must not be negative",
            pedantic,
        )?;
        zero_negative(
            &mut self.pinned_ttl,
            "priority_timeout must not be negative",
            pedantic,
        )?;
        if self.deliver_subject.is_empty() && self.max_waiting == 0 {
            self.max_waiting = MAX_WAITING_DEFAULT;
        }
        if self.priority() == Priority::PinnedClient && self.pinned_ttl == 0 {
            self.pinned_ttl = PINNED_TTL_DEFAULT;
        }
        if self.ack_wait == 0 && matches!(self.ack_policy, AckPolicy::Explicit | AckPolicy::All) {
            self.ack_wait = ACK_WAIT_DEFAULT;
        }
        if let Some(first) = self.backoff.first() {
            if pedantic && self.ack_wait != *first {
                return pedantic_err("first backoff value has to equal batch AckWait");
            }
            self.ack_wait = *first;
        }
        let limits = &stream.consumer_limits;
        if self.max_ack_pending == 0 {
            if pedantic && limits.max_ack_pending > 0 {
                return pedantic_err(
                    "max_ack_pending must be set if it's configured in stream limits",
                );
            }
            self.max_ack_pending = limits.max_ack_pending;
        }
        if self.inactive_threshold == 0 {
            if pedantic && limits.inactive_threshold > 0 {
                return pedantic_err(
                    "inactive_threshold must be set if it's configured in stream limits",
                );
            }
            self.inactive_threshold = limits.inactive_threshold;
        }
        if self.max_ack_pending == 0 && self.ack_policy != AckPolicy::None {
            let mut pending = MAX_ACK_PENDING_DEFAULT;
            if acc_max_ack_pending > 0 && acc_max_ack_pending < pending {
                pending = acc_max_ack_pending;
            }
            self.max_ack_pending = pending;
        }
        Ok(())
    }

    fn check(&self, stream: &StreamConfig, acc_max_ack_pending: i64) -> Result<(), ApiError> {
        let invalid = |why: &str| Err(ApiError::stream_invalid_config(why));
        if !self.name.is_empty() && !is_valid_asset_name(&self.name) {
            return invalid("consumer name can not contain '.', '*', '>', '\\', '/'");
        }
        if !self.durable.is_empty() && !is_valid_asset_name(&self.durable) {
            return invalid("consumer durable name can not contain '.', '*', '>', '\\', '/'");
        }
        let stream_replicas = stream.replicas.max(1);
        if self.replicas > 0 && self.replicas > stream_replicas {
            return Err(err(
                400,
                10126,
                "consumer config replica count exceeds parent stream",
            ));
        }
        if self.replicas < 0 {
            return Err(ApiError::replicas_negative());
        }
        if self.backoff.iter().any(|b| *b < 0) {
            return Err(err(400, 10184, "consumer backoff needs to be positive"));
        }
        if self.ack_wait < 0 {
            return Err(err(400, 10183, "consumer ack wait needs to be positive"));
        }
        if self.ack_policy == AckPolicy::FlowControl && self.deliver_subject.is_empty() {
            return Err(err(
                400,
                10190,
                "flow control ack policy requires a push based consumer",
            ));
        }
        if !self.backoff.is_empty()
            && self.max_deliver != -1
            && self.backoff.len() as i64 > self.max_deliver
        {
            return Err(err(
                400,
                10116,
                "max deliver is required to be > length of backoff values",
            ));
        }
        if self.description.len() > MAX_DESCRIPTION_LEN {
            return Err(err(
                400,
                10107,
                format!(
                    "consumer description is too long, maximum allowed is {MAX_DESCRIPTION_LEN}"
                ),
            ));
        }
        if !self.deliver_subject.is_empty() {
            if self.deliver_subject.contains(['*', '>']) {
                return Err(err(400, 10079, "consumer deliver subject has wildcards"));
            }
            let valid = self
                .deliver_subject
                .split('.')
                .all(|t| !t.is_empty() && !t.contains(char::is_whitespace));
            if !valid {
                return Err(err(400, 10112, "invalid push consumer deliver subject"));
            }
            // Deliveries to a subject the stream stores would be stored again.
            let cycle = stream
                .subjects
                .iter()
                .any(|s| crate::jetstream::store::subject_matches(s, &self.deliver_subject));
            if cycle {
                return Err(err(400, 10081, "consumer deliver subject forms a cycle"));
            }
            if self.max_waiting != 0 {
                return Err(err(
                    400,
                    10080,
                    "consumer in push mode can not set max waiting",
                ));
            }
            if self.max_ack_pending > 0 && self.ack_policy == AckPolicy::None {
                return Err(err(
                    400,
                    10082,
                    "consumer requires ack policy for max ack pending",
                ));
            }
            if self.heartbeat > 0 && self.heartbeat < 100_000_000 {
                return Err(err(
                    400,
                    10083,
                    "consumer idle heartbeat needs to be >= 100ms",
                ));
            }
        } else {
            if self.ack_policy == AckPolicy::None && stream.retention == Retention::WorkQueue {
                return Err(err(
                    400,
                    10084,
                    "consumer in pull mode requires explicit ack policy on workqueue stream",
                ));
            }
            if self.rate_limit > 0 {
                return Err(err(
                    400,
                    10086,
                    "consumer in pull mode can not have rate limit set",
                ));
            }
            if self.max_waiting < 0 {
                return Err(err(400, 10087, "consumer max waiting needs to be positive"));
            }
            if self.heartbeat > 0 {
                return Err(err(
                    400,
                    10088,
                    "consumer idle heartbeat requires a push based consumer",
                ));
            }
            if self.flow_control {
                return Err(err(
                    400,
                    10089,
                    "consumer flow control requires a push based consumer",
                ));
            }
            if self.max_request_batch < 0 {
                return Err(err(
                    400,
                    10114,
                    "consumer max request batch needs to be > 0",
                ));
            }
            if self.max_request_expires != 0 && self.max_request_expires < 1_000_000 {
                return Err(err(
                    400,
                    10115,
                    "consumer max request expires needs to be >= 1ms",
                ));
            }
        }
        if acc_max_ack_pending > 0 && self.max_ack_pending > acc_max_ack_pending {
            return Err(max_ack_pending_excess(acc_max_ack_pending));
        }
        let limits = &stream.consumer_limits;
        if limits.max_ack_pending > 0 && self.max_ack_pending > limits.max_ack_pending {
            return Err(max_ack_pending_excess(limits.max_ack_pending));
        }
        if limits.inactive_threshold > 0 && self.inactive_threshold > limits.inactive_threshold {
            return Err(err(
                400,
                10153,
                format!(
                    "consumer inactive threshold exceeds system limit of {}",
                    go_duration(limits.inactive_threshold)
                ),
            ));
        }
        if self.direct {
            if self.deliver_subject.is_empty() {
                return Err(err(
                    400,
                    10090,
                    "consumer direct requires a push based consumer",
                ));
            }
            if self.is_durable() {
                return Err(err(
                    400,
                    10091,
                    "consumer direct requires an ephemeral consumer",
                ));
            }
        }
        if !self.filter_subject.is_empty() && !self.filter_subjects.is_empty() {
            return Err(err(
                400,
                10136,
                "consumer cannot have both FilterSubject and FilterSubjects specified",
            ));
        }
        if !self.filter_subject.is_empty() && !valid_subject(&self.filter_subject) {
            return invalid("invalid subject");
        }
        if self.filter_subjects.iter().any(String::is_empty) {
            return Err(err(
                400,
                10139,
                "consumer filter in FilterSubjects cannot be empty",
            ));
        }
        let filters = self.filters();
        for (i, a) in filters.iter().enumerate() {
            if !valid_subject(a) {
                return invalid("invalid subject");
            }
            for (j, b) in filters.iter().enumerate() {
                if i != j && subject_is_subset(a, b) {
                    return Err(err(400, 10138, "consumer subject filters cannot overlap"));
                }
            }
        }
        let bad_start = |dp: &str, start: &str| {
            Err(ApiError {
                code: 400,
                err_code: 10094,
                description: format!(
                    "consumer delivery policy is deliver {dp}, but optional start {start} is also set"
                ),
            })
        };
        let not_set = |dp: &str, what: &str| {
            Err(ApiError {
                code: 400,
                err_code: 10094,
                description: format!(
                    "consumer delivery policy is deliver {dp}, but optional {what} is not set"
                ),
            })
        };
        let has_time = self.opt_start_time.is_some();
        match self.deliver_policy {
            DeliverPolicy::All | DeliverPolicy::Last | DeliverPolicy::New => {
                let dp = match self.deliver_policy {
                    DeliverPolicy::All => "all",
                    DeliverPolicy::Last => "last",
                    _ => "new",
                };
                if self.opt_start_seq > 0 {
                    return bad_start(dp, "sequence");
                }
                if has_time {
                    return bad_start(dp, "time");
                }
            }
            DeliverPolicy::LastPerSubject => {
                if self.opt_start_seq > 0 {
                    return bad_start("last per subject", "sequence");
                }
                if has_time {
                    return bad_start("last per subject", "time");
                }
                if filters.is_empty() {
                    return not_set("last per subject", "filter subject");
                }
            }
            DeliverPolicy::ByStartSequence => {
                if self.opt_start_seq == 0 {
                    return not_set("by start sequence", "start sequence");
                }
                if has_time {
                    return bad_start("by start sequence", "time");
                }
            }
            DeliverPolicy::ByStartTime => {
                if !has_time {
                    return not_set("by start time", "start time");
                }
                if self.opt_start_seq != 0 {
                    return bad_start("by start time", "start sequence");
                }
            }
        }
        if !self.sample_frequency.is_empty() {
            let s = self.sample_frequency.trim_end_matches('%');
            if s.parse::<i64>().map(|v| v < 0).unwrap_or(true) {
                return Err(err(
                    400,
                    10095,
                    format!(
                        "failed to parse consumer sampling configuration: strconv.Atoi: parsing {s:?}: invalid syntax"
                    ),
                ));
            }
        }
        if self.flow_control && self.heartbeat == 0 {
            return Err(err(
                400,
                10108,
                "consumer with flow control also needs heartbeats",
            ));
        }
        if !self.durable.is_empty() && !self.name.is_empty() && self.name != self.durable {
            return Err(err(
                400,
                10132,
                "Consumer Durable and Name have to be equal if both are provided",
            ));
        }
        let metadata_len: usize = self.metadata.iter().map(|(k, v)| k.len() + v.len()).sum();
        if metadata_len > MAX_METADATA_LEN {
            return Err(err(
                400,
                10135,
                "consumer metadata exceeds maximum size of 128KB",
            ));
        }
        let policy = self.priority_policy.as_deref().unwrap_or("none");
        if policy != "none" {
            if !self.deliver_subject.is_empty() {
                return Err(err(
                    400,
                    10178,
                    "priority groups can not be used with push consumers",
                ));
            }
            if self.priority_groups.is_empty() {
                return Err(err(
                    400,
                    10159,
                    "Setting PriorityPolicy requires at least one PriorityGroup to be set",
                ));
            }
            if self.priority_groups.iter().any(String::is_empty) {
                return Err(err(400, 10161, "Group name cannot be an empty string"));
            }
            if !self.priority_groups.iter().all(|g| is_valid_group_name(g)) {
                return Err(err(
                    400,
                    10162,
                    "Valid priority group name must match A-Z, a-z, 0-9, -_/=)+ and may not exceed 16 characters",
                ));
            }
        } else {
            if !self.priority_groups.is_empty() {
                return Err(err(
                    400,
                    10196,
                    "consumer can not have priority groups when policy is none",
                ));
            }
            if self.pinned_ttl > 0 {
                return Err(err(
                    400,
                    10197,
                    "consumer can not have pinned TTL when policy is none",
                ));
            }
        }
        if self.durable.len() > MAX_NAME_LEN {
            return Err(err(
                400,
                10102,
                format!("consumer name is too long, maximum allowed is {MAX_NAME_LEN}"),
            ));
        }
        Ok(())
    }

    /// What switchboard does not serve yet is refused by name rather than half-served.
    fn check_served(&self) -> Result<(), ApiError> {
        let unserved = [(self.direct || self.sourcing, "direct consumers")];
        match unserved.iter().find(|(used, _)| *used) {
            Some((_, what)) => Err(ApiError::stream_invalid_config(format!(
                "{what} is not supported by switchboard yet"
            ))),
            None => Ok(()),
        }
    }
}

fn err(code: u16, err_code: u16, description: impl Into<String>) -> ApiError {
    ApiError {
        code,
        err_code,
        description: description.into(),
    }
}

fn max_ack_pending_excess(limit: i64) -> ApiError {
    err(
        400,
        10121,
        format!("consumer max ack pending exceeds system limit of {limit}"),
    )
}

/// nats-server's `isValidName` plus no path separators (`isValidAssetName`).
pub fn is_valid_asset_name(name: &str) -> bool {
    is_valid_name(name) && !name.contains(['\\', '/'])
}

fn valid_subject(s: &str) -> bool {
    crate::proto::subject::is_valid_subject(s.as_bytes())
}

/// Go's `time.Duration.String()` for the values error texts show (`1s`, `500ms`, `1m30s`).
pub fn go_duration(nanos: i64) -> String {
    if nanos == 0 {
        return "0s".to_string();
    }
    let neg = nanos < 0;
    let n = nanos.unsigned_abs();
    let sign = if neg { "-" } else { "" };
    if n < 1_000 {
        return format!("{sign}{n}ns");
    }
    let frac = |v: u64, unit: u64| {
        let whole = v / unit;
        let rest = v % unit;
        if rest == 0 {
            whole.to_string()
        } else {
            let digits = format!("{:0width$}", rest, width = unit.ilog10() as usize);
            format!("{whole}.{}", digits.trim_end_matches('0'))
        }
    };
    if n < 1_000_000 {
        return format!("{sign}{}µs", frac(n, 1_000));
    }
    if n < 1_000_000_000 {
        return format!("{sign}{}ms", frac(n, 1_000_000));
    }
    let secs_total = n / 1_000_000_000;
    let sub = n % 1_000_000_000;
    let h = secs_total / 3600;
    let m = (secs_total % 3600) / 60;
    let s = frac((secs_total % 60) * 1_000_000_000 + sub, 1_000_000_000);
    let mut out = sign.to_string();
    if h > 0 {
        out.push_str(&format!("{h}h"));
    }
    if h > 0 || m > 0 {
        out.push_str(&format!("{m}m"));
    }
    out.push_str(&format!("{s}s"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream() -> StreamConfig {
        StreamConfig {
            name: "S".into(),
            ..Default::default()
        }
    }

    #[test]
    fn pull_defaults_are_nats_servers() {
        let cfg = ConsumerConfig {
            durable: "D".into(),
            ack_policy: AckPolicy::Explicit,
            ..Default::default()
        }
        .normalized(&stream(), 0, false)
        .unwrap();
        assert_eq!(cfg.max_deliver, -1);
        assert_eq!(cfg.ack_wait, ACK_WAIT_DEFAULT);
        assert_eq!(cfg.max_waiting, 512);
        assert_eq!(cfg.max_ack_pending, 1000);
        let json = serde_json::to_string(&cfg).unwrap();
        assert_eq!(
            json,
            r#"{"durable_name":"D","deliver_policy":"all","ack_policy":"explicit","ack_wait":30000000000,"max_deliver":-1,"replay_policy":"instant","max_waiting":512,"max_ack_pending":1000,"num_replicas":0}"#
        );
    }

    #[test]
    fn bad_start_positions_are_refused_with_nats_servers_text() {
        let e = ConsumerConfig {
            deliver_policy: DeliverPolicy::ByStartSequence,
            ..Default::default()
        }
        .normalized(&stream(), 0, false)
        .unwrap_err();
        assert_eq!(e.err_code, 10094);
        assert_eq!(
            e.description,
            "consumer delivery policy is deliver by start sequence, but optional start sequence is not set"
        );
        let e = ConsumerConfig {
            filter_subjects: vec!["a.>".into(), "a.b".into()],
            ..Default::default()
        }
        .normalized(&stream(), 0, false)
        .unwrap_err();
        assert_eq!(e.err_code, 10138);
    }

    #[test]
    fn durations_print_as_go_prints_them() {
        assert_eq!(go_duration(1_000_000_000), "1s");
        assert_eq!(go_duration(500_000_000), "500ms");
        assert_eq!(go_duration(90_000_000_000), "1m30s");
        assert_eq!(go_duration(1_500_000_000), "1.5s");
        assert_eq!(go_duration(3_600_000_000_000), "1h0m0s");
    }
}
