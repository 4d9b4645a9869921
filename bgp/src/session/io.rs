//! Messages over a TCP connection: the read side turns bytes into decoded messages with the
//! codec's framing (RFC 4271 §4.1: the header's length says where a message ends), the write
//! side runs in its own task so that a peer that stops reading can never stall the session's
//! timers (a stalled write is what the send hold timer of RFC 9687 detects).

use std::io;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{mpsc, watch};

use crate::wire::{self, Decoded, MessageError, SessionContext};

/// Bytes read per `read` call; UPDATE floods arrive in many messages per read.
const READ_CHUNK: usize = 64 * 1024;

/// What reading the next message can end in.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The socket failed.
    #[error("connection error: {0}")]
    Io(#[from] io::Error),
    /// The peer closed the connection.
    #[error("connection closed by the peer")]
    Closed,
    /// The bytes are not an acceptable message; the error says which NOTIFICATION to send.
    #[error("malformed message: {0}")]
    Malformed(#[from] MessageError),
}

/// The receiving half of a session's connection.
#[derive(Debug)]
pub struct MessageReader {
    read: OwnedReadHalf,
    buf: BytesMut,
}

impl MessageReader {
    /// Waits for the next whole message. Cancel-safe: bytes already read stay buffered.
    pub async fn next(&mut self, ctx: &SessionContext) -> Result<Decoded, ReadError> {
        loop {
            if let Some(decoded) = wire::decode_from(&mut self.buf, ctx)? {
                return Ok(decoded);
            }
            self.buf.reserve(READ_CHUNK);
            if self.read.read_buf(&mut self.buf).await? == 0 {
                return Err(ReadError::Closed);
            }
        }
    }
}

/// The sending half: queues encoded messages for the writer task.
#[derive(Debug, Clone)]
pub struct MessageWriter {
    queue: mpsc::UnboundedSender<Bytes>,
}

impl MessageWriter {
    /// Queues an encoded message; false if the connection's writer has stopped.
    pub fn send(&self, message: Bytes) -> bool {
        self.queue.send(message).is_ok()
    }
}

/// Splits a connection into a reader, a writer handle, and the writer task's outcome, which
/// resolves when the connection fails for writing or every writer handle is dropped (after
/// flushing what was queued).
pub fn split(stream: TcpStream) -> (MessageReader, MessageWriter, WriterTask) {
    let (read, write) = stream.into_split();
    let (queue, rx) = mpsc::unbounded_channel();
    let (progress_tx, progress) = watch::channel(0);
    let task = tokio::spawn(write_loop(write, rx, progress_tx));
    (
        MessageReader {
            read,
            buf: BytesMut::with_capacity(READ_CHUNK),
        },
        MessageWriter { queue },
        WriterTask {
            task,
            progress,
            finished: false,
        },
    )
}

/// The writer task: awaiting it gives the write error, if any; it also tells when messages
/// reach the socket (the send-side progress RFC 9687's SendHoldTimer watches).
#[derive(Debug)]
pub struct WriterTask {
    task: tokio::task::JoinHandle<io::Result<()>>,
    progress: watch::Receiver<u64>,
    finished: bool,
}

/// What the writer task reports.
#[derive(Debug)]
pub enum WriterEvent {
    /// Messages reached the socket (the count so far).
    Progress(u64),
    /// The writer stopped: `Ok` when it flushed and shut down normally.
    Finished(io::Result<()>),
}

impl WriterTask {
    /// Waits for the writer's next report; pends forever after `Finished`.
    pub async fn next(&mut self) -> WriterEvent {
        if self.finished {
            return std::future::pending().await;
        }
        let event = tokio::select! {
            result = &mut self.task => WriterEvent::Finished(joined(result)),
            changed = self.progress.changed() => match changed {
                Ok(()) => WriterEvent::Progress(*self.progress.borrow_and_update()),
                // The sender is gone: the task is ending; its result comes next.
                Err(_) => WriterEvent::Finished(joined((&mut self.task).await)),
            },
        };
        self.finished = matches!(event, WriterEvent::Finished(_));
        event
    }

    /// Stops the writer at once, dropping anything still queued.
    pub fn abort(&self) {
        self.task.abort();
    }
}

fn joined(result: Result<io::Result<()>, tokio::task::JoinError>) -> io::Result<()> {
    result.unwrap_or_else(|join| Err(io::Error::other(join)))
}

async fn write_loop(
    mut write: OwnedWriteHalf,
    mut rx: mpsc::UnboundedReceiver<Bytes>,
    progress: watch::Sender<u64>,
) -> io::Result<()> {
    let mut written = 0u64;
    while let Some(first) = rx.recv().await {
        write.write_all(&first).await?;
        written += 1;
        // Drain what else is queued before the next wakeup: UPDATE bursts go out back to back.
        while let Ok(more) = rx.try_recv() {
            write.write_all(&more).await?;
            written += 1;
        }
        progress.send_replace(written);
    }
    write.shutdown().await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Message;

    async fn connected_pair() -> (TcpStream, TcpStream) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap());
        let (client, accepted) = tokio::join!(client, listener.accept());
        (client.unwrap(), accepted.unwrap().0)
    }

    #[tokio::test]
    async fn messages_cross_a_connection_whole_and_in_order() {
        let ctx = SessionContext::default();
        let (a, b) = connected_pair().await;
        let (_ra, wa, _ta) = split(a);
        let (mut rb, _wb, _tb) = split(b);
        for _ in 0..3 {
            assert!(wa.send(Message::Keepalive.to_bytes(&ctx).unwrap()));
        }
        for _ in 0..3 {
            assert_eq!(rb.next(&ctx).await.unwrap().message, Message::Keepalive);
        }
    }

    #[tokio::test]
    async fn a_split_message_waits_for_its_rest() {
        let ctx = SessionContext::default();
        let (mut a, b) = connected_pair().await;
        let (mut rb, _wb, _tb) = split(b);
        let bytes = Message::Keepalive.to_bytes(&ctx).unwrap();
        a.write_all(&bytes[..10]).await.unwrap();
        let pending =
            tokio::time::timeout(std::time::Duration::from_millis(50), rb.next(&ctx)).await;
        assert!(pending.is_err(), "half a message must not decode");
        a.write_all(&bytes[10..]).await.unwrap();
        assert_eq!(rb.next(&ctx).await.unwrap().message, Message::Keepalive);
    }

    #[tokio::test]
    async fn garbage_is_malformed_with_a_notification() {
        let ctx = SessionContext::default();
        let (mut a, b) = connected_pair().await;
        let (mut rb, _wb, _tb) = split(b);
        a.write_all(&[0u8; 19]).await.unwrap();
        let err = rb.next(&ctx).await.unwrap_err();
        let ReadError::Malformed(err) = err else {
            panic!("{err:?}")
        };
        // RFC 4271 §6.1: a marker that is not all ones is Connection Not Synchronized (1/1).
        assert_eq!(err.notification().unwrap().error.pair(), (1, 1));
    }

    #[tokio::test]
    async fn eof_is_closed() {
        let (a, b) = connected_pair().await;
        let (mut rb, _wb, _tb) = split(b);
        drop(a);
        let result = rb.next(&SessionContext::default()).await;
        assert!(matches!(result, Err(ReadError::Closed)), "{result:?}");
    }
}
