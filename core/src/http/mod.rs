//! HTTP/1.1: the server connection state machine, the head parser (on httparse), the body
//! decoder, the response writer, and the response reader `ferry client` uses.
//! Nothing here knows about routes, pages or files; the application decides what to answer.

mod body;
pub mod conditional;
mod conn;
mod error;
pub mod health;
mod mime;
pub mod page;
mod parse;
mod refusal;
mod response;
mod write;

pub use body::{BodyDecoder, Decoded};
pub use conn::{
    HttpConfig, HttpConn, HttpEvent, Request, DEFAULT_BODY_TIMEOUT, DEFAULT_HEADER_TIMEOUT,
    DEFAULT_IDLE_TIMEOUT, DEFAULT_MAX_BODY, DEFAULT_REQUEST_TIMEOUT, DEFAULT_WRITE_TIMEOUT,
    LINGER_TIMEOUT, STREAMED_BODY_BUFFER,
};
pub use error::{HttpError, UsageError};
pub use health::{health_response, is_health_check, HEALTH_PATH};
pub use mime::content_type;
pub use parse::{
    parse_head, BodyFraming, HeadLimits, HeadScanner, Header, Method, RequestHead, Scan, Version,
    DEFAULT_MAX_HEAD, DEFAULT_MAX_HEADERS, DEFAULT_MAX_TARGET,
};
pub use refusal::encode_server_full;
pub use response::{
    parse_response_head, ResponseError, ResponseEvent, ResponseFraming, ResponseHead,
    ResponseReader, MAX_RESPONSE_HEAD,
};
pub use write::{reason_phrase, Body, HttpDate, Response};
