//! The local API on a real unix socket: round trips, root-only permissions, a stale socket
//! replaced, a live one never displaced, bad request lines answered without closing the
//! connection, connections served concurrently, and the client's errors naming the socket.

use std::net::Ipv4Addr;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use margay_daemon::api::{
    ApiError, Handler, NodeStatus, Reply, Request, RouteKind, RouteStatus, SessionStatus,
    VtepStatus, call, call_with_timeout, serve,
};
use margay_daemon::peering::PeerKind;
use margay_tests::TestDir;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::sync::Semaphore;

fn status(node: &str) -> NodeStatus {
    NodeStatus {
        node: node.into(),
        underlay: "172.18.1.10/24".parse().unwrap(),
        asn: 64512,
        router_id: Ipv4Addr::new(172, 18, 1, 10),
        route_reflector_cluster_id: None,
        blocks: vec!["10.244.0.0/26".parse().unwrap()],
        vtep: Some(VtepStatus {
            device: "vxlan.margay".into(),
            tunnel_address: "10.244.0.0".parse().unwrap(),
            mac: "66:1a:2b:3c:4d:5e".into(),
            mtu: 1450,
        }),
        sessions: vec![SessionStatus {
            peer: "172.18.1.11".parse().unwrap(),
            kind: PeerKind::Mesh,
            name: "node-b".into(),
            asn: 64512,
            state: "Established".into(),
            since_unix: 1_764_150_000,
            prefixes_received: 1,
            prefixes_sent: 1,
            last_error: None,
        }],
        problems: vec![],
        converged: true,
    }
}

fn routes() -> Vec<RouteStatus> {
    vec![RouteStatus {
        dst: "10.244.1.0/26".parse().unwrap(),
        kind: RouteKind::Direct,
        via: "172.18.1.11 dev eth0".into(),
        reason: "same subnet".into(),
    }]
}

/// Answers with fixed data; `Routes` waits for a permit when `gate` is set.
struct FixedNode {
    name: String,
    gate: Option<Arc<Semaphore>>,
}

impl FixedNode {
    fn new(name: &str) -> Arc<Self> {
        Arc::new(FixedNode {
            name: name.into(),
            gate: None,
        })
    }
}

impl Handler for FixedNode {
    async fn handle(&self, request: Request) -> Reply {
        match request {
            Request::Status => Reply::Status(status(&self.name)),
            Request::Routes => {
                if let Some(gate) = &self.gate {
                    let _permit = gate.acquire().await.expect("gate open");
                }
                Reply::Routes(routes())
            }
        }
    }
}

/// One request line written raw, one reply line read.
async fn exchange(lines: &mut BufReader<UnixStream>, request: &str) -> Reply {
    lines.get_mut().write_all(request.as_bytes()).await.unwrap();
    let mut reply = String::new();
    lines.read_line(&mut reply).await.unwrap();
    serde_json::from_str(&reply).unwrap_or_else(|e| panic!("reply {reply:?}: {e}"))
}

#[tokio::test]
async fn status_and_routes_round_trip_on_a_root_only_socket() {
    let dir = TestDir::new("api-round-trip");
    // The socket's directory is created (0755) when missing.
    let path = dir.path().join("run/margay/node-a.sock");
    let server = serve(&path, FixedNode::new("node-a")).await.unwrap();
    assert_eq!(server.path(), path);

    assert_eq!(
        call(&path, &Request::Status).await.unwrap(),
        Reply::Status(status("node-a"))
    );
    assert_eq!(
        call(&path, &Request::Routes).await.unwrap(),
        Reply::Routes(routes())
    );

    let meta = std::fs::metadata(&path).unwrap();
    assert!(meta.file_type().is_socket());
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    let parent = std::fs::metadata(path.parent().unwrap()).unwrap();
    assert_eq!(parent.permissions().mode() & 0o777, 0o755);
    // Nothing left of the private directory the socket was bound in.
    let leftovers: Vec<_> = std::fs::read_dir(path.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers, vec![std::ffi::OsString::from("node-a.sock")]);

    server.shutdown().await;
    assert!(!path.exists(), "socket removed at shutdown");
    let err = call(&path, &Request::Status).await.unwrap_err();
    assert!(matches!(err, ApiError::Connect { .. }), "{err}");
}

#[tokio::test]
async fn a_stale_socket_is_replaced() {
    let dir = TestDir::new("api-stale");
    let path = dir.file("node.sock");
    // A socket file nobody listens on any more (a crashed margay-node).
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
    assert!(path.exists());
    let err = call(&path, &Request::Status).await.unwrap_err();
    assert!(matches!(err, ApiError::Connect { .. }), "{err}");

    let server = serve(&path, FixedNode::new("node-a")).await.unwrap();
    assert_eq!(
        call(&path, &Request::Status).await.unwrap(),
        Reply::Status(status("node-a"))
    );
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    drop(server);
    assert!(!path.exists(), "socket removed when the server is dropped");
}

#[tokio::test]
async fn a_second_server_on_a_live_socket_is_refused() {
    let dir = TestDir::new("api-live");
    let path = dir.file("node.sock");
    let _first = serve(&path, FixedNode::new("node-a")).await.unwrap();

    let err = serve(&path, FixedNode::new("node-z")).await.unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, ApiError::InUse { .. }), "{message}");
    assert!(
        message.contains(&path.display().to_string())
            && message.contains("\"node-a\"")
            && message.contains("already serving"),
        "{message}"
    );
    // The first server still answers, as itself.
    assert_eq!(
        call(&path, &Request::Status).await.unwrap(),
        Reply::Status(status("node-a"))
    );
}

#[tokio::test]
async fn a_file_that_is_not_a_socket_is_left_alone() {
    let dir = TestDir::new("api-not-socket");
    let path = dir.write("node.sock", "keep me");
    let err = serve(&path, FixedNode::new("node-a")).await.unwrap_err();
    assert!(matches!(err, ApiError::NotASocket { .. }), "{err}");
    assert!(err.to_string().contains("not a socket"), "{err}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "keep me");
}

#[tokio::test]
async fn bad_request_lines_get_an_error_and_the_connection_stays_usable() {
    let dir = TestDir::new("api-malformed");
    let path = dir.file("node.sock");
    let _server = serve(&path, FixedNode::new("node-a")).await.unwrap();
    let mut conn = BufReader::new(UnixStream::connect(&path).await.unwrap());

    let cases = [
        ("hello\n", "\"hello\" is not valid"),
        ("{\"request\":\"trace\"}\n", "unknown variant `trace`"),
        ("{\"verb\":\"status\"}\n", "missing field `request`"),
        ("\n", "empty request line"),
    ];
    for (line, named) in cases {
        match exchange(&mut conn, line).await {
            Reply::Error { message } => assert!(
                message.contains(named) && message.contains(r#"{"request":"status"}"#),
                "{line:?}: {message}"
            ),
            other => panic!("{line:?}: expected an error, got {other:?}"),
        }
    }
    // Same connection, a good request; then two at once in one write.
    assert_eq!(
        exchange(&mut conn, "{\"request\":\"status\"}\n").await,
        Reply::Status(status("node-a"))
    );
    assert_eq!(
        exchange(
            &mut conn,
            "{\"request\":\"routes\"}\n{\"request\":\"routes\"}\n"
        )
        .await,
        Reply::Routes(routes())
    );
    let mut second = String::new();
    conn.read_line(&mut second).await.unwrap();
    assert_eq!(
        serde_json::from_str::<Reply>(&second).unwrap(),
        Reply::Routes(routes())
    );
}

#[tokio::test]
async fn an_overlong_request_line_is_refused_and_the_connection_closed() {
    let dir = TestDir::new("api-overlong");
    let path = dir.file("node.sock");
    let _server = serve(&path, FixedNode::new("node-a")).await.unwrap();
    let mut conn = BufReader::new(UnixStream::connect(&path).await.unwrap());
    let long = "x".repeat(margay_daemon::api::MAX_REQUEST_LINE + 10);
    match exchange(&mut conn, &long).await {
        Reply::Error { message } => assert!(message.contains("longer than"), "{message}"),
        other => panic!("expected an error, got {other:?}"),
    }
    // Closed: end of stream, or a reset because the server left the rest of the line unread.
    let mut rest = String::new();
    match conn.read_line(&mut rest).await {
        Ok(0) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        other => panic!("expected the connection closed, got {other:?} {rest:?}"),
    }
}

#[tokio::test]
async fn connections_are_served_concurrently() {
    let dir = TestDir::new("api-concurrent");
    let path = dir.file("node.sock");
    let gate = Arc::new(Semaphore::new(0));
    let handler = Arc::new(FixedNode {
        name: "node-a".into(),
        gate: Some(Arc::clone(&gate)),
    });
    let _server = serve(&path, handler).await.unwrap();

    let slow_path = path.clone();
    let slow = tokio::spawn(async move { call(&slow_path, &Request::Routes).await });
    // The routes request is held at the gate; status on another connection still answers.
    assert_eq!(
        call(&path, &Request::Status).await.unwrap(),
        Reply::Status(status("node-a"))
    );
    assert!(!slow.is_finished());
    gate.add_permits(1);
    assert_eq!(slow.await.unwrap().unwrap(), Reply::Routes(routes()));
}

#[tokio::test]
async fn client_errors_name_the_socket_and_ask_about_margay_node() {
    let dir = TestDir::new("api-client-errors");
    let missing = dir.file("missing.sock");
    let err = call(&missing, &Request::Status).await.unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains(&missing.display().to_string())
            && message.contains("is margay-node running?"),
        "{message}"
    );

    // A listener that never answers: the client gives up at its deadline.
    let silent = dir.file("silent.sock");
    let _listener = std::os::unix::net::UnixListener::bind(&silent).unwrap();
    let err = call_with_timeout(&silent, &Request::Status, Duration::from_millis(200))
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, ApiError::Timeout { .. }), "{message}");
    assert!(
        message.contains(&silent.display().to_string())
            && message.contains("is margay-node running?"),
        "{message}"
    );
}

/// Something else accepting on the path (not margay-node) is never displaced.
#[tokio::test]
async fn a_live_stranger_on_the_socket_is_not_displaced() {
    let dir = TestDir::new("api-stranger");
    let path = dir.file("node.sock");
    let stranger = tokio::net::UnixListener::bind(&path).unwrap();
    let answers = tokio::spawn(async move {
        let (mut conn, _) = stranger.accept().await.unwrap();
        conn.write_all(b"HTTP/1.0 400 Bad Request\r\n\r\n")
            .await
            .unwrap();
    });
    let err = serve(&path, FixedNode::new("node-a")).await.unwrap_err();
    assert!(matches!(err, ApiError::Occupied { .. }), "{err}");
    assert!(
        err.to_string().contains("does not answer as margay-node"),
        "{err}"
    );
    answers.await.unwrap();
    assert!(Path::new(&path).exists());
}

#[test]
fn ip_types_are_text_in_json() {
    let line = serde_json::to_string(&Reply::Status(status("node-a"))).unwrap();
    assert!(
        line.contains(r#""underlay":"172.18.1.10/24""#)
            && line.contains(r#""blocks":["10.244.0.0/26"]"#)
            && line.contains(r#""kind":"mesh""#),
        "{line}"
    );
}
