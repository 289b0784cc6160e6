//! `pacer clients` and `pacer serve` as operators run them: a token printed once and
//! stored hashed, the API answering it, a revoked token refused, and a clean stop.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

struct Dir(tempfile::TempDir);

impl Dir {
    fn pacer(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_pacer"));
        c.env("PACER_DB", self.0.path().join("pacer.db"))
            .env_remove("PACER_CONFIG")
            .env_remove("PACER_WEBHOOK_SECRET")
            .current_dir(self.0.path());
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.pacer().args(args).output().expect("run pacer")
    }
}

/// A plain HTTP/1.1 GET; returns the status code and the body.
fn get(addr: &str, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        request.push_str(&format!("{k}: {v}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).expect("send");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("read");
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = answer
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    (status, body)
}

/// Starts `pacer serve` on a free port and returns it with its address.
fn serve(dir: &Dir) -> (Child, String) {
    let mut child = dir
        .pacer()
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("PACER_WEBHOOK_SECRET", "serve-test-secret-0123456789")
        .stderr(Stdio::piped())
        .spawn()
        .expect("start pacer serve");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    let addr = loop {
        let line = lines
            .next()
            .expect("pacer serve printed its address")
            .expect("line");
        if let Some(rest) = line.split("listening on http://").nth(1) {
            break rest
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_owned();
        }
    };
    std::thread::spawn(move || lines.for_each(drop));
    (child, addr)
}

fn stop(mut child: Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let status = child.wait().expect("wait");
    assert!(
        status.success(),
        "pacer serve stops cleanly on SIGTERM: {status:?}"
    );
}

#[test]
fn clients_add_prints_a_token_once_that_serve_accepts_until_it_is_revoked() {
    let dir = Dir(tempfile::tempdir().expect("temp dir"));
    let out = dir.run(&["clients", "add", "billing"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(token.starts_with("pacer_"), "{token}");
    let again = dir.run(&["clients", "add", "billing"]);
    assert!(
        !again.status.success(),
        "an active app is not registered twice"
    );
    assert!(String::from_utf8_lossy(&again.stderr).contains("revoke"));
    let list = dir.run(&["clients", "list", "--output", "json"]);
    let listed = String::from_utf8_lossy(&list.stdout);
    assert!(
        listed.contains("\"billing\"") && !listed.contains(&token),
        "{listed}"
    );

    let (child, addr) = serve(&dir);
    let auth = format!("Bearer {token}");
    let headers = [("Authorization", auth.as_str()), ("X-App-Name", "billing")];
    assert_eq!(get(&addr, "/health", &[]).0, 200);
    let (status, body) = get(&addr, "/feed", &headers);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"items\":[]"), "{body}");
    assert_eq!(get(&addr, "/feed", &[]).0, 401);
    let revoke = dir.run(&["clients", "revoke", "billing"]);
    assert!(revoke.status.success());
    assert_eq!(get(&addr, "/feed", &headers).0, 401, "revoked at once");
    stop(child);
}

#[test]
fn serve_without_a_webhook_secret_says_how_to_give_one() {
    let dir = Dir(tempfile::tempdir().expect("temp dir"));
    let out = dir.run(&["serve", "--listen", "127.0.0.1:0"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("PACER_WEBHOOK_SECRET"), "{err}");
}
