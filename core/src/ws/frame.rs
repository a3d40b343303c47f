//! WebSocket frames (RFC 6455 §5.2): the header parser and the frame writer.
//!
//! Owns the wire layout of a frame head (opcode, FIN, RSV bits, mask, the three length forms)
//! and masking. It never decides what a frame means for a connection (that is
//! [`super::WsConn`]'s) and never buffers payload: a parsed header says how many payload bytes
//! follow, and the caller takes them as they arrive.

use super::WsError;

/// The kind of a frame (RFC 6455 §5.2, `%x0`..`%xA`; the others are reserved).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opcode {
    Continuation,
    Text,
    Binary,
    Close,
    Ping,
    Pong,
}

impl Opcode {
    /// The opcode of the four bits `bits`, or `None` for a reserved one.
    pub fn from_bits(bits: u8) -> Option<Opcode> {
        Some(match bits {
            0x0 => Opcode::Continuation,
            0x1 => Opcode::Text,
            0x2 => Opcode::Binary,
            0x8 => Opcode::Close,
            0x9 => Opcode::Ping,
            0xA => Opcode::Pong,
            _ => return None,
        })
    }

    /// The four bits on the wire.
    pub fn bits(self) -> u8 {
        match self {
            Opcode::Continuation => 0x0,
            Opcode::Text => 0x1,
            Opcode::Binary => 0x2,
            Opcode::Close => 0x8,
            Opcode::Ping => 0x9,
            Opcode::Pong => 0xA,
        }
    }

    /// Close, ping and pong: at most 125 bytes, never fragmented (RFC 6455 §5.5).
    pub fn is_control(self) -> bool {
        matches!(self, Opcode::Close | Opcode::Ping | Opcode::Pong)
    }
}

/// A parsed frame head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// The last frame of its message.
    pub fin: bool,
    pub opcode: Opcode,
    /// The masking key, when the frame is masked (every frame a client sends must be).
    pub mask: Option<[u8; 4]>,
    /// Payload bytes that follow the head.
    pub len: u64,
}

/// Parses a frame head at the start of `bytes`: `Ok(Some((header, used)))` when it is complete,
/// `Ok(None)` when more bytes are needed (never an error), `Err` when it breaks a rule that the
/// head alone shows: a reserved bit or opcode, a fragmented or long control frame, a length
/// with its top bit set. A length not in its shortest form is accepted: that rule binds the
/// sender, and refusing it protects nothing.
pub fn parse_header(bytes: &[u8]) -> Result<Option<(FrameHeader, usize)>, WsError> {
    let [first, second, ..] = *bytes else {
        return Ok(None);
    };
    // RFC 6455 §5.2: RSV1-3 must be 0 unless an extension was negotiated; ferry offers none.
    if first & 0x70 != 0 {
        return Err(WsError::ReservedBits);
    }
    let opcode = Opcode::from_bits(first & 0x0F).ok_or(WsError::ReservedOpcode)?;
    let fin = first & 0x80 != 0;
    let masked = second & 0x80 != 0;
    let short = second & 0x7F;
    let (len, mut used) = match short {
        126 => {
            let Some(b) = bytes.get(2..4) else {
                return Ok(None);
            };
            (u64::from(u16::from_be_bytes([b[0], b[1]])), 4)
        }
        127 => {
            let Some(b) = bytes.get(2..10) else {
                return Ok(None);
            };
            let mut be = [0u8; 8];
            be.copy_from_slice(b);
            let len = u64::from_be_bytes(be);
            // RFC 6455 §5.2: the most significant bit must be 0.
            if len >> 63 != 0 {
                return Err(WsError::BadLength);
            }
            (len, 10)
        }
        n => (u64::from(n), 2),
    };
    if opcode.is_control() && (!fin || len > MAX_CONTROL_PAYLOAD as u64) {
        return Err(WsError::BadControlFrame);
    }
    let mask = if masked {
        let Some(b) = bytes.get(used..used + 4) else {
            return Ok(None);
        };
        used += 4;
        Some([b[0], b[1], b[2], b[3]])
    } else {
        None
    };
    Ok(Some((
        FrameHeader {
            fin,
            opcode,
            mask,
            len,
        },
        used,
    )))
}

/// Appends one frame to `out`: its head (masked with `mask` when given, as a client sends)
/// and `payload`.
pub fn encode_frame(
    opcode: Opcode,
    fin: bool,
    mask: Option<[u8; 4]>,
    payload: &[u8],
    out: &mut Vec<u8>,
) {
    out.reserve(MAX_HEADER + payload.len());
    out.push(if fin { 0x80 } else { 0 } | opcode.bits());
    let mask_bit = if mask.is_some() { 0x80 } else { 0 };
    let len = payload.len();
    if len < 126 {
        out.push(mask_bit | len as u8);
    } else if let Ok(len) = u16::try_from(len) {
        out.push(mask_bit | 126);
        out.extend_from_slice(&len.to_be_bytes());
    } else {
        out.push(mask_bit | 127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    match mask {
        Some(key) => {
            out.extend_from_slice(&key);
            let start = out.len();
            out.extend_from_slice(payload);
            apply_mask(key, 0, &mut out[start..]);
        }
        None => out.extend_from_slice(payload),
    }
}

/// XORs `bytes` with the masking key, `offset` bytes into the payload (RFC 6455 §5.3); masking
/// and unmasking are the same.
pub fn apply_mask(key: [u8; 4], offset: u64, bytes: &mut [u8]) {
    let start = (offset % 4) as usize;
    for (index, byte) in bytes.iter_mut().enumerate() {
        *byte ^= key[(start + index) % 4];
    }
}

/// The largest payload of a control frame (RFC 6455 §5.5).
pub const MAX_CONTROL_PAYLOAD: usize = 125;
/// The longest frame head: 2 bytes, an 8-byte length and a 4-byte mask.
pub const MAX_HEADER: usize = 14;

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_the_rfc_examples() {
        // RFC 6455 §5.7: a masked "Hello" from a client and an unmasked one from a server.
        let masked = [
            0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ];
        let (header, used) = parse_header(&masked).unwrap().unwrap();
        assert_eq!(used, 6);
        assert_eq!(header.opcode, Opcode::Text);
        assert!(header.fin);
        assert_eq!(header.len, 5);
        let mut payload = masked[used..].to_vec();
        apply_mask(header.mask.unwrap(), 0, &mut payload);
        assert_eq!(payload, b"Hello");
        let mut out = Vec::new();
        encode_frame(Opcode::Text, true, None, b"Hello", &mut out);
        assert_eq!(out, [0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
    }

    #[test]
    fn an_incomplete_head_is_partial_not_an_error() {
        let mut out = Vec::new();
        encode_frame(
            Opcode::Binary,
            true,
            Some([1, 2, 3, 4]),
            &[0; 70_000],
            &mut out,
        );
        for end in 0..MAX_HEADER {
            assert_eq!(parse_header(&out[..end]), Ok(None), "{end}");
        }
        assert!(parse_header(&out[..MAX_HEADER]).unwrap().is_some());
    }

    #[test]
    fn refuses_what_the_head_alone_shows_is_wrong() {
        let cases: &[(&[u8], WsError)] = &[
            (&[0xC1, 0x80], WsError::ReservedBits),
            (&[0x83, 0x80], WsError::ReservedOpcode),
            (&[0x8B, 0x80], WsError::ReservedOpcode),
            (&[0x09, 0x80], WsError::BadControlFrame),
            (&[0x89, 0xFE, 0, 126], WsError::BadControlFrame),
            (&[0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0], WsError::BadLength),
        ];
        for (bytes, error) in cases {
            assert_eq!(parse_header(bytes), Err(*error), "{bytes:?}");
        }
    }

    proptest! {
        #[test]
        fn frames_round_trip(
            payload in proptest::collection::vec(any::<u8>(), 0..70_000),
            fin: bool,
            mask: Option<[u8; 4]>,
            binary: bool,
        ) {
            let opcode = if binary { Opcode::Binary } else { Opcode::Text };
            let mut out = Vec::new();
            encode_frame(opcode, fin, mask, &payload, &mut out);
            let (header, used) = parse_header(&out).unwrap().unwrap();
            prop_assert_eq!(header.opcode, opcode);
            prop_assert_eq!(header.fin, fin);
            prop_assert_eq!(header.mask, mask);
            prop_assert_eq!(header.len as usize, out.len() - used);
            let mut body = out[used..].to_vec();
            if let Some(key) = mask {
                // Unmasked in two pieces, as payload arrives.
                let cut = body.len() / 3;
                let (a, b) = body.split_at_mut(cut);
                apply_mask(key, 0, a);
                apply_mask(key, cut as u64, b);
            }
            prop_assert_eq!(body, payload);
        }
    }
}
