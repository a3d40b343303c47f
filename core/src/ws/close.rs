//! Close codes (RFC 6455 §7.4): the ones ferry sends, and which ones a peer may send.

/// The close codes ferry sends.
pub struct CloseCode;

impl CloseCode {
    pub const NORMAL: u16 = 1000;
    /// The server is stopping.
    pub const GOING_AWAY: u16 = 1001;
    pub const PROTOCOL_ERROR: u16 = 1002;
    /// A message of a type the endpoint does not take (binary, for the chat).
    pub const UNSUPPORTED_DATA: u16 = 1003;
    /// Text that is not UTF-8.
    pub const INVALID_DATA: u16 = 1007;
    /// The endpoint's rules: the chat's idle and too-slow disconnects.
    pub const POLICY: u16 = 1008;
    pub const TOO_BIG: u16 = 1009;
}

/// Whether a peer may send `code` in a close frame: the codes RFC 6455 §7.4.1 defines for
/// sending, those registered with IANA since (1012-1014), and the ranges for libraries and
/// applications (3000-4999). 1004-1006 and 1015 are reserved and never sent on the wire.
pub fn is_valid_close_code(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_codes_are_invalid() {
        for code in [
            1000, 1001, 1002, 1003, 1007, 1011, 1014, 3000, 3999, 4000, 4999,
        ] {
            assert!(is_valid_close_code(code), "{code}");
        }
        for code in [
            0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535,
        ] {
            assert!(!is_valid_close_code(code), "{code}");
        }
    }
}
