//! `GET /__ferry/health`: the answer every HTTP service of ferry gives load balancers and
//! Compose health checks, so they need no page of the site and no file of the root.
//!
//! Owns the path and the answer; which service asks is the caller's business. The path sits
//! under `/__ferry/`, a prefix no site or served folder is expected to use, so the check never
//! depends on content (a file at that path is shadowed).

use super::{Body, Method, Response};

/// Whether `method` and `target` ask for the health answer (`GET` or `HEAD`, the query
/// ignored). Other methods on the path fall through to the service, which refuses them.
pub fn is_health_check(method: &Method, target: &str) -> bool {
    let path = target.split(['?', '#']).next().unwrap_or("");
    matches!(method, Method::Get | Method::Head) && path == HEALTH_PATH
}

/// `200 ok`, plain text, never kept by a cache: each check must reach the server.
pub fn health_response() -> Response {
    Response::new(200)
        .with_body(
            "text/plain; charset=utf-8",
            Body::Shared(HEALTH_BODY.into()),
        )
        .with_header("Cache-Control", "no-store")
}

/// The path health checks ask for.
pub const HEALTH_PATH: &str = "/__ferry/health";
const HEALTH_BODY: &[u8] = b"ok";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_get_and_head_of_the_exact_path_are_checks() {
        assert!(is_health_check(&Method::Get, "/__ferry/health"));
        assert!(is_health_check(&Method::Head, "/__ferry/health?probe=1"));
        assert!(!is_health_check(&Method::Put, "/__ferry/health"));
        assert!(!is_health_check(&Method::Get, "/__ferry/health/"));
        assert!(!is_health_check(&Method::Get, "/__ferry/healthz"));
        let response = health_response();
        assert_eq!(response.status, 200);
        assert_eq!(response.body.as_bytes(), b"ok");
    }
}
