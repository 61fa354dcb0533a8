//! INFO and CONNECT between two servers over a leaf link, with nats-server's field names
//! and order (its `Info` and `leafConnectInfo`).

use serde::{Deserialize, Serialize};

/// What nats-server puts in `compress_mode` when a side has no S2 compression: the other
/// side then never switches the link to compressed frames.
pub const COMPRESSION_NOT_SUPPORTED: &str = "not supported";

/// An allow and a deny list, as the hub tells a leaf what it may import and export.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubjectLists {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deny: Vec<String>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// A hub's INFO on a leaf link. The first carries the nonce to sign; with
/// `info_on_connect`, a second one answers CONNECT (`connect_info`) with the account the
/// link is bound to and the permissions the leaf must keep to.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LeafInfo {
    #[serde(default)]
    pub server_id: String,
    #[serde(default)]
    pub server_name: String,
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub proto: i64,
    #[serde(default)]
    pub go: String,
    #[serde(default)]
    pub host: String,
    #[serde(default)]
    pub port: u16,
    #[serde(default)]
    pub headers: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub auth_required: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub tls_required: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub tls_verify: bool,
    #[serde(default)]
    pub max_payload: i64,
    #[serde(default, skip_serializing_if = "is_false")]
    pub jetstream: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub ip: String,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub client_id: u64,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub nonce: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cluster: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub domain: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub ldm: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub compression: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub connect_info: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub remote_account: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub acc_is_sys: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub import: Option<SubjectLists>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub export: Option<SubjectLists>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub info_on_connect: bool,
    /// Where the leaf may reconnect. nats-server's leaf listener always sends it; a first
    /// INFO without it (or without `client_id`) comes from another kind of port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leafnode_urls: Option<Vec<String>>,
    /// switchboard's own version, as in the client INFO.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub switchboard_version: String,
}

impl LeafInfo {
    /// The whole `INFO {...} \r\n` line.
    pub fn to_line(&self) -> Vec<u8> {
        let mut line = b"INFO ".to_vec();
        // Plain strings, integers, booleans and lists of strings always serialize.
        line.extend(serde_json::to_vec(self).unwrap_or_else(|_| b"{}".to_vec()));
        line.extend_from_slice(b" \r\n");
        line
    }

    /// Parses an INFO's JSON; `Err` for what Go's decoder would refuse.
    pub fn parse(json: &[u8]) -> Result<Self, serde_json::Error> {
        if json.trim_ascii_start().first() != Some(&b'{') {
            return Err(serde::de::Error::custom("INFO must be a JSON object"));
        }
        serde_json::from_slice(json)
    }
}

/// A leaf's CONNECT to its hub. Clients put `lang` in theirs and leaf nodes never do,
/// which is how a hub tells a client that came to the wrong port.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LeafConnect {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub version: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub nkey: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub jwt: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub sig: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub user: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub pass: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub auth_token: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub server_id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub domain: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub is_hub: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cluster: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub headers: bool,
    #[serde(default, skip_serializing_if = "is_false")]
    pub jetstream: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deny_pub: Vec<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub isolate: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub compress_mode: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub gateway: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub remote_account: String,
    #[serde(default, skip_serializing_if = "is_zero_i64")]
    pub protocol: i64,
    /// Never sent by a leaf; read to recognise a client.
    #[serde(default, skip_serializing)]
    pub lang: Option<String>,
}

fn is_zero_i64(n: &i64) -> bool {
    *n == 0
}

impl LeafConnect {
    /// The whole `CONNECT {...}\r\n` line.
    pub fn to_line(&self) -> Vec<u8> {
        let mut line = b"CONNECT ".to_vec();
        line.extend(serde_json::to_vec(self).unwrap_or_else(|_| b"{}".to_vec()));
        line.extend_from_slice(b"\r\n");
        line
    }

    /// Parses CONNECT's JSON; any error means nats-server would close silently.
    pub fn parse(json: &[u8]) -> Result<Self, serde_json::Error> {
        if json.trim_ascii_start().first() != Some(&b'{') {
            return Err(serde::de::Error::custom("CONNECT must be a JSON object"));
        }
        serde_json::from_slice(json)
    }

    /// Whether a client (not a leaf node) sent this CONNECT.
    pub fn from_client(&self) -> bool {
        self.lang.as_deref().is_some_and(|l| !l.is_empty())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn connect_has_nats_servers_field_order_and_no_lang() {
        let c = LeafConnect {
            version: "2.15.1".into(),
            user: "u".into(),
            pass: "p".into(),
            server_id: "N1".into(),
            name: "leafy".into(),
            headers: true,
            compress_mode: COMPRESSION_NOT_SUPPORTED.into(),
            remote_account: "$G".into(),
            protocol: 1,
            lang: Some("rust".into()),
            ..Default::default()
        };
        assert_eq!(
            String::from_utf8(c.to_line()).unwrap(),
            "CONNECT {\"version\":\"2.15.1\",\"user\":\"u\",\"pass\":\"p\",\"server_id\":\"N1\",\
             \"name\":\"leafy\",\"headers\":true,\"compress_mode\":\"not supported\",\
             \"remote_account\":\"$G\",\"protocol\":1}\r\n"
        );
    }

    #[test]
    fn a_client_connect_is_recognised() {
        let c = LeafConnect::parse(br#"{"verbose":false,"lang":"go","version":"1.2"}"#).unwrap();
        assert!(c.from_client());
        let c = LeafConnect::parse(br#"{"version":"2.15.1","name":"n"}"#).unwrap();
        assert!(!c.from_client());
        assert!(LeafConnect::parse(b"[]").is_err());
        assert!(LeafConnect::parse(b"{bad").is_err());
    }

    #[test]
    fn nats_server_info_parses_and_wrong_ports_show() {
        let hub = br#"{"server_id":"NA","server_name":"NA","version":"2.15.1","proto":3,"git_commit":"b2fd3ef","go":"go1.27.2","host":"0.0.0.0","port":7422,"headers":true,"auth_required":true,"max_payload":1048576,"ip":"1.2.3.4:7422","client_id":5,"nonce":"LeE41fB1QA1cgmY","compression":"s2_auto","api_lvl":5,"info_on_connect":true,"leafnode_urls":["1.2.3.4:7422"]}"#;
        let info = LeafInfo::parse(hub).unwrap();
        assert_eq!(info.client_id, 5);
        assert_eq!(info.nonce, "LeE41fB1QA1cgmY");
        assert!(info.info_on_connect && info.leafnode_urls.is_some());
        let client_port = br#"{"server_id":"NA","version":"2.15.1","proto":1,"headers":true,"max_payload":1048576,"client_id":7}"#;
        assert!(LeafInfo::parse(client_port)
            .unwrap()
            .leafnode_urls
            .is_none());
        let permissions = br#"{"connect_info":true,"remote_account":"A","import":{"allow":["a.>"]},"export":{"deny":["b"]}}"#;
        let info = LeafInfo::parse(permissions).unwrap();
        assert_eq!(info.import.unwrap().allow, vec!["a.>"]);
        assert_eq!(info.export.unwrap().deny, vec!["b"]);
    }
}
