//! A real https server for crawl tests: it answers every request with 401 (or redirects it),
//! and records the credentials each request carried. python3 serves, openssl makes the
//! certificate.

use std::path::{Path, PathBuf};
use std::process::Command;

/// An https server on 127.0.0.1 that answers every request with 401 (or, when redirecting, with
/// a redirect to another server) and records, one line per request, the Basic credentials it
/// received (`user:token`, or `-` when none were sent). Its certificate, made for the test for
/// 127.0.0.1 and `localhost`, is trusted through `SSL_CERT_FILE`.
pub struct RecordingServer {
    child: std::process::Child,
    pub port: u16,
    pub cert: PathBuf,
    log: PathBuf,
}

const SERVER_SCRIPT: &str = r#"
import base64, http.server, ssl, sys

log = open(sys.argv[3], 'a', buffering=1)
redirect_to = sys.argv[4] if len(sys.argv) > 4 else ''

class Refuse(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        header = self.headers.get('Authorization') or ''
        if header.startswith('Basic '):
            received = base64.b64decode(header[6:]).decode('utf-8', 'replace')
        else:
            received = header or '-'
        log.write(received + '\n')
        if redirect_to:
            self.send_response(301)
            self.send_header('Location', redirect_to + self.path)
        else:
            self.send_response(401)
            self.send_header('WWW-Authenticate', 'Basic realm="git"')
        self.send_header('Content-Length', '0')
        self.end_headers()

    do_POST = do_GET

    def log_message(self, *args):
        pass

server = http.server.HTTPServer(('127.0.0.1', 0), Refuse)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(sys.argv[1], sys.argv[2])
server.socket = context.wrap_socket(server.socket, server_side=True)
print(server.server_address[1], flush=True)
server.serve_forever()
"#;

impl RecordingServer {
    /// A server that refuses every request with 401.
    pub fn start(dir: &Path) -> RecordingServer {
        RecordingServer::spawn(dir, "refusing", None)
    }

    /// A server that redirects every request to the same path under `target` (`https://host:port`).
    pub fn redirecting(dir: &Path, target: &str) -> RecordingServer {
        RecordingServer::spawn(dir, "redirecting", Some(target))
    }

    fn spawn(dir: &Path, name: &str, redirect_to: Option<&str>) -> RecordingServer {
        let (cert, key) = certificate(dir);
        let log = dir.join(format!("{name}-requests.log"));
        let mut child = Command::new("python3")
            .arg("-c")
            .arg(SERVER_SCRIPT)
            .arg(&cert)
            .arg(&key)
            .arg(&log)
            .args(redirect_to)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("python3 runs");
        let mut line = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().expect("piped")), &mut line)
            .expect("the server prints its port");
        RecordingServer {
            child,
            port: line.trim().parse().expect("a port"),
            cert,
            log,
        }
    }

    /// What each request received so far, and the log emptied for the next run.
    pub fn take_requests(&self) -> Vec<String> {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        std::fs::write(&self.log, "").expect("empty the log");
        text.lines().map(str::to_owned).collect()
    }
}

impl Drop for RecordingServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A self-signed certificate for 127.0.0.1 and `localhost` in `dir` (made once), and its key.
fn certificate(dir: &Path) -> (PathBuf, PathBuf) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    if cert.is_file() && key.is_file() {
        return (cert, key);
    }
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-keyout",
        ])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl runs");
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    (cert, key)
}
