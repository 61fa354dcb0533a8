//! The frame decoder: nats-server's checks, every input split at every offset, and
//! arbitrary bytes never panic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;

use super::*;

fn masked(first: u8, payload: &[u8], key: [u8; 4]) -> Vec<u8> {
    let mut out = vec![first];
    match payload.len() {
        n if n < 126 => out.push(0x80 | n as u8),
        n if n < 65536 => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(&key);
    let mut p = payload.to_vec();
    apply_mask(key, &mut p);
    out.extend_from_slice(&p);
    out
}

/// Feeds `input` in pieces of `step` bytes; returns the data and the events or error.
fn decode(d: &mut Decoder, input: &[u8], step: usize) -> (Vec<u8>, Vec<String>, Option<String>) {
    let mut buf = Vec::new();
    let mut pos = 0;
    let mut data = Vec::new();
    let mut events = Vec::new();
    for chunk in input.chunks(step.max(1)) {
        buf.extend_from_slice(chunk);
        loop {
            match d.next(&mut buf, &mut pos, 7) {
                Ok(Some(Event::Data { range, last, .. })) => {
                    data.extend_from_slice(&buf[range]);
                    if last {
                        events.push("end".to_string());
                    }
                }
                Ok(Some(e)) => events.push(format!("{e:?}")),
                Ok(None) => break,
                Err(e) => return (data, events, Some(e.0)),
            }
        }
    }
    (data, events, None)
}

fn error_of(input: &[u8], compression: bool) -> String {
    let mut d = Decoder::new(true, compression);
    decode(&mut d, input, input.len()).2.unwrap_or_default()
}

#[test]
fn fragmented_messages_at_every_split() {
    let key = [9, 8, 7, 6];
    let mut input = masked(0x02, b"PUB a 11\r\n", key); // first fragment, not final
    input.extend(masked(0x89, b"p", key)); // a ping in between
    input.extend(masked(0x80, b"hello world\r\n", key)); // final continuation
    input.extend(masked(0x82, &vec![b'x'; 300], key));
    for step in 1..input.len() {
        let mut d = Decoder::new(true, false);
        let (data, events, err) = decode(&mut d, &input, step);
        assert_eq!(err, None);
        let mut want = b"PUB a 11\r\nhello world\r\n".to_vec();
        want.extend(vec![b'x'; 300]);
        assert_eq!(data, want, "step {step}");
        assert_eq!(events, vec!["Ping([112])", "end", "end"], "step {step}");
    }
}

#[test]
fn nats_server_reasons() {
    let key = [1, 2, 3, 4];
    assert_eq!(error_of(&[0x82, 0x01, b'x'], false), "mask bit missing");
    assert_eq!(
        error_of(&masked(0xA2, b"x", key), false),
        "RSV2 and RSV3 must be clear"
    );
    assert_eq!(
        error_of(&masked(0xC2, b"x", key), false),
        "compressed frame received without negotiated permessage-deflate"
    );
    assert_eq!(
        error_of(&masked(0x83, b"x", key), false),
        "unknown opcode 3"
    );
    assert_eq!(
        error_of(&masked(0x80, b"x", key), false),
        "invalid continuation frame"
    );
    assert_eq!(
        error_of(&masked(0x09, b"x", key), false),
        "control frame does not have final bit set"
    );
    assert_eq!(
        error_of(&masked(0x89, &[0; 126], key), false),
        "control frame length bigger than maximum allowed of 125 bytes"
    );
    let mut two = masked(0x02, b"a", key);
    two.extend(masked(0x82, b"b", key));
    assert_eq!(
        error_of(&two, false),
        "new message started before final frame for previous message was received"
    );
    assert_eq!(
        error_of(&masked(0x88, &[3], key), false),
        "close frame payload cannot be 1 byte"
    );
    assert_eq!(
        error_of(&masked(0x88, &1005u16.to_be_bytes(), key), false),
        "invalid close status code 1005"
    );
    let mut huge = vec![0x82, 0xFF];
    huge.extend_from_slice(&u64::MAX.to_be_bytes());
    huge.extend_from_slice(&key);
    assert_eq!(error_of(&huge, false), "invalid 64-bit payload length");
}

#[test]
fn close_replies() {
    let key = [1, 2, 3, 4];
    let mut d = Decoder::new(true, false);
    let (_, events, _) = decode(&mut d, &masked(0x88, &[], key), 100);
    assert_eq!(events, vec!["Close([])"]);
    let mut bad_utf8 = 1000u16.to_be_bytes().to_vec();
    bad_utf8.push(0xff);
    let mut d = Decoder::new(true, false);
    let (_, events, _) = decode(&mut d, &masked(0x88, &bad_utf8, key), 100);
    let want = format!(
        "{:?}",
        Event::Close(close_payload(1007, "invalid utf8 body in close frame"))
    );
    assert_eq!(events, vec![want]);
}

#[test]
fn close_payloads_are_cut_to_fit() {
    let long = "x".repeat(200);
    let p = close_payload(1002, &long);
    assert_eq!(p.len(), 125);
    assert!(p.ends_with(b"..."));
    assert!(valid_close_status(1000) && valid_close_status(3000) && valid_close_status(4999));
    assert!(!valid_close_status(999) && !valid_close_status(1006) && !valid_close_status(2000));
}

#[test]
fn browser_frames_are_split_at_4_kib() {
    let mut out = Vec::new();
    put_binary(&mut out, &vec![0u8; 10_000], FRAME_SIZE_FOR_BROWSERS);
    // Three frames with 4-byte headers: 4096 + 4096 + 1808.
    assert_eq!(out.len(), 10_000 + 3 * 4);
    assert_eq!(out[0], 0x82);
    let mut out = Vec::new();
    put_compressed(&mut out, &vec![0u8; 5000], FRAME_SIZE_FOR_BROWSERS);
    assert_eq!(out[0], 0x02 | 0x40);
    assert_eq!(out[4 + 4096], 0x80);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Arbitrary bytes, fed in arbitrary pieces: an event or an error, never a panic, and
    /// the position never passes the end.
    #[test]
    fn arbitrary_bytes_never_panic(
        input in proptest::collection::vec(any::<u8>(), 0..600),
        step in 1usize..64,
        mask in any::<bool>(),
        compression in any::<bool>(),
    ) {
        let mut d = Decoder::new(mask, compression);
        let mut buf = Vec::new();
        let mut pos = 0;
        'outer: for chunk in input.chunks(step) {
            buf.extend_from_slice(chunk);
            loop {
                match d.next(&mut buf, &mut pos, 13) {
                    Ok(Some(_)) => prop_assert!(pos <= buf.len()),
                    Ok(None) => break,
                    Err(_) => break 'outer,
                }
            }
        }
    }

    /// Any payload, masked with any key and split anywhere, comes out as it went in.
    #[test]
    fn masked_payloads_round_trip(
        payload in proptest::collection::vec(any::<u8>(), 0..70_000),
        key in any::<[u8; 4]>(),
        step in 1usize..5000,
    ) {
        let input = masked(0x82, &payload, key);
        let mut d = Decoder::new(true, false);
        let (data, events, err) = decode(&mut d, &input, step);
        prop_assert_eq!(err, None);
        prop_assert_eq!(data, payload);
        prop_assert_eq!(events, vec!["end".to_string()]);
    }

    /// Left masked and unmasked into another buffer (the reader's one pass), any payload
    /// split anywhere, in pieces of any size, comes out as it went in.
    #[test]
    fn payloads_unmasked_into_another_buffer_round_trip(
        payload in proptest::collection::vec(any::<u8>(), 0..20_000),
        key in any::<[u8; 4]>(),
        step in 1usize..3000,
        max_data in 1usize..100,
    ) {
        let input = masked(0x82, &payload, key);
        let mut d = Decoder::new(true, false);
        let (mut buf, mut pos, mut data) = (Vec::new(), 0, Vec::new());
        for chunk in input.chunks(step) {
            buf.extend_from_slice(chunk);
            while let Some(event) = d.next_masked(&mut buf, &mut pos, max_data).unwrap() {
                if let Event::Data { range, .. } = event {
                    let mut out = vec![0u8; range.len()];
                    d.unmask_into(&buf[range], &mut out);
                    data.extend_from_slice(&out);
                }
            }
        }
        prop_assert_eq!(data, payload);
    }
}
