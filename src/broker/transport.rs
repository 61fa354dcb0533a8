//! How a client is connected: TCP, TLS, WebSocket or WebSocket over TLS.

/// How a client is connected, as the inspector and `/connz` tell them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Transport {
    #[default]
    Tcp,
    Tls,
    /// WebSocket (`ws://`).
    Ws,
    /// WebSocket over TLS (`wss://`).
    Wss,
}

impl Transport {
    /// `tcp`, `tls`, `ws`, `wss`.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Tcp => "tcp",
            Transport::Tls => "tls",
            Transport::Ws => "ws",
            Transport::Wss => "wss",
        }
    }

    /// nats-server's client type in `/connz`: `websocket` or `nats`.
    pub fn client_type(self) -> &'static str {
        match self {
            Transport::Ws | Transport::Wss => "websocket",
            Transport::Tcp | Transport::Tls => "nats",
        }
    }

    pub(crate) fn to_u8(self) -> u8 {
        self as u8
    }

    pub(crate) fn from_u8(v: u8) -> Self {
        match v {
            1 => Transport::Tls,
            2 => Transport::Ws,
            3 => Transport::Wss,
            _ => Transport::Tcp,
        }
    }
}
