//! Arbitrary server bytes through the IMAP client's response handling: framing (with tiny caps so
//! that spooling and limits are exercised), greeting and response parsing. Any panic is a bug.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pimlink_imap::proto::frame::{FrameEvent, FrameLimits, Framer};
use pimlink_imap::proto::response::{parse_greeting, parse_response_names};

fuzz_target!(|data: &[u8]| {
    let _ = parse_greeting(data);
    // Mailbox names are modified UTF-7, or raw UTF-8 once UTF8=ACCEPT is enabled: both modes.
    let utf8 = data.first().is_some_and(|b| b & 0x80 != 0);
    let limits = FrameLimits {
        max_line: 4096,
        inline_literal: 64,
        max_frame: 1 << 16,
    };
    let mut framer = Framer::new(limits, 7);
    // Feed in uneven pieces: framing must not depend on how reads split the stream.
    let split = data.first().map_or(1, |b| usize::from(*b % 13) + 1);
    for piece in data.chunks(split) {
        framer.feed(piece);
        loop {
            match framer.next_event() {
                Ok(Some(FrameEvent::Frame(frame))) => {
                    let _ = parse_response_names(&frame.bytes, &|b| framer.marker_index(b), utf8);
                }
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => break,
            }
        }
    }
});
