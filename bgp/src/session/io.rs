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

/// Room a new connection's read buffer starts with: one standard-size message (RFC 4271 §4).
/// An idle session keeps no more than this.
const READ_START: usize = 4096;
/// Largest room offered to one `read` call: a read that fills the room doubles it up to this,
/// so UPDATE floods arrive in many messages per read.
const READ_MAX: usize = 64 * 1024;
/// Queued messages the writer joins into one buffer for one `write` call (the socket has
/// TCP_NODELAY: each call is at least one segment).
const WRITE_BATCH: usize = 64 * 1024;

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
    /// Room offered to the next `read`: [`READ_START`], doubled after each read that fills it
    /// (up to [`READ_MAX`]), back to the start once a read leaves half of it empty.
    room: usize,
}

impl MessageReader {
    /// Waits for the next whole message. Cancel-safe: bytes already read stay buffered.
    pub async fn next(&mut self, ctx: &SessionContext) -> Result<Decoded, ReadError> {
        loop {
            if let Some(decoded) = wire::decode_from(&mut self.buf, ctx)? {
                return Ok(decoded);
            }
            self.buf.reserve(self.room);
            let offered = self.buf.capacity() - self.buf.len();
            let read = self.read.read_buf(&mut self.buf).await?;
            if read == 0 {
                return Err(ReadError::Closed);
            }
            self.room = next_room(self.room, offered, read);
        }
    }
}

/// The room for the next read after `read` bytes arrived in `offered`.
fn next_room(room: usize, offered: usize, read: usize) -> usize {
    if read >= offered {
        (room * 2).min(READ_MAX)
    } else if read * 2 < offered {
        READ_START
    } else {
        room
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
            buf: BytesMut::new(),
            room: READ_START,
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
        let Ok(second) = rx.try_recv() else {
            write.write_all(&first).await?;
            written += 1;
            progress.send_replace(written);
            continue;
        };
        // A burst: join what is queued into writes of up to WRITE_BATCH octets, full
        // segments instead of one small segment per message. The buffer lives for the burst
        // only, so idle sessions keep none.
        let mut batch = BytesMut::with_capacity(WRITE_BATCH);
        let mut next = Some(first);
        let mut following = Some(second);
        while let Some(message) = next.take() {
            if !batch.is_empty() && batch.len() + message.len() > WRITE_BATCH {
                write.write_all(&batch).await?;
                batch.clear();
                progress.send_replace(written);
            }
            batch.extend_from_slice(&message);
            written += 1;
            next = following.take().or_else(|| rx.try_recv().ok());
        }
        write.write_all(&batch).await?;
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
    async fn a_burst_is_joined_into_few_writes_and_arrives_whole_and_in_order() {
        // Extended messages (RFC 8654) larger than the reader's starting room, interleaved
        // with KEEPALIVEs: the writer joins them, the reader grows its room as needed.
        let ctx = SessionContext {
            four_octet_as: true,
            extended_message: true,
            ..SessionContext::default()
        };
        let prefix = |i: u32| {
            crate::wire::Ipv4Prefix::new(std::net::Ipv4Addr::from(0x2000_0000 + (i << 8)), 24)
                .unwrap()
        };
        let big = |n: u32| {
            Message::Update(crate::wire::Update {
                withdrawn: (0..n).map(|i| crate::wire::Nlri::new(prefix(i))).collect(),
                ..crate::wire::Update::default()
            })
        };
        let messages: Vec<Message> = (0..200)
            .map(|i| match i % 3 {
                0 => big(3000),
                1 => big(i),
                _ => Message::Keepalive,
            })
            .collect();
        let (a, b) = connected_pair().await;
        let (_ra, wa, _ta) = split(a);
        let (mut rb, _wb, _tb) = split(b);
        for m in &messages {
            assert!(wa.send(m.to_bytes(&ctx).unwrap()));
        }
        for (i, m) in messages.iter().enumerate() {
            assert_eq!(&rb.next(&ctx).await.unwrap().message, m, "message {i}");
        }
    }

    #[test]
    fn read_room_doubles_while_reads_fill_it_and_falls_back_when_they_do_not() {
        assert_eq!(
            next_room(READ_START, READ_START, READ_START),
            2 * READ_START
        );
        assert_eq!(next_room(READ_MAX, READ_MAX, READ_MAX), READ_MAX);
        assert_eq!(
            next_room(4 * READ_START, 4 * READ_START, 3 * READ_START),
            4 * READ_START
        );
        assert_eq!(next_room(READ_MAX, READ_MAX, 19), READ_START);
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
