//! HTTP byte ranges (RFC 9110 section 14) for ranged reads.

use std::fmt;

/// A single byte range as requested in a `Range: bytes=...` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteRange {
    /// Bytes `first` to `last`, both included (`bytes=first-last`).
    Inclusive { first: u64, last: u64 },
    /// Bytes from `first` to the end (`bytes=first-`).
    From { first: u64 },
    /// The last `length` bytes (`bytes=-length`).
    Suffix { length: u64 },
}

impl ByteRange {
    /// Parses a `Range` header value holding exactly one byte range.
    ///
    /// Returns `None` for anything else: another unit, several ranges, or malformed text. RFC 9110
    /// lets a server ignore such a header and send the whole object with status 200.
    pub fn from_header(value: &str) -> Option<Self> {
        let spec = value.trim().strip_prefix("bytes=")?.trim();
        if spec.contains(',') {
            return None;
        }
        let (first, last) = spec.split_once('-')?;
        let (first, last) = (first.trim(), last.trim());
        match (first.is_empty(), last.is_empty()) {
            (true, true) => None,
            (true, false) => Some(Self::Suffix { length: parse_digits(last)? }),
            (false, true) => Some(Self::From { first: parse_digits(first)? }),
            (false, false) => {
                let first = parse_digits(first)?;
                let last = parse_digits(last)?;
                (first <= last).then_some(Self::Inclusive { first, last })
            }
        }
    }

    /// Resolves the range against an object of `size` bytes.
    ///
    /// Returns `None` when the range is unsatisfiable: it starts at or past the end, it is an
    /// empty suffix, or the object is empty. A range that ends past the end is shortened.
    pub fn resolve(self, size: u64) -> Option<ContentRange> {
        if size == 0 {
            return None;
        }
        let (first, last) = match self {
            Self::Inclusive { first, last } => (first, last.min(size - 1)),
            Self::From { first } => (first, size - 1),
            Self::Suffix { length } => {
                if length == 0 {
                    return None;
                }
                (size.saturating_sub(length), size - 1)
            }
        };
        (first < size && first <= last).then_some(ContentRange { first, last, complete_length: size })
    }

    /// Returns the range as an HTTP `Range` header value, such as `bytes=0-99`.
    pub fn to_header(self) -> String {
        match self {
            Self::Inclusive { first, last } => format!("bytes={first}-{last}"),
            Self::From { first } => format!("bytes={first}-"),
            Self::Suffix { length } => format!("bytes=-{length}"),
        }
    }
}

fn parse_digits(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// The bytes actually served: `first` to `last`, both included, out of `complete_length`.
///
/// `Display` writes the `Content-Range` header value, such as `bytes 0-99/1234`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContentRange {
    pub first: u64,
    pub last: u64,
    pub complete_length: u64,
}

impl ContentRange {
    /// Returns the number of bytes in the range.
    #[allow(clippy::len_without_is_empty)] // A satisfiable range always contains at least one byte.
    pub fn len(&self) -> u64 {
        self.last - self.first + 1
    }

    /// Parses a `Content-Range` header value of the form `bytes first-last/complete_length`.
    pub fn from_header(value: &str) -> Option<Self> {
        let rest = value.trim().strip_prefix("bytes ")?;
        let (span, complete) = rest.split_once('/')?;
        let (first, last) = span.split_once('-')?;
        let range =
            Self { first: parse_digits(first)?, last: parse_digits(last)?, complete_length: parse_digits(complete)? };
        (range.first <= range.last && range.last < range.complete_length).then_some(range)
    }
}

impl fmt::Display for ContentRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "bytes {}-{}/{}", self.first, self.last, self.complete_length)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_forms_parse() {
        assert_eq!(ByteRange::from_header("bytes=0-99"), Some(ByteRange::Inclusive { first: 0, last: 99 }));
        assert_eq!(ByteRange::from_header("bytes=100-"), Some(ByteRange::From { first: 100 }));
        assert_eq!(ByteRange::from_header("bytes=-5"), Some(ByteRange::Suffix { length: 5 }));
        assert_eq!(ByteRange::from_header(" bytes= 3 - 4 "), Some(ByteRange::Inclusive { first: 3, last: 4 }));
    }

    #[test]
    fn unsupported_headers_are_ignored() {
        for value in ["bytes=0-1,4-5", "items=0-1", "bytes=-", "bytes=5-4", "bytes=a-1", "bytes=+1-2", "bytes=1"] {
            assert_eq!(ByteRange::from_header(value), None, "{value}");
        }
    }

    #[test]
    fn resolve_clamps_and_rejects() {
        let range = ByteRange::Inclusive { first: 5, last: 1000 }.resolve(10).unwrap();
        assert_eq!((range.first, range.last, range.len()), (5, 9, 5));

        let suffix = ByteRange::Suffix { length: 50 }.resolve(10).unwrap();
        assert_eq!((suffix.first, suffix.last), (0, 9));

        let tail = ByteRange::Suffix { length: 3 }.resolve(10).unwrap();
        assert_eq!((tail.first, tail.last), (7, 9));

        assert_eq!(ByteRange::From { first: 10 }.resolve(10), None);
        assert_eq!(ByteRange::Suffix { length: 0 }.resolve(10), None);
        assert_eq!(ByteRange::From { first: 0 }.resolve(0), None);
    }

    #[test]
    fn content_range_round_trips() {
        let range = ContentRange { first: 2, last: 7, complete_length: 20 };
        assert_eq!(range.to_string(), "bytes 2-7/20");
        assert_eq!(ContentRange::from_header(&range.to_string()), Some(range));
        assert_eq!(ContentRange::from_header("bytes 7-2/20"), None);
        assert_eq!(ContentRange::from_header("bytes */20"), None);
    }
}
