//! The accept loop and per-connection tasks of the mock API.
//!
//! We do not use `axum::serve` because a "reset" fault must tear a connection
//! down without answering, and only the task that owns the connection can do
//! that. Each connection gets a [`ConnectionKill`] in its requests' extensions;
//! firing it makes the connection task set `SO_LINGER=0` and drop the
//! connection, so the client sees a TCP reset and no HTTP status.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch, Notify};
use tower_service::Service;
use tracing::debug;

/// How long in-flight calls may run on after shutdown is requested before their
/// connections are dropped.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Lets a handler ask its connection task to reset the connection.
#[derive(Debug, Clone)]
pub(crate) struct ConnectionKill(Arc<Notify>);

impl ConnectionKill {
    /// Resets the connection carrying the current request. The handler must not
    /// answer afterwards (it should wait forever; it will be dropped).
    pub(crate) fn fire(&self) {
        // `notify_one` stores a permit if the connection task is not waiting yet.
        self.0.notify_one();
    }
}

/// Accepts connections until `shutdown` turns true, then waits for every
/// connection task to end (at most [`SHUTDOWN_GRACE`] after the signal).
pub(crate) async fn run(
    listener: TcpListener,
    router: Router,
    mut shutdown: watch::Receiver<bool>,
) {
    // Every connection task holds a sender; `recv` returns `None` once all ended.
    let (alive_tx, mut alive_rx) = mpsc::channel::<()>(1);
    let connection_shutdown = shutdown.clone();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => {
                    tokio::spawn(serve_connection(
                        stream,
                        router.clone(),
                        connection_shutdown.clone(),
                        alive_tx.clone(),
                    ));
                }
                Err(error) => {
                    // Typically EMFILE under heavy load: back off instead of spinning.
                    debug!(%error, "mock api accept failed");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            },
            () = stopped(&mut shutdown) => break,
        }
    }
    drop(listener);
    drop(alive_tx);
    let _ = alive_rx.recv().await;
}

async fn serve_connection(
    stream: TcpStream,
    router: Router,
    mut shutdown: watch::Receiver<bool>,
    _alive: mpsc::Sender<()>,
) {
    // Small answers must not wait for Nagle.
    let _ = stream.set_nodelay(true);
    // A second handle on the socket, kept so a reset can set SO_LINGER=0 after
    // the stream has been handed to hyper.
    let socket = socket2::SockRef::from(&stream).try_clone().ok();
    let kill = Arc::new(Notify::new());
    let request_kill = ConnectionKill(Arc::clone(&kill));
    let service = service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(request_kill.clone());
        router.clone().call(request)
    });
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);

    tokio::select! {
        result = connection.as_mut() => {
            if let Err(error) = result {
                debug!(%error, "mock api connection ended with an error");
            }
            return;
        }
        () = kill.notified() => {
            reset(socket.as_ref());
            return;
        }
        () = stopped(&mut shutdown) => {}
    }
    connection.as_mut().graceful_shutdown();
    tokio::select! {
        _ = connection.as_mut() => {}
        () = kill.notified() => reset(socket.as_ref()),
        () = tokio::time::sleep(SHUTDOWN_GRACE) => {}
    }
}

/// Resolves once shutdown is requested (or its sender is gone).
pub(crate) async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    // The `Ref` returned by `wait_for` is not `Send`: drop it here, not in callers.
    let _ = shutdown.wait_for(|stop| *stop).await;
}

/// Makes the coming close of the connection send RST instead of FIN.
fn reset(socket: Option<&socket2::Socket>) {
    if let Some(socket) = socket {
        if let Err(error) = socket.set_linger(Some(Duration::ZERO)) {
            // The connection is still dropped without an answer: the client sees
            // an incomplete message instead of a reset, still a transport error.
            debug!(%error, "mock api could not set SO_LINGER=0");
        }
    }
}
