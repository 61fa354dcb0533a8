//! Why a connection was closed, with nats-server's names (as `/connz?state=closed` and the
//! inspector show them).

use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CloseReason {
    ClientClosed,
    AuthenticationTimeout,
    AuthenticationFailure,
    TlsHandshakeFailure,
    SlowConsumerPendingBytes,
    SlowConsumerWriteDeadline,
    WriteError,
    ReadError,
    ParseError,
    StaleConnection,
    ProtocolViolation,
    BadClientProtocolVersion,
    MaxConnectionsExceeded,
    MaxPayloadExceeded,
    MaxControlLineExceeded,
    ServerShutdown,
    MessageHeaderViolation,
    NoRespondersRequiresHeaders,
    Kicked,
    /// A leaf link reached a port of another kind, or a client reached the leaf port.
    WrongPort,
    /// A leaf link replaced by a newer one from the same server and account.
    DuplicateRemoteLeafnodeConnection,
    /// A leaf link whose account does not exist.
    MissingAccount,
    /// A user JWT expired while connected.
    AuthenticationExpired,
    /// A user JWT was revoked by an account JWT update.
    Revocation,
    /// The account's JWT allows fewer connections.
    MaxAccountConnectionsExceeded,
}

impl CloseReason {
    /// The text nats-server uses for this reason.
    pub fn as_str(self) -> &'static str {
        match self {
            CloseReason::ClientClosed => "Client Closed",
            CloseReason::AuthenticationTimeout => "Authentication Timeout",
            CloseReason::AuthenticationFailure => "Authentication Failure",
            CloseReason::TlsHandshakeFailure => "TLS Handshake Failure",
            CloseReason::SlowConsumerPendingBytes => "Slow Consumer (Pending Bytes)",
            CloseReason::SlowConsumerWriteDeadline => "Slow Consumer (Write Deadline)",
            CloseReason::WriteError => "Write Error",
            CloseReason::ReadError => "Read Error",
            CloseReason::ParseError => "Parse Error",
            CloseReason::StaleConnection => "Stale Connection",
            CloseReason::ProtocolViolation => "Protocol Violation",
            CloseReason::BadClientProtocolVersion => "Bad Client Protocol Version",
            CloseReason::MaxConnectionsExceeded => "Maximum Connections Exceeded",
            CloseReason::MaxPayloadExceeded => "Maximum Message Payload Exceeded",
            CloseReason::MaxControlLineExceeded => "Maximum Control Line Exceeded",
            CloseReason::ServerShutdown => "Server Shutdown",
            CloseReason::MessageHeaderViolation => "Message Header Violation",
            CloseReason::NoRespondersRequiresHeaders => "No Responders Requires Headers",
            CloseReason::Kicked => "Kicked",
            CloseReason::WrongPort => "Incorrect Port",
            CloseReason::DuplicateRemoteLeafnodeConnection => {
                "Duplicate Remote LeafNode Connection"
            }
            CloseReason::MissingAccount => "Missing Account",
            CloseReason::AuthenticationExpired => "Authentication Expired",
            CloseReason::Revocation => "Credentials Revoked",
            CloseReason::MaxAccountConnectionsExceeded => "Maximum Account Connections Exceeded",
        }
    }

    /// Whether this close counts as a slow consumer.
    pub fn is_slow_consumer(self) -> bool {
        matches!(
            self,
            CloseReason::SlowConsumerPendingBytes | CloseReason::SlowConsumerWriteDeadline
        )
    }
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
