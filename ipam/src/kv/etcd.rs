//! `EtcdStore`: the [`Store`] trait on a real etcd v3 cluster (etcd-client over gRPC): a list
//! of endpoints, optional TLS with a client certificate, optional user/password, request and
//! connect timeouts. Transport failures map to [`StoreError::Unavailable`] so callers retry.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use etcd_client::{
    Certificate, Client, Compare as EtcdCompare, CompareOp, ConnectOptions, GetOptions, Identity,
    TlsOptions, TxnOp, TxnOpResponse, WatchOptions,
};
use tokio::sync::mpsc;

use super::{Compare, Event, KeyValue, Listing, Op, Store, StoreError, Txn, TxnOutcome, WatchItem};

/// Events buffered between the gRPC stream and the consumer.
const WATCH_QUEUE: usize = 256;

/// TLS material, as PEM files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// CA that signed the etcd server certificate.
    pub ca_file: PathBuf,
    /// Client certificate and key (for `--client-cert-auth`).
    pub client_cert: Option<(PathBuf, PathBuf)>,
    /// Name to verify the server certificate against, when not the endpoint's host.
    pub server_name: Option<String>,
}

/// How to reach etcd.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EtcdConfig {
    /// `http(s)://host:port` URLs; requests are balanced over them.
    pub endpoints: Vec<String>,
    /// TLS (use `https://` endpoints).
    pub tls: Option<TlsFiles>,
    /// User name and password (etcd auth).
    pub user: Option<(String, String)>,
    /// Per-request deadline.
    pub request_timeout: Duration,
    /// Connection establishment deadline.
    pub connect_timeout: Duration,
}

impl EtcdConfig {
    /// Plain endpoints with default timeouts (5 s requests, 2 s connects).
    pub fn new(endpoints: impl IntoIterator<Item = impl Into<String>>) -> Self {
        EtcdConfig {
            endpoints: endpoints.into_iter().map(Into::into).collect(),
            tls: None,
            user: None,
            request_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(2),
        }
    }
}

/// Why connecting failed.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// A TLS file could not be read.
    #[error("reading {path}: {source}")]
    ReadFile {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// No endpoints were given.
    #[error("no etcd endpoints given")]
    NoEndpoints,
    /// etcd-client refused the configuration or authentication failed.
    #[error("connecting to etcd at {endpoints}: {source}")]
    Client {
        /// The endpoints tried.
        endpoints: String,
        /// The error.
        source: etcd_client::Error,
    },
}

/// A [`Store`] on etcd.
///
/// One client per endpoint, connected on first use; requests go to the current endpoint and
/// move on to the next when the connection cannot even be opened (the request never left,
/// so any request — reads and guarded writes alike — can safely go elsewhere). A request that
/// reached a server and failed is not repeated here: that is the caller's decision
/// ([`StoreError::Unavailable`] is transient).
#[derive(Clone)]
pub struct EtcdStore {
    shared: Arc<Shared>,
}

struct Shared {
    endpoints: Vec<String>,
    options: ConnectOptions,
    clients: Mutex<Vec<Option<Client>>>,
    current: AtomicUsize,
}

impl std::fmt::Debug for EtcdStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EtcdStore")
            .field("endpoints", &self.shared.endpoints)
            .field("current", &self.shared.current.load(Ordering::Relaxed))
            .finish()
    }
}

fn read(path: &PathBuf) -> Result<Vec<u8>, ConnectError> {
    std::fs::read(path).map_err(|source| ConnectError::ReadFile {
        path: path.clone(),
        source,
    })
}

impl EtcdStore {
    /// Connects (lazily: an unreachable etcd is not an error here, only bad configuration or a
    /// refused login is).
    pub async fn connect(config: &EtcdConfig) -> Result<Self, ConnectError> {
        if config.endpoints.is_empty() {
            return Err(ConnectError::NoEndpoints);
        }
        let mut options = ConnectOptions::new()
            .with_timeout(config.request_timeout)
            .with_connect_timeout(config.connect_timeout)
            .with_keep_alive(Duration::from_secs(5), Duration::from_secs(3))
            .with_keep_alive_while_idle(true);
        if let Some(tls) = &config.tls {
            let mut tls_options =
                TlsOptions::new().ca_certificate(Certificate::from_pem(read(&tls.ca_file)?));
            if let Some((cert, key)) = &tls.client_cert {
                tls_options = tls_options.identity(Identity::from_pem(read(cert)?, read(key)?));
            }
            if let Some(name) = &tls.server_name {
                tls_options = tls_options.domain_name(name.clone());
            }
            options = options.with_tls(tls_options);
        }
        if let Some((user, password)) = &config.user {
            options = options
                .with_user(user.clone(), password.clone())
                .with_auto_token_refresh(true);
        }
        let store = EtcdStore {
            shared: Arc::new(Shared {
                endpoints: config.endpoints.clone(),
                options,
                clients: Mutex::new(vec![None; config.endpoints.len()]),
                current: AtomicUsize::new(0),
            }),
        };
        // Log in (when a user is configured) and surface refusals now; an endpoint that is
        // merely down is not an error here.
        match store.client().await {
            Ok(_) => Ok(store),
            Err(source) if is_transient(&source) => Ok(store),
            Err(source) => Err(ConnectError::Client {
                endpoints: config.endpoints.join(","),
                source,
            }),
        }
    }

    /// The client of the current endpoint (connected on first use), for leases and
    /// maintenance calls.
    pub async fn client(&self) -> Result<Client, etcd_client::Error> {
        let index = self.shared.current.load(Ordering::Relaxed) % self.shared.endpoints.len();
        self.client_at(index).await
    }

    async fn client_at(&self, index: usize) -> Result<Client, etcd_client::Error> {
        if let Some(client) = self.lock_clients()[index].clone() {
            return Ok(client);
        }
        let endpoint = &self.shared.endpoints[index];
        let client = Client::connect([endpoint], Some(self.shared.options.clone())).await?;
        self.lock_clients()[index] = Some(client.clone());
        Ok(client)
    }

    fn lock_clients(&self) -> std::sync::MutexGuard<'_, Vec<Option<Client>>> {
        self.shared
            .clients
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `call` on the current endpoint, moving to the next ones while connections cannot
    /// be opened.
    pub async fn call<T, F, Fut>(&self, mut call: F) -> Result<T, StoreError>
    where
        F: FnMut(Client) -> Fut,
        Fut: std::future::Future<Output = Result<T, etcd_client::Error>>,
    {
        let count = self.shared.endpoints.len();
        let first = self.shared.current.load(Ordering::Relaxed);
        let mut last = None;
        for step in 0..count {
            let index = (first + step) % count;
            let outcome = match self.client_at(index).await {
                Ok(client) => call(client).await,
                Err(e) => Err(e),
            };
            match outcome {
                Err(e) if never_reached_a_server(&e) => {
                    tracing::debug!(endpoint = %self.shared.endpoints[index], error = %e, "etcd endpoint unreachable; trying the next");
                    last = Some(e);
                }
                other => {
                    if step > 0 {
                        self.shared.current.store(index, Ordering::Relaxed);
                    }
                    return other.map_err(map_error);
                }
            }
        }
        self.shared
            .current
            .store((first + 1) % count, Ordering::Relaxed);
        Err(map_error(last.expect("at least one endpoint was tried")))
    }
}

/// Whether the request failed before any server saw it (the TCP connection was refused or
/// could not be made), so sending it elsewhere cannot apply it twice.
fn never_reached_a_server(error: &etcd_client::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = match error {
        etcd_client::Error::GRpcStatus(status) => Some(status),
        etcd_client::Error::TransportError(e) => Some(e),
        etcd_client::Error::IoError(e) => Some(e),
        _ => None,
    };
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            return matches!(
                io.kind(),
                std::io::ErrorKind::ConnectionRefused
                    | std::io::ErrorKind::AddrNotAvailable
                    | std::io::ErrorKind::HostUnreachable
                    | std::io::ErrorKind::NetworkUnreachable
            );
        }
        source = e.source();
    }
    false
}

fn is_transient(error: &etcd_client::Error) -> bool {
    map_error_ref(error)
}

/// gRPC status codes (grpc/doc/statuscodes.md) that mean "try again": Cancelled, Unknown,
/// DeadlineExceeded, Aborted, Internal, Unavailable.
const TRANSIENT_GRPC_CODES: [i32; 6] = [1, 2, 4, 10, 13, 14];

fn map_error_ref(error: &etcd_client::Error) -> bool {
    use etcd_client::Error as E;
    match error {
        E::GRpcStatus(status) => TRANSIENT_GRPC_CODES.contains(&i32::from(status.code())),
        E::TransportError(_) | E::IoError(_) | E::WatchError(_) | E::LeaseKeepAliveError(_) => true,
        _ => false,
    }
}

/// Maps an etcd-client error: transport trouble is transient, the rest is a refusal.
pub fn map_error(error: etcd_client::Error) -> StoreError {
    if map_error_ref(&error) {
        StoreError::Unavailable(error.to_string())
    } else {
        StoreError::Refused(error.to_string())
    }
}

fn convert(kv: &etcd_client::KeyValue) -> KeyValue {
    KeyValue {
        key: String::from_utf8_lossy(kv.key()).into_owned(),
        value: kv.value().to_vec(),
        mod_revision: kv.mod_revision(),
        version: kv.version(),
    }
}

fn header_revision(header: Option<&etcd_client::ResponseHeader>) -> i64 {
    header.map_or(0, |h| h.revision())
}

impl EtcdStore {
    async fn range(&self, prefix: &str, keys_only: bool) -> Result<Listing, StoreError> {
        let mut options = GetOptions::new().with_prefix();
        if keys_only {
            options = options.with_keys_only();
        }
        let response = self
            .call(|mut c| {
                let options = options.clone();
                async move { c.get(prefix, Some(options)).await }
            })
            .await?;
        Ok(Listing {
            revision: header_revision(response.header()),
            kvs: response.kvs().iter().map(convert).collect(),
        })
    }
}

impl Store for EtcdStore {
    async fn get(&self, key: &str) -> Result<Option<KeyValue>, StoreError> {
        let response = self
            .call(|mut c| async move { c.get(key, None).await })
            .await?;
        Ok(response.kvs().first().map(convert))
    }

    async fn list(&self, prefix: &str) -> Result<Listing, StoreError> {
        self.range(prefix, false).await
    }

    async fn list_keys(&self, prefix: &str) -> Result<Listing, StoreError> {
        self.range(prefix, true).await
    }

    async fn txn(&self, txn: Txn) -> Result<TxnOutcome, StoreError> {
        let compares: Vec<EtcdCompare> = txn
            .compares
            .iter()
            .map(|c| match c {
                Compare::Absent(key) => EtcdCompare::version(key.as_str(), CompareOp::Equal, 0),
                Compare::ModRevision(key, rev) => {
                    EtcdCompare::mod_revision(key.as_str(), CompareOp::Equal, *rev)
                }
            })
            .collect();
        let writes: Vec<TxnOp> = txn
            .writes
            .iter()
            .map(|op| match op {
                Op::Put(key, value) => TxnOp::put(key.as_str(), value.clone(), None),
                Op::Delete(key) => TxnOp::delete(key.as_str(), None),
            })
            .collect();
        let reads: Vec<TxnOp> = txn
            .read_on_conflict
            .iter()
            .map(|key| TxnOp::get(key.as_str(), None))
            .collect();
        let request = etcd_client::Txn::new()
            .when(compares)
            .and_then(writes)
            .or_else(reads);
        let response = self
            .call(|mut c| {
                let request = request.clone();
                async move { c.txn(request).await }
            })
            .await?;
        if response.succeeded() {
            return Ok(TxnOutcome::Committed {
                revision: header_revision(response.header()),
            });
        }
        let current = txn
            .read_on_conflict
            .iter()
            .zip(response.op_responses())
            .map(|(key, op)| {
                let kv = match op {
                    TxnOpResponse::Get(get) => get.kvs().first().map(convert),
                    _ => None,
                };
                (key.clone(), kv)
            })
            .collect();
        Ok(TxnOutcome::Conflict { current })
    }

    async fn watch(
        &self,
        prefix: &str,
        start_revision: i64,
    ) -> Result<mpsc::Receiver<WatchItem>, StoreError> {
        let mut options = WatchOptions::new().with_prefix();
        if start_revision > 0 {
            options = options.with_start_revision(start_revision);
        }
        let mut stream = self
            .call(|mut c| {
                let options = options.clone();
                async move { c.watch(prefix, Some(options)).await }
            })
            .await?;
        let (tx, rx) = mpsc::channel(WATCH_QUEUE);
        let prefix = prefix.to_owned();
        tokio::spawn(async move {
            loop {
                let response = match stream.message().await {
                    Ok(Some(response)) => response,
                    Ok(None) => break,
                    Err(error) => {
                        tracing::debug!(%prefix, %error, "etcd watch stream broke");
                        break;
                    }
                };
                if response.compact_revision() > 0 {
                    let _ = tx
                        .send(WatchItem::Compacted {
                            compact_revision: response.compact_revision(),
                        })
                        .await;
                    break;
                }
                if response.canceled() {
                    tracing::debug!(%prefix, reason = response.cancel_reason(), "etcd watch canceled");
                    break;
                }
                let events: Vec<Event> = response
                    .events()
                    .iter()
                    .filter_map(|e| {
                        let kv = e.kv()?;
                        Some(match e.event_type() {
                            etcd_client::EventType::Put => Event::Put(convert(kv)),
                            etcd_client::EventType::Delete => Event::Delete {
                                key: String::from_utf8_lossy(kv.key()).into_owned(),
                                mod_revision: kv.mod_revision(),
                            },
                        })
                    })
                    .collect();
                if !events.is_empty() && tx.send(WatchItem::Events(events)).await.is_err() {
                    break;
                }
            }
        });
        Ok(rx)
    }

    async fn compact(&self, revision: i64) -> Result<(), StoreError> {
        self.call(|mut c| async move { c.compact(revision, None).await })
            .await
            .map(|_| ())
    }
}
