//! A connection to a Chromium process over the DevTools protocol's pipe transport
//! (`--remote-debugging-pipe`): JSON messages ended by a NUL byte, Chromium reading commands
//! on its descriptor 3 and writing answers and events on its descriptor 4. No port is opened,
//! so nothing else on the host can drive the browser.
//!
//! Sessions are flat (`Target.attachToTarget` with `flatten`): a command names its session,
//! and each session's events go to the one receiver registered for it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::sync::{mpsc, oneshot};

/// Events buffered for one session; past it, events are dropped (a paused request then waits
/// for its render's deadline).
const SESSION_EVENTS: usize = 256;

/// The longest message read from Chromium; a longer one ends the connection (and Chromium
/// with it), as a page that makes Chromium say that much is one to stop rendering.
const MESSAGE_LIMIT: usize = 16 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum CdpError {
    #[error("chromium cannot be started: {0}")]
    Launch(std::io::Error),
    #[error("chromium has exited")]
    Closed,
    #[error("{0} took longer than its time limit")]
    Timeout(&'static str),
    #[error("chromium answered {method} with an error: {message}")]
    Command { method: String, message: String },
}

/// An event of one session.
#[derive(Debug)]
pub struct Event {
    pub method: String,
    pub params: Value,
}

type Pending = Mutex<HashMap<u64, oneshot::Sender<Result<Value, String>>>>;
type Sessions = Mutex<HashMap<String, mpsc::Sender<Event>>>;

pub struct Cdp {
    next_id: AtomicU64,
    commands: tokio::sync::Mutex<ChildStdin>,
    pending: Arc<Pending>,
    sessions: Arc<Sessions>,
    closed: Arc<AtomicBool>,
    child: tokio::sync::Mutex<Child>,
    /// Chromium's profile, removed with the connection.
    profile: PathBuf,
}

impl Drop for Cdp {
    /// Where [`Cdp::close`] was not awaited: killed, and its profile removed as far as its
    /// processes, dying, let it be.
    fn drop(&mut self) {
        let _ = self.child.get_mut().start_kill();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

impl Cdp {
    /// Starts `program` with `args`, a new profile directory and the pipe transport. Through
    /// `sh`, which gives Chromium our pipes as its descriptors 3 and 4 (`exec 3<&0 4>&1`)
    /// without code of our own running between fork and exec.
    pub fn launch(program: &Path, args: &[String]) -> Result<Cdp, CdpError> {
        let profile = std::env::temp_dir().join(format!("s4e-chromium-{}", uuid::Uuid::new_v4()));
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(r#"exec "$0" "$@" 3<&0 4>&1 </dev/null >/dev/null"#)
            .arg(program)
            .arg("--remote-debugging-pipe")
            .arg(format!("--user-data-dir={}", profile.display()))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(CdpError::Launch)?;
        let (Some(commands), Some(answers)) = (child.stdin.take(), child.stdout.take()) else {
            return Err(CdpError::Launch(std::io::Error::other("no pipes")));
        };
        let pending: Arc<Pending> = Default::default();
        let sessions: Arc<Sessions> = Default::default();
        let closed = Arc::new(AtomicBool::new(false));
        tokio::spawn(read_answers(
            answers,
            pending.clone(),
            sessions.clone(),
            closed.clone(),
        ));
        Ok(Cdp {
            next_id: AtomicU64::new(1),
            commands: tokio::sync::Mutex::new(commands),
            pending,
            sessions,
            closed,
            child: tokio::sync::Mutex::new(child),
            profile,
        })
    }

    /// Asks Chromium to quit and waits (a few seconds at most, then kills it), so that its
    /// profile is removed whole.
    pub async fn close(&self) {
        let _ = tokio::time::timeout(
            Duration::from_secs(2),
            self.call(None, "Browser.close", json!({})),
        )
        .await;
        let mut child = self.child.lock().await;
        if tokio::time::timeout(Duration::from_secs(5), child.wait())
            .await
            .is_err()
        {
            let _ = child.kill().await;
        }
        let _ = std::fs::remove_dir_all(&self.profile);
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Gives the connection up (a command went unanswered past its time): the next render
    /// starts another Chromium, and this one is killed when its last user lets it go.
    pub fn abandon(&self) {
        self.closed.store(true, Ordering::Release);
    }

    /// Sends `method` (in `session`, or to the browser) and waits for its answer.
    pub async fn call(
        &self,
        session: Option<&str>,
        method: &str,
        params: Value,
    ) -> Result<Value, CdpError> {
        if self.is_closed() {
            return Err(CdpError::Closed);
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut command = json!({ "id": id, "method": method, "params": params });
        if let Some(session) = session {
            command["sessionId"] = json!(session);
        }
        let (answer, answered) = oneshot::channel();
        lock(&self.pending).insert(id, answer);
        // Whatever becomes of this call (answered, failed, or dropped unanswered), its entry
        // goes; and a connection that closed meanwhile fails it rather than leaving it waiting.
        let _forget = Forget {
            pending: &self.pending,
            id,
        };
        if self.is_closed() {
            return Err(CdpError::Closed);
        }
        let mut bytes = serde_json::to_vec(&command).unwrap_or_default();
        bytes.push(0);
        let written = {
            let mut commands = self.commands.lock().await;
            match commands.write_all(&bytes).await {
                Ok(()) => commands.flush().await,
                Err(error) => Err(error),
            }
        };
        if written.is_err() {
            return Err(CdpError::Closed);
        }
        match answered.await {
            Ok(Ok(result)) => Ok(result),
            Ok(Err(message)) => Err(CdpError::Command {
                method: method.to_string(),
                message,
            }),
            Err(_) => Err(CdpError::Closed),
        }
    }

    /// The events of `session` from now on (until [`Cdp::forget`]).
    pub fn events(&self, session: &str) -> mpsc::Receiver<Event> {
        let (sender, receiver) = mpsc::channel(SESSION_EVENTS);
        lock(&self.sessions).insert(session.to_string(), sender);
        receiver
    }

    pub fn forget(&self, session: &str) {
        lock(&self.sessions).remove(session);
    }
}

/// Removes a command's entry from the pending map when its call ends, however it ends.
struct Forget<'a> {
    pending: &'a Pending,
    id: u64,
}

impl Drop for Forget<'_> {
    fn drop(&mut self) {
        lock(self.pending).remove(&self.id);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Hands each answer to its command and each event to its session until Chromium closes its
/// end; then every command still waiting fails.
async fn read_answers(
    answers: ChildStdout,
    pending: Arc<Pending>,
    sessions: Arc<Sessions>,
    closed: Arc<AtomicBool>,
) {
    let mut answers = BufReader::new(answers);
    let mut message = Vec::new();
    loop {
        let complete = match answers.fill_buf().await {
            Ok([]) | Err(_) => break,
            Ok(read) => {
                let (part, used, complete) = match read.iter().position(|byte| *byte == 0) {
                    Some(end) => (&read[..end], end + 1, true),
                    None => (read, read.len(), false),
                };
                message.extend_from_slice(part);
                answers.consume(used);
                complete
            }
        };
        if message.len() > MESSAGE_LIMIT {
            break;
        }
        if !complete {
            continue;
        }
        let parsed = serde_json::from_slice::<Value>(&message);
        message.clear();
        let Ok(mut message) = parsed else {
            continue;
        };
        if let Some(id) = message.get("id").and_then(Value::as_u64) {
            let answer = match message.get_mut("error") {
                Some(error) => Err(error
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("unknown error")
                    .to_string()),
                None => Ok(message
                    .get_mut("result")
                    .map(Value::take)
                    .unwrap_or_default()),
            };
            if let Some(waiting) = lock(&pending).remove(&id) {
                let _ = waiting.send(answer);
            }
        } else if let (Some(session), Some(method)) = (
            message.get("sessionId").and_then(Value::as_str),
            message.get("method").and_then(Value::as_str),
        ) {
            let receiver = lock(&sessions).get(session).cloned();
            if let Some(receiver) = receiver {
                let _ = receiver.try_send(Event {
                    method: method.to_string(),
                    params: message
                        .get_mut("params")
                        .map(Value::take)
                        .unwrap_or_default(),
                });
            }
        }
    }
    closed.store(true, Ordering::Release);
    lock(&pending).clear();
    lock(&sessions).clear();
}
