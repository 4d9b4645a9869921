//! The HTTP/1.1 edge (hyper) of `/metrics`, `/livez` and `/readyz`.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Method, Request as HttpRequest, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use super::{LIVE_TIMEOUT, prometheus_text, readiness};
use crate::api::{Handler, Reply, Request};

/// The running endpoint; stops when dropped.
#[derive(Debug)]
pub struct HealthServer {
    address: SocketAddr,
    task: JoinHandle<()>,
}

impl HealthServer {
    /// Where it listens (the port chosen when `:0` was asked for).
    pub fn address(&self) -> SocketAddr {
        self.address
    }
}

impl Drop for HealthServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Listens on `address` and answers from `handler` (the agent).
pub async fn serve<H: Handler>(
    address: SocketAddr,
    handler: Arc<H>,
) -> std::io::Result<HealthServer> {
    let listener = TcpListener::bind(address).await?;
    let address = listener.local_addr()?;
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let handler = Arc::clone(&handler);
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request| {
                    let handler = Arc::clone(&handler);
                    async move { Ok::<_, Infallible>(respond(&*handler, request).await) }
                });
                if let Err(error) = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await
                {
                    tracing::debug!(%error, "health endpoint connection");
                }
            });
        }
    });
    Ok(HealthServer { address, task })
}

fn text(status: StatusCode, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}

async fn ask<H: Handler>(handler: &H, request: Request) -> Result<Reply, String> {
    match tokio::time::timeout(LIVE_TIMEOUT, handler.handle(request)).await {
        Ok(Reply::Error { message }) => Err(message),
        Ok(reply) => Ok(reply),
        Err(_) => Err(format!(
            "the agent did not answer within {} s",
            LIVE_TIMEOUT.as_secs()
        )),
    }
}

async fn respond<H: Handler>(handler: &H, request: HttpRequest<Incoming>) -> Response<Full<Bytes>> {
    if request.method() != Method::GET {
        return text(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("{} is not allowed; use GET\n", request.method()),
        );
    }
    let status = match request.uri().path() {
        "/livez" | "/readyz" | "/metrics" => ask(handler, Request::Status).await,
        other => {
            return text(
                StatusCode::NOT_FOUND,
                format!("{other}: not found; try /metrics, /livez or /readyz\n"),
            );
        }
    };
    let status = match status {
        Ok(Reply::Status(status)) => status,
        Ok(other) => {
            return text(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("unexpected reply {other:?}\n"),
            );
        }
        Err(message) => return text(StatusCode::SERVICE_UNAVAILABLE, format!("{message}\n")),
    };
    match request.uri().path() {
        "/livez" => text(StatusCode::OK, "live\n".into()),
        "/readyz" => match readiness(&status) {
            Ok(()) => text(StatusCode::OK, "ready\n".into()),
            Err(reasons) => text(
                StatusCode::SERVICE_UNAVAILABLE,
                reasons.iter().map(|r| format!("{r}\n")).collect(),
            ),
        },
        _ => match ask(handler, Request::Routes).await {
            Ok(Reply::Routes(routes)) => text(StatusCode::OK, prometheus_text(&status, &routes)),
            Ok(other) => text(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("unexpected reply {other:?}\n"),
            ),
            Err(message) => text(StatusCode::SERVICE_UNAVAILABLE, format!("{message}\n")),
        },
    }
}
