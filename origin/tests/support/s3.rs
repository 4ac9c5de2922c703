//! Starts `s3s-fs`, a real S3 server that checks SigV4 signatures, on 127.0.0.1 for tests.
//!
//! Include it with `#[path = "support/s3.rs"] mod s3_support;`. Install the server with
//! `cargo install --locked s3s-fs@0.14.1 --features binary` (later releases need a newer rustc),
//! or point `S3S_FS` at the binary. When it is missing, [`S3Server::start`] prints a notice and
//! returns `None`, and the calling test should return early.

#![allow(dead_code)]

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use vylux_origin::storage::StorageConfig;

/// Access key the test server accepts.
pub const ACCESS_KEY: &str = "vylux-test-access";
/// Secret key the test server accepts. Tests check that it never appears in error messages.
pub const SECRET_KEY: &str = "vylux-test-secret-5a1f0c";

const START_TIMEOUT: Duration = Duration::from_secs(15);
const START_ATTEMPTS: usize = 3;

/// A running `s3s-fs` process, stopped when dropped. Its data lives in a temporary folder where
/// each bucket is a sub-folder.
pub struct S3Server {
    child: Child,
    port: u16,
    root: tempfile::TempDir,
}

impl S3Server {
    /// Starts a server on a free port of 127.0.0.1, or returns `None` after printing a notice
    /// when the `s3s-fs` binary is not installed.
    pub fn start() -> Option<Self> {
        let Some(binary) = find_binary() else {
            // Written to the stderr handle directly, because the test harness captures `eprintln!`.
            let _ = writeln!(
                std::io::stderr(),
                "notice: s3s-fs not found, skipping S3 test; install it with `cargo install --locked s3s-fs@0.14.1 --features binary` or set S3S_FS"
            );
            return None;
        };

        let root = tempfile::tempdir().expect("create a temporary folder for s3s-fs");
        for _ in 0..START_ATTEMPTS {
            let port = free_port();
            let mut child = Command::new(&binary)
                .arg("--host")
                .arg("127.0.0.1")
                .arg("--port")
                .arg(port.to_string())
                .arg("--access-key")
                .arg(ACCESS_KEY)
                .arg("--secret-key")
                .arg(SECRET_KEY)
                .arg(root.path())
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|error| panic!("failed to start {}: {error}", binary.display()));
            if wait_until_listening(&mut child, port) {
                return Some(Self { child, port, root });
            }
            // Another process took the port between probing and binding: try a new one.
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("s3s-fs did not start listening on 127.0.0.1 after {START_ATTEMPTS} attempts");
    }

    /// Returns the endpoint URL, such as `http://127.0.0.1:40123`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Creates a bucket. `s3s-fs` keeps each bucket as a folder under its root.
    pub fn create_bucket(&self, name: &str) {
        std::fs::create_dir(self.root.path().join(name))
            .unwrap_or_else(|error| panic!("create bucket {name}: {error}"));
    }

    /// Returns the configuration of a bucket on this server, with the server's credentials.
    pub fn config(&self, bucket: &str) -> StorageConfig {
        StorageConfig::S3 {
            endpoint: self.endpoint(),
            region: "auto".to_owned(),
            bucket: bucket.to_owned(),
            access_key: ACCESS_KEY.to_owned(),
            secret_key: SECRET_KEY.to_owned(),
        }
    }

    /// Returns the folder where the server stores its buckets.
    pub fn root(&self) -> &std::path::Path {
        self.root.path()
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn wait_until_listening(child: &mut Child, port: u16) -> bool {
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let deadline = Instant::now() + START_TIMEOUT;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return false;
        }
        if TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// Returns a port on 127.0.0.1 that nothing listened on a moment ago.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind a free port on 127.0.0.1");
    listener.local_addr().expect("read the bound address").port()
}

fn find_binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("S3S_FS") {
        return Some(PathBuf::from(path));
    }
    let in_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .map(|folder| folder.join("s3s-fs"));
    let in_cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cargo")))
        .map(|home| home.join("bin").join("s3s-fs"));
    in_path.chain(in_cargo_home).find(|candidate| candidate.is_file())
}
