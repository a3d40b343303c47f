//! Where the socket server keeps messages: a `data.json` file or a MongoDB database, told apart
//! by the text that names it (`--store`). The backend that opens each one is [`crate::FileStore`]
//! or [`crate::MongoStore`]; this module only reads the name.

use std::fmt;
use std::path::PathBuf;

/// A store, as named by a path or a `mongodb://` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreLocation {
    /// A `data.json` file, created with its folder when missing.
    File(PathBuf),
    /// A MongoDB database; holds the whole `mongodb://` URL as given.
    MongoDb(String),
}

impl StoreLocation {
    /// Reads a `mongodb://` URL (scheme in any case, RFC 3986 §3.1) or a file path. An empty
    /// text is a path too; whoever asks for it decides whether that may be given.
    pub fn parse(text: &str) -> Result<StoreLocation, LocationError> {
        let scheme = text.get(..MONGODB_SCHEME.len());
        if scheme.is_some_and(|scheme| scheme.eq_ignore_ascii_case(MONGODB_SCHEME)) {
            let rest = text.get(MONGODB_SCHEME.len()..).unwrap_or_default();
            if rest.is_empty() || rest.starts_with('/') {
                return Err(LocationError::MongoDbWithoutHost);
            }
            return Ok(StoreLocation::MongoDb(text.to_string()));
        }
        // Any other scheme is a mistake, not a folder called `redis:`.
        if text.contains("://") {
            return Err(LocationError::Scheme);
        }
        Ok(StoreLocation::File(PathBuf::from(text)))
    }
}

impl Default for StoreLocation {
    /// The file the original app wrote, relative to the folder the server starts in.
    fn default() -> Self {
        StoreLocation::File(PathBuf::from(DEFAULT_FILE))
    }
}

impl fmt::Display for StoreLocation {
    /// The text [`StoreLocation::parse`] reads back into the same location.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreLocation::File(path) => write!(f, "{}", path.display()),
            StoreLocation::MongoDb(url) => f.write_str(url),
        }
    }
}

/// Why a text names no store. The `Display` text completes "invalid value 'x' for --store: ...".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocationError {
    /// A URL with a scheme other than `mongodb://`.
    Scheme,
    /// `mongodb://` without a host.
    MongoDbWithoutHost,
}

impl fmt::Display for LocationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LocationError::Scheme => "expected a file path or a mongodb://HOST:PORT/DB URL",
            LocationError::MongoDbWithoutHost => {
                "the URL names no host, expected mongodb://HOST:PORT/DB"
            }
        })
    }
}

impl std::error::Error for LocationError {}

/// The store when none is named: `storage/data.json`, as in the original app (git-ignored).
pub const DEFAULT_FILE: &str = "storage/data.json";

/// The scheme that makes a location a MongoDB URL rather than a file path.
const MONGODB_SCHEME: &str = "mongodb://";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_paths_and_mongodb_urls() {
        let file = |path: &str| Ok(StoreLocation::File(PathBuf::from(path)));
        let mongo = |url: &str| Ok(StoreLocation::MongoDb(url.to_string()));
        let cases: &[(&str, Result<StoreLocation, LocationError>)] = &[
            ("storage/data.json", file("storage/data.json")),
            ("/var/lib/ferry/data.json", file("/var/lib/ferry/data.json")),
            ("data.json", file("data.json")),
            (
                "mongodb://localhost:27017/ferry",
                mongo("mongodb://localhost:27017/ferry"),
            ),
            ("MongoDB://db/ferry", mongo("MongoDB://db/ferry")),
            ("mongodb://", Err(LocationError::MongoDbWithoutHost)),
            ("mongodb:///ferry", Err(LocationError::MongoDbWithoutHost)),
            ("postgres://db/ferry", Err(LocationError::Scheme)),
            ("mongodb+srv://cluster/ferry", Err(LocationError::Scheme)),
        ];
        for (text, expected) in cases {
            assert_eq!(&StoreLocation::parse(text), expected, "{text:?}");
        }
    }

    #[test]
    fn a_location_reads_back_as_itself() {
        for text in [DEFAULT_FILE, "/srv/d.json", "mongodb://db:27017/ferry"] {
            let location = StoreLocation::parse(text).unwrap();
            assert_eq!(location.to_string(), text);
        }
        assert_eq!(StoreLocation::default().to_string(), DEFAULT_FILE);
    }
}
