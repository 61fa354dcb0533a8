//! The NATS client protocol, sans I/O: parsing client bytes into operations, encoding the
//! server's replies, subject grammar, INFO/CONNECT JSON and the exact `-ERR` texts.

pub mod encode;
pub mod errors;
pub mod ids;
pub mod info;
pub mod leaf;
pub mod leaf_info;
pub mod parser;
pub mod subject;
pub mod transform;

pub use parser::{ClientOp, ParseError, Parser, ParserLimits, Publish};
