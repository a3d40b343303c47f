//! Request body decoding: `Content-Length` and chunked (RFC 9112 §6 and §7.1).
//!
//! [`BodyDecoder`] takes whatever bytes have arrived, moves body data into the caller's buffer
//! and says how many input bytes it used, so bytes of a pipelined next request are never
//! consumed. It keeps only a few counters between calls: a chunk-size line or a trailer split over
//! two reads is resumed where it stopped.

use super::parse::BodyFraming;
use super::HttpError;

/// An incremental decoder for one request body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyDecoder {
    state: State,
    /// Body bytes delivered so far.
    received: u64,
    max_body: u64,
}

/// What one call to [`BodyDecoder::decode`] achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decoded {
    /// Input bytes used; the rest belongs to whatever follows.
    pub consumed: usize,
    /// The body is complete.
    pub done: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    Length {
        remaining: u64,
    },
    /// Reading the hex size of the next chunk.
    ChunkSize {
        size: u64,
        digits: usize,
    },
    /// After the size: skipping a chunk extension up to the CR.
    ChunkExtension {
        size: u64,
        skipped: usize,
    },
    /// The CR of the size line was seen; the LF must follow.
    ChunkSizeLf {
        size: u64,
    },
    ChunkData {
        remaining: u64,
    },
    ChunkDataCr,
    ChunkDataLf,
    /// After the last chunk: trailer lines, skipped, until an empty line.
    Trailer {
        line_len: usize,
        total: usize,
        after_cr: bool,
    },
    Done,
}

impl BodyDecoder {
    /// A decoder for a body framed as the head says, refusing more than `max_body` bytes.
    pub fn new(framing: BodyFraming, max_body: u64) -> Self {
        let state = match framing {
            BodyFraming::Empty => State::Done,
            BodyFraming::Length(n) => State::Length { remaining: n },
            BodyFraming::Chunked => State::ChunkSize { size: 0, digits: 0 },
        };
        BodyDecoder {
            state,
            received: 0,
            max_body,
        }
    }

    /// Whether the whole body has been decoded.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Decodes as much of `input` as belongs to this body, appending body data to `body`.
    pub fn decode(&mut self, input: &[u8], body: &mut Vec<u8>) -> Result<Decoded, HttpError> {
        let mut used = 0;
        while used < input.len() && self.state != State::Done {
            let rest = &input[used..];
            used += match self.state {
                State::Length { remaining } => {
                    let take = clamp(remaining, rest.len());
                    self.deliver(&rest[..take], body)?;
                    let remaining = remaining - take as u64;
                    self.state = if remaining == 0 {
                        State::Done
                    } else {
                        State::Length { remaining }
                    };
                    take
                }
                State::ChunkData { remaining } => {
                    let take = clamp(remaining, rest.len());
                    self.deliver(&rest[..take], body)?;
                    let remaining = remaining - take as u64;
                    self.state = if remaining == 0 {
                        State::ChunkDataCr
                    } else {
                        State::ChunkData { remaining }
                    };
                    take
                }
                _ => {
                    self.step(rest[0])?;
                    1
                }
            };
        }
        Ok(Decoded {
            consumed: used,
            done: self.state == State::Done,
        })
    }

    /// Advances the framing states one byte at a time; they are a handful of bytes per chunk.
    fn step(&mut self, b: u8) -> Result<(), HttpError> {
        self.state = match self.state {
            State::ChunkSize { size, digits } => match b {
                b'0'..=b'9' | b'a'..=b'f' | b'A'..=b'F' => {
                    if digits == MAX_CHUNK_SIZE_DIGITS {
                        return Err(HttpError::MalformedChunkedBody);
                    }
                    let digit = u64::from(hex_value(b));
                    State::ChunkSize {
                        size: size * 16 + digit,
                        digits: digits + 1,
                    }
                }
                b';' | b' ' | b'\t' if digits > 0 => State::ChunkExtension { size, skipped: 0 },
                b'\r' if digits > 0 => State::ChunkSizeLf { size },
                _ => return Err(HttpError::MalformedChunkedBody),
            },
            State::ChunkExtension { size, skipped } => match b {
                b'\r' => State::ChunkSizeLf { size },
                b'\n' | 0 => return Err(HttpError::MalformedChunkedBody),
                _ if skipped >= MAX_CHUNK_EXTENSION => return Err(HttpError::MalformedChunkedBody),
                _ => State::ChunkExtension {
                    size,
                    skipped: skipped + 1,
                },
            },
            State::ChunkSizeLf { size } => match b {
                b'\n' if size == 0 => State::Trailer {
                    line_len: 0,
                    total: 0,
                    after_cr: false,
                },
                b'\n' => {
                    if self.received + size > self.max_body {
                        return Err(HttpError::BodyTooLarge);
                    }
                    State::ChunkData { remaining: size }
                }
                _ => return Err(HttpError::MalformedChunkedBody),
            },
            State::ChunkDataCr => match b {
                b'\r' => State::ChunkDataLf,
                _ => return Err(HttpError::MalformedChunkedBody),
            },
            State::ChunkDataLf => match b {
                b'\n' => State::ChunkSize { size: 0, digits: 0 },
                _ => return Err(HttpError::MalformedChunkedBody),
            },
            State::Trailer {
                line_len,
                total,
                after_cr,
            } => {
                if total >= MAX_TRAILER {
                    return Err(HttpError::HeadTooLarge);
                }
                match (b, after_cr) {
                    (b'\n', true) if line_len == 0 => State::Done,
                    (b'\n', true) => State::Trailer {
                        line_len: 0,
                        total: total + 1,
                        after_cr: false,
                    },
                    (b'\r', false) => State::Trailer {
                        line_len,
                        total: total + 1,
                        after_cr: true,
                    },
                    (b'\n' | b'\r' | 0, _) | (_, true) => {
                        return Err(HttpError::MalformedChunkedBody)
                    }
                    _ => State::Trailer {
                        line_len: line_len + 1,
                        total: total + 1,
                        after_cr: false,
                    },
                }
            }
            // Data and Done states never reach here: `decode` handles them in bulk.
            State::Length { .. } | State::ChunkData { .. } | State::Done => self.state.clone(),
        };
        Ok(())
    }

    fn deliver(&mut self, data: &[u8], body: &mut Vec<u8>) -> Result<(), HttpError> {
        self.received += data.len() as u64;
        if self.received > self.max_body {
            return Err(HttpError::BodyTooLarge);
        }
        body.extend_from_slice(data);
        Ok(())
    }
}

fn clamp(remaining: u64, available: usize) -> usize {
    usize::try_from(remaining).map_or(available, |r| r.min(available))
}

fn hex_value(b: u8) -> u8 {
    match b {
        b'0'..=b'9' => b - b'0',
        b'a'..=b'f' => b - b'a' + 10,
        _ => b - b'A' + 10,
    }
}

/// Fifteen hex digits keep a chunk size below 2^60, so adding it to a byte count cannot overflow.
const MAX_CHUNK_SIZE_DIGITS: usize = 15;
/// Chunk extensions carry nothing this server uses; a few hundred bytes is generous.
const MAX_CHUNK_EXTENSION: usize = 1024;
/// Trailer fields are skipped; their total size is bounded like a head.
const MAX_TRAILER: usize = 16 * 1024;

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(framing: BodyFraming, input: &[u8]) -> Result<(Vec<u8>, usize, bool), HttpError> {
        let mut decoder = BodyDecoder::new(framing, 1 << 20);
        let mut body = Vec::new();
        let d = decoder.decode(input, &mut body)?;
        Ok((body, d.consumed, d.done))
    }

    #[test]
    fn content_length_stops_at_the_length() {
        let (body, used, done) = decode_all(BodyFraming::Length(5), b"helloGET /").unwrap();
        assert_eq!((body.as_slice(), used, done), (&b"hello"[..], 5, true));
    }

    #[test]
    fn chunked_body_with_extension_and_trailer() {
        let input = b"5;name=value\r\nhello\r\n6\r\n world\r\n0\r\nX-T: 1\r\n\r\nNEXT";
        let (body, used, done) = decode_all(BodyFraming::Chunked, input).unwrap();
        assert_eq!(body, b"hello world");
        assert!(done);
        assert_eq!(&input[used..], b"NEXT");
    }

    #[test]
    fn chunked_size_is_case_insensitive_hex() {
        let (body, _, done) =
            decode_all(BodyFraming::Chunked, b"A\r\n0123456789\r\n0\r\n\r\n").unwrap();
        assert_eq!(body.len(), 10);
        assert!(done);
    }

    #[test]
    fn malformed_chunked_bodies_are_rejected() {
        let cases: &[&[u8]] = &[
            b"\r\n",
            b"x\r\n",
            b"5\nhello\r\n",
            b"5\r\nhelloX",
            b"5\r\nhello\rX",
            b"-1\r\n",
            b"1000000000000000\r\n",
            b"0\r\nbad\nline\r\n\r\n",
        ];
        for case in cases {
            assert_eq!(
                decode_all(BodyFraming::Chunked, case),
                Err(HttpError::MalformedChunkedBody),
                "{:?}",
                String::from_utf8_lossy(case)
            );
        }
    }

    #[test]
    fn body_over_the_limit_is_refused() {
        let mut decoder = BodyDecoder::new(BodyFraming::Chunked, 4);
        let mut body = Vec::new();
        assert_eq!(
            decoder.decode(b"5\r\n", &mut body),
            Err(HttpError::BodyTooLarge)
        );
        let mut decoder = BodyDecoder::new(BodyFraming::Length(10), 4);
        assert_eq!(
            decoder.decode(b"12345", &mut body),
            Err(HttpError::BodyTooLarge)
        );
    }

    #[test]
    fn chunked_byte_by_byte_equals_whole() {
        let input = b"3\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\n\r\n";
        let mut decoder = BodyDecoder::new(BodyFraming::Chunked, 1 << 20);
        let mut body = Vec::new();
        for (i, byte) in input.iter().enumerate() {
            let d = decoder
                .decode(std::slice::from_ref(byte), &mut body)
                .unwrap();
            assert_eq!(d.consumed, 1);
            assert_eq!(d.done, i == input.len() - 1);
        }
        assert_eq!(body, b"abc0123456789abcdef");
    }
}
