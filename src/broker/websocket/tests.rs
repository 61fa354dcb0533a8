//! The listener end to end on loopback: upgrade, frames both ways, refusals.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::frame;
use crate::broker::BrokerHandle;
use crate::options::{Options, WebsocketOptions};

async fn start(ws: WebsocketOptions) -> BrokerHandle {
    BrokerHandle::start(Options {
        port: 0,
        websocket: Some(WebsocketOptions {
            host: "127.0.0.1".into(),
            port: 0,
            no_tls: true,
            ..ws
        }),
        ..Options::default()
    })
    .await
    .unwrap()
}

const UPGRADE: &str = "GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n\
    Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
    Sec-WebSocket-Version: 13\r\n\r\n";

fn masked(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let key = [1, 2, 3, 4];
    let mut out = vec![0x80 | opcode];
    if payload.len() < 126 {
        out.push(0x80 | payload.len() as u8);
    } else {
        out.push(0x80 | 126);
        out.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    }
    out.extend_from_slice(&key);
    let mut p = payload.to_vec();
    frame::apply_mask(key, &mut p);
    out.extend_from_slice(&p);
    out
}

/// Reads one server frame: (first byte, payload).
async fn read_frame(s: &mut TcpStream) -> (u8, Vec<u8>) {
    let mut h = [0u8; 2];
    s.read_exact(&mut h).await.unwrap();
    let len = match h[1] & 0x7f {
        126 => {
            let mut b = [0u8; 2];
            s.read_exact(&mut b).await.unwrap();
            u16::from_be_bytes(b) as usize
        }
        127 => {
            let mut b = [0u8; 8];
            s.read_exact(&mut b).await.unwrap();
            u64::from_be_bytes(b) as usize
        }
        n => n as usize,
    };
    let mut p = vec![0u8; len];
    s.read_exact(&mut p).await.unwrap();
    (h[0], p)
}

async fn upgraded(broker: &BrokerHandle) -> TcpStream {
    let port = broker.server().websocket().unwrap().port;
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    s.write_all(UPGRADE.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut b = [0u8; 1];
        s.read_exact(&mut b).await.unwrap();
        head.push(b[0]);
    }
    let head = String::from_utf8(head).unwrap();
    assert!(
        head.starts_with("HTTP/1.1 101 Switching Protocols\r\n"),
        "{head}"
    );
    assert!(head.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
    s
}

#[tokio::test]
async fn info_then_ping_pong_over_frames() {
    let broker = start(WebsocketOptions::default()).await;
    let mut s = upgraded(&broker).await;
    let (b0, info) = read_frame(&mut s).await;
    assert_eq!(b0, 0x82);
    assert!(
        info.starts_with(b"INFO {"),
        "{}",
        String::from_utf8_lossy(&info)
    );
    s.write_all(&masked(2, b"CONNECT {\"verbose\":false}\r\nPING\r\n"))
        .await
        .unwrap();
    let (_, pong) = read_frame(&mut s).await;
    assert_eq!(pong, b"PONG\r\n");
    // A WebSocket ping gets its pong, with the payload.
    s.write_all(&masked(9, b"hi")).await.unwrap();
    let (b0, p) = read_frame(&mut s).await;
    assert_eq!((b0, p.as_slice()), (0x8A, &b"hi"[..]));
    broker.shutdown().await;
}

#[tokio::test]
async fn an_unmasked_frame_is_closed_with_1002() {
    let broker = start(WebsocketOptions::default()).await;
    let mut s = upgraded(&broker).await;
    let _info = read_frame(&mut s).await;
    s.write_all(&[0x82, 0x02, b'h', b'i']).await.unwrap();
    let (b0, p) = read_frame(&mut s).await;
    assert_eq!(b0, 0x88);
    assert_eq!(&p[..2], &1002u16.to_be_bytes());
    assert_eq!(&p[2..], b"mask bit missing");
    broker.shutdown().await;
}

#[tokio::test]
async fn the_client_close_is_echoed() {
    let broker = start(WebsocketOptions::default()).await;
    let mut s = upgraded(&broker).await;
    let _info = read_frame(&mut s).await;
    let mut payload = 1000u16.to_be_bytes().to_vec();
    payload.extend_from_slice(b"bye");
    s.write_all(&masked(8, &payload)).await.unwrap();
    let (b0, p) = read_frame(&mut s).await;
    assert_eq!((b0, p), (0x88, payload));
    broker.shutdown().await;
}

#[tokio::test]
async fn a_bad_method_gets_405() {
    let broker = start(WebsocketOptions::default()).await;
    let port = broker.server().websocket().unwrap().port;
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    s.write_all(b"POST / HTTP/1.0\r\n\r\n").await.unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).await.unwrap();
    let out = String::from_utf8(out).unwrap();
    assert!(
        out.starts_with("HTTP/1.0 405 Method Not Allowed\r\n"),
        "{out}"
    );
    assert!(out.ends_with("\r\n\r\nMethod Not Allowed\n"), "{out}");
    broker.shutdown().await;
}
