//! The batching netlink transport: many route messages per `send`, errors matched back to
//! operations by sequence number, route dumps.
//!
//! rtnetlink's `Handle` sends one request per call and waits for its ACK; this module builds
//! on `netlink-packet-route` and `netlink-sys` directly. A batch is up to `batch` operations
//! without `NLM_F_ACK` (the kernel reports only errors) followed by a barrier (`NLMSG_NOOP`
//! with `NLM_F_ACK`): the kernel handles one send's messages in order, so the barrier's ACK
//! says the batch is done and every error of it has arrived. If the receive queue overflowed
//! (`ENOBUFS`), errors may be lost: the outcome says so and a fresh barrier ends the wait.

use netlink_packet_core::NLM_F_DUMP_INTR;
use netlink_sys::{AsyncSocket, AsyncSocketExt, TokioSocket, protocols::NETLINK_ROUTE};

use super::codec::{Op, Owner, push_barrier, push_dump, push_op};
use super::error::{FibError, errno};
use super::wire::{KernelRoute, NLMSG_DONE, RTM_NEWROUTE, decode_route, raw_messages};

/// Receive buffer size: larger than any datagram the kernel builds for a dump (32 KiB).
const RX_BUF: usize = 256 * 1024;
/// Requested socket receive buffer (the kernel caps it at `net.core.rmem_max`).
const SO_RCVBUF: usize = 8 * 1024 * 1024;
/// Dumps interrupted by concurrent changes (`NLM_F_DUMP_INTR`) are retried this often.
const DUMP_TRIES: usize = 5;

/// What a batch execution reported.
#[derive(Debug, Default)]
pub struct Outcome {
    /// `(index into ops, errno)` for every operation the kernel refused.
    pub errors: Vec<(usize, i32)>,
    /// The receive queue overflowed: some errors may be missing.
    pub overflowed: bool,
    /// Messages sent (operations plus barriers).
    pub messages: usize,
    /// `send` calls.
    pub sends: usize,
}

/// The request socket of the FIB writer.
pub struct Transport {
    socket: TokioSocket,
    seq: u32,
    batch: usize,
    tx: Vec<u8>,
    rx: Vec<u8>,
}

/// Opens a route socket (bound, non-blocking, with a large receive buffer).
pub fn open_socket() -> Result<TokioSocket, FibError> {
    let sock_err = |what| move |source| FibError::Socket { what, source };
    let mut socket = TokioSocket::new(NETLINK_ROUTE).map_err(sock_err("open"))?;
    socket.socket_mut().bind_auto().map_err(sock_err("bind"))?;
    socket
        .socket_ref()
        .set_rx_buf_sz(SO_RCVBUF)
        .map_err(sock_err("SO_RCVBUF"))?;
    Ok(socket)
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("seq", &self.seq)
            .field("batch", &self.batch)
            .finish_non_exhaustive()
    }
}

impl Transport {
    /// A transport sending up to `batch` operations per send.
    pub fn open(batch: usize) -> Result<Transport, FibError> {
        let socket = open_socket()?;
        socket
            .socket_ref()
            .set_netlink_get_strict_chk(true)
            .map_err(|source| FibError::Socket {
                what: "NETLINK_GET_STRICT_CHK",
                source,
            })?;
        Ok(Transport {
            socket,
            seq: 1,
            batch,
            tx: Vec::with_capacity(batch * 128),
            rx: Vec::with_capacity(RX_BUF),
        })
    }

    fn take_seq(&mut self, n: usize) -> u32 {
        let base = self.seq;
        self.seq = self.seq.wrapping_add(n as u32);
        base
    }

    async fn send_tx(&mut self) -> Result<(), FibError> {
        self.socket
            .send(&self.tx)
            .await
            .map_err(|source| FibError::Send {
                bytes: self.tx.len(),
                source,
            })?;
        Ok(())
    }

    async fn recv(&mut self) -> std::io::Result<()> {
        self.rx.clear();
        self.rx.reserve(RX_BUF);
        self.socket.recv(&mut self.rx).await
    }

    /// Sends `ops` in batches; returns which ones the kernel refused.
    pub async fn execute(&mut self, ops: &[Op], own: &Owner) -> Result<Outcome, FibError> {
        let mut outcome = Outcome::default();
        for (chunk_no, chunk) in ops.chunks(self.batch.max(1)).enumerate() {
            let base = self.take_seq(chunk.len() + 1);
            self.tx.clear();
            for (i, op) in chunk.iter().enumerate() {
                push_op(&mut self.tx, op, base.wrapping_add(i as u32), own);
            }
            let barrier = base.wrapping_add(chunk.len() as u32);
            push_barrier(&mut self.tx, barrier);
            self.send_tx().await?;
            outcome.messages += chunk.len() + 1;
            outcome.sends += 1;
            self.await_barrier(
                barrier,
                base,
                chunk.len(),
                chunk_no * self.batch,
                &mut outcome,
            )
            .await?;
        }
        Ok(outcome)
    }

    async fn await_barrier(
        &mut self,
        mut barrier: u32,
        base: u32,
        n: usize,
        first_index: usize,
        outcome: &mut Outcome,
    ) -> Result<(), FibError> {
        loop {
            match self.recv().await {
                Ok(()) => {}
                Err(e) if e.raw_os_error() == Some(errno::ENOBUFS) => {
                    outcome.overflowed = true;
                    barrier = self.take_seq(1);
                    self.tx.clear();
                    push_barrier(&mut self.tx, barrier);
                    self.send_tx().await?;
                    outcome.messages += 1;
                    outcome.sends += 1;
                    continue;
                }
                Err(e) => return Err(FibError::Recv(e)),
            }
            let mut done = false;
            for msg in raw_messages(&self.rx) {
                let msg = msg.map_err(FibError::Decode)?;
                let Some(code) = msg.error_code() else {
                    continue;
                };
                let index = msg.seq.wrapping_sub(base) as usize;
                if msg.seq == barrier {
                    done = true;
                } else if code != 0 && index < n {
                    outcome.errors.push((first_index + index, code));
                }
            }
            if done {
                return Ok(());
            }
        }
    }

    /// Every route of our table and protocol, both families.
    pub async fn dump(&mut self, own: &Owner) -> Result<Vec<KernelRoute>, FibError> {
        let mut routes = Vec::new();
        for v4 in [true, false] {
            let mut tries = 0;
            loop {
                tries += 1;
                let (family_routes, interrupted) = self.dump_family(v4, own).await?;
                if !interrupted || tries == DUMP_TRIES {
                    routes.extend(family_routes);
                    break;
                }
            }
        }
        Ok(routes)
    }

    async fn dump_family(
        &mut self,
        v4: bool,
        own: &Owner,
    ) -> Result<(Vec<KernelRoute>, bool), FibError> {
        let seq = self.take_seq(1);
        self.tx.clear();
        push_dump(&mut self.tx, v4, own, seq);
        self.send_tx().await?;
        let family = if v4 { "inet" } else { "inet6" };
        let (mut routes, mut interrupted, mut done) = (Vec::new(), false, false);
        while !done {
            self.recv().await.map_err(FibError::Recv)?;
            for msg in raw_messages(&self.rx) {
                let msg = msg.map_err(FibError::Decode)?;
                if msg.seq != seq {
                    continue;
                }
                interrupted |= msg.flags & NLM_F_DUMP_INTR != 0;
                if let Some(code) = msg.error_code() {
                    let source = std::io::Error::from_raw_os_error(code);
                    return Err(FibError::Dump { family, source });
                }
                match msg.kind {
                    NLMSG_DONE => done = true,
                    RTM_NEWROUTE => {
                        // The kernel filters by protocol; the check stays for kernels without
                        // strict dump checking.
                        let decoded =
                            decode_route(msg.payload, own.table).map_err(FibError::Decode)?;
                        routes.extend(decoded.filter(|k| k.protocol == own.protocol));
                    }
                    _ => {}
                }
            }
        }
        Ok((routes, interrupted))
    }
}
