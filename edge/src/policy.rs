//! Cache policy: which responses the edge stores, under which key, and how.

use url::Url;

use crate::route::is_api_path;

/// Largest object handed to the Cache API, in bytes. Cloudflare's Cache API rejects objects over
/// 512 MB on the Free, Pro and Business plans (Enterprise allows 5 GB).
pub const MAX_CACHED_OBJECT_BYTES: u64 = 512 * 1024 * 1024;

/// Largest object stored before the response is returned, in bytes.
///
/// Up to this size the response body is buffered while it is written to the cache, so the next
/// request is a guaranteed hit and a `Range` request can be served from the stored copy. Larger
/// objects, and objects of unknown length, are stored in the background while the body streams to
/// the client. HLS segments, playlists and thumbnails are far below this size.
pub const MAX_INLINE_STORE_BYTES: u64 = 16 * 1024 * 1024;

/// Facts about an origin response that decide whether it may be stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResponseFacts {
    pub status: u16,
    pub has_set_cookie: bool,
    pub cache_control: Option<String>,
    pub vary: Option<String>,
    pub content_length: Option<u64>,
}

/// Storage decision for a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreDecision {
    /// Store it before returning the response.
    Inline,
    /// Store it in the background while the body streams to the client.
    Background,
    /// Do not store it.
    Skip(SkipReason),
}

/// Reason a response is not stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipReason {
    NotGet,
    ApiPath,
    NotOk,
    SetCookie,
    NoStoreDirective,
    VaryStar,
    TooLarge,
}

/// Decides whether the response to a `method` request for `path` may be stored.
///
/// Only a 200 response to `GET` outside `/api/` is stored, never one with `Set-Cookie`,
/// `Cache-Control: no-store` or `private`, or `Vary: *` (the Cache API rejects that), and never one
/// whose `Content-Length` exceeds [`MAX_CACHED_OBJECT_BYTES`].
pub fn store_decision(method: &str, path: &str, facts: &ResponseFacts) -> StoreDecision {
    if method != "GET" {
        return StoreDecision::Skip(SkipReason::NotGet);
    }
    if is_api_path(path) {
        return StoreDecision::Skip(SkipReason::ApiPath);
    }
    if facts.status != 200 {
        return StoreDecision::Skip(SkipReason::NotOk);
    }
    if facts.has_set_cookie {
        return StoreDecision::Skip(SkipReason::SetCookie);
    }
    if facts
        .cache_control
        .as_deref()
        .is_some_and(forbids_shared_storage)
    {
        return StoreDecision::Skip(SkipReason::NoStoreDirective);
    }
    if facts
        .vary
        .as_deref()
        .is_some_and(|vary| vary.split(',').any(|field| field.trim() == "*"))
    {
        return StoreDecision::Skip(SkipReason::VaryStar);
    }
    match facts.content_length {
        Some(length) if length > MAX_CACHED_OBJECT_BYTES => {
            StoreDecision::Skip(SkipReason::TooLarge)
        }
        Some(length) if length <= MAX_INLINE_STORE_BYTES => StoreDecision::Inline,
        _ => StoreDecision::Background,
    }
}

fn forbids_shared_storage(cache_control: &str) -> bool {
    cache_control.split(',').any(|directive| {
        let name = directive.split('=').next().unwrap_or_default().trim();
        name.eq_ignore_ascii_case("no-store") || name.eq_ignore_ascii_case("private")
    })
}

/// Returns the cache key for a request URL: its scheme, host and path, without query or fragment,
/// so query strings never split the cache.
pub fn cache_key_url(url: &Url) -> String {
    let mut key = url.clone();
    key.set_query(None);
    key.set_fragment(None);
    key.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok_facts() -> ResponseFacts {
        ResponseFacts {
            status: 200,
            cache_control: Some("public, max-age=31536000, immutable".into()),
            content_length: Some(1000),
            ..ResponseFacts::default()
        }
    }

    #[test]
    fn small_ok_response_stored_inline() {
        assert_eq!(
            store_decision("GET", "/stream/a/seg_1.m4s", &ok_facts()),
            StoreDecision::Inline
        );
    }

    #[test]
    fn large_or_unknown_length_stored_in_background() {
        let large = ResponseFacts {
            content_length: Some(MAX_INLINE_STORE_BYTES + 1),
            ..ok_facts()
        };
        assert_eq!(
            store_decision("GET", "/original/s/a.mp4", &large),
            StoreDecision::Background
        );
        let unknown = ResponseFacts {
            content_length: None,
            ..ok_facts()
        };
        assert_eq!(
            store_decision("GET", "/original/s/a.mp4", &unknown),
            StoreDecision::Background
        );
    }

    #[test]
    fn skip_reasons() {
        let path = "/thumb/s/a.jpg";
        let cases = [
            ("HEAD", path, ok_facts(), SkipReason::NotGet),
            ("GET", "/api/jobs", ok_facts(), SkipReason::ApiPath),
            (
                "GET",
                path,
                ResponseFacts {
                    status: 206,
                    ..ok_facts()
                },
                SkipReason::NotOk,
            ),
            (
                "GET",
                path,
                ResponseFacts {
                    status: 404,
                    ..ok_facts()
                },
                SkipReason::NotOk,
            ),
            (
                "GET",
                path,
                ResponseFacts {
                    status: 502,
                    ..ok_facts()
                },
                SkipReason::NotOk,
            ),
            (
                "GET",
                path,
                ResponseFacts {
                    has_set_cookie: true,
                    ..ok_facts()
                },
                SkipReason::SetCookie,
            ),
            (
                "GET",
                path,
                ResponseFacts {
                    cache_control: Some("no-store".into()),
                    ..ok_facts()
                },
                SkipReason::NoStoreDirective,
            ),
            (
                "GET",
                path,
                ResponseFacts {
                    cache_control: Some("Private, max-age=60".into()),
                    ..ok_facts()
                },
                SkipReason::NoStoreDirective,
            ),
            (
                "GET",
                path,
                ResponseFacts {
                    vary: Some("Accept, *".into()),
                    ..ok_facts()
                },
                SkipReason::VaryStar,
            ),
            (
                "GET",
                path,
                ResponseFacts {
                    content_length: Some(MAX_CACHED_OBJECT_BYTES + 1),
                    ..ok_facts()
                },
                SkipReason::TooLarge,
            ),
        ];
        for (method, path, facts, reason) in cases {
            assert_eq!(
                store_decision(method, path, &facts),
                StoreDecision::Skip(reason),
                "{method} {path} {facts:?}"
            );
        }
    }

    #[test]
    fn vary_accept_is_storable() {
        let facts = ResponseFacts {
            vary: Some("Accept".into()),
            ..ok_facts()
        };
        assert_eq!(
            store_decision("GET", "/img/s/w10/a.jpg.webp", &facts),
            StoreDecision::Inline
        );
    }

    #[test]
    fn cache_key_drops_query() {
        let url =
            Url::parse("https://media.example.com/stream/a/master.m3u8?session=42#t=1").unwrap();
        assert_eq!(
            cache_key_url(&url),
            "https://media.example.com/stream/a/master.m3u8"
        );
    }
}
