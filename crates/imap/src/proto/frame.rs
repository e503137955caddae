//! Framing of server output into complete responses, before any parsing.
//!
//! A response is one or more lines joined by literals (`{N}\r\n` followed by N bytes). The
//! framer collects a whole response under size caps and reports "need more" (`Ok(None)`) rather
//! than reading by itself. Literals larger than [`FrameLimits::inline_literal`] are not kept: the
//! framer hands their bytes out as [`FrameEvent::LiteralChunk`]s (the client streams them to a
//! spool file) and puts a short placeholder literal carrying a per-connection marker in their
//! place, so the parser still sees a well-formed response and the marker tells which spooled
//! literal belongs where.

use std::fmt;

/// Size caps that keep a hostile server from making the client buffer without bound.
#[derive(Clone, Copy, Debug)]
pub struct FrameLimits {
    /// The longest line (without literals) accepted.
    pub max_line: usize,
    /// Literals up to this size stay inside the frame; larger ones are handed out in chunks.
    pub inline_literal: usize,
    /// The most bytes one frame may hold in memory (lines plus inline literals).
    pub max_frame: usize,
}

impl Default for FrameLimits {
    fn default() -> Self {
        Self {
            max_line: 1 << 20,
            inline_literal: 256 << 10,
            max_frame: 64 << 20,
        }
    }
}

/// Why the framer gave up. Every framing error is fatal for the connection: after one the byte
/// stream can no longer be split into responses reliably.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FrameError {
    /// A line grew past [`FrameLimits::max_line`].
    LineTooLong(usize),
    /// The frame grew past [`FrameLimits::max_frame`].
    FrameTooLarge(usize),
    /// A literal announcement that is not a number, or one too large to be real.
    BadLiteral(String),
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::LineTooLong(n) => write!(f, "server sent a line longer than {n} bytes"),
            FrameError::FrameTooLarge(n) => {
                write!(f, "server sent a response larger than {n} bytes")
            }
            FrameError::BadLiteral(s) => write!(f, "server announced an invalid literal {s:?}"),
        }
    }
}

impl std::error::Error for FrameError {}

/// What the framer produced.
#[derive(Debug, PartialEq, Eq)]
pub enum FrameEvent {
    /// A complete response; `spooled` literals were handed out in chunks before it.
    Frame(Frame),
    /// A large literal starts; its bytes follow as chunks, then [`FrameEvent::LiteralEnd`].
    LiteralStart {
        /// Index of this spooled literal within the frame, as written in its marker.
        index: u32,
        /// Announced length.
        len: u64,
    },
    /// Bytes of the current large literal.
    LiteralChunk(Vec<u8>),
    /// The current large literal is complete.
    LiteralEnd,
}

/// One complete response.
#[derive(Debug, PartialEq, Eq)]
pub struct Frame {
    /// The bytes to parse, with large literals replaced by marker literals.
    pub bytes: Vec<u8>,
    /// How many literals were spooled (and replaced by markers).
    pub spooled: u32,
}

enum State {
    Line,
    InlineLiteral(usize),
    SpooledLiteral(u64),
}

/// The framer: feed it bytes, take events out.
pub struct Framer {
    limits: FrameLimits,
    marker: Vec<u8>,
    input: Vec<u8>,
    scanned: usize,
    frame: Vec<u8>,
    spooled: u32,
    state: State,
    fatal: Option<FrameError>,
}

impl Framer {
    /// A framer with `limits`; `nonce` makes spool markers unguessable for the server.
    pub fn new(limits: FrameLimits, nonce: u64) -> Self {
        Self {
            limits,
            marker: format!("pimlink-spool-{nonce:016x}-").into_bytes(),
            input: Vec::new(),
            scanned: 0,
            frame: Vec::new(),
            spooled: 0,
            state: State::Line,
            fatal: None,
        }
    }

    /// The placeholder bytes put in place of spooled literal `index`.
    pub fn marker(&self, index: u32) -> Vec<u8> {
        let mut m = self.marker.clone();
        m.extend_from_slice(index.to_string().as_bytes());
        m
    }

    /// The index of the spooled literal whose placeholder is `bytes`, if it is one.
    pub fn marker_index(&self, bytes: &[u8]) -> Option<u32> {
        let digits = bytes.strip_prefix(self.marker.as_slice())?;
        std::str::from_utf8(digits).ok()?.parse().ok()
    }

    /// Appends bytes received from the server.
    pub fn feed(&mut self, bytes: &[u8]) {
        self.input.extend_from_slice(bytes);
    }

    /// True if a response (or a large literal) has started but is not complete: a connection
    /// that ends now was cut in the middle of a response.
    pub fn is_mid_response(&self) -> bool {
        !self.frame.is_empty() || !self.input.is_empty() || !matches!(self.state, State::Line)
    }

    /// Bytes received but not yet framed. STARTTLS uses this to find (and discard) anything the
    /// server sent before the handshake.
    pub fn take_unframed(&mut self) -> Vec<u8> {
        self.scanned = 0;
        std::mem::take(&mut self.input)
    }

    /// The next event, `Ok(None)` if more bytes are needed. Errors are sticky.
    pub fn next_event(&mut self) -> Result<Option<FrameEvent>, FrameError> {
        if let Some(err) = &self.fatal {
            return Err(err.clone());
        }
        let result = self.step();
        if let Err(err) = &result {
            self.fatal = Some(err.clone());
        }
        result
    }

    fn step(&mut self) -> Result<Option<FrameEvent>, FrameError> {
        loop {
            match self.state {
                State::Line => {
                    let Some(rel) = self.input[self.scanned..].iter().position(|&b| b == b'\n')
                    else {
                        self.scanned = self.input.len();
                        if self.input.len() > self.limits.max_line {
                            return Err(FrameError::LineTooLong(self.limits.max_line));
                        }
                        return Ok(None);
                    };
                    let end = self.scanned + rel + 1;
                    self.scanned = 0;
                    if end > self.limits.max_line {
                        return Err(FrameError::LineTooLong(self.limits.max_line));
                    }
                    let line: Vec<u8> = self.input.drain(..end).collect();
                    self.push_frame(&line)?;
                    match literal_announcement(&line)? {
                        None => {
                            let bytes = std::mem::take(&mut self.frame);
                            let spooled = std::mem::replace(&mut self.spooled, 0);
                            return Ok(Some(FrameEvent::Frame(Frame { bytes, spooled })));
                        }
                        Some((len, announcement_start)) => {
                            let inline = usize::try_from(len)
                                .ok()
                                .filter(|&n| n <= self.limits.inline_literal);
                            if let Some(n) = inline {
                                self.state = State::InlineLiteral(n);
                            } else {
                                let index = self.spooled;
                                self.spooled += 1;
                                let marker = self.marker(index);
                                // Rewrite "{N}\r\n" at the end of the frame as "{len(marker)}\r\n".
                                let cut = self.frame.len() - (line.len() - announcement_start);
                                self.frame.truncate(cut);
                                self.frame.extend_from_slice(
                                    format!("{{{}}}\r\n", marker.len()).as_bytes(),
                                );
                                self.push_frame(&marker)?;
                                self.state = State::SpooledLiteral(len);
                                return Ok(Some(FrameEvent::LiteralStart { index, len }));
                            }
                        }
                    }
                }
                State::InlineLiteral(remaining) => {
                    let take = remaining.min(self.input.len());
                    let bytes: Vec<u8> = self.input.drain(..take).collect();
                    self.push_frame(&bytes)?;
                    if take < remaining {
                        self.state = State::InlineLiteral(remaining - take);
                        return Ok(None);
                    }
                    self.state = State::Line;
                }
                State::SpooledLiteral(remaining) => {
                    if remaining == 0 {
                        self.state = State::Line;
                        return Ok(Some(FrameEvent::LiteralEnd));
                    }
                    if self.input.is_empty() {
                        return Ok(None);
                    }
                    let take = usize::try_from(remaining)
                        .unwrap_or(usize::MAX)
                        .min(self.input.len());
                    let chunk: Vec<u8> = if take == self.input.len() {
                        std::mem::take(&mut self.input)
                    } else {
                        self.input.drain(..take).collect()
                    };
                    self.state = State::SpooledLiteral(remaining - take as u64);
                    return Ok(Some(FrameEvent::LiteralChunk(chunk)));
                }
            }
        }
    }

    fn push_frame(&mut self, bytes: &[u8]) -> Result<(), FrameError> {
        if self.frame.len() + bytes.len() > self.limits.max_frame {
            return Err(FrameError::FrameTooLarge(self.limits.max_frame));
        }
        self.frame.extend_from_slice(bytes);
        Ok(())
    }
}

/// If `line` ends with a literal announcement (`{N}`, `{N+}` or `~{N}`) before its line end,
/// returns N and the offset of the `{`.
fn literal_announcement(line: &[u8]) -> Result<Option<(u64, usize)>, FrameError> {
    let body = line.strip_suffix(b"\n").unwrap_or(line);
    let body = body.strip_suffix(b"\r").unwrap_or(body);
    let Some(body) = body.strip_suffix(b"}") else {
        return Ok(None);
    };
    let Some(open) = body.iter().rposition(|&b| b == b'{') else {
        return Ok(None);
    };
    let digits = &body[open + 1..];
    let digits = digits.strip_suffix(b"+").unwrap_or(digits);
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        // "{...}" that is not a literal (e.g. inside response text) is left to the parser.
        return Ok(None);
    }
    let text = String::from_utf8_lossy(digits);
    // RFC 9051 caps a literal's length at 2^32 - 1 (number); anything larger is hostile.
    let len: u64 = text
        .parse::<u32>()
        .map_err(|_| FrameError::BadLiteral(text.clone().into_owned()))?
        .into();
    Ok(Some((len, open)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(inline: usize) -> FrameLimits {
        FrameLimits {
            max_line: 100,
            inline_literal: inline,
            max_frame: 1000,
        }
    }

    fn drain(framer: &mut Framer) -> Vec<FrameEvent> {
        let mut out = Vec::new();
        while let Some(event) = framer.next_event().unwrap() {
            out.push(event);
        }
        out
    }

    #[test]
    fn frames_lines_and_inline_literals_byte_by_byte() {
        let input = b"* 1 FETCH (BODY[] {5}\r\nab\r\nc)\r\na1 OK done\r\n";
        let mut framer = Framer::new(limits(10), 1);
        let mut events = Vec::new();
        for byte in input {
            framer.feed(&[*byte]);
            events.extend(drain(&mut framer));
        }
        assert_eq!(
            events,
            vec![
                FrameEvent::Frame(Frame {
                    bytes: b"* 1 FETCH (BODY[] {5}\r\nab\r\nc)\r\n".to_vec(),
                    spooled: 0
                }),
                FrameEvent::Frame(Frame {
                    bytes: b"a1 OK done\r\n".to_vec(),
                    spooled: 0
                }),
            ]
        );
        assert!(!framer.is_mid_response());
    }

    #[test]
    fn large_literals_are_spooled_and_replaced_by_a_marker() {
        let mut framer = Framer::new(limits(3), 0xabc);
        framer.feed(b"* 1 FETCH (UID 7 BODY[] {6}\r\nabc");
        let marker = framer.marker(0);
        assert_eq!(
            drain(&mut framer),
            vec![
                FrameEvent::LiteralStart { index: 0, len: 6 },
                FrameEvent::LiteralChunk(b"abc".to_vec())
            ]
        );
        assert!(framer.is_mid_response());
        framer.feed(b"def)\r\n");
        let events = drain(&mut framer);
        let mut expected = format!("* 1 FETCH (UID 7 BODY[] {{{}}}\r\n", marker.len()).into_bytes();
        expected.extend_from_slice(&marker);
        expected.extend_from_slice(b")\r\n");
        assert_eq!(
            events,
            vec![
                FrameEvent::LiteralChunk(b"def".to_vec()),
                FrameEvent::LiteralEnd,
                FrameEvent::Frame(Frame {
                    bytes: expected,
                    spooled: 1
                })
            ]
        );
    }

    #[test]
    fn caps_are_enforced_and_errors_stick() {
        let mut framer = Framer::new(limits(10), 0);
        framer.feed(&[b'x'; 150]);
        assert_eq!(framer.next_event(), Err(FrameError::LineTooLong(100)));
        framer.feed(b"\r\n");
        assert_eq!(framer.next_event(), Err(FrameError::LineTooLong(100)));

        let mut framer = Framer::new(limits(2000), 0);
        framer.feed(b"* 1 FETCH (BODY[] {1500}\r\n");
        framer.feed(&[b'a'; 1500]);
        assert_eq!(framer.next_event(), Err(FrameError::FrameTooLarge(1000)));

        let mut framer = Framer::new(limits(10), 0);
        framer.feed(b"* 1 FETCH (BODY[] {99999999999}\r\n");
        assert!(matches!(
            framer.next_event(),
            Err(FrameError::BadLiteral(_))
        ));
    }

    #[test]
    fn brace_text_that_is_no_literal_is_left_alone() {
        let mut framer = Framer::new(limits(10), 0);
        framer.feed(b"* OK hello {world}\r\n");
        assert_eq!(
            drain(&mut framer),
            vec![FrameEvent::Frame(Frame {
                bytes: b"* OK hello {world}\r\n".to_vec(),
                spooled: 0
            })]
        );
    }
}
