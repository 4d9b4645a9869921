//! Calling the local API: connect, send one request line, read one reply line, within a
//! deadline. Every error names the socket and asks whether margay-node is running.

use std::path::Path;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;

use super::error::ApiError;
use super::types::{Reply, Request};

/// How long [`call`] waits for connecting, sending and the reply together.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// Longest reply line shown in a [`ApiError::BadReply`].
const SHOWN_REPLY: usize = 200;

/// Sends `request` to the server on `path` and returns its reply, within [`CALL_TIMEOUT`].
pub async fn call(path: &Path, request: &Request) -> Result<Reply, ApiError> {
    call_with_timeout(path, request, CALL_TIMEOUT).await
}

/// [`call`] with a chosen deadline.
pub async fn call_with_timeout(
    path: &Path,
    request: &Request,
    timeout: Duration,
) -> Result<Reply, ApiError> {
    tokio::time::timeout(timeout, exchange(path, request))
        .await
        .map_err(|_| ApiError::Timeout {
            path: path.to_owned(),
            after: timeout,
        })?
}

async fn exchange(path: &Path, request: &Request) -> Result<Reply, ApiError> {
    let io = |error| ApiError::Io {
        path: path.to_owned(),
        error,
    };
    let stream = UnixStream::connect(path)
        .await
        .map_err(|error| ApiError::Connect {
            path: path.to_owned(),
            error,
        })?;
    let (read, mut write) = stream.into_split();
    let mut line = serde_json::to_vec(request).expect("a request is plain data");
    line.push(b'\n');
    write.write_all(&line).await.map_err(io)?;
    let mut reply = Vec::new();
    BufReader::new(read)
        .read_until(b'\n', &mut reply)
        .await
        .map_err(io)?;
    if reply.is_empty() {
        return Err(ApiError::Closed {
            path: path.to_owned(),
        });
    }
    serde_json::from_slice(&reply).map_err(|e| ApiError::BadReply {
        path: path.to_owned(),
        line: String::from_utf8_lossy(&reply)
            .trim_end()
            .chars()
            .take(SHOWN_REPLY)
            .collect(),
        why: e.to_string(),
    })
}
