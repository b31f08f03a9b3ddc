//! A real SMTP server for tests: Python's `aiosmtpd` (Debian's
//! `python3-aiosmtpd`) on a free loopback port, with STARTTLS required (a test
//! CA and server certificate made with the `openssl` command at start) and
//! AUTH (PLAIN, LOGIN) required, writing every accepted message to a
//! directory for the test to parse as MIME.
//!
//! Its answers are scripted ([`SmtpScript`]): replies for the next `MAIL FROM`
//! and end-of-data commands (`451 4.3.0 ...` then the default `250`), and
//! recipients to refuse. It can be stopped and started again on the same port
//! (a server down, then up).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use serde_json::{Value, json};
use tempfile::TempDir;

use crate::nats::free_port;
use crate::wait::{wait_for_some, wait_until};

/// How long the server may take to start.
const START_DEADLINE: Duration = Duration::from_secs(30);

/// The server, in Python: aiosmtpd's controller with a handler that follows
/// `control.json` and stores each accepted message as `mail/<ns>.json`.
const SERVER: &str = r#"
import json, os, signal, ssl, sys, threading, time
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

port, root, cert, key, user, password = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6]
CONTROL = os.path.join(root, "control.json")
MAIL = os.path.join(root, "mail")
os.makedirs(MAIL, exist_ok=True)

class Script:
    def __init__(self):
        self.raw, self.doc, self.used = None, {}, {}
    def load(self):
        try:
            raw = open(CONTROL).read()
        except FileNotFoundError:
            raw = "{}"
        if raw != self.raw:
            self.raw, self.doc, self.used = raw, json.loads(raw or "{}"), {}
    def next(self, kind):
        self.load()
        queue, i = self.doc.get(kind, []), self.used.get(kind, 0)
        if i < len(queue):
            self.used[kind] = i + 1
            return queue[i]
        return None
    def refused(self, address):
        self.load()
        return self.doc.get("rcpt", {}).get(address.lower())

script = Script()

def log(entry):
    entry["at_ns"] = time.time_ns()
    with open(os.path.join(root, "log.jsonl"), "a") as f:
        f.write(json.dumps(entry) + "\n")

class Handler:
    async def handle_MAIL(self, server, session, envelope, address, options):
        reply = script.next("mail")
        log({"command": "MAIL", "address": address, "reply": reply or "250 OK"})
        if reply:
            return reply
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"
    async def handle_RCPT(self, server, session, envelope, address, options):
        reply = script.refused(address)
        log({"command": "RCPT", "address": address, "reply": reply or "250 OK"})
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"
    async def handle_DATA(self, server, session, envelope):
        reply = script.next("data")
        log({"command": "DATA", "rcpt_tos": envelope.rcpt_tos, "reply": reply or "250 OK"})
        if reply:
            return reply
        login = getattr(session, "auth_data", None)
        doc = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "tls": session.ssl is not None,
            "peer": "%s:%s" % tuple(session.peer[:2]),
            "auth_user": login.decode() if isinstance(login, bytes) else login,
            "data": envelope.original_content.decode("utf-8", "surrogateescape"),
        }
        name = "%020d" % time.time_ns()
        tmp = os.path.join(root, name + ".tmp")
        with open(tmp, "w", errors="surrogateescape") as f:
            json.dump(doc, f)
        os.rename(tmp, os.path.join(MAIL, name + ".json"))
        return "250 2.0.0 OK queued as " + name

def authenticator(server, session, envelope, mechanism, auth_data):
    ok = (isinstance(auth_data, LoginPassword)
          and auth_data.login == user.encode() and auth_data.password == password.encode())
    return AuthResult(success=ok, handled=False, auth_data=auth_data.login if ok else None)

context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
context.load_cert_chain(cert, key)
controller = Controller(
    Handler(), hostname="127.0.0.1", port=int(port),
    tls_context=context, require_starttls=True,
    authenticator=authenticator, auth_required=True, auth_require_tls=True,
    decode_data=False,
)
controller.start()
open(os.path.join(root, "ready"), "w").close()
stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: stop.set())
signal.signal(signal.SIGINT, lambda *_: stop.set())
while not stop.wait(0.5):
    pass
controller.stop()
"#;

/// Scripted answers. Set with [`SmtpServer::script`]; each new script starts
/// its queues from the beginning.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SmtpScript {
    /// Replies to the next `MAIL FROM` commands, in order (then `250 OK`).
    pub mail: Vec<String>,
    /// Replies at the end of the next messages' data, in order (then `250`,
    /// and the message is stored).
    pub data: Vec<String>,
    /// Recipients (lowercase) refused with this reply, every time.
    pub refuse: BTreeMap<String, String>,
}

impl SmtpScript {
    /// Answers the end of the next messages' data with `replies`.
    #[must_use]
    pub fn data(mut self, replies: &[&str]) -> Self {
        self.data = replies.iter().map(|s| (*s).to_owned()).collect();
        self
    }

    /// Answers the next `MAIL FROM` commands with `replies`.
    #[must_use]
    pub fn mail(mut self, replies: &[&str]) -> Self {
        self.mail = replies.iter().map(|s| (*s).to_owned()).collect();
        self
    }

    /// Refuses `address` with `reply` (`550 5.1.1 <x>: no such user`).
    #[must_use]
    pub fn refuse(mut self, address: &str, reply: &str) -> Self {
        self.refuse
            .insert(address.to_ascii_lowercase(), reply.to_owned());
        self
    }
}

/// One accepted message.
#[derive(Debug, Clone)]
pub struct SmtpMessage {
    /// `MAIL FROM`.
    pub mail_from: String,
    /// Accepted `RCPT TO`s.
    pub rcpt_tos: Vec<String>,
    /// Whether the session was encrypted (after STARTTLS).
    pub tls: bool,
    /// The authenticated login, if any.
    pub auth_user: Option<String>,
    /// The client's `address:port`: messages of one pooled connection share it.
    pub peer: String,
    /// The message as received (headers and body, CRLF line ends).
    pub data: Vec<u8>,
}

/// An aiosmtpd process on `127.0.0.1:<port>`, stopped on drop.
#[derive(Debug)]
pub struct SmtpServer {
    port: u16,
    dir: TempDir,
    python: String,
    child: Option<Child>,
    username: String,
    password: String,
}

/// A Python with aiosmtpd: Debian's `/usr/bin/python3` first, then `python3`.
fn find_python() -> Result<String> {
    for candidate in ["/usr/bin/python3", "python3"] {
        let ok = Command::new(candidate)
            .args(["-c", "import aiosmtpd"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return Ok(candidate.to_owned());
        }
    }
    bail!("no python3 with aiosmtpd: install it with `apt-get install -y python3-aiosmtpd`")
}

impl SmtpServer {
    /// Starts a server requiring STARTTLS and AUTH as `herald` / `s3cret-pw`.
    ///
    /// # Errors
    /// When aiosmtpd or openssl is missing, or the server does not start.
    pub async fn start() -> Result<Self> {
        let python = find_python()?;
        let dir = tempfile::Builder::new().prefix("herald-smtp-").tempdir()?;
        crate::tls::make_certificates(dir.path())?;
        std::fs::write(dir.path().join("server.py"), SERVER)?;
        let mut server = Self {
            port: free_port()?,
            dir,
            python,
            child: None,
            username: "herald".to_owned(),
            password: "s3cret-pw".to_owned(),
        };
        server.spawn().await?;
        Ok(server)
    }

    async fn spawn(&mut self) -> Result<()> {
        let ready = self.dir.path().join("ready");
        let _ = std::fs::remove_file(&ready);
        let log = std::fs::File::create(self.dir.path().join("server.log"))?;
        let child = Command::new(&self.python)
            .arg(self.dir.path().join("server.py"))
            .arg(self.port.to_string())
            .arg(self.dir.path())
            .arg(self.dir.path().join("server.pem"))
            .arg(self.dir.path().join("server.key"))
            .arg(&self.username)
            .arg(&self.password)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .context("starting aiosmtpd")?;
        self.child = Some(child);
        let log_path = self.dir.path().join("server.log");
        wait_until(START_DEADLINE, "the SMTP server to start", || {
            let ready = ready.clone();
            async move { ready.exists() }
        })
        .await
        .with_context(|| std::fs::read_to_string(&log_path).unwrap_or_default())
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The CA certificate (PEM file) that signed the server's certificate.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// The login the server accepts.
    pub fn username(&self) -> &str {
        &self.username
    }

    /// The password the server accepts.
    pub fn password(&self) -> &str {
        &self.password
    }

    /// Replaces the script (queues start again from their first reply).
    ///
    /// # Errors
    /// When the control file cannot be written.
    pub fn script(&self, script: &SmtpScript) -> Result<()> {
        let doc = json!({"mail": script.mail, "data": script.data, "rcpt": script.refuse});
        let tmp = self.dir.path().join("control.json.tmp");
        std::fs::write(&tmp, doc.to_string())?;
        std::fs::rename(&tmp, self.dir.path().join("control.json"))?;
        Ok(())
    }

    /// Every accepted message so far, in arrival order.
    ///
    /// # Errors
    /// When a stored message cannot be read.
    pub fn messages(&self) -> Result<Vec<SmtpMessage>> {
        let dir = self.dir.path().join("mail");
        let mut paths: Vec<PathBuf> = match std::fs::read_dir(&dir) {
            Ok(entries) => entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "json"))
                .collect(),
            Err(_) => return Ok(Vec::new()),
        };
        paths.sort();
        paths
            .iter()
            .map(|p| {
                let doc: Value = serde_json::from_slice(&std::fs::read(p)?)
                    .with_context(|| format!("reading {}", p.display()))?;
                Ok(SmtpMessage {
                    mail_from: doc["mail_from"].as_str().unwrap_or_default().to_owned(),
                    rcpt_tos: doc["rcpt_tos"]
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .filter_map(|v| v.as_str().map(str::to_owned))
                                .collect()
                        })
                        .unwrap_or_default(),
                    tls: doc["tls"].as_bool().unwrap_or(false),
                    auth_user: doc["auth_user"].as_str().map(str::to_owned),
                    peer: doc["peer"].as_str().unwrap_or_default().to_owned(),
                    data: doc["data"].as_str().unwrap_or_default().as_bytes().to_vec(),
                })
            })
            .collect()
    }

    /// Waits until at least `n` messages were accepted, and returns them all.
    ///
    /// # Errors
    /// When fewer arrived within `deadline`.
    pub async fn wait_for_messages(
        &self,
        n: usize,
        deadline: Duration,
    ) -> Result<Vec<SmtpMessage>> {
        wait_for_some(
            deadline,
            &format!("{n} messages at the SMTP server"),
            || {
                let got = self.messages().ok().filter(|m| m.len() >= n);
                async move { got }
            },
        )
        .await
    }

    /// Every command the handler answered (`MAIL`, `RCPT`, `DATA`), with its reply.
    pub fn log(&self) -> Vec<Value> {
        std::fs::read_to_string(self.dir.path().join("log.jsonl"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// The end-of-data replies given so far (one per message attempt).
    pub fn data_replies(&self) -> Vec<String> {
        self.log()
            .iter()
            .filter(|e| e["command"] == "DATA")
            .filter_map(|e| e["reply"].as_str().map(str::to_owned))
            .collect()
    }

    /// Stops the server (connections are refused until [`SmtpServer::restart`]).
    ///
    /// # Errors
    /// When the process cannot be killed.
    pub fn stop(&mut self) -> Result<()> {
        if let Some(mut child) = self.child.take() {
            child.kill().context("killing aiosmtpd")?;
            child.wait().context("reaping aiosmtpd")?;
        }
        Ok(())
    }

    /// Starts the server again on the same port, keeping its messages.
    ///
    /// # Errors
    /// When it does not start.
    pub async fn restart(&mut self) -> Result<()> {
        self.stop()?;
        self.spawn().await
    }

    /// The server's own log (Python's standard error).
    pub fn server_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.stop();
    }
}
