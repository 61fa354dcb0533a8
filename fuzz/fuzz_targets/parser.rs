//! The parser must never panic, and must give the same operations however its input is
//! split: the first byte of the input picks the split point.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchboard::proto::{Parser, ParserLimits};

const LIMITS: ParserLimits = ParserLimits {
    max_control_line: 4096,
    max_payload: 64 * 1024,
};

fn run(chunks: &[&[u8]]) -> (Vec<String>, Option<String>) {
    let mut parser = Parser::new(LIMITS);
    parser.headers_enabled = true;
    let mut ops = Vec::new();
    for chunk in chunks {
        let mut pos = 0;
        loop {
            match parser.next_op(chunk, &mut pos) {
                Ok(Some(op)) => ops.push(format!("{op:?}")),
                Ok(None) => break,
                Err(e) => return (ops, Some(e.to_string())),
            }
        }
    }
    (ops, None)
}

fuzz_target!(|data: &[u8]| {
    let Some((&cut, input)) = data.split_first() else {
        return;
    };
    let whole = run(&[input]);
    let cut = usize::from(cut) * input.len() / 256;
    let split = run(&[&input[..cut], &input[cut..]]);
    assert_eq!(whole, split);
});
