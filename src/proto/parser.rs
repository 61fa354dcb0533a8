//! The incremental client-protocol parser: bytes in, [`ClientOp`]s out, no I/O.
//!
//! It takes the same decisions as nats-server's byte-at-a-time state machine (which byte is
//! an unknown operation, when a control line is too long, when a size is bad), so that the
//! broker answers malformed input exactly as the reference does. Input may be split at any
//! byte: a partial control line or payload is kept until the rest arrives. Complete
//! operations borrow from the caller's buffer without copying.

use std::ops::Range;

/// An operation sent by a client, borrowing from the read buffer (or the parser's own
/// buffer when the operation arrived split across reads).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientOp<'a> {
    /// `CONNECT <json>`: the raw JSON, parsed by the connection.
    Connect(&'a [u8]),
    /// `INFO <json>` from a client: tolerated if it is JSON.
    Info(&'a [u8]),
    /// `PUB` or `HPUB` with its complete message.
    Pub(Publish<'a>),
    Sub {
        subject: &'a [u8],
        queue: Option<&'a [u8]>,
        sid: &'a [u8],
    },
    /// `UNSUB <sid> [max]`; a malformed max is `Some(-1)` (unsubscribe now), as in nats-server.
    Unsub {
        sid: &'a [u8],
        max_msgs: Option<i64>,
    },
    Ping,
    Pong,
    /// `+OK` from a client: ignored.
    Ok,
    /// `-ERR <text>` from a client: nats-server closes the connection.
    Err(&'a [u8]),
}

impl std::fmt::Display for ClientOp<'_> {
    /// The operation as nats-server's trace shows it: `[PUB foo 5]`, then the payload.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        match self {
            ClientOp::Connect(json) => {
                let redacted = super::info::redact_secrets(json);
                write!(f, "[CONNECT {}]", text(&redacted))
            }
            ClientOp::Info(json) => write!(f, "[INFO {}]", text(json)),
            ClientOp::Pub(p) => {
                let op = if p.header_len.is_some() {
                    "HPUB"
                } else {
                    "PUB"
                };
                write!(f, "[{op} {}", text(p.subject))?;
                if let Some(reply) = p.reply {
                    write!(f, " {}", text(reply))?;
                }
                if let Some(h) = p.header_len {
                    write!(f, " {h}")?;
                }
                write!(
                    f,
                    " {}] MSG_PAYLOAD: [{:?}]",
                    p.message.len(),
                    text(p.message)
                )
            }
            ClientOp::Sub {
                subject,
                queue,
                sid,
            } => match queue {
                Some(q) => write!(f, "[SUB {} {} {}]", text(subject), text(q), text(sid)),
                None => write!(f, "[SUB {} {}]", text(subject), text(sid)),
            },
            ClientOp::Unsub { sid, max_msgs } => match max_msgs {
                Some(max) => write!(f, "[UNSUB {} {max}]", text(sid)),
                None => write!(f, "[UNSUB {}]", text(sid)),
            },
            ClientOp::Ping => f.write_str("[PING]"),
            ClientOp::Pong => f.write_str("[PONG]"),
            ClientOp::Ok => f.write_str("[+OK]"),
            ClientOp::Err(e) => write!(f, "[-ERR {}]", text(e)),
        }
    }
}

/// A published message. `message` holds the header block (if any) followed by the payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publish<'a> {
    pub subject: &'a [u8],
    pub reply: Option<&'a [u8]>,
    /// Length of the header block at the start of `message`; `None` for a plain `PUB`.
    pub header_len: Option<usize>,
    pub message: &'a [u8],
}

impl Publish<'_> {
    /// The header block, when there is a non-empty one.
    pub fn headers(&self) -> Option<&[u8]> {
        match self.header_len {
            Some(n) if n > 0 => self.message.get(..n),
            _ => None,
        }
    }

    /// The payload without headers.
    pub fn payload(&self) -> &[u8] {
        let n = self.header_len.unwrap_or(0);
        self.message.get(n..).unwrap_or_default()
    }
}

/// Why the parser gave up on a connection. Each maps to nats-server's reaction.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// `-ERR 'Unknown Protocol Operation'`, then close.
    #[error("unknown protocol operation")]
    UnknownOperation,
    /// `-ERR 'maximum control line exceeded'`, then close.
    #[error("maximum control line exceeded")]
    MaxControlLine,
    /// `-ERR 'Maximum Payload Violation'`, then close (before the payload is read).
    #[error("maximum payload exceeded: {size} bytes")]
    MaxPayload { size: usize },
    /// `-ERR 'Authorization Violation'`, then close: an operation before CONNECT while
    /// authentication is required.
    #[error("operation before CONNECT while authentication is required")]
    AuthViolation,
    /// Silent close: HPUB on a connection that did not negotiate headers.
    #[error("message headers not supported")]
    HeadersNotSupported,
    /// Silent close: wrong argument count or a bad size.
    #[error("{0}")]
    BadArguments(&'static str),
}

/// Limits the parser enforces while reading, as nats-server does in its parser.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParserLimits {
    pub max_control_line: usize,
    pub max_payload: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OpKind {
    Pub,
    Hpub,
    Hmsg,
    Sub,
    Unsub,
    Ping,
    Pong,
    Connect,
    Info,
    PlusOk,
    MinusErr,
}

impl OpKind {
    /// Operations whose keyword must be followed by a space or tab.
    fn needs_space(self) -> bool {
        matches!(
            self,
            OpKind::Pub
                | OpKind::Hpub
                | OpKind::Hmsg
                | OpKind::Sub
                | OpKind::Unsub
                | OpKind::MinusErr
        )
    }

    /// Operations that ignore everything up to the end of the line.
    fn skips_line(self) -> bool {
        matches!(self, OpKind::Ping | OpKind::Pong | OpKind::PlusOk)
    }
}

const KEYWORDS: [(&[u8], OpKind); 11] = [
    (b"PUB", OpKind::Pub),
    (b"HPUB", OpKind::Hpub),
    (b"HMSG", OpKind::Hmsg),
    (b"SUB", OpKind::Sub),
    (b"UNSUB", OpKind::Unsub),
    (b"PING", OpKind::Ping),
    (b"PONG", OpKind::Pong),
    (b"CONNECT", OpKind::Connect),
    (b"INFO", OpKind::Info),
    (b"+OK", OpKind::PlusOk),
    (b"-ERR", OpKind::MinusErr),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Start,
    /// Matching an operation keyword: a bit per still-possible entry of `KEYWORDS`.
    Keyword {
        candidates: u16,
        len: usize,
    },
    AfterKeyword(OpKind),
    Spaces(OpKind),
    Arg(OpKind),
    SkipLine(OpKind),
    /// Collecting a split payload into `msg_buf`.
    Payload,
}

/// Where a piece of a completed operation lives.
#[derive(Debug, Clone, Copy)]
enum Loc {
    Buf,
    ArgBuf,
}

/// Offsets of a publish control line's parts, relative to the argument.
#[derive(Debug, Clone, Default)]
struct PubArgs {
    subject: Range<usize>,
    reply: Option<Range<usize>>,
    header_len: Option<usize>,
    size: usize,
}

/// A completed operation, as offsets, turned into borrowed slices at the very end.
enum Ready {
    Simple(OpKind),
    Arg(OpKind, Loc, Range<usize>),
    Pub {
        args: PubArgs,
        arg_at: Loc,
        message: MsgLoc,
    },
}

#[derive(Debug, Clone, Copy)]
enum MsgLoc {
    Buf(usize),
    MsgBuf,
}

/// The incremental parser for one connection.
#[derive(Debug)]
pub struct Parser {
    state: State,
    limits: ParserLimits,
    /// Set while authentication is required and CONNECT has not been accepted yet.
    pub awaiting_auth: bool,
    /// Set once the client negotiated headers in CONNECT.
    pub headers_enabled: bool,
    arg_start: usize,
    /// The argument was split across reads and is being collected in `arg_buf`.
    arg_split: bool,
    arg_buf: Vec<u8>,
    msg_buf: Vec<u8>,
    pending: PubArgs,
    /// The last op borrowed our buffers; clear them before parsing on.
    release: bool,
}

impl Parser {
    /// The largest payload a PUB or HPUB may announce.
    pub fn max_payload(&self) -> usize {
        self.limits.max_payload
    }

    /// Changes the largest payload (a user's or account's JWT limit, applied after CONNECT
    /// and again when the account's JWT changes).
    pub fn set_max_payload(&mut self, max_payload: usize) {
        self.limits.max_payload = max_payload;
    }

    pub fn new(limits: ParserLimits) -> Self {
        Parser {
            state: State::Start,
            limits,
            awaiting_auth: false,
            headers_enabled: false,
            arg_start: 0,
            arg_split: false,
            arg_buf: Vec::new(),
            msg_buf: Vec::new(),
            pending: PubArgs::default(),
            release: false,
        }
    }

    /// True when no partial operation is buffered.
    pub fn is_idle(&self) -> bool {
        self.state == State::Start
    }

    /// Parses the next complete operation from `buf[*pos..]`, advancing `*pos` past it.
    /// Returns `Ok(None)` once `buf` is used up; a partial operation is kept for the next
    /// buffer. After an error the connection must be closed, except `AuthViolation`: it leaves
    /// `*pos` at the operation, so parsing may resume once `awaiting_auth` is cleared.
    pub fn next_op<'p>(
        &'p mut self,
        buf: &'p [u8],
        pos: &mut usize,
    ) -> Result<Option<ClientOp<'p>>, ParseError> {
        if self.release {
            self.arg_buf.clear();
            self.msg_buf.clear();
            self.arg_split = false;
            self.release = false;
        }
        let mut i = *pos;
        let ready = loop {
            let Some(&b) = buf.get(i) else {
                *pos = buf.len();
                return Ok(None);
            };
            match self.state {
                State::Start => {
                    if self.awaiting_auth && b != b'C' && b != b'c' {
                        // Resumable: a no_auth_user may authenticate the client here.
                        *pos = i;
                        return Err(ParseError::AuthViolation);
                    }
                    self.state = match_keyword(0, 0, b)?;
                    i += 1;
                }
                State::Keyword { candidates, len } => {
                    self.state = match_keyword(candidates, len, b)?;
                    i += 1;
                }
                State::AfterKeyword(kind) => {
                    if kind.needs_space() {
                        if b != b' ' && b != b'\t' {
                            return Err(ParseError::UnknownOperation);
                        }
                        i += 1;
                    }
                    self.state = State::Spaces(kind);
                }
                State::Spaces(kind) => {
                    if b == b' ' || b == b'\t' {
                        i += 1;
                    } else {
                        self.state = State::Arg(kind);
                        self.arg_start = i;
                        self.arg_split = false;
                    }
                }
                State::SkipLine(kind) => match memchr::memchr(b'\n', &buf[i..]) {
                    Some(off) => {
                        i += off + 1;
                        self.state = State::Start;
                        break Ready::Simple(kind);
                    }
                    None => i = buf.len(),
                },
                State::Arg(kind) => {
                    let Some(off) = memchr::memchr(b'\n', &buf[i..]) else {
                        let from = if self.arg_split { i } else { self.arg_start };
                        self.arg_buf.extend_from_slice(&buf[from..]);
                        self.arg_split = true;
                        let len = trim_cr(&self.arg_buf).len();
                        if len > self.limits.max_control_line {
                            return Err(ParseError::MaxControlLine);
                        }
                        i = buf.len();
                        continue;
                    };
                    let line_end = i + off;
                    let (arg_at, arg_range) = if self.arg_split {
                        self.arg_buf.extend_from_slice(&buf[i..line_end]);
                        let n = trim_cr(&self.arg_buf).len();
                        (Loc::ArgBuf, 0..n)
                    } else {
                        let n = trim_cr(&buf[self.arg_start..line_end]).len();
                        (Loc::Buf, self.arg_start..self.arg_start + n)
                    };
                    if arg_range.len() > self.limits.max_control_line {
                        return Err(ParseError::MaxControlLine);
                    }
                    i = line_end + 1;
                    let arg = match arg_at {
                        Loc::Buf => &buf[arg_range.clone()],
                        Loc::ArgBuf => &self.arg_buf[arg_range.clone()],
                    };
                    match kind {
                        OpKind::Pub | OpKind::Hpub => {
                            let args = if kind == OpKind::Pub {
                                parse_pub_args(arg, self.limits.max_payload)?
                            } else {
                                if !self.headers_enabled {
                                    return Err(ParseError::HeadersNotSupported);
                                }
                                parse_hpub_args(arg, self.limits.max_payload)?
                            };
                            let base = match arg_at {
                                Loc::Buf => arg_range.start,
                                Loc::ArgBuf => 0,
                            };
                            let args = args.offset_by(base);
                            let need = args.size + 2;
                            if !self.arg_split && buf.len() - i >= need {
                                check_payload_end(&buf[i + args.size..i + need])?;
                                let start = i;
                                i += need;
                                self.state = State::Start;
                                break Ready::Pub {
                                    args,
                                    arg_at: Loc::Buf,
                                    message: MsgLoc::Buf(start),
                                };
                            }
                            if !self.arg_split {
                                self.arg_buf.clear();
                                self.arg_buf.extend_from_slice(&buf[arg_range.clone()]);
                                self.arg_split = true;
                                self.pending = args.offset_back(arg_range.start);
                            } else {
                                self.pending = args;
                            }
                            self.msg_buf.clear();
                            self.state = State::Payload;
                        }
                        OpKind::Hmsg => {
                            // Only servers send HMSG; a client doing so is a protocol error.
                            return Err(ParseError::UnknownOperation);
                        }
                        OpKind::Sub
                            if !matches!(split_ranges::<3>(arg, b"\r\n"), Some((_, 2 | 3))) =>
                        {
                            return Err(ParseError::BadArguments("SUB: wrong argument count"));
                        }
                        OpKind::Unsub
                            if !matches!(split_ranges::<2>(arg, b"\r\n"), Some((_, 1 | 2))) =>
                        {
                            return Err(ParseError::BadArguments("UNSUB: wrong argument count"));
                        }
                        _ => {
                            self.state = State::Start;
                            break Ready::Arg(kind, arg_at, arg_range);
                        }
                    }
                }
                State::Payload => {
                    let need = self.pending.size + 2 - self.msg_buf.len();
                    let take = need.min(buf.len() - i);
                    self.msg_buf.extend_from_slice(&buf[i..i + take]);
                    i += take;
                    let size = self.pending.size;
                    if let Some(tail) = self.msg_buf.get(size..) {
                        check_payload_end(tail)?;
                    }
                    if self.msg_buf.len() == size + 2 {
                        self.state = State::Start;
                        break Ready::Pub {
                            args: self.pending.clone(),
                            arg_at: Loc::ArgBuf,
                            message: MsgLoc::MsgBuf,
                        };
                    }
                }
            }
        };
        *pos = i;
        self.release = self.arg_split || !self.msg_buf.is_empty();
        let this: &'p Parser = self;
        Ok(Some(this.materialize(buf, ready)))
    }

    fn materialize<'p>(&'p self, buf: &'p [u8], ready: Ready) -> ClientOp<'p> {
        match ready {
            Ready::Simple(OpKind::Ping) => ClientOp::Ping,
            Ready::Simple(OpKind::Pong) => ClientOp::Pong,
            Ready::Simple(_) => ClientOp::Ok,
            Ready::Arg(kind, at, range) => {
                let arg = match at {
                    Loc::Buf => &buf[range],
                    Loc::ArgBuf => &self.arg_buf[range],
                };
                match kind {
                    OpKind::Connect => ClientOp::Connect(arg),
                    OpKind::Info => ClientOp::Info(arg),
                    OpKind::MinusErr => ClientOp::Err(arg),
                    OpKind::Sub => sub_op(arg),
                    _ => unsub_op(arg),
                }
            }
            Ready::Pub {
                args,
                arg_at,
                message,
            } => {
                let source = match arg_at {
                    Loc::Buf => buf,
                    Loc::ArgBuf => &self.arg_buf[..],
                };
                let message = match message {
                    MsgLoc::Buf(start) => &buf[start..start + args.size],
                    MsgLoc::MsgBuf => &self.msg_buf[..args.size],
                };
                ClientOp::Pub(Publish {
                    subject: &source[args.subject],
                    reply: args.reply.map(|r| &source[r]),
                    header_len: args.header_len,
                    message,
                })
            }
        }
    }
}

/// Advances keyword matching by one byte; an impossible byte is an unknown operation.
fn match_keyword(candidates: u16, len: usize, b: u8) -> Result<State, ParseError> {
    let upper = b.to_ascii_uppercase();
    let mut next = 0u16;
    for (index, (word, kind)) in KEYWORDS.iter().enumerate() {
        let possible = len == 0 || candidates & (1 << index) != 0;
        if possible && word.get(len) == Some(&upper) {
            if word.len() == len + 1 {
                return Ok(if kind.skips_line() {
                    State::SkipLine(*kind)
                } else {
                    State::AfterKeyword(*kind)
                });
            }
            next |= 1 << index;
        }
    }
    if next == 0 {
        return Err(ParseError::UnknownOperation);
    }
    Ok(State::Keyword {
        candidates: next,
        len: len + 1,
    })
}

fn check_payload_end(tail: &[u8]) -> Result<(), ParseError> {
    match tail {
        [] | [b'\r'] | [b'\r', b'\n'] => Ok(()),
        _ => Err(ParseError::UnknownOperation),
    }
}

fn trim_cr(arg: &[u8]) -> &[u8] {
    arg.strip_suffix(b"\r").unwrap_or(arg)
}

impl PubArgs {
    fn offset_by(mut self, base: usize) -> Self {
        self.subject = self.subject.start + base..self.subject.end + base;
        self.reply = self.reply.map(|r| r.start + base..r.end + base);
        self
    }

    fn offset_back(mut self, base: usize) -> Self {
        self.subject = self.subject.start - base..self.subject.end - base;
        self.reply = self.reply.map(|r| r.start - base..r.end - base);
        self
    }
}

/// Splits an argument on spaces and tabs into at most `N` ranges; `None` if there are more.
fn split_ranges<const N: usize>(arg: &[u8], extra: &[u8]) -> Option<([Range<usize>; N], usize)> {
    let mut out: [Range<usize>; N] = std::array::from_fn(|_| 0..0);
    let mut count = 0;
    let mut start: Option<usize> = None;
    for (index, b) in arg.iter().enumerate() {
        let is_sep = *b == b' ' || *b == b'\t' || extra.contains(b);
        match (is_sep, start) {
            (true, Some(s)) => {
                *out.get_mut(count)? = s..index;
                count += 1;
                start = None;
            }
            (false, None) => start = Some(index),
            _ => {}
        }
    }
    if let Some(s) = start {
        *out.get_mut(count)? = s..arg.len();
        count += 1;
    }
    Some((out, count))
}

/// nats-server's `parseSize`: 1 to 9 ASCII digits, anything else is invalid.
pub fn parse_size(digits: &[u8]) -> Option<usize> {
    if digits.is_empty() || digits.len() > 9 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(
        digits
            .iter()
            .fold(0usize, |n, d| n * 10 + usize::from(d - b'0')),
    )
}

fn parse_pub_args(arg: &[u8], max_payload: usize) -> Result<PubArgs, ParseError> {
    let (parts, count) =
        split_ranges::<3>(arg, b"").ok_or(ParseError::BadArguments("PUB: wrong argument count"))?;
    let (subject, reply, size) = match count {
        2 => (parts[0].clone(), None, parts[1].clone()),
        3 => (parts[0].clone(), Some(parts[1].clone()), parts[2].clone()),
        _ => return Err(ParseError::BadArguments("PUB: wrong argument count")),
    };
    let size =
        parse_size(&arg[size]).ok_or(ParseError::BadArguments("PUB: bad or missing size"))?;
    if size > max_payload {
        return Err(ParseError::MaxPayload { size });
    }
    Ok(PubArgs {
        subject,
        reply,
        header_len: None,
        size,
    })
}

fn parse_hpub_args(arg: &[u8], max_payload: usize) -> Result<PubArgs, ParseError> {
    let wrong = ParseError::BadArguments("HPUB: wrong argument count");
    let (parts, count) = split_ranges::<4>(arg, b"").ok_or(wrong.clone())?;
    let (subject, reply, header, total) = match count {
        3 => (parts[0].clone(), None, parts[1].clone(), parts[2].clone()),
        4 => (
            parts[0].clone(),
            Some(parts[1].clone()),
            parts[2].clone(),
            parts[3].clone(),
        ),
        _ => return Err(wrong),
    };
    let header_len = parse_size(&arg[header])
        .ok_or(ParseError::BadArguments("HPUB: bad or missing header size"))?;
    let size = parse_size(&arg[total])
        .ok_or(ParseError::BadArguments("HPUB: bad or missing total size"))?;
    if header_len > size {
        return Err(ParseError::BadArguments(
            "HPUB: header size larger than total size",
        ));
    }
    if size > max_payload {
        return Err(ParseError::MaxPayload { size });
    }
    Ok(PubArgs {
        subject,
        reply,
        header_len: Some(header_len),
        size,
    })
}

/// Builds a SUB from an argument whose count `next_op` has already checked.
fn sub_op(arg: &[u8]) -> ClientOp<'_> {
    match split_ranges::<3>(arg, b"\r\n") {
        Some((p, 2)) => ClientOp::Sub {
            subject: &arg[p[0].clone()],
            queue: None,
            sid: &arg[p[1].clone()],
        },
        Some((p, 3)) => ClientOp::Sub {
            subject: &arg[p[0].clone()],
            queue: Some(&arg[p[1].clone()]),
            sid: &arg[p[2].clone()],
        },
        _ => ClientOp::Sub {
            subject: b"",
            queue: None,
            sid: b"",
        },
    }
}

fn unsub_op(arg: &[u8]) -> ClientOp<'_> {
    match split_ranges::<2>(arg, b"\r\n") {
        Some((p, 1)) => ClientOp::Unsub {
            sid: &arg[p[0].clone()],
            max_msgs: None,
        },
        Some((p, 2)) => ClientOp::Unsub {
            sid: &arg[p[0].clone()],
            max_msgs: Some(parse_size(&arg[p[1].clone()]).map_or(-1, |n| n as i64)),
        },
        _ => ClientOp::Unsub {
            sid: b"",
            max_msgs: None,
        },
    }
}

#[cfg(test)]
#[path = "parser_tests.rs"]
mod tests;
