//! The leaf-node protocol, sans I/O: what two servers say over a leaf link.
//!
//! Besides INFO, CONNECT, PING, PONG, `+OK` and `-ERR`, a link carries interest and messages:
//!
//! * `LS+ <subject>` / `LS+ <subject> <queue> <weight>`: the sender has interest (a queue
//!   group with `weight` members); sent on the 0-to-1 transition of a plain subject and on
//!   every change of a queue group's weight.
//! * `LS- <subject>` / `LS- <subject> <queue>`: the interest is gone.
//! * `LMSG <subject> [reply] <size>`, or with queue groups
//!   `LMSG <subject> + <reply> <queue>... <size>` / `LMSG <subject> | <queue>... <size>`: a
//!   message for the receiver's plain subscribers (and, with queues, one member of each named
//!   group). `HMSG` is the same with `<hdr_len>` before the size.
//!
//! [`LeafParser`] reads them as nats-server's parser does on a LEAF connection: `RS+`,
//! `RS-`, `RMSG`, `SUB`, `UNSUB`, `PUB` and `HPUB` are accepted as their leaf equivalents
//! (nats-server's state machine shares their states), `MSG` is an unknown operation, `A+`
//! and `A-` are ignored, and the control line may be sixteen times `max_control_line`.
//! Input may be split at any byte. Encoders for the lines a server sends are below.

use std::ops::Range;

use super::parser::{parse_size, ParseError, ParserLimits};

/// nats-server lets routes, gateways and leaf nodes use control lines this many times
/// longer than clients (their lines carry reply subjects and queue lists).
pub const LEAF_CONTROL_LINE_FACTOR: usize = 16;

/// The loop-detection subject's prefix: each account subscribes to `$LDS.<unique id>` on
/// its links; seeing its own subject come back means the links form a loop.
pub const LOOP_DETECTION_PREFIX: &[u8] = b"$LDS.";

/// An operation received on a leaf link, borrowing from the read buffer (or the parser's
/// own buffers when it arrived split).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeafOp<'a> {
    Info(&'a [u8]),
    Connect(&'a [u8]),
    Ping,
    Pong,
    Ok,
    Err(&'a [u8]),
    /// `LS+`: `key` is what a later `LS-` names (the argument without the weight).
    Sub {
        subject: &'a [u8],
        queue: Option<&'a [u8]>,
        /// A queue group's member count; 1 for plain interest or a weight nats-server
        /// would not parse.
        weight: u32,
        key: &'a [u8],
    },
    /// `LS-`: the argument as sent, matched exactly against the keys of earlier `LS+`.
    Unsub {
        key: &'a [u8],
    },
    Msg(LeafMsg<'a>),
    /// `A+` / `A-` (account interest between gateways): nothing to do on a leaf link.
    Ignored,
}

impl std::fmt::Display for LeafOp<'_> {
    /// The operation as nats-server's trace shows it: `[LS+ foo q 1]`, `[LMSG foo 5]`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        match self {
            LeafOp::Info(json) => write!(f, "[INFO {}]", text(json)),
            LeafOp::Connect(json) => {
                let redacted = super::info::redact_secrets(json);
                write!(f, "[CONNECT {}]", text(&redacted))
            }
            LeafOp::Ping => f.write_str("[PING]"),
            LeafOp::Pong => f.write_str("[PONG]"),
            LeafOp::Ok => f.write_str("[+OK]"),
            LeafOp::Err(e) => write!(f, "[-ERR {}]", text(e)),
            LeafOp::Sub {
                subject,
                queue: Some(queue),
                weight,
                ..
            } => write!(f, "[LS+ {} {} {weight}]", text(subject), text(queue)),
            LeafOp::Sub { subject, .. } => write!(f, "[LS+ {}]", text(subject)),
            LeafOp::Unsub { key } => write!(f, "[LS- {}]", text(key)),
            LeafOp::Msg(m) => {
                let op = if m.header_len.is_some() {
                    "HMSG"
                } else {
                    "LMSG"
                };
                write!(f, "[{op} {}", text(m.subject))?;
                if !m.queues.is_empty() {
                    match m.reply {
                        Some(reply) => write!(f, " + {}", text(reply))?,
                        None => f.write_str(" |")?,
                    }
                    write!(f, " {}", text(m.queues))?;
                } else if let Some(reply) = m.reply {
                    write!(f, " {}", text(reply))?;
                }
                if let Some(h) = m.header_len {
                    write!(f, " {h}")?;
                }
                write!(
                    f,
                    " {}] MSG_PAYLOAD: [{:?}]",
                    m.message.len(),
                    text(m.message)
                )
            }
            LeafOp::Ignored => f.write_str("[A+/A-]"),
        }
    }
}

/// A message received over a link. `message` holds the header block (if any) followed by
/// the payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeafMsg<'a> {
    pub subject: &'a [u8],
    pub reply: Option<&'a [u8]>,
    /// The queue groups to deliver to, separated by white space; empty for none.
    pub queues: &'a [u8],
    pub header_len: Option<usize>,
    pub message: &'a [u8],
}

impl<'a> LeafMsg<'a> {
    /// The queue group names.
    pub fn queue_names(&self) -> impl Iterator<Item = &'a [u8]> {
        self.queues
            .split(|b| matches!(b, b' ' | b'\t'))
            .filter(|q| !q.is_empty())
    }

    /// The header block, when there is a non-empty one.
    pub fn headers(&self) -> Option<&'a [u8]> {
        match self.header_len {
            Some(n) if n > 0 => self.message.get(..n),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Connect,
    Info,
    Ping,
    Pong,
    PlusOk,
    MinusErr,
    Sub,
    Unsub,
    Msg,
    HMsg,
    Pub,
    HPub,
    Account,
}

impl Kind {
    fn needs_space(self) -> bool {
        !matches!(
            self,
            Kind::Connect | Kind::Info | Kind::Ping | Kind::Pong | Kind::PlusOk
        )
    }

    fn skips_line(self) -> bool {
        matches!(self, Kind::Ping | Kind::Pong | Kind::PlusOk)
    }

    fn carries_message(self) -> bool {
        matches!(self, Kind::Msg | Kind::HMsg | Kind::Pub | Kind::HPub)
    }
}

const KEYWORDS: [(&[u8], Kind); 19] = [
    (b"CONNECT", Kind::Connect),
    (b"INFO", Kind::Info),
    (b"PING", Kind::Ping),
    (b"PONG", Kind::Pong),
    (b"+OK", Kind::PlusOk),
    (b"-ERR", Kind::MinusErr),
    (b"LS+", Kind::Sub),
    (b"RS+", Kind::Sub),
    (b"SUB", Kind::Sub),
    (b"LS-", Kind::Unsub),
    (b"RS-", Kind::Unsub),
    (b"UNSUB", Kind::Unsub),
    (b"LMSG", Kind::Msg),
    (b"RMSG", Kind::Msg),
    (b"HMSG", Kind::HMsg),
    (b"PUB", Kind::Pub),
    (b"HPUB", Kind::HPub),
    (b"A+", Kind::Account),
    (b"A-", Kind::Account),
];

/// The longest keyword.
const MAX_KEYWORD: usize = 7;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Start,
    Keyword,
    AfterKeyword(Kind),
    Spaces(Kind),
    Arg(Kind),
    SkipLine(Kind),
    Payload,
}

/// Where a completed piece lives.
#[derive(Debug, Clone, Copy)]
enum Loc {
    Buf,
    ArgBuf,
}

/// A message control line's parts, as offsets into the argument.
#[derive(Debug, Clone, Default)]
struct MsgArgs {
    subject: Range<usize>,
    reply: Option<Range<usize>>,
    queues: Range<usize>,
    header_len: Option<usize>,
    size: usize,
}

impl MsgArgs {
    fn shifted(mut self, base: usize, forward: bool) -> Self {
        let shift = |r: Range<usize>| {
            if forward {
                r.start + base..r.end + base
            } else {
                r.start - base..r.end - base
            }
        };
        self.subject = shift(self.subject);
        self.reply = self.reply.map(shift);
        self.queues = shift(self.queues);
        self
    }
}

enum Ready {
    Simple(Kind),
    Arg(Kind, Loc, Range<usize>),
    Msg {
        args: MsgArgs,
        arg_at: Loc,
        message: Option<usize>,
    },
}

/// The incremental parser of one leaf link.
#[derive(Debug)]
pub struct LeafParser {
    state: State,
    keyword: [u8; MAX_KEYWORD],
    keyword_len: usize,
    max_control_line: usize,
    max_payload: usize,
    /// Set on an accepted link until its CONNECT is accepted: anything else first is an
    /// authorization violation.
    pub awaiting_connect: bool,
    arg_start: usize,
    arg_split: bool,
    arg_buf: Vec<u8>,
    msg_buf: Vec<u8>,
    pending: MsgArgs,
    release: bool,
}

impl LeafParser {
    /// A parser with the client limits of the server; the control line limit is widened as
    /// nats-server widens it for server links.
    pub fn new(limits: ParserLimits) -> Self {
        LeafParser {
            state: State::Start,
            keyword: [0; MAX_KEYWORD],
            keyword_len: 0,
            max_control_line: limits
                .max_control_line
                .saturating_mul(LEAF_CONTROL_LINE_FACTOR),
            max_payload: limits.max_payload,
            awaiting_connect: false,
            arg_start: 0,
            arg_split: false,
            arg_buf: Vec::new(),
            msg_buf: Vec::new(),
            pending: MsgArgs::default(),
            release: false,
        }
    }

    /// True when no partial operation is buffered.
    pub fn is_idle(&self) -> bool {
        self.state == State::Start
    }

    /// Parses the next complete operation from `buf[*pos..]`, advancing `*pos` past it;
    /// `Ok(None)` once `buf` is used up (a partial operation is kept). After an error the
    /// link must be closed.
    pub fn next_op<'p>(
        &'p mut self,
        buf: &'p [u8],
        pos: &mut usize,
    ) -> Result<Option<LeafOp<'p>>, ParseError> {
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
                    if self.awaiting_connect && b != b'C' && b != b'c' {
                        return Err(ParseError::AuthViolation);
                    }
                    self.keyword_len = 0;
                    self.state = self.keyword_byte(b)?;
                    i += 1;
                }
                State::Keyword => {
                    self.state = self.keyword_byte(b)?;
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
                        if trim_cr(&self.arg_buf).len() > self.max_control_line {
                            return Err(ParseError::MaxControlLine);
                        }
                        i = buf.len();
                        continue;
                    };
                    let line_end = i + off;
                    let (arg_at, range) = if self.arg_split {
                        self.arg_buf.extend_from_slice(&buf[i..line_end]);
                        (Loc::ArgBuf, 0..trim_cr(&self.arg_buf).len())
                    } else {
                        let n = trim_cr(&buf[self.arg_start..line_end]).len();
                        (Loc::Buf, self.arg_start..self.arg_start + n)
                    };
                    if range.len() > self.max_control_line {
                        return Err(ParseError::MaxControlLine);
                    }
                    i = line_end + 1;
                    let arg = match arg_at {
                        Loc::Buf => &buf[range.clone()],
                        Loc::ArgBuf => &self.arg_buf[range.clone()],
                    };
                    if kind == Kind::Sub && !matches!(count_args(arg), 1 | 3) {
                        return Err(ParseError::BadArguments("LS+: wrong argument count"));
                    }
                    if !kind.carries_message() {
                        self.state = State::Start;
                        break Ready::Arg(kind, arg_at, range);
                    }
                    let args = msg_args(kind, arg, self.max_payload)?;
                    let base = match arg_at {
                        Loc::Buf => range.start,
                        Loc::ArgBuf => 0,
                    };
                    let args = args.shifted(base, true);
                    let need = args.size + 2;
                    if !self.arg_split && buf.len() - i >= need {
                        check_payload_end(&buf[i + args.size..i + need])?;
                        let start = i;
                        i += need;
                        self.state = State::Start;
                        break Ready::Msg {
                            args,
                            arg_at: Loc::Buf,
                            message: Some(start),
                        };
                    }
                    if self.arg_split {
                        self.pending = args;
                    } else {
                        self.arg_buf.clear();
                        self.arg_buf.extend_from_slice(&buf[range.clone()]);
                        self.arg_split = true;
                        self.pending = args.shifted(range.start, false);
                    }
                    self.msg_buf.clear();
                    self.state = State::Payload;
                }
                State::Payload => {
                    let size = self.pending.size;
                    let need = size + 2 - self.msg_buf.len();
                    let take = need.min(buf.len() - i);
                    self.msg_buf.extend_from_slice(&buf[i..i + take]);
                    i += take;
                    if let Some(tail) = self.msg_buf.get(size..) {
                        check_payload_end(tail)?;
                    }
                    if self.msg_buf.len() == size + 2 {
                        self.state = State::Start;
                        break Ready::Msg {
                            args: self.pending.clone(),
                            arg_at: Loc::ArgBuf,
                            message: None,
                        };
                    }
                }
            }
        };
        *pos = i;
        self.release = self.arg_split || !self.msg_buf.is_empty();
        let this: &'p LeafParser = self;
        Ok(Some(this.materialize(buf, ready)))
    }

    /// One more byte of an operation keyword; an impossible one is an unknown operation.
    fn keyword_byte(&mut self, b: u8) -> Result<State, ParseError> {
        if self.keyword_len >= MAX_KEYWORD {
            return Err(ParseError::UnknownOperation);
        }
        self.keyword[self.keyword_len] = b.to_ascii_uppercase();
        self.keyword_len += 1;
        let typed = &self.keyword[..self.keyword_len];
        let mut possible = false;
        for (word, kind) in KEYWORDS {
            if word == typed {
                // No keyword is a prefix of another, so a whole one is the operation.
                return Ok(if kind.skips_line() {
                    State::SkipLine(kind)
                } else {
                    State::AfterKeyword(kind)
                });
            }
            possible |= word.starts_with(typed);
        }
        if possible {
            Ok(State::Keyword)
        } else {
            Err(ParseError::UnknownOperation)
        }
    }

    fn materialize<'p>(&'p self, buf: &'p [u8], ready: Ready) -> LeafOp<'p> {
        match ready {
            Ready::Simple(Kind::Ping) => LeafOp::Ping,
            Ready::Simple(Kind::Pong) => LeafOp::Pong,
            Ready::Simple(_) => LeafOp::Ok,
            Ready::Arg(kind, at, range) => {
                let arg = match at {
                    Loc::Buf => &buf[range],
                    Loc::ArgBuf => &self.arg_buf[range],
                };
                match kind {
                    Kind::Connect => LeafOp::Connect(arg),
                    Kind::Info => LeafOp::Info(arg),
                    Kind::MinusErr => LeafOp::Err(arg),
                    Kind::Sub => sub_op(arg),
                    Kind::Unsub => LeafOp::Unsub { key: arg },
                    _ => LeafOp::Ignored,
                }
            }
            Ready::Msg {
                args,
                arg_at,
                message,
            } => {
                let source = match arg_at {
                    Loc::Buf => buf,
                    Loc::ArgBuf => &self.arg_buf[..],
                };
                let message = match message {
                    Some(start) => &buf[start..start + args.size],
                    None => &self.msg_buf[..args.size],
                };
                LeafOp::Msg(LeafMsg {
                    subject: &source[args.subject],
                    reply: args.reply.map(|r| &source[r]),
                    queues: &source[args.queues],
                    header_len: args.header_len,
                    message,
                })
            }
        }
    }
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

/// nats-server's `splitArg`: arguments separated by spaces, tabs, CR or LF.
fn split_args(arg: &[u8]) -> impl Iterator<Item = Range<usize>> + '_ {
    let mut i = 0;
    std::iter::from_fn(move || {
        let is_sep = |b: &u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n');
        while arg.get(i).is_some_and(is_sep) {
            i += 1;
        }
        if i >= arg.len() {
            return None;
        }
        let start = i;
        while arg.get(i).is_some_and(|b| !is_sep(b)) {
            i += 1;
        }
        Some(start..i)
    })
}

fn count_args(arg: &[u8]) -> usize {
    split_args(arg).count()
}

/// `LS+`'s parts; the argument count was checked (1 or 3).
fn sub_op(arg: &[u8]) -> LeafOp<'_> {
    let parts: Vec<Range<usize>> = split_args(arg).collect();
    match parts.as_slice() {
        [subject, queue, weight] => LeafOp::Sub {
            subject: &arg[subject.clone()],
            queue: Some(&arg[queue.clone()]),
            // nats-server takes what it can't parse as no weight; one member then.
            weight: parse_size(&arg[weight.clone()])
                .and_then(|w| u32::try_from(w).ok())
                .filter(|w| *w > 0)
                .unwrap_or(1),
            key: &arg[..arg.len() - weight.len() - 1],
        },
        [subject, ..] => LeafOp::Sub {
            subject: &arg[subject.clone()],
            queue: None,
            weight: 1,
            key: arg,
        },
        [] => LeafOp::Ignored,
    }
}

/// A message control line as nats-server's `processLeafMsgArgs` and
/// `processLeafHeaderMsgArgs` read it (`PUB`/`HPUB` take only their own forms).
fn msg_args(kind: Kind, arg: &[u8], max_payload: usize) -> Result<MsgArgs, ParseError> {
    const WRONG: ParseError = ParseError::BadArguments("LMSG: wrong argument count");
    // Counted and picked without collecting: this runs for every message.
    let count = count_args(arg);
    let part = |n: usize| split_args(arg).nth(n).ok_or(WRONG);
    let headers = matches!(kind, Kind::HMsg | Kind::HPub);
    // Sizes at the end: the total, and the header length before it.
    let fixed = if headers { 2 } else { 1 };
    let most = match kind {
        Kind::Pub => 3,
        Kind::HPub => 4,
        _ => usize::MAX,
    };
    if count < 1 + fixed || count > most {
        return Err(WRONG);
    }
    let size = parse_size(&arg[part(count - 1)?])
        .ok_or(ParseError::BadArguments("LMSG: bad or missing size"))?;
    let header_len = if headers {
        let hdr = parse_size(&arg[part(count - 2)?])
            .ok_or(ParseError::BadArguments("HMSG: bad or missing header size"))?;
        if hdr > size {
            return Err(ParseError::BadArguments(
                "HMSG: header size larger than total size",
            ));
        }
        Some(hdr)
    } else {
        None
    };
    let subject = part(0)?;
    let empty = subject.end..subject.end;
    // The arguments between the subject and the sizes: nothing, a reply, or an indicator
    // (`+ reply` or `|`) followed by queue names.
    let middle = count - 1 - fixed;
    let (reply, queues) = match middle {
        0 => (None, empty),
        1 => (Some(part(1)?), empty),
        _ => {
            let (reply, first_queue) = match &arg[part(1)?] {
                b"+" => (Some(part(2)?), 3),
                b"|" => (None, 2),
                _ => {
                    return Err(ParseError::BadArguments(
                        "LMSG: bad or missing reply indicator",
                    ))
                }
            };
            let last_queue = count - fixed - 1;
            let queues = if first_queue <= last_queue {
                part(first_queue)?.start..part(last_queue)?.end
            } else {
                empty
            };
            (reply, queues)
        }
    };
    if size > max_payload {
        return Err(ParseError::MaxPayload { size });
    }
    Ok(MsgArgs {
        subject,
        reply,
        queues,
        header_len,
        size,
    })
}

/// Appends `LS+ <key>\r\n`, or `LS+ <subject> <queue> <weight>\r\n` when `key` names a
/// queue group (`subject queue`).
pub fn sub_line(out: &mut Vec<u8>, key: &[u8], weight: u32) {
    out.extend_from_slice(b"LS+ ");
    out.extend_from_slice(key);
    if key.contains(&b' ') {
        out.push(b' ');
        out.extend_from_slice(itoa::Buffer::new().format(weight).as_bytes());
    }
    out.extend_from_slice(b"\r\n");
}

/// Appends `LS- <key>\r\n`.
pub fn unsub_line(out: &mut Vec<u8>, key: &[u8]) {
    out.extend_from_slice(b"LS- ");
    out.extend_from_slice(key);
    out.extend_from_slice(b"\r\n");
}

/// The key nats-server gives interest in `subject` (with `queue`): `subject` or
/// `subject queue`.
pub fn interest_key(subject: &[u8], queue: Option<&[u8]>) -> Vec<u8> {
    let mut key = Vec::with_capacity(subject.len() + queue.map_or(0, |q| q.len() + 1));
    key.extend_from_slice(subject);
    if let Some(queue) = queue {
        key.push(b' ');
        key.extend_from_slice(queue);
    }
    key
}

/// Appends a message for a link: `LMSG`, or `HMSG` when `header_len` is given, with the
/// queue groups it is for (`+ reply q...` or `| q...`) or just the reply.
pub fn message<'q>(
    out: &mut Vec<u8>,
    subject: &[u8],
    reply: Option<&[u8]>,
    queues: impl IntoIterator<Item = &'q [u8]>,
    header_len: Option<usize>,
    message: &[u8],
) {
    out.reserve(subject.len() + reply.map_or(0, <[u8]>::len) + message.len() + 48);
    out.extend_from_slice(if header_len.is_some() {
        b"HMSG "
    } else {
        b"LMSG "
    });
    out.extend_from_slice(subject);
    out.push(b' ');
    let mut queues = queues.into_iter().peekable();
    if queues.peek().is_some() {
        match reply {
            Some(reply) => {
                out.extend_from_slice(b"+ ");
                out.extend_from_slice(reply);
                out.push(b' ');
            }
            None => out.extend_from_slice(b"| "),
        }
        for queue in queues {
            out.extend_from_slice(queue);
            out.push(b' ');
        }
    } else if let Some(reply) = reply {
        out.extend_from_slice(reply);
        out.push(b' ');
    }
    let mut digits = itoa::Buffer::new();
    if let Some(header_len) = header_len {
        out.extend_from_slice(digits.format(header_len).as_bytes());
        out.push(b' ');
    }
    out.extend_from_slice(digits.format(message.len()).as_bytes());
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(message);
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
#[path = "leaf_tests.rs"]
mod tests;
