//! The messaging patterns of the seed (one to one, one to N, M to N, one of N) and request/
//! reply, and how the flow map tells a subject's pattern from who publishes and receives it.

/// How a subject's messages travel, as the seed names the patterns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Pattern {
    /// One publisher, one subscriber.
    OneToOne,
    /// One publisher, several subscribers: each gets every message (a stream).
    OneToMany,
    /// Several publishers and one or more subscribers (M to N; M to 1 is its fan-in case).
    ManyToMany,
    /// A queue group: each message goes to one member.
    OneOfMany,
    /// Requests to a service: its receivers answer on the requesters' reply inboxes.
    RequestReply,
    /// The replies themselves (reply subjects: `_INBOX.`, `$JS.ACK.`, or seen only as replies).
    Replies,
    /// Published while nobody listens: every message is lost.
    NoReceivers,
    /// Seen from outside the deployment: who publishes (or receives) is not known.
    Unknown,
}

impl Pattern {
    /// In the order the legend lists them.
    pub const ALL: [Pattern; 8] = [
        Pattern::OneToOne,
        Pattern::OneToMany,
        Pattern::ManyToMany,
        Pattern::OneOfMany,
        Pattern::RequestReply,
        Pattern::Replies,
        Pattern::NoReceivers,
        Pattern::Unknown,
    ];

    /// The legend's words.
    pub fn label(self) -> &'static str {
        match self {
            Pattern::OneToOne => "1 to 1",
            Pattern::OneToMany => "1 to N",
            Pattern::ManyToMany => "M to N",
            Pattern::OneOfMany => "1 of N (queue group)",
            Pattern::RequestReply => "request/reply",
            Pattern::Replies => "replies",
            Pattern::NoReceivers => "no receivers",
            Pattern::Unknown => "unknown",
        }
    }

    /// The short tag drawn on a subject node.
    pub fn tag(self) -> &'static str {
        match self {
            Pattern::OneToOne => "1:1",
            Pattern::OneToMany => "1:N",
            Pattern::ManyToMany => "M:N",
            Pattern::OneOfMany => "1 of N",
            Pattern::RequestReply => "req",
            Pattern::Replies => "reply",
            Pattern::NoReceivers => "none",
            Pattern::Unknown => "?",
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            Pattern::OneToOne => "one publisher, one subscriber",
            Pattern::OneToMany => "one publisher, every subscriber gets each message",
            Pattern::ManyToMany => "several publishers, one or more subscribers",
            Pattern::OneOfMany => "a queue group: each message goes to one member",
            Pattern::RequestReply => {
                "requests to a service, answered on the requester's reply inbox"
            }
            Pattern::Replies => {
                "replies to requests, on reply subjects (_INBOX, $JS.ACK, or used only as replies; dashed lines)"
            }
            Pattern::NoReceivers => "published while nobody listens: the messages are lost",
            Pattern::Unknown => "seen from outside the deployment: who publishes is unknown",
        }
    }
}

/// What decides a subject's pattern.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Live publishers; `None` when they cannot be known (outside the deployment).
    pub publishers: Option<usize>,
    /// Connections subscribed without a queue group; `None` when unknown.
    pub receivers: Option<usize>,
    pub queue_groups: usize,
    /// Its receivers answer its publishers on reply inboxes, or the broker paired its
    /// requests with replies.
    pub request: bool,
    /// A reply inbox subject.
    pub inbox: bool,
}

/// A subject's pattern. A queue group wins over plain subscribers beside it (the group is
/// the work distribution; the others are usually monitors), requests over everything.
pub fn classify(c: Counts) -> Pattern {
    if c.inbox {
        return Pattern::Replies;
    }
    if c.request {
        return Pattern::RequestReply;
    }
    if c.queue_groups > 0 {
        return Pattern::OneOfMany;
    }
    let Some(receivers) = c.receivers else {
        return Pattern::Unknown;
    };
    if receivers == 0 {
        return Pattern::NoReceivers;
    }
    match c.publishers {
        None => Pattern::Unknown,
        Some(p) if p >= 2 => Pattern::ManyToMany,
        // No live publisher (it left): the receivers still tell 1 from N.
        Some(_) if receivers >= 2 => Pattern::OneToMany,
        Some(_) => Pattern::OneToOne,
    }
}
