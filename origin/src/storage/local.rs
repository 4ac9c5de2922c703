//! A bucket kept as a folder on local disk.
//!
//! The key `videos/mo/movie/cover.jpg` is the file `{root}/videos/mo/movie/cover.jpg`. Writes go to
//! a temporary file in `{root}/.vylux-tmp/`, which is synced and then renamed over the target, so a
//! reader sees the old object or the new one and never a partial file. The folder `.vylux-tmp` is
//! therefore reserved: keys below it are rejected and listings skip it.
//!
//! No metadata is stored besides the file. The content type is derived from the key's extension
//! ([`content_type::from_key`]) and the ETag from the file's inode, size, modification time and
//! change time, so it changes whenever a write replaces the file.

use std::fs::{self, File};
use std::io::{self, ErrorKind, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncSeekExt};
use tokio_util::io::ReaderStream;
use vylux_common::ObjectKey;

use super::{content_type, ByteRange, Driver, ObjectBody, ObjectMeta, ObjectStore, StorageError};

/// Folder below the root that contains files being written.
pub const TEMP_FOLDER: &str = ".vylux-tmp";

/// Age after which a leftover temporary file (from a crash mid-write) is removed by [`LocalStore::open`].
const STALE_TEMP_AGE: Duration = Duration::from_secs(24 * 60 * 60);

/// Size of the chunks a read stream yields.
const READ_CHUNK: usize = 64 * 1024;

/// How often a rename is retried when a concurrent delete removed the freshly created parent folder.
const RENAME_ATTEMPTS: usize = 3;

/// A bucket stored as a folder.
#[derive(Debug, Clone)]
pub struct LocalStore {
    inner: Arc<Paths>,
}

#[derive(Debug)]
struct Paths {
    root: PathBuf,
    temp: PathBuf,
}

impl LocalStore {
    /// Opens the folder `root`, creating it and its temporary folder when missing, and removes
    /// temporary files older than a day.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self, StorageError> {
        let root = root.into();
        let temp = root.join(TEMP_FOLDER);
        fs::create_dir_all(&temp).map_err(|error| unavailable("open", &root, error))?;
        remove_stale_temp_files(&temp);
        Ok(Self { inner: Arc::new(Paths { root, temp }) })
    }

    /// Returns the bucket folder.
    pub fn root(&self) -> &Path {
        &self.inner.root
    }

    /// Returns the file path of a key. The key is checked again here, so that no path outside the
    /// root is ever built even if a caller constructed the key unchecked.
    pub fn path_for(&self, key: &ObjectKey) -> Result<PathBuf, StorageError> {
        let key = key.as_str();
        let mut path = self.inner.root.clone();
        for (index, segment) in key.split('/').enumerate() {
            check_segment(key, segment)?;
            if index == 0 && segment == TEMP_FOLDER {
                return Err(StorageError::invalid_key(
                    key,
                    format!("the folder {TEMP_FOLDER} is reserved for writes in progress"),
                ));
            }
            path.push(segment);
        }
        Ok(path)
    }

    /// Runs blocking file-system work on the blocking thread pool.
    async fn blocking<T: Send + 'static>(
        &self,
        operation: &'static str,
        target: String,
        work: impl FnOnce(&Paths) -> Result<T, StorageError> + Send + 'static,
    ) -> Result<T, StorageError> {
        let paths = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || work(&paths))
            .await
            .map_err(|error| StorageError::unavailable(operation, target, format!("blocking task failed: {error}")))?
    }
}

#[async_trait]
impl ObjectStore for LocalStore {
    fn driver(&self) -> Driver {
        Driver::Local
    }

    async fn head(&self, key: &ObjectKey) -> Result<ObjectMeta, StorageError> {
        let path = self.path_for(key)?;
        match tokio::fs::metadata(&path).await {
            Ok(metadata) if metadata.is_file() => Ok(object_meta(key, &metadata)),
            Ok(_) => Err(StorageError::not_found(key.as_str())),
            Err(error) => Err(read_error("head", key, error)),
        }
    }

    async fn get(&self, key: &ObjectKey, range: Option<ByteRange>) -> Result<ObjectBody, StorageError> {
        let path = self.path_for(key)?;
        let mut file = tokio::fs::File::open(&path).await.map_err(|error| read_error("get", key, error))?;

        // Metadata comes from the open file, so it describes exactly the bytes streamed even when a
        // write replaces the file meanwhile.
        let metadata = file.metadata().await.map_err(|error| read_error("get", key, error))?;
        if !metadata.is_file() {
            return Err(StorageError::not_found(key.as_str()));
        }
        let meta = object_meta(key, &metadata);

        let Some(range) = range else {
            let stream = ReaderStream::with_capacity(file, READ_CHUNK);
            return Ok(ObjectBody { meta, range: None, stream: Box::pin(stream) });
        };
        let Some(served) = range.resolve(meta.size) else {
            return Err(StorageError::InvalidRange { key: key.to_string(), size: meta.size });
        };
        file.seek(io::SeekFrom::Start(served.first)).await.map_err(|error| read_error("get", key, error))?;
        let stream = ReaderStream::with_capacity(file.take(served.len()), READ_CHUNK);
        Ok(ObjectBody { meta, range: Some(served), stream: Box::pin(stream) })
    }

    async fn put_file(&self, key: &ObjectKey, path: &Path, _content_type: Option<&str>) -> Result<(), StorageError> {
        // NOTE: the local backend keeps no content type, so `_content_type` is dropped and reads
        // report the type derived from the key's extension.
        let target = self.path_for(key)?;
        let key = key.clone();
        let source = path.to_owned();
        self.blocking("put", key.to_string(), move |paths| {
            let mut input = File::open(&source).map_err(|error| {
                StorageError::unavailable("put", key.as_str(), format!("cannot open {}: {error}", source.display()))
            })?;
            write_atomically(paths, &key, &target, |temp| io::copy(&mut input, temp).map(|_| ()))
        })
        .await
    }

    async fn put_bytes(&self, key: &ObjectKey, bytes: Bytes, _content_type: Option<&str>) -> Result<(), StorageError> {
        let target = self.path_for(key)?;
        let key = key.clone();
        self.blocking("put", key.to_string(), move |paths| {
            write_atomically(paths, &key, &target, |temp| temp.write_all(&bytes))
        })
        .await
    }

    async fn download_to_file(&self, key: &ObjectKey, path: &Path) -> Result<u64, StorageError> {
        let source = self.path_for(key)?;
        let key = key.clone();
        let destination = path.to_owned();
        self.blocking("download", key.to_string(), move |_| {
            let mut input = File::open(&source).map_err(|error| read_error("download", &key, error))?;
            let metadata = input.metadata().map_err(|error| read_error("download", &key, error))?;
            if !metadata.is_file() {
                return Err(StorageError::not_found(key.as_str()));
            }

            let copied = File::create(&destination).and_then(|mut output| io::copy(&mut input, &mut output));
            copied.map_err(|error| {
                let _ = fs::remove_file(&destination);
                StorageError::unavailable(
                    "download",
                    key.as_str(),
                    format!("cannot write {}: {error}", destination.display()),
                )
            })
        })
        .await
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ObjectKey>, StorageError> {
        let start = self.list_start(prefix)?;
        let prefix = prefix.to_owned();
        self.blocking("list", prefix.clone(), move |paths| list_keys(paths, &start, &prefix)).await
    }

    async fn delete(&self, key: &ObjectKey) -> Result<(), StorageError> {
        let path = self.path_for(key)?;
        let key = key.clone();
        self.blocking("delete", key.to_string(), move |paths| {
            remove_object(paths, &path)
                .map(|_| ())
                .map_err(|error| StorageError::unavailable("delete", key.as_str(), error.to_string()))
        })
        .await
    }

    async fn delete_prefix(&self, prefix: &str) -> Result<u64, StorageError> {
        if prefix.is_empty() {
            return Err(StorageError::invalid_key(
                prefix,
                "an empty prefix would delete the whole bucket: pass a prefix such as videos/ab/abc/",
            ));
        }
        let start = self.list_start(prefix)?;
        let prefix = prefix.to_owned();
        self.blocking("delete_prefix", prefix.clone(), move |paths| {
            let mut deleted = 0;
            for key in list_keys(paths, &start, &prefix)? {
                let path = paths.root.join(key.as_str());
                match remove_object(paths, &path) {
                    Ok(true) => deleted += 1,
                    Ok(false) => {}
                    Err(error) => {
                        return Err(StorageError::unavailable("delete_prefix", key.as_str(), error.to_string()))
                    }
                }
            }
            Ok(deleted)
        })
        .await
    }

    async fn check(&self) -> Result<(), StorageError> {
        let root = self.inner.root.display().to_string();
        self.blocking("check", root.clone(), move |paths| {
            let probe = tempfile::Builder::new().prefix("check-").tempfile_in(&paths.temp);
            probe.map(drop).map_err(|error| {
                StorageError::unavailable(
                    "check",
                    root,
                    format!("cannot create a file in {}: {error}", paths.temp.display()),
                )
            })
        })
        .await
    }
}

impl LocalStore {
    /// Returns the folder where a listing for `prefix` starts: the part of the prefix up to its
    /// last `/`, which must consist of valid key segments.
    fn list_start(&self, prefix: &str) -> Result<PathBuf, StorageError> {
        let mut start = self.inner.root.clone();
        if let Some((folders, _)) = prefix.rsplit_once('/') {
            for (index, segment) in folders.split('/').enumerate() {
                check_segment(prefix, segment)?;
                if index == 0 && segment == TEMP_FOLDER {
                    return Err(StorageError::invalid_key(
                        prefix,
                        format!("the folder {TEMP_FOLDER} is reserved for writes in progress"),
                    ));
                }
                start.push(segment);
            }
        }
        Ok(start)
    }
}

/// Checks one `/`-separated segment of a key or prefix.
fn check_segment(key: &str, segment: &str) -> Result<(), StorageError> {
    let reason = if segment.is_empty() {
        "empty segment"
    } else if segment == "." || segment == ".." {
        "'.' or '..' segment"
    } else if segment.contains('\\') {
        "backslash"
    } else if segment.chars().any(char::is_control) {
        "control character"
    } else {
        return Ok(());
    };
    Err(StorageError::invalid_key(key, reason))
}

fn object_meta(key: &ObjectKey, metadata: &fs::Metadata) -> ObjectMeta {
    let etag = format!(
        "\"{:x}-{:x}-{:x}.{:x}-{:x}.{:x}\"",
        metadata.ino(),
        metadata.size(),
        metadata.mtime(),
        metadata.mtime_nsec(),
        metadata.ctime(),
        metadata.ctime_nsec()
    );
    ObjectMeta {
        size: metadata.len(),
        content_type: content_type::from_key(key).map(str::to_owned),
        etag,
        last_modified: metadata.modified().ok(),
    }
}

/// Maps an error from reading an object: a missing file, or a file where a folder of the key
/// should be, means the object does not exist.
fn read_error(operation: &'static str, key: &ObjectKey, error: io::Error) -> StorageError {
    match error.kind() {
        ErrorKind::NotFound | ErrorKind::NotADirectory | ErrorKind::IsADirectory => {
            StorageError::not_found(key.as_str())
        }
        _ => StorageError::unavailable(operation, key.as_str(), error.to_string()),
    }
}

fn unavailable(operation: &'static str, path: &Path, error: io::Error) -> StorageError {
    StorageError::unavailable(operation, path.display().to_string(), error.to_string())
}

/// Writes a temporary file with `fill`, syncs it and renames it to `target`.
fn write_atomically(
    paths: &Paths,
    key: &ObjectKey,
    target: &Path,
    fill: impl FnOnce(&mut File) -> io::Result<()>,
) -> Result<(), StorageError> {
    let write_error = |error: io::Error| StorageError::unavailable("put", key.as_str(), error.to_string());

    let mut temp = tempfile::Builder::new().prefix("put-").tempfile_in(&paths.temp).map_err(write_error)?;
    fill(temp.as_file_mut()).map_err(write_error)?;
    temp.as_file().sync_all().map_err(write_error)?;

    let parent = target.parent().unwrap_or(&paths.root);
    let mut attempt = 0;
    loop {
        attempt += 1;
        fs::create_dir_all(parent).map_err(|error| placement_error(key, error))?;
        match temp.persist(target) {
            Ok(_) => break,
            // A concurrent delete may prune the parent folder between creating it and renaming.
            Err(persist) if persist.error.kind() == ErrorKind::NotFound && attempt < RENAME_ATTEMPTS => {
                temp = persist.file;
            }
            Err(persist) => return Err(placement_error(key, persist.error)),
        }
    }

    // Syncing the folder makes the rename itself durable.
    if let Ok(folder) = File::open(parent) {
        let _ = folder.sync_all();
    }
    Ok(())
}

/// Maps an error from creating a key's folders or renaming onto it. Unlike S3, a folder cannot
/// hold both the object `a/b` and the object `a/b/c`, so such keys are invalid here.
fn placement_error(key: &ObjectKey, error: io::Error) -> StorageError {
    match error.kind() {
        ErrorKind::NotADirectory | ErrorKind::AlreadyExists => {
            StorageError::invalid_key(key.as_str(), "a folder of the key is already an object in this local bucket")
        }
        ErrorKind::IsADirectory | ErrorKind::DirectoryNotEmpty => {
            StorageError::invalid_key(key.as_str(), "the key is already a folder of other objects in this local bucket")
        }
        _ => StorageError::unavailable("put", key.as_str(), error.to_string()),
    }
}

/// Removes an object file and the folders it leaves empty. Returns whether a file was removed.
fn remove_object(paths: &Paths, path: &Path) -> io::Result<bool> {
    match fs::remove_file(path) {
        Ok(()) => {}
        Err(error)
            if matches!(error.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory | ErrorKind::IsADirectory) =>
        {
            return Ok(false);
        }
        Err(error) => return Err(error),
    }

    let mut folder = path.parent();
    while let Some(current) = folder {
        if current == paths.root || !current.starts_with(&paths.root) || fs::remove_dir(current).is_err() {
            break;
        }
        folder = current.parent();
    }
    Ok(true)
}

/// Walks `start` and returns the keys that begin with `prefix`, sorted.
fn list_keys(paths: &Paths, start: &Path, prefix: &str) -> Result<Vec<ObjectKey>, StorageError> {
    let relative = start.strip_prefix(&paths.root).unwrap_or(Path::new(""));
    let mut start_key = String::new();
    for component in relative.iter() {
        start_key.push_str(&component.to_string_lossy());
        start_key.push('/');
    }

    let mut keys = Vec::new();
    let mut pending = vec![(start.to_owned(), start_key)];
    while let Some((folder, folder_key)) = pending.pop() {
        let entries = match fs::read_dir(&folder) {
            Ok(entries) => entries,
            Err(error) if matches!(error.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory) => continue,
            Err(error) => {
                return Err(StorageError::unavailable("list", prefix, format!("{}: {error}", folder.display())))
            }
        };
        for entry in entries {
            let entry = entry.map_err(|error| StorageError::unavailable("list", prefix, error.to_string()))?;
            // NOTE: file names that are not UTF-8 cannot be object keys and are left out.
            let Ok(name) = entry.file_name().into_string() else { continue };
            if folder_key.is_empty() && name == TEMP_FOLDER {
                continue;
            }
            let key = format!("{folder_key}{name}");
            let Ok(file_type) = entry.file_type() else { continue };

            if file_type.is_dir() {
                let folder_prefix = format!("{key}/");
                if folder_prefix.starts_with(prefix) || prefix.starts_with(&folder_prefix) {
                    pending.push((entry.path(), folder_prefix));
                }
                continue;
            }
            // A symbolic link counts as an object when it points to a file. Linked folders are not
            // followed, so a listing never leaves the root or loops.
            let is_file = file_type.is_file() || (file_type.is_symlink() && entry.path().is_file());
            if is_file && key.starts_with(prefix) {
                if let Ok(key) = ObjectKey::parse(&key) {
                    keys.push(key);
                }
            }
        }
    }
    keys.sort_unstable();
    Ok(keys)
}

/// Removes temporary files older than [`STALE_TEMP_AGE`], left behind by a crash mid-write.
fn remove_stale_temp_files(temp: &Path) {
    let Ok(entries) = fs::read_dir(temp) else { return };
    let now = SystemTime::now();
    for entry in entries.flatten() {
        let modified = entry.metadata().and_then(|metadata| metadata.modified());
        let stale = modified.is_ok_and(|time| now.duration_since(time).is_ok_and(|age| age > STALE_TEMP_AGE));
        if stale {
            let _ = fs::remove_file(entry.path());
        }
    }
}
