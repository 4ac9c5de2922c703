//! The `vylux` command line: signing, tokens and key generation, run as a user would.

use std::process::{Command, Output};

const HMAC_SECRET: &str = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";
const TOKEN_SECRET: &str = "00112233445566778899aabbccddeeff";

fn vylux(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_vylux"));
    command.args(args).env_remove("HMAC_SECRET").env_remove("KEY_TOKEN_SECRET").env_remove("KEY_TOKEN_PREVIOUS_SECRETS");
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().expect("the vylux binary runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap().trim_end().to_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

#[test]
fn sign_thumb_matches_contract() {
    let output = vylux(&["sign", "thumb", "videos/mo/movie-2026-04-01/cover.jpg"], &[("HMAC_SECRET", HMAC_SECRET)]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        stdout(&output),
        "/thumb/30a62dc18da5370f1f20e67bdeda12b175c7ccdd427e27ea75d9d39a133cf7df/videos%2Fmo%2Fmovie-2026-04-01%2Fcover.jpg"
    );
}

#[test]
fn sign_with_base_url() {
    let output = vylux(
        &["sign", "img", "q80_h200_w300", "photos/cat.jpg", "jpeg", "--base-url", "https://media.example.com/"],
        &[("HMAC_SECRET", HMAC_SECRET)],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let url = stdout(&output);
    assert!(url.starts_with("https://media.example.com/img/"), "{url}");
    assert!(url.ends_with("/w300_h200_q80/photos%2Fcat.jpg.jpg"), "{url}");

    let original = vylux(&["sign", "original", "uploads/sample.mp4"], &[("HMAC_SECRET", HMAC_SECRET)]);
    assert!(stdout(&original).starts_with("/original/"));
}

#[test]
fn sign_rejects_bad_input() {
    let weak = vylux(&["sign", "thumb", "a.jpg"], &[("HMAC_SECRET", "test-secret")]);
    assert!(!weak.status.success());
    assert!(stderr(&weak).contains("HMAC_SECRET is too short"));
    assert!(!stderr(&weak).contains("test-secret"));

    let missing = vylux(&["sign", "thumb", "a.jpg"], &[]);
    assert!(!missing.status.success());
    assert!(stderr(&missing).contains("HMAC_SECRET is not set"));

    let traversal = vylux(&["sign", "thumb", "videos/../secret.jpg"], &[("HMAC_SECRET", HMAC_SECRET)]);
    assert!(!traversal.status.success());
    assert!(stderr(&traversal).contains("\"videos/../secret.jpg\""), "{}", stderr(&traversal));

    let format = vylux(&["sign", "img", "w300", "a.jpg", "bmp"], &[("HMAC_SECRET", HMAC_SECRET)]);
    assert!(!format.status.success());
    assert!(stderr(&format).contains("unsupported output format \"bmp\""));

    let base = vylux(&["sign", "thumb", "a.jpg", "--base-url", "ftp://x"], &[("HMAC_SECRET", HMAC_SECRET)]);
    assert!(!base.status.success());
    assert!(stderr(&base).contains("\"ftp://x\""));
}

#[test]
fn token_verify_accepts_vylux_token() {
    let token = "eyJoYXNoIjoibW92aWUtMjAyNi0wNC0wMSIsImV4cCI6NDEwMjQ0NDgwMH0.snz7BT2KUm5zFbhC1aChY626X-jZstR7ImmF7HXWap4";
    let valid = vylux(&["token", "verify", token, "movie-2026-04-01"], &[("KEY_TOKEN_SECRET", TOKEN_SECRET)]);
    assert!(valid.status.success(), "{}", stdout(&valid));
    assert!(stdout(&valid).starts_with("valid:"));

    let other = vylux(&["token", "verify", token, "movie-2026-04-02"], &[("KEY_TOKEN_SECRET", TOKEN_SECRET)]);
    assert_eq!(other.status.code(), Some(1));
    assert_eq!(stdout(&other), "invalid: token is for another hash");
}

#[test]
fn token_mint_then_verify() {
    let minted = vylux(&["token", "mint", "movie-2026-04-01", "--ttl", "60"], &[("KEY_TOKEN_SECRET", TOKEN_SECRET)]);
    assert!(minted.status.success(), "{}", stderr(&minted));
    let token = stdout(&minted);
    assert_eq!(token.split('.').count(), 3);

    let verified = vylux(&["token", "verify", &token, "movie-2026-04-01"], &[("KEY_TOKEN_SECRET", TOKEN_SECRET)]);
    assert!(verified.status.success(), "{}", stdout(&verified));

    let rotated = vylux(
        &["token", "verify", &token, "movie-2026-04-01"],
        &[("KEY_TOKEN_SECRET", "ffeeddccbbaa99887766554433221100"), ("KEY_TOKEN_PREVIOUS_SECRETS", TOKEN_SECRET)],
    );
    assert!(rotated.status.success(), "{}", stdout(&rotated));

    let zero_ttl = vylux(&["token", "mint", "abc", "--ttl", "0"], &[("KEY_TOKEN_SECRET", TOKEN_SECRET)]);
    assert!(!zero_ttl.status.success());
    assert!(stderr(&zero_ttl).contains("got 0"));
}

/// Returns whether `python3` can import PyJWT, printing a notice when it cannot.
fn pyjwt_available() -> bool {
    let available = Command::new("python3")
        .args(["-c", "import jwt"])
        .output()
        .map(|output| output.status.success())
        .unwrap_or(false);
    if !available {
        eprintln!("NOTICE: skipping the PyJWT cross-check: python3 with PyJWT is not installed");
    }
    available
}

#[test]
fn token_interoperates_with_pyjwt() {
    if !pyjwt_available() {
        return;
    }
    let minted = vylux(&["token", "mint", "movie-2026-04-01", "--ttl", "120"], &[("KEY_TOKEN_SECRET", TOKEN_SECRET)]);
    let token = stdout(&minted);
    let script = "import jwt, sys\nclaims = jwt.decode(sys.argv[1], sys.argv[2], algorithms=['HS256'])\nprint(claims['hash'])";
    let decoded = Command::new("python3").args(["-c", script, &token, TOKEN_SECRET]).output().unwrap();
    assert!(decoded.status.success(), "PyJWT rejected the token: {}", stderr(&decoded));
    assert_eq!(stdout(&decoded), "movie-2026-04-01");

    let wrong = Command::new("python3").args(["-c", script, &token, "ffeeddccbbaa99887766554433221100"]).output().unwrap();
    assert!(!wrong.status.success(), "PyJWT accepted the token with the wrong secret");

    let mint_script = "import jwt, sys, time\nprint(jwt.encode({'hash': sys.argv[1], 'exp': int(time.time()) + 60}, sys.argv[2], algorithm='HS256'))";
    let foreign = Command::new("python3").args(["-c", mint_script, "movie-2026-04-01", TOKEN_SECRET]).output().unwrap();
    let foreign_token = stdout(&foreign);
    let verified = vylux(&["token", "verify", &foreign_token, "movie-2026-04-01"], &[("KEY_TOKEN_SECRET", TOKEN_SECRET)]);
    assert!(verified.status.success(), "{}", stdout(&verified));

    let hs512_script = "import jwt, sys, time\nprint(jwt.encode({'hash': sys.argv[1], 'exp': int(time.time()) + 60}, sys.argv[2], algorithm='HS512'))";
    let hs512 = Command::new("python3").args(["-c", hs512_script, "movie-2026-04-01", TOKEN_SECRET]).output().unwrap();
    let rejected = vylux(&["token", "verify", &stdout(&hs512), "movie-2026-04-01"], &[("KEY_TOKEN_SECRET", TOKEN_SECRET)]);
    assert_eq!(rejected.status.code(), Some(1));
    assert!(stdout(&rejected).contains("HS512"));
}

#[test]
fn keygen_prints_every_secret() {
    let first = vylux(&["keygen"], &[]);
    let second = vylux(&["keygen"], &[]);
    assert!(first.status.success());
    let text = stdout(&first);
    for name in ["HMAC_SECRET", "API_KEY", "WEBHOOK_SECRET", "KEY_TOKEN_SECRET", "ENCRYPTION_KEY"] {
        let line = text.lines().find(|line| line.starts_with(&format!("{name}="))).unwrap_or_else(|| panic!("no {name}"));
        let value = &line[name.len() + 1..];
        assert_eq!(value.len(), 64, "{name}");
        assert!(value.bytes().all(|b| b.is_ascii_hexdigit()), "{name}");
    }
    assert_ne!(text, stdout(&second), "two runs printed the same secrets");
}
