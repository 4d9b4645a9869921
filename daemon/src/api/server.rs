//! Serving the local API on a unix socket that only root (the socket's owner) may use.
//!
//! The socket is bound inside a fresh private directory (0700), set to 0600 there and then
//! renamed into place, so it is never reachable with looser permissions and a stale socket is
//! replaced atomically. A live margay-node already answering on the path is never displaced.

use std::future::Future;
use std::io::ErrorKind;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::task::{JoinHandle, JoinSet};
use tracing::{debug, warn};

use super::client::call_with_timeout;
use super::error::ApiError;
use super::types::{Reply, Request};

/// Longest request line accepted (with its newline); a longer one is answered with an error
/// and the connection closed.
pub const MAX_REQUEST_LINE: usize = 64 * 1024;

/// How long a server already on the path gets to answer before it is called occupied.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Pause after a failed `accept` (e.g. out of file descriptors) before the next.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Longest part of a bad request line quoted back in the error reply.
const SHOWN_REQUEST: usize = 200;

/// What answers requests: the node agent.
pub trait Handler: Send + Sync + 'static {
    /// The reply to one request.
    fn handle(&self, request: Request) -> impl Future<Output = Reply> + Send;
}

/// A running API server; stops serving and removes its socket when shut down or dropped.
#[derive(Debug)]
pub struct ApiServer {
    path: PathBuf,
    /// (device, inode) of the socket as bound: only this socket file is removed at the end.
    identity: (u64, u64),
    task: JoinHandle<()>,
}

impl ApiServer {
    /// The socket's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Stops accepting, ends every open connection and removes the socket.
    pub async fn shutdown(mut self) {
        self.task.abort();
        let _ = (&mut self.task).await;
    }
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        self.task.abort();
        let ours = std::fs::symlink_metadata(&self.path)
            .map(|m| (m.dev(), m.ino()) == self.identity)
            .unwrap_or(false);
        if ours && let Err(e) = std::fs::remove_file(&self.path) {
            warn!(path = %self.path.display(), error = %e, "removing the API socket");
        }
    }
}

/// Serves `handler` on the unix socket `path` (see the module doc) until the returned
/// [`ApiServer`] is shut down or dropped. Creates the directory (0755) if missing; replaces a
/// stale socket; refuses when a live process accepts connections on it.
pub async fn serve<H: Handler>(path: &Path, handler: Arc<H>) -> Result<ApiServer, ApiError> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(dir)
            .and_then(|()| {
                // The mode given to `create` is narrowed by the umask.
                std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))
            })
            .map_err(|error| ApiError::CreateDir {
                dir: dir.to_owned(),
                error,
            })?;
    }
    refuse_live_server(path).await?;
    let (listener, identity) = bind_private(path, dir)?;
    let owner = identity.2;
    let task = tokio::spawn(accept_loop(listener, handler, owner));
    debug!(path = %path.display(), "API socket serving");
    Ok(ApiServer {
        path: path.to_owned(),
        identity: (identity.0, identity.1),
        task,
    })
}

/// Ok when nothing is at `path` or only a stale socket (nobody accepts on it).
async fn refuse_live_server(path: &Path) -> Result<(), ApiError> {
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(error) => {
            return Err(ApiError::Listen {
                path: path.to_owned(),
                action: "stat",
                error,
            });
        }
        Ok(meta) if !meta.file_type().is_socket() => {
            return Err(ApiError::NotASocket {
                path: path.to_owned(),
            });
        }
        Ok(_) => {}
    }
    match call_with_timeout(path, &Request::Status, PROBE_TIMEOUT).await {
        Err(ApiError::Connect { error, .. }) if error.kind() == ErrorKind::ConnectionRefused => {
            debug!(path = %path.display(), "replacing a stale API socket");
            Ok(())
        }
        Err(ApiError::Connect { error, .. }) => Err(ApiError::Listen {
            path: path.to_owned(),
            action: "probing the socket already there",
            error,
        }),
        Ok(Reply::Status(status)) => Err(ApiError::InUse {
            path: path.to_owned(),
            who: format!("margay-node of node {:?}", status.node),
        }),
        Ok(Reply::Error { message }) => Err(ApiError::InUse {
            path: path.to_owned(),
            who: format!("a margay-node (it answered: {message})"),
        }),
        Ok(Reply::Routes(_)) => Err(ApiError::InUse {
            path: path.to_owned(),
            who: "a margay-node".to_owned(),
        }),
        Err(e) => Err(ApiError::Occupied {
            path: path.to_owned(),
            why: e.to_string(),
        }),
    }
}

static PRIVATE_DIRS: AtomicU64 = AtomicU64::new(0);

/// Binds in a private directory next to `path`, sets 0600, renames into place. Returns the
/// listener and the socket's (device, inode, owner uid).
fn bind_private(path: &Path, dir: &Path) -> Result<(UnixListener, (u64, u64, u32)), ApiError> {
    let listen = |action, error| ApiError::Listen {
        path: path.to_owned(),
        action,
        error,
    };
    let private = dir.join(format!(
        ".margay-api.{}.{}",
        std::process::id(),
        PRIVATE_DIRS.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&private)
        .map_err(|e| listen("creating a private directory to bind in", e))?;
    let temporary = private.join("s");
    let bound = (|| {
        let listener = UnixListener::bind(&temporary).map_err(|e| listen("bind", e))?;
        std::fs::set_permissions(&temporary, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| listen("chmod 0600", e))?;
        std::fs::rename(&temporary, path).map_err(|e| listen("rename into place", e))?;
        let meta = std::fs::symlink_metadata(path).map_err(|e| listen("stat", e))?;
        Ok((listener, (meta.dev(), meta.ino(), meta.uid())))
    })();
    let _ = std::fs::remove_file(&temporary);
    let _ = std::fs::remove_dir(&private);
    bound
}

async fn accept_loop<H: Handler>(listener: UnixListener, handler: Arc<H>, owner: u32) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    connections.spawn(connection(stream, Arc::clone(&handler), owner));
                }
                Err(e) => {
                    warn!(error = %e, "accepting an API connection");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

/// Answers request lines until the client closes, a write fails or a line is too long.
async fn connection<H: Handler>(stream: UnixStream, handler: Arc<H>, owner: u32) {
    let peer_uid = stream.peer_cred().map(|c| c.uid()).ok();
    let (read, mut write) = stream.into_split();
    if peer_uid.is_none_or(|uid| uid != 0 && uid != owner) {
        let reply = Reply::Error {
            message: format!("uid {peer_uid:?} may not use this socket (root only)"),
        };
        let _ = write_reply(&mut write, &reply).await;
        return;
    }
    let mut reader = BufReader::new(read).take(MAX_REQUEST_LINE as u64);
    let mut line = Vec::new();
    loop {
        line.clear();
        reader.set_limit(MAX_REQUEST_LINE as u64);
        match reader.read_until(b'\n', &mut line).await {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) => {
                debug!(error = %e, "reading an API request");
                return;
            }
        }
        let complete = line.ends_with(b"\n");
        if !complete && line.len() >= MAX_REQUEST_LINE {
            let reply = Reply::Error {
                message: format!("request line longer than {MAX_REQUEST_LINE} bytes"),
            };
            let _ = write_reply(&mut write, &reply).await;
            return;
        }
        let reply = match parse_request(&line) {
            Ok(request) => handler.handle(request).await,
            Err(message) => Reply::Error { message },
        };
        if let Err(e) = write_reply(&mut write, &reply).await {
            debug!(error = %e, "writing an API reply");
            return;
        }
        if !complete {
            return;
        }
    }
}

fn parse_request(line: &[u8]) -> Result<Request, String> {
    const EXPECTED: &str = r#"expected {"request":"status"} or {"request":"routes"}"#;
    let text = String::from_utf8_lossy(line);
    let text = text.trim();
    if text.is_empty() {
        return Err(format!("empty request line; {EXPECTED}"));
    }
    serde_json::from_str(text).map_err(|e| {
        let shown: String = text.chars().take(SHOWN_REQUEST).collect();
        format!("request {shown:?} is not valid: {e}; {EXPECTED}")
    })
}

async fn write_reply(
    write: &mut tokio::net::unix::OwnedWriteHalf,
    reply: &Reply,
) -> std::io::Result<()> {
    let mut bytes = serde_json::to_vec(reply).expect("a reply is plain data");
    bytes.push(b'\n');
    write.write_all(&bytes).await
}
