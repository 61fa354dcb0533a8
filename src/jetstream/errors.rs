//! The `$JS.API` error object: `{"code":..,"err_code":..,"description":..}` with
//! nats-server's HTTP-like code, its JetStream error code and its text, so clients that
//! match on `err_code` (async-nats, nats.go, nats.py do) behave the same against both.

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiError {
    pub code: u16,
    pub err_code: u16,
    pub description: String,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (err_code {})", self.description, self.err_code)
    }
}

impl std::error::Error for ApiError {}

fn err(code: u16, err_code: u16, description: impl Into<String>) -> ApiError {
    ApiError {
        code,
        err_code,
        description: description.into(),
    }
}

impl ApiError {
    pub fn bad_request() -> Self {
        err(400, 10003, "bad request")
    }
    pub fn invalid_json(why: impl std::fmt::Display) -> Self {
        err(400, 10025, format!("invalid JSON: {why}"))
    }
    pub fn not_empty_request() -> Self {
        err(400, 10038, "expected an empty request payload")
    }
    pub fn not_enabled() -> Self {
        err(503, 10076, "JetStream not enabled")
    }
    pub fn not_enabled_for_account() -> Self {
        err(503, 10039, "JetStream not enabled for account")
    }
    pub fn insufficient_resources() -> Self {
        err(503, 10023, "insufficient resources")
    }
    pub fn account_resources_exceeded() -> Self {
        err(400, 10002, "resource limits exceeded for account")
    }
    pub fn storage_resources_exceeded() -> Self {
        err(500, 10047, "insufficient storage resources available")
    }
    pub fn memory_resources_exceeded() -> Self {
        err(500, 10028, "insufficient memory resources available")
    }
    pub fn maximum_streams() -> Self {
        err(400, 10027, "maximum number of streams reached")
    }
    pub fn stream_not_found() -> Self {
        err(404, 10059, "stream not found")
    }
    pub fn stream_name_exists() -> Self {
        err(
            400,
            10058,
            "stream name already in use with a different configuration",
        )
    }
    pub fn stream_mismatch() -> Self {
        err(400, 10056, "stream name in subject does not match request")
    }
    pub fn stream_subject_overlap() -> Self {
        err(400, 10065, "subjects overlap with an existing stream")
    }
    pub fn replicas_not_supported() -> Self {
        err(
            500,
            10074,
            "replicas > 1 not supported in non-clustered mode",
        )
    }
    pub fn replicas_negative() -> Self {
        err(400, 10133, "replicas count cannot be negative")
    }
    pub fn stream_invalid_config(why: impl std::fmt::Display) -> Self {
        err(500, 10052, why.to_string())
    }
    pub fn stream_update(why: impl std::fmt::Display) -> Self {
        err(500, 10069, why.to_string())
    }
    pub fn stream_create(why: impl std::fmt::Display) -> Self {
        err(500, 10049, why.to_string())
    }
    pub fn stream_delete(why: impl std::fmt::Display) -> Self {
        err(500, 10050, why.to_string())
    }
    pub fn stream_general(why: impl std::fmt::Display) -> Self {
        err(500, 10051, why.to_string())
    }
    pub fn stream_purge_failed(why: impl std::fmt::Display) -> Self {
        err(500, 10110, why.to_string())
    }
    pub fn stream_msg_delete_failed(why: impl std::fmt::Display) -> Self {
        err(500, 10057, why.to_string())
    }
    pub fn stream_store_failed(why: impl std::fmt::Display) -> Self {
        err(503, 10077, why.to_string())
    }
    pub fn stream_not_match() -> Self {
        err(400, 10060, "expected stream does not match")
    }
    pub fn wrong_last_sequence(seq: u64) -> Self {
        err(400, 10071, format!("wrong last sequence: {seq}"))
    }
    pub fn wrong_last_msg_id(id: &str) -> Self {
        err(400, 10070, format!("wrong last msg ID: {id}"))
    }
    pub fn expected_last_seq_per_subject_invalid() -> Self {
        err(
            400,
            10193,
            "missing sequence for expected last sequence per subject",
        )
    }
    pub fn message_exceeds_maximum() -> Self {
        err(400, 10054, "message size exceeds maximum allowed")
    }
    pub fn header_exceeds_maximum() -> Self {
        err(400, 10097, "header size exceeds maximum allowed of 64k")
    }
    pub fn stream_sealed() -> Self {
        err(400, 10109, "invalid operation on sealed stream")
    }
    pub fn rollup_failed(why: impl std::fmt::Display) -> Self {
        err(500, 10111, why.to_string())
    }
    pub fn message_ttl_invalid() -> Self {
        err(400, 10165, "invalid per-message TTL")
    }
    pub fn message_ttl_disabled() -> Self {
        err(400, 10166, "per-message TTL is disabled")
    }
    pub fn no_message_found() -> Self {
        err(404, 10037, "no message found")
    }
    pub fn sequence_not_found(seq: u64) -> Self {
        err(400, 10043, format!("sequence {seq} not found"))
    }
    pub fn stream_replicas_not_updatable() -> Self {
        err(400, 10061, "Replicas configuration can not be updated")
    }
    pub fn mirror_not_updatable() -> Self {
        err(400, 10055, "stream mirror configuration can not be updated")
    }
    pub fn max_bytes_required() -> Self {
        err(
            400,
            10113,
            "account requires a stream config to have max bytes set",
        )
    }
    pub fn max_stream_bytes_exceeded() -> Self {
        err(
            400,
            10122,
            "stream max bytes exceeds account limit max stream bytes",
        )
    }
    pub fn name_contains_path_separators() -> Self {
        err(400, 10128, "Stream name can not contain path separators")
    }
    pub fn pedantic(why: impl std::fmt::Display) -> Self {
        err(400, 10157, format!("pedantic mode: {why}"))
    }
    pub fn required_api_level() -> Self {
        err(412, 10185, "JetStream minimum api level required")
    }
    pub fn message_source_header_not_allowed() -> Self {
        err(400, 10227, "message stream source header is not allowed")
    }
    pub fn message_incr_disabled() -> Self {
        err(400, 10168, "message counters is disabled")
    }
    pub fn message_schedules_disabled() -> Self {
        err(400, 10188, "message schedules is disabled")
    }
    pub fn transform_invalid_source(why: impl std::fmt::Display) -> Self {
        err(400, 10155, format!("stream transform source: {why}"))
    }
    pub fn transform_invalid_destination(why: impl std::fmt::Display) -> Self {
        err(400, 10156, format!("stream transform: {why}"))
    }
    pub fn mirror_with_first_seq() -> Self {
        err(
            400,
            10143,
            "stream mirrors can not have first sequence configured",
        )
    }
    pub fn mirror_with_subjects() -> Self {
        err(400, 10034, "stream mirrors can not contain subjects")
    }
    pub fn mirror_with_sources() -> Self {
        err(
            400,
            10031,
            "stream mirrors can not also contain other sources",
        )
    }
    /// `stream mirrors can not <what>` (counters, atomic or batch publishing, schedules).
    pub fn mirror_with(err_code: u16, what: &str) -> Self {
        err(400, err_code, format!("stream mirrors can not {what}"))
    }
    pub fn mirror_multiple_filters() -> Self {
        err(
            400,
            10150,
            "mirror with multiple subject transforms cannot also have a single subject filter",
        )
    }
    pub fn mirror_invalid_subject_filter(why: impl std::fmt::Display) -> Self {
        err(400, 10151, format!("mirror transform source: {why}"))
    }
    pub fn mirror_invalid_transform_destination(why: impl std::fmt::Display) -> Self {
        err(400, 10154, format!("mirror transform: {why}"))
    }
    pub fn mirror_overlapping_subject_filters() -> Self {
        err(400, 10152, "mirror subject filters can not overlap")
    }
    pub fn mirror_invalid_stream_name() -> Self {
        err(400, 10142, "mirrored stream name is invalid")
    }
    pub fn mirror_max_message_size_too_big() -> Self {
        err(
            400,
            10030,
            "stream mirror must have max message size >= source",
        )
    }
    pub fn source_max_message_size_too_big() -> Self {
        err(
            400,
            10046,
            "stream source must have max message size >= target",
        )
    }
    pub fn source_with_msg_schedules() -> Self {
        err(400, 10187, "stream source can not also schedule messages")
    }
    pub fn source_invalid_stream_name() -> Self {
        err(400, 10141, "sourced stream name is invalid")
    }
    pub fn source_duplicate_detected() -> Self {
        err(400, 10140, "duplicate source configuration detected")
    }
    pub fn source_multiple_filters() -> Self {
        err(
            400,
            10144,
            "source with multiple subject transforms cannot also have a single subject filter",
        )
    }
    pub fn source_invalid_subject_filter(why: impl std::fmt::Display) -> Self {
        err(400, 10145, format!("source transform source: {why}"))
    }
    pub fn source_invalid_transform_destination(why: impl std::fmt::Display) -> Self {
        err(400, 10146, format!("source transform: {why}"))
    }
    pub fn source_overlapping_subject_filters() -> Self {
        err(400, 10147, "source filters can not overlap")
    }
}
