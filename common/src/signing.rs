//! HMAC-signed delivery URLs: `/thumb`, `/original` and `/img`.
//!
//! Each endpoint signs a different message, so a signature cannot be moved between them:
//!
//! | endpoint    | message                      |
//! | ----------- | ---------------------------- |
//! | `/thumb`    | `thumb/{key}`                |
//! | `/original` | `/{key}`                     |
//! | `/img`      | `{options}/{key}.{format}`   |
//!
//! `{key}` is the percent-decoded object key and `{options}` the canonical option string, so
//! differently escaped or ordered spellings of one request share a signature.

use crate::image::{decode_options_segment, ImageError, ImageOptions, ImageSource};
use crate::key::{KeyError, ObjectKey};
use crate::secret::{verify_hex_mac, Secret};

/// Endpoint a signed URL is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Thumb,
    Original,
    Img,
}

impl Endpoint {
    pub fn path_prefix(self) -> &'static str {
        match self {
            Self::Thumb => "/thumb/",
            Self::Original => "/original/",
            Self::Img => "/img/",
        }
    }
}

/// Reason a signed request was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignedPathError {
    /// The path is not shaped like a signed URL: maps to 400.
    #[error("malformed signed path: {0}")]
    Malformed(&'static str),
    /// The object key is not a valid key: maps to 400.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The image options or format are invalid: maps to 400.
    #[error(transparent)]
    Image(#[from] ImageError),
    /// The signature does not match: maps to 403. Carries no detail on purpose.
    #[error("invalid signature")]
    BadSignature,
}

impl SignedPathError {
    /// HTTP status for this error: 403 for a bad signature, 400 for everything else.
    pub fn status(&self) -> u16 {
        match self {
            Self::BadSignature => 403,
            _ => 400,
        }
    }
}

/// Signs delivery URLs with `HMAC_SECRET`.
#[derive(Debug, Clone)]
pub struct UrlSigner {
    secret: Secret,
}

impl UrlSigner {
    pub fn new(secret: Secret) -> Self {
        Self { secret }
    }

    /// Returns the hex signature of a `/thumb` URL for a media-bucket key.
    pub fn sign_thumb(&self, key: &ObjectKey) -> String {
        self.secret.hmac_hex(thumb_message(key).as_bytes())
    }

    /// Returns the hex signature of an `/original` URL for a source-bucket key.
    pub fn sign_original(&self, key: &ObjectKey) -> String {
        self.secret.hmac_hex(original_message(key).as_bytes())
    }

    /// Returns the hex signature of an `/img` URL.
    pub fn sign_img(&self, options: &ImageOptions, source: &ImageSource) -> String {
        self.secret.hmac_hex(img_message(options, source).as_bytes())
    }

    /// Builds `/thumb/{sig}/{escaped key}`.
    pub fn thumb_path(&self, key: &ObjectKey) -> String {
        format!("/thumb/{}/{}", self.sign_thumb(key), key.escaped())
    }

    /// Builds `/original/{sig}/{escaped key}`.
    pub fn original_path(&self, key: &ObjectKey) -> String {
        format!("/original/{}/{}", self.sign_original(key), key.escaped())
    }

    /// Builds `/img/{sig}/{options}/{escaped key}.{format}` with canonical options.
    pub fn img_path(&self, options: &ImageOptions, source: &ImageSource) -> String {
        format!(
            "/img/{}/{}/{}.{}",
            self.sign_img(options, source),
            options.canonical(),
            source.key.escaped(),
            source.format.extension()
        )
    }

    /// Parses and verifies a request path that starts with `/thumb/`, `/original/` or `/img/`.
    ///
    /// The path is the raw, still percent-encoded URL path without the query. Shape, key and option
    /// errors are reported before the signature is checked, as Vylux does, and the signature is
    /// compared in constant time. Only this function builds a [`VerifiedRequest`].
    pub fn verify_path(&self, path: &str) -> Result<VerifiedRequest, SignedPathError> {
        let request = SignedRequest::parse(path)?;
        let message = match &request.target {
            SignedTarget::Thumb(key) => thumb_message(key),
            SignedTarget::Original(key) => original_message(key),
            SignedTarget::Img { options, source } => img_message(options, source),
        };
        if verify_hex_mac(&self.secret, message.as_bytes(), &request.signature) {
            Ok(VerifiedRequest(request.target))
        } else {
            Err(SignedPathError::BadSignature)
        }
    }
}

/// What a signed URL points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignedTarget {
    /// A media-bucket object served by `/thumb`.
    Thumb(ObjectKey),
    /// A source-bucket object served by `/original`.
    Original(ObjectKey),
    /// A source image transformed by `/img`.
    Img { options: ImageOptions, source: ImageSource },
}

impl SignedTarget {
    pub fn endpoint(&self) -> Endpoint {
        match self {
            Self::Thumb(_) => Endpoint::Thumb,
            Self::Original(_) => Endpoint::Original,
            Self::Img { .. } => Endpoint::Img,
        }
    }
}

/// A signed URL whose signature has been checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedRequest(SignedTarget);

impl VerifiedRequest {
    pub fn target(&self) -> &SignedTarget {
        &self.0
    }

    pub fn into_target(self) -> SignedTarget {
        self.0
    }
}

/// A signed URL split into its parts, not yet verified.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SignedRequest {
    signature: String,
    target: SignedTarget,
}

impl SignedRequest {
    fn parse(path: &str) -> Result<Self, SignedPathError> {
        if let Some(rest) = path.strip_prefix(Endpoint::Thumb.path_prefix()) {
            let (signature, key) = split_signature(rest)?;
            return Ok(Self { signature, target: SignedTarget::Thumb(ObjectKey::from_url_path(key)?) });
        }
        if let Some(rest) = path.strip_prefix(Endpoint::Original.path_prefix()) {
            let (signature, key) = split_signature(rest)?;
            return Ok(Self { signature, target: SignedTarget::Original(ObjectKey::from_url_path(key)?) });
        }
        if let Some(rest) = path.strip_prefix(Endpoint::Img.path_prefix()) {
            let (signature, rest) = split_signature(rest)?;
            let Some((options, encoded_source)) = rest.split_once('/') else {
                return Err(SignedPathError::Malformed("missing image source"));
            };
            if encoded_source.is_empty() {
                return Err(SignedPathError::Malformed("missing image source"));
            }
            // Vylux checks the format and the source encoding before the options.
            let source = ImageSource::parse(encoded_source)?;
            let options = ImageOptions::parse_required(&decode_options_segment(options)?)?;
            return Ok(Self { signature, target: SignedTarget::Img { options, source } });
        }
        Err(SignedPathError::Malformed("not a signed delivery path"))
    }
}

fn split_signature(rest: &str) -> Result<(String, &str), SignedPathError> {
    let Some((signature, tail)) = rest.split_once('/') else {
        return Err(SignedPathError::Malformed("missing signature or object key"));
    };
    if signature.is_empty() {
        return Err(SignedPathError::Malformed("missing signature"));
    }
    if tail.is_empty() {
        return Err(SignedPathError::Malformed("missing object key"));
    }
    Ok((signature.to_owned(), tail))
}

fn thumb_message(key: &ObjectKey) -> String {
    format!("thumb/{key}")
}

fn original_message(key: &ObjectKey) -> String {
    format!("/{key}")
}

fn img_message(options: &ImageOptions, source: &ImageSource) -> String {
    format!("{}/{}", options.canonical(), source.canonical())
}
