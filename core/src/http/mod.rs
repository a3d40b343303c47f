//! HTTP/1.1, server side: the connection state machine, the head parser (on httparse), the body
//! decoder and the response writer. Nothing here knows about routes or pages; the application
//! decides what to answer.

mod body;
mod conn;
mod error;
mod parse;
mod write;

pub use body::{BodyDecoder, Decoded};
pub use conn::{
    HttpConfig, HttpConn, HttpEvent, Request, DEFAULT_BODY_TIMEOUT, DEFAULT_HEADER_TIMEOUT,
    DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_BODY, DEFAULT_WRITE_TIMEOUT, LINGER_TIMEOUT,
};
pub use error::{HttpError, UsageError};
pub use parse::{
    parse_head, BodyFraming, HeadLimits, HeadScanner, Header, Method, RequestHead, Scan, Version,
    DEFAULT_MAX_HEAD, DEFAULT_MAX_HEADERS, DEFAULT_MAX_TARGET,
};
pub use write::{reason_phrase, Body, HttpDate, Response};
