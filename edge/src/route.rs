//! Request routing by path.

/// Handler for a request, chosen from its path alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route<'a> {
    /// `GET /healthz`, served at the edge.
    Health,
    /// `/thumb/*`, `/img/*` and `/original/*`: signature checked at the edge, then cached.
    SignedImage,
    /// `/stream/{hash}/{path}`: path checked at the edge, then cached. Holds the raw `{hash}/{path}`.
    Stream(&'a str),
    /// `/api/key/{hash}`: token checked at the edge, never cached. Holds the raw `{hash}`, which
    /// is everything after the prefix, slashes included.
    Key(&'a str),
    /// Any other path, `/api/*` included: forwarded unchanged and never cached.
    PassThrough,
}

const KEY_PREFIX: &str = "/api/key/";

/// Routes a raw (still percent-encoded) URL path.
pub fn classify(path: &str) -> Route<'_> {
    if path == "/healthz" {
        return Route::Health;
    }
    if ["/thumb/", "/img/", "/original/"]
        .iter()
        .any(|prefix| path.starts_with(prefix))
    {
        return Route::SignedImage;
    }
    if let Some(rest) = path.strip_prefix("/stream/") {
        return Route::Stream(rest);
    }
    if let Some(hash) = path.strip_prefix(KEY_PREFIX) {
        return Route::Key(hash);
    }
    // `/api/key` without the slash still belongs to the key endpoint, so it is never forwarded
    // without a token check.
    if path == "/api/key" {
        return Route::Key("");
    }
    Route::PassThrough
}

/// Returns true for paths whose responses must never enter the cache: everything under `/api/`.
pub fn is_api_path(path: &str) -> bool {
    path == "/api" || path.starts_with("/api/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_by_prefix() {
        let cases = [
            ("/healthz", Route::Health),
            ("/healthz/", Route::PassThrough),
            ("/thumb/sig/key.jpg", Route::SignedImage),
            ("/img/sig/w300/a.jpg.webp", Route::SignedImage),
            ("/original/sig/a.mp4", Route::SignedImage),
            ("/thumbnail/x", Route::PassThrough),
            ("/stream/abc/master.m3u8", Route::Stream("abc/master.m3u8")),
            ("/stream/", Route::Stream("")),
            ("/api/key/abc", Route::Key("abc")),
            ("/api/key/abc/extra", Route::Key("abc/extra")),
            ("/api/key", Route::Key("")),
            ("/api/keys", Route::PassThrough),
            ("/api/jobs", Route::PassThrough),
            ("/", Route::PassThrough),
        ];
        for (path, expected) in cases {
            assert_eq!(classify(path), expected, "{path}");
        }
    }

    #[test]
    fn api_paths() {
        assert!(is_api_path("/api"));
        assert!(is_api_path("/api/jobs/1"));
        assert!(!is_api_path("/apix"));
        assert!(!is_api_path("/stream/api/x.m3u8"));
    }
}
