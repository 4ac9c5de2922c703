//! Bucket configuration and the `SOURCE_*` / `MEDIA_*` environment variables.
//!
//! Each role is configured on its own. When `{ROLE}_S3_ENDPOINT` is set the bucket is on S3 and
//! `{ROLE}_S3_ACCESS_KEY`, `{ROLE}_S3_SECRET_KEY` and `{ROLE}_BUCKET` are required, with
//! `{ROLE}_S3_REGION` defaulting to `auto`. Otherwise the bucket is the folder
//! `{DATA_DIR}/{ROLE_BUCKET}`, where `DATA_DIR` defaults to `./data` and the folder name defaults
//! to `source` or `media`.

use std::fmt;
use std::path::PathBuf;

/// Data directory used when `DATA_DIR` is unset.
pub const DEFAULT_DATA_DIR: &str = "./data";

/// S3 region used when `{ROLE}_S3_REGION` is unset. Most S3-compatible servers accept any region.
pub const DEFAULT_REGION: &str = "auto";

/// Location and access settings of one bucket.
#[derive(Clone, PartialEq, Eq)]
pub enum StorageConfig {
    /// A folder on local disk; object keys are paths below it.
    Local { root: PathBuf },
    /// A bucket on an S3-compatible server, addressed path-style with static credentials.
    S3 {
        /// Base URL of the server, such as `http://127.0.0.1:9000`, without a trailing `/`.
        endpoint: String,
        region: String,
        bucket: String,
        access_key: String,
        /// Never shown by `Debug`.
        secret_key: String,
    },
}

impl fmt::Debug for StorageConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Local { root } => f.debug_struct("Local").field("root", root).finish(),
            Self::S3 { endpoint, region, bucket, access_key, secret_key: _ } => f
                .debug_struct("S3")
                .field("endpoint", endpoint)
                .field("region", region)
                .field("bucket", bucket)
                .field("access_key", access_key)
                .field("secret_key", &"<redacted>")
                .finish(),
        }
    }
}

/// Role of a bucket: the read-only uploads or the read/write results.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BucketRole {
    Source,
    Media,
}

impl BucketRole {
    pub const ALL: [BucketRole; 2] = [BucketRole::Source, BucketRole::Media];

    /// Returns the metric label and default folder name: `source` or `media`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Source => "source",
            Self::Media => "media",
        }
    }

    /// Returns the prefix of the role's environment variables: `SOURCE` or `MEDIA`.
    pub fn env_prefix(self) -> &'static str {
        match self {
            Self::Source => "SOURCE",
            Self::Media => "MEDIA",
        }
    }
}

impl fmt::Display for BucketRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The configuration of both buckets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketConfigs {
    pub source: StorageConfig,
    pub media: StorageConfig,
}

impl BucketConfigs {
    /// Reads both bucket configurations from the process environment.
    pub fn from_env() -> Result<Self, Vec<String>> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads both bucket configurations through `lookup`, which returns a variable's value.
    ///
    /// Values are trimmed of whitespace and an empty value counts as unset. On failure every
    /// problem is returned, one message each, naming the variable but never a credential.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, Vec<String>> {
        let read = |name: &str| lookup(name).map(|value| value.trim().to_owned()).filter(|value| !value.is_empty());
        let data_dir = PathBuf::from(read("DATA_DIR").unwrap_or_else(|| DEFAULT_DATA_DIR.to_owned()));

        let mut errors = Vec::new();
        let source = role_config(BucketRole::Source, &data_dir, &read, &mut errors);
        let media = role_config(BucketRole::Media, &data_dir, &read, &mut errors);
        match (source, media) {
            (Some(source), Some(media)) if errors.is_empty() => Ok(Self { source, media }),
            _ => Err(errors),
        }
    }

    pub fn get(&self, role: BucketRole) -> &StorageConfig {
        match role {
            BucketRole::Source => &self.source,
            BucketRole::Media => &self.media,
        }
    }
}

fn role_config(
    role: BucketRole,
    data_dir: &std::path::Path,
    read: &dyn Fn(&str) -> Option<String>,
    errors: &mut Vec<String>,
) -> Option<StorageConfig> {
    let prefix = role.env_prefix();
    let name = |suffix: &str| format!("{prefix}_{suffix}");
    let endpoint_var = name("S3_ENDPOINT");
    let bucket_var = name("BUCKET");
    let credential_vars = [name("S3_ACCESS_KEY"), name("S3_SECRET_KEY"), name("S3_REGION")];
    let errors_before = errors.len();

    let Some(endpoint) = read(&endpoint_var) else {
        for variable in &credential_vars {
            if read(variable).is_some() {
                errors.push(format!(
                    "{variable} is set but {endpoint_var} is missing: set {endpoint_var} to use S3, or unset {prefix}_S3_* to use a folder under DATA_DIR"
                ));
            }
        }
        let folder = match read(&bucket_var) {
            Some(bucket) => {
                check_bucket_name(&bucket_var, &bucket, errors);
                bucket
            }
            None => role.as_str().to_owned(),
        };
        return (errors.len() == errors_before).then(|| StorageConfig::Local { root: data_dir.join(folder) });
    };

    let endpoint = parse_endpoint(&endpoint_var, &endpoint, errors);
    let mut require = |variable: &str| {
        let value = read(variable);
        if value.is_none() {
            errors.push(format!("{variable} is required when {endpoint_var} is set"));
        }
        value
    };
    let access_key = require(&credential_vars[0]);
    let secret_key = require(&credential_vars[1]);
    let bucket = require(&bucket_var);
    if let Some(bucket) = &bucket {
        check_bucket_name(&bucket_var, bucket, errors);
    }
    let region = read(&credential_vars[2]).unwrap_or_else(|| DEFAULT_REGION.to_owned());

    if errors.len() != errors_before {
        return None;
    }
    Some(StorageConfig::S3 {
        endpoint: endpoint?,
        region,
        bucket: bucket?,
        access_key: access_key?,
        secret_key: secret_key?,
    })
}

/// Checks an endpoint: an absolute `http` or `https` URL with a host and without credentials,
/// query or fragment. Returns it without trailing `/`.
fn parse_endpoint(variable: &str, value: &str, errors: &mut Vec<String>) -> Option<String> {
    let trimmed = value.trim_end_matches('/');
    let url = match url::Url::parse(trimmed) {
        Ok(url) => url,
        Err(error) => {
            errors.push(format!("{variable} must be an absolute http(s) URL such as http://127.0.0.1:9000: {error}"));
            return None;
        }
    };
    // A URL with user information carries a credential, so the message leaves the value out.
    if !url.username().is_empty() || url.password().is_some() {
        let stem = variable.trim_end_matches("ENDPOINT");
        errors.push(format!(
            "{variable} must not contain a user name or password: put the credentials in {stem}ACCESS_KEY and {stem}SECRET_KEY"
        ));
        return None;
    }
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        errors.push(format!("{variable} must be an absolute http(s) URL with a host, got {trimmed:?}"));
        return None;
    }
    if url.query().is_some() || url.fragment().is_some() {
        errors.push(format!("{variable} must not have a query or fragment, got {trimmed:?}"));
        return None;
    }
    Some(trimmed.to_owned())
}

/// Checks a bucket name: 1 to 255 characters from `A-Z a-z 0-9 . - _`, not `.` or `..`. S3
/// servers apply stricter rules of their own; this check keeps the name one safe path segment.
fn check_bucket_name(variable: &str, value: &str, errors: &mut Vec<String>) {
    let allowed = value.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
    if value.len() > 255 || !allowed || value == "." || value == ".." {
        errors.push(format!(
            "{variable} is invalid, got {value:?}: use 1 to 255 characters from A-Z, a-z, 0-9, '.', '-' and '_'"
        ));
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn load(pairs: &[(&str, &str)]) -> Result<BucketConfigs, Vec<String>> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        BucketConfigs::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn defaults_are_local_folders() {
        let configs = load(&[]).unwrap();
        assert_eq!(configs.source, StorageConfig::Local { root: PathBuf::from("./data/source") });
        assert_eq!(configs.media, StorageConfig::Local { root: PathBuf::from("./data/media") });
    }

    #[test]
    fn local_folders_follow_data_dir_and_bucket() {
        let configs = load(&[("DATA_DIR", "/srv/vylux"), ("MEDIA_BUCKET", "results")]).unwrap();
        assert_eq!(configs.source, StorageConfig::Local { root: PathBuf::from("/srv/vylux/source") });
        assert_eq!(configs.media, StorageConfig::Local { root: PathBuf::from("/srv/vylux/results") });
    }

    #[test]
    fn s3_settings_are_read_and_trimmed() {
        let configs = load(&[
            ("SOURCE_S3_ENDPOINT", " http://127.0.0.1:9000/ "),
            ("SOURCE_S3_ACCESS_KEY", "access"),
            ("SOURCE_S3_SECRET_KEY", "secret"),
            ("SOURCE_BUCKET", "uploads"),
            ("MEDIA_S3_ENDPOINT", "https://s3.example.test"),
            ("MEDIA_S3_ACCESS_KEY", "access2"),
            ("MEDIA_S3_SECRET_KEY", "secret2"),
            ("MEDIA_S3_REGION", "eu-central-1"),
            ("MEDIA_BUCKET", "media"),
        ])
        .unwrap();
        assert_eq!(
            configs.source,
            StorageConfig::S3 {
                endpoint: "http://127.0.0.1:9000".into(),
                region: "auto".into(),
                bucket: "uploads".into(),
                access_key: "access".into(),
                secret_key: "secret".into(),
            }
        );
        let StorageConfig::S3 { region, endpoint, .. } = &configs.media else { panic!("media is not S3") };
        assert_eq!(region, "eu-central-1");
        assert_eq!(endpoint, "https://s3.example.test");
    }

    #[test]
    fn every_problem_is_reported() {
        let errors = load(&[
            ("SOURCE_S3_ENDPOINT", "ftp://host"),
            ("SOURCE_S3_SECRET_KEY", "hunter2-secret"),
            ("MEDIA_S3_ACCESS_KEY", "access"),
            ("MEDIA_BUCKET", "../up"),
        ])
        .unwrap_err();
        let joined = errors.join("\n");
        assert!(joined.contains("SOURCE_S3_ENDPOINT must be an absolute http(s) URL"), "{joined}");
        assert!(joined.contains("SOURCE_S3_ACCESS_KEY is required"), "{joined}");
        assert!(joined.contains("SOURCE_BUCKET is required"), "{joined}");
        assert!(joined.contains("MEDIA_S3_ACCESS_KEY is set but MEDIA_S3_ENDPOINT is missing"), "{joined}");
        assert!(joined.contains("MEDIA_BUCKET is invalid"), "{joined}");
        assert_eq!(errors.len(), 5, "{joined}");
        assert!(!joined.contains("hunter2-secret"), "{joined}");
    }

    #[test]
    fn endpoint_credentials_are_not_echoed() {
        let errors = load(&[
            ("SOURCE_S3_ENDPOINT", "http://user:topsecret@127.0.0.1:9000"),
            ("SOURCE_S3_ACCESS_KEY", "a"),
            ("SOURCE_S3_SECRET_KEY", "b"),
            ("SOURCE_BUCKET", "c"),
        ])
        .unwrap_err();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].contains("SOURCE_S3_ENDPOINT must not contain a user name or password"));
        assert!(!errors[0].contains("topsecret"));
    }

    #[test]
    fn debug_redacts_secret_key() {
        let config = StorageConfig::S3 {
            endpoint: "http://127.0.0.1:9000".into(),
            region: "auto".into(),
            bucket: "media".into(),
            access_key: "access".into(),
            secret_key: "very-secret-value".into(),
        };
        let shown = format!("{config:?}");
        assert!(!shown.contains("very-secret-value"), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");
        assert!(shown.contains("media"), "{shown}");
    }
}
