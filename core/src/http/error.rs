//! What a peer can do wrong on an HTTP connection, and the status each mistake is answered with.
//!
//! Every variant is a peer error: the connection answers it itself (with `Connection: close`) and
//! reports it as [`HttpEvent::Rejected`](super::HttpEvent::Rejected) for logging. Bugs in ferry's
//! own use of the API are [`UsageError`](super::UsageError), never one of these.

use std::fmt;

/// A request the server refuses, with the status code that tells the client why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpError {
    /// The request line or a header line does not follow RFC 9112 syntax.
    MalformedHead,
    /// A line ended in a bare LF or contained a bare CR.
    BadLineEnding,
    /// A NUL byte, or a byte that can never start a request (a TLS hello, binary data).
    NotHttp,
    /// A header field continued on the next line (obs-fold, RFC 9112 §5.2).
    ObsoleteLineFolding,
    /// The head did not end within the head size limit.
    HeadTooLarge,
    /// More header fields than the limit.
    TooManyHeaders,
    /// The request target is longer than the limit.
    TargetTooLong,
    /// The request target is neither origin-form, absolute-form nor `*` for OPTIONS.
    BadTarget,
    /// An HTTP version other than 1.0 and 1.1.
    UnsupportedVersion,
    /// HTTP/1.1 without exactly one `Host` header (RFC 9112 §3.2).
    BadHost,
    /// A `Content-Length` that is not a plain decimal number.
    BadContentLength,
    /// More than one `Content-Length`, even with equal values: never guessed (RFC 9112 §6.3).
    DuplicateContentLength,
    /// Both `Content-Length` and `Transfer-Encoding` (RFC 9112 §6.3: a smuggling shape).
    ContentLengthWithTransferEncoding,
    /// `Transfer-Encoding` in an HTTP/1.0 request, or chunked not last (RFC 9112 §6.1).
    BadTransferEncoding,
    /// A transfer coding other than chunked.
    UnknownTransferCoding,
    /// An `Expect` value other than `100-continue`.
    UnknownExpectation,
    /// A chunked body that does not follow RFC 9112 §7.1.
    MalformedChunkedBody,
    /// The body is larger than the configured limit.
    BodyTooLarge,
    /// The head did not arrive within the header timeout.
    HeadTimeout,
    /// The body stalled longer than the body timeout between two reads.
    BodyTimeout,
    /// Head and body together took longer than the request timeout.
    RequestTimeout,
}

impl HttpError {
    /// The status code the server answers this error with.
    pub fn status(&self) -> u16 {
        match self {
            HttpError::MalformedHead
            | HttpError::BadLineEnding
            | HttpError::NotHttp
            | HttpError::ObsoleteLineFolding
            | HttpError::BadTarget
            | HttpError::BadHost
            | HttpError::BadContentLength
            | HttpError::DuplicateContentLength
            | HttpError::ContentLengthWithTransferEncoding
            | HttpError::BadTransferEncoding
            | HttpError::MalformedChunkedBody => 400,
            HttpError::HeadTimeout | HttpError::BodyTimeout | HttpError::RequestTimeout => 408,
            HttpError::BodyTooLarge => 413,
            HttpError::TargetTooLong => 414,
            HttpError::UnknownExpectation => 417,
            HttpError::HeadTooLarge | HttpError::TooManyHeaders => 431,
            HttpError::UnknownTransferCoding => 501,
            HttpError::UnsupportedVersion => 505,
        }
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HttpError::MalformedHead => "malformed request head",
            HttpError::BadLineEnding => "line not ended by CRLF",
            HttpError::NotHttp => "bytes that are not HTTP",
            HttpError::ObsoleteLineFolding => "header folded over several lines",
            HttpError::HeadTooLarge => "request head too large",
            HttpError::TooManyHeaders => "too many header fields",
            HttpError::TargetTooLong => "request target too long",
            HttpError::BadTarget => "malformed request target",
            HttpError::UnsupportedVersion => "unsupported HTTP version",
            HttpError::BadHost => "missing or repeated Host header",
            HttpError::BadContentLength => "invalid Content-Length",
            HttpError::DuplicateContentLength => "more than one Content-Length",
            HttpError::ContentLengthWithTransferEncoding => {
                "both Content-Length and Transfer-Encoding"
            }
            HttpError::BadTransferEncoding => "invalid Transfer-Encoding",
            HttpError::UnknownTransferCoding => "unsupported transfer coding",
            HttpError::UnknownExpectation => "unsupported Expect value",
            HttpError::MalformedChunkedBody => "malformed chunked body",
            HttpError::BodyTooLarge => "request body too large",
            HttpError::HeadTimeout => "request head not received in time",
            HttpError::BodyTimeout => "request body stalled",
            HttpError::RequestTimeout => "request not received in time",
        })
    }
}

/// A mistake in how ferry itself drives a connection: a bug, never the peer's doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsageError {
    /// `respond` was called while no request was waiting for an answer.
    NoRequestPending,
}

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UsageError::NoRequestPending => f.write_str("respond called with no request pending"),
        }
    }
}
