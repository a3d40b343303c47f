//! Invariants of the request body decoder (`Content-Length` and chunked), checked on arbitrary
//! bytes.

use crate::http::{BodyDecoder, BodyFraming, HttpError};

/// Decodes `bytes` as a request body and checks that:
/// - feeding them whole, byte by byte and split in two places gives the same outcome (body,
///   bytes used, done) or the same error;
/// - no more is used than given, the body never exceeds the limit nor the bytes used, and input
///   is left over only once the body is done (it belongs to the next request);
/// - a complete body re-encoded as chunks decodes to the same body.
///
/// The first byte picks the framing and the body limit, so the fuzzer explores both.
pub fn check_http_body(bytes: &[u8]) {
    let Some((&selector, input)) = bytes.split_first() else {
        return;
    };
    let max_body = LIMITS[usize::from(selector >> 4) % LIMITS.len()];
    let framing = match selector & 0x0f {
        0 => BodyFraming::Empty,
        1..=3 => BodyFraming::Length(u64::from(selector & 0x0f) * 7 + input.len() as u64 / 2),
        _ => BodyFraming::Chunked,
    };
    let whole = decode(framing, max_body, input, &[]);
    let (a, b) = (input.len() / 3, input.len() * 2 / 3);
    assert_eq!(
        decode(framing, max_body, input, &[a, b]),
        whole,
        "split at {a}, {b}"
    );
    if input.len() <= BYTE_BY_BYTE_LIMIT {
        let every: Vec<usize> = (1..input.len()).collect();
        assert_eq!(
            decode(framing, max_body, input, &every),
            whole,
            "byte by byte"
        );
    }
    let Ok(outcome) = whole else {
        return;
    };
    assert!(outcome.consumed <= input.len(), "used more than given");
    assert!(outcome.body.len() as u64 <= max_body, "body over the limit");
    assert!(outcome.body.len() <= outcome.consumed, "body from nowhere");
    assert!(
        outcome.done || outcome.consumed == input.len(),
        "input left over before the body was done"
    );
    if outcome.done {
        let mut encoded = Vec::new();
        encode_chunked(&outcome.body, &mut encoded);
        let again = decode(BodyFraming::Chunked, max_body, &encoded, &[]);
        assert_eq!(
            again.map(|o| (o.body, o.done)),
            Ok((outcome.body.clone(), true)),
            "chunked round trip"
        );
    }
}

/// What decoding a whole input achieved.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Outcome {
    body: Vec<u8>,
    consumed: usize,
    done: bool,
}

/// Feeds `input` cut at `cuts`, as reads would arrive; stops feeding once the body is done.
fn decode(
    framing: BodyFraming,
    max_body: u64,
    input: &[u8],
    cuts: &[usize],
) -> Result<Outcome, HttpError> {
    let mut decoder = BodyDecoder::new(framing, max_body);
    let mut body = Vec::new();
    let mut consumed = 0;
    let mut start = 0;
    for &cut in cuts.iter().chain(std::iter::once(&input.len())) {
        let cut = cut.clamp(start, input.len());
        let decoded = decoder.decode(&input[start..cut], &mut body)?;
        consumed += decoded.consumed;
        if decoded.done {
            return Ok(Outcome {
                body,
                consumed,
                done: true,
            });
        }
        assert_eq!(
            decoded.consumed,
            cut - start,
            "a partial body left bytes unused"
        );
        start = cut;
    }
    Ok(Outcome {
        done: decoder.is_done(),
        body,
        consumed,
    })
}

/// Writes `body` as chunks of growing sizes, a chunk extension and a trailer included.
fn encode_chunked(body: &[u8], out: &mut Vec<u8>) {
    let mut rest = body;
    let mut size = 1;
    while !rest.is_empty() {
        let take = size.min(rest.len());
        out.extend_from_slice(format!("{take:x};ext=1\r\n").as_bytes());
        out.extend_from_slice(&rest[..take]);
        out.extend_from_slice(b"\r\n");
        rest = &rest[take..];
        size *= 3;
    }
    out.extend_from_slice(b"0\r\nTrailer: x\r\n\r\n");
}

/// Body limits the first input byte chooses from: none, tiny, and the form's default.
const LIMITS: [u64; 4] = [0, 5, 300, 64 * 1024];
/// Inputs up to this size are also fed one byte per call (quadratic cost beyond it).
const BYTE_BY_BYTE_LIMIT: usize = 4096;

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_bodies_of_every_framing() {
        let cases: &[&[u8]] = &[
            b"",
            b"\x04",
            b"\x345\r\nhello\r\n0\r\n\r\nGET / HTTP/1.1",
            b"\x34zz\r\n",
            b"\x01abcdefghijklmnop",
            b"\x14abc\r\n",
            b"\x3f3\r\nabc\r\n0\r\nX: y\r\n\r\n",
            b"\x00anything",
        ];
        for case in cases {
            check_http_body(case);
        }
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_keep_the_invariants(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
            check_http_body(&bytes);
        }

        #[test]
        fn chunked_bodies_keep_the_invariants(body in prop::collection::vec(any::<u8>(), 0..200)) {
            let mut input = vec![0x34];
            encode_chunked(&body, &mut input);
            check_http_body(&input);
        }
    }
}
