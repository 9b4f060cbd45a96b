//! The accept loop and the serving of each connection (HTTP/1.1 on hyper), with the limits that keep
//! slow, stuck or hostile clients from locking others out:
//!
//! - a connection has `header_read_timeout` from its first byte (or from being accepted) to a complete
//!   request head, and a kept-alive connection `idle_timeout` to begin its next request;
//! - a request body must arrive within `body_read_timeout` of its head, else the request is answered
//!   408 (`RequestTimeoutException`) and the connection closed (the body itself is read in `http.rs`);
//! - at most `max_connections` are open. When a new client arrives at the cap (or the process is out
//!   of file descriptors), the connection that has waited longest without a request being worked on
//!   (idle, sending a head, or sending a body) is closed to make room, so slow clients cannot starve
//!   new ones; requests being handled are never cut;
//! - on shutdown, connections without a request in progress close at once, the others finish within
//!   `shutdown_grace`, after which every connection is closed.
//!
//! The loop is generic over what an accepted TCP connection becomes before HTTP is spoken on it
//! ([`Acceptor`]): plain TCP here, a TLS handshake when TLS is served (`tls.rs`); the handshake runs
//! within the header read timeout and holds one of the `max_connections`. HTTP/2 is not served.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use bytes::Bytes;
use hyper::body::{Body as HttpBody, Frame, Incoming, SizeHint};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, watch};
use tokio::time::{Instant, Sleep};
use tower_service::Service as _;

/// The connection limits and timeouts (all configurable, see the README's security section).
#[derive(Clone, Debug)]
pub struct ConnectionLimits {
    /// From a connection's first byte of a request (or its acceptance) to the end of the request head.
    pub header_read_timeout: Duration,
    /// From the end of a request head to the end of its body.
    pub body_read_timeout: Duration,
    /// How long a kept-alive connection may wait to begin its next request.
    pub idle_timeout: Duration,
    /// Open connections at most; `None`: derived from the open-file limit (see [`default_max_connections`]).
    pub max_connections: Option<usize>,
    /// How long in-flight requests may take to finish once shutdown begins.
    pub shutdown_grace: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            max_connections: None,
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// File descriptors kept for the store, the audit log and the admin socket.
const RESERVED_FDS: u64 = 64;
/// The default cap on open connections when the open-file limit leaves room for it.
const MAX_CONNECTIONS: u64 = 1024;
/// How long the loop waits before accepting again when the process is out of file descriptors.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(20);

/// The default cap on open connections: 1,024, or fewer so that every connection has a file
/// descriptor under the process's open-file limit with some left for the store.
pub fn default_max_connections() -> usize {
    let limit = open_file_limit().unwrap_or(MAX_CONNECTIONS + RESERVED_FDS);
    let n = limit.saturating_sub(RESERVED_FDS).clamp(16, MAX_CONNECTIONS);
    usize::try_from(n).unwrap_or(16)
}

#[cfg(unix)]
fn open_file_limit() -> Option<u64> {
    rustix::process::getrlimit(rustix::process::Resource::Nofile).current
}

#[cfg(not(unix))]
fn open_file_limit() -> Option<u64> {
    None
}

/// What an accepted TCP connection becomes before HTTP is spoken on it: the TCP stream itself, or a
/// TLS session after its handshake. `wrap` runs in the connection's own task, bounded by the header
/// read timeout, so a slow handshake holds only its own connection.
pub trait Acceptor: Send + Sync + 'static {
    type Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static;
    fn wrap(&self, tcp: TcpStream) -> impl Future<Output = io::Result<Self::Stream>> + Send;
    /// The TLS session the stream carries, if any; each request on it gets it as an extension.
    fn session(_stream: &Self::Stream) -> Option<TlsSession> {
        None
    }
}

/// The TLS session a request came over, as CloudTrail's `tlsDetails` names it (`TLSv1.3`,
/// `TLS_AES_128_GCM_SHA256`); a request extension, absent on plain HTTP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TlsSession {
    pub version: &'static str,
    pub cipher_suite: &'static str,
}

/// Plain HTTP.
pub struct Plain;

impl Acceptor for Plain {
    type Stream = TcpStream;
    async fn wrap(&self, tcp: TcpStream) -> io::Result<TcpStream> {
        Ok(tcp)
    }
}

/// The error a request body gives when it has not arrived within the body read timeout.
#[derive(Debug)]
pub(crate) struct BodyTimeout;

impl std::fmt::Display for BodyTimeout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the request body was not received within the body read timeout")
    }
}

impl std::error::Error for BodyTimeout {}

/// Where a connection is in its request cycle.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
enum Phase {
    /// Waiting for a request to begin (new, or kept alive after a response).
    Idle = 0,
    /// Receiving a request head.
    Head = 1,
    /// The head is in; receiving the body.
    Body = 2,
    /// The request is being worked on.
    Handling = 3,
    /// The response is going out.
    Sending = 4,
}

impl Phase {
    fn from_u8(v: u8) -> Phase {
        match v {
            0 => Phase::Idle,
            1 => Phase::Head,
            2 => Phase::Body,
            3 => Phase::Handling,
            _ => Phase::Sending,
        }
    }

    /// Nothing of a request has been acted on: closing the connection loses no work.
    fn closable(self) -> bool {
        matches!(self, Phase::Idle | Phase::Head | Phase::Body)
    }
}

struct Timing {
    /// When the phase began (the connection closed first to make room is the one waiting longest).
    since: Instant,
    /// When the connection is closed unless it moves on.
    deadline: Option<Instant>,
}

/// One open connection, as the loop and its watchdog see it.
struct Conn {
    phase: AtomicU8,
    timing: Mutex<Timing>,
    close: AtomicBool,
    wake: Notify,
}

impl Conn {
    fn phase(&self) -> Phase {
        Phase::from_u8(self.phase.load(Ordering::Acquire))
    }

    fn enter(&self, phase: Phase, deadline: Option<Instant>) {
        if let Ok(mut t) = self.timing.lock() {
            self.phase.store(phase as u8, Ordering::Release);
            t.since = Instant::now();
            t.deadline = deadline;
        }
        self.wake.notify_one();
    }

    fn since(&self) -> Option<Instant> {
        self.timing.lock().ok().map(|t| t.since)
    }

    fn close_now(&self) {
        self.close.store(true, Ordering::Release);
        self.wake.notify_one();
    }

    /// Resolves when the connection must be closed: its deadline passed, or it was told to close.
    async fn expired(&self) {
        loop {
            if self.close.load(Ordering::Acquire) {
                return;
            }
            let deadline = self.timing.lock().ok().and_then(|t| t.deadline);
            match deadline {
                Some(d) if d <= Instant::now() => return,
                Some(d) => {
                    tokio::select! {
                        () = tokio::time::sleep_until(d) => {}
                        () = self.wake.notified() => {}
                    }
                }
                None => self.wake.notified().await,
            }
        }
    }
}

/// The open connections.
#[derive(Default)]
struct Registry {
    next: AtomicU64,
    conns: Mutex<HashMap<u64, Arc<Conn>>>,
}

impl Registry {
    fn add(&self, deadline: Instant) -> (u64, Arc<Conn>) {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let conn = Arc::new(Conn {
            phase: AtomicU8::new(Phase::Idle as u8),
            timing: Mutex::new(Timing {
                since: Instant::now(),
                deadline: Some(deadline),
            }),
            close: AtomicBool::new(false),
            wake: Notify::new(),
        });
        if let Ok(mut m) = self.conns.lock() {
            m.insert(id, conn.clone());
        }
        (id, conn)
    }

    fn remove(&self, id: u64) {
        if let Ok(mut m) = self.conns.lock() {
            m.remove(&id);
        }
    }

    /// Closes the connection that has waited longest without a request being worked on; false when
    /// every connection is working on a request.
    fn close_longest_waiting(&self) -> bool {
        let Ok(m) = self.conns.lock() else {
            return false;
        };
        let oldest = m
            .values()
            .filter(|c| c.phase().closable() && !c.close.load(Ordering::Acquire))
            .filter_map(|c| c.since().map(|s| (s, c)))
            .min_by_key(|(s, _)| *s);
        match oldest {
            Some((_, c)) => {
                c.close_now();
                true
            }
            None => false,
        }
    }

    fn close_all(&self) {
        if let Ok(m) = self.conns.lock() {
            for c in m.values() {
                c.close_now();
            }
        }
    }
}

struct Shared<A> {
    acceptor: A,
    router: Router,
    limits: ConnectionLimits,
    registry: Registry,
    stop: watch::Sender<bool>,
}

/// Accepts connections on `listener` and serves `router` on them until `shutdown` turns true, then
/// shuts down as the module docs say.
pub(crate) async fn serve<A: Acceptor>(
    listener: TcpListener,
    acceptor: A,
    router: Router,
    limits: ConnectionLimits,
    mut shutdown: watch::Receiver<bool>,
) -> io::Result<()> {
    let max = limits
        .max_connections
        .unwrap_or_else(default_max_connections)
        .clamp(1, u32::MAX as usize);
    let permits = Arc::new(Semaphore::new(max));
    let shared = Arc::new(Shared {
        acceptor,
        router,
        limits,
        registry: Registry::default(),
        stop: watch::Sender::new(false),
    });
    loop {
        let accepted = tokio::select! {
            r = shutdown.wait_for(|s| *s) => {
                drop(r);
                break;
            }
            a = listener.accept() => a,
        };
        let (tcp, peer) = match accepted {
            Ok(a) => a,
            Err(e) if out_of_descriptors(&e) => {
                tracing::warn!(error = %e, "out of file descriptors: closing the longest waiting connection");
                shared.registry.close_longest_waiting();
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
            // A connection reset before it was accepted, and the like: nothing to do.
            Err(e) => {
                tracing::debug!(error = %e, "accept failed");
                continue;
            }
        };
        let permit = match permits.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                // At the cap: make room rather than let slow clients starve this one.
                shared.registry.close_longest_waiting();
                tokio::select! {
                    r = shutdown.wait_for(|s| *s) => {
                        drop(r);
                        break;
                    }
                    p = permits.clone().acquire_owned() => match p {
                        Ok(p) => p,
                        Err(_) => break,
                    },
                }
            }
        };
        // Responses go out in one segment without waiting for the peer's ACK (Nagle off).
        let _ = tcp.set_nodelay(true);
        // Registered here, not in its task: the next client at the cap must find it to close.
        let (id, conn) = shared
            .registry
            .add(Instant::now() + shared.limits.header_read_timeout);
        tokio::spawn(connection(shared.clone(), tcp, peer, permit, id, conn));
    }
    drop(listener);
    shared.stop.send_replace(true);
    let all = u32::try_from(max).unwrap_or(u32::MAX);
    let grace = shared.limits.shutdown_grace;
    if tokio::time::timeout(grace, permits.acquire_many(all))
        .await
        .is_err()
    {
        tracing::warn!(
            "requests still in progress after the shutdown grace period: closing their connections"
        );
        shared.registry.close_all();
        let _ = permits.acquire_many(all).await;
    }
    Ok(())
}

fn out_of_descriptors(e: &io::Error) -> bool {
    // EMFILE and ENFILE (Linux and the BSDs agree on 24 and 23).
    matches!(e.raw_os_error(), Some(23 | 24))
}

/// Removes a connection from the registry when its task ends, however it ends.
struct Registered<'a> {
    registry: &'a Registry,
    id: u64,
}

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        self.registry.remove(self.id);
    }
}

async fn connection<A: Acceptor>(
    shared: Arc<Shared<A>>,
    tcp: TcpStream,
    peer: SocketAddr,
    _permit: OwnedSemaphorePermit,
    id: u64,
    conn: Arc<Conn>,
) {
    let limits = &shared.limits;
    let _registered = Registered {
        registry: &shared.registry,
        id,
    };
    let mut stop = shared.stop.subscribe();
    let stream = tokio::select! {
        s = shared.acceptor.wrap(tcp) => match s {
            Ok(s) => s,
            Err(e) => {
                tracing::debug!(error = %e, %peer, "connection set-up failed");
                return;
            }
        },
        () = conn.expired() => return,
        r = stop.wait_for(|s| *s) => {
            drop(r);
            return;
        }
    };
    let session = A::session(&stream);
    let io = hyper_util::rt::TokioIo::new(Watched {
        inner: stream,
        conn: conn.clone(),
        header_read_timeout: limits.header_read_timeout,
    });
    let service = {
        let conn = conn.clone();
        let router = shared.router.clone();
        let body_read_timeout = limits.body_read_timeout;
        let idle_timeout = limits.idle_timeout;
        hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
            let phase = if req.body().is_end_stream() {
                Phase::Handling
            } else {
                Phase::Body
            };
            conn.enter(phase, None);
            req.extensions_mut().insert(ConnectInfo(peer));
            if let Some(session) = session {
                req.extensions_mut().insert(session);
            }
            let body_conn = conn.clone();
            let req = req.map(|body| {
                Body::new(TimedBody {
                    inner: body,
                    deadline: Box::pin(tokio::time::sleep(body_read_timeout)),
                    conn: body_conn,
                })
            });
            let mut router = router.clone();
            let conn = conn.clone();
            async move {
                let resp = router.call(req).await?;
                Ok::<_, Infallible>(resp.map(|body| {
                    Body::new(Tracked {
                        inner: body,
                        conn,
                        idle_timeout,
                        started: false,
                    })
                }))
            }
        })
    };
    let http = hyper::server::conn::http1::Builder::new()
        .header_read_timeout(None)
        .serve_connection(io, service);
    tokio::pin!(http);
    let mut stopping = false;
    loop {
        tokio::select! {
            r = http.as_mut() => {
                if let Err(e) = r {
                    tracing::debug!(error = %e, %peer, "connection ended");
                }
                return;
            }
            () = conn.expired() => return,
            r = stop.wait_for(|s| *s), if !stopping => {
                drop(r);
                stopping = true;
                if matches!(conn.phase(), Phase::Idle | Phase::Head) {
                    return;
                }
                http.as_mut().graceful_shutdown();
            }
        }
    }
}

/// The connection's stream, noticing when a new request begins to arrive.
struct Watched<S> {
    inner: S,
    conn: Arc<Conn>,
    header_read_timeout: Duration,
}

impl<S: AsyncRead + Unpin> AsyncRead for Watched<S> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let r = Pin::new(&mut this.inner).poll_read(cx, buf);
        if matches!(r, Poll::Ready(Ok(()))) && buf.filled().len() > before && this.conn.phase() == Phase::Idle
        {
            this.conn
                .enter(Phase::Head, Some(Instant::now() + this.header_read_timeout));
        }
        r
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Watched<S> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A request body that fails with [`BodyTimeout`] when it has not fully arrived by its deadline.
struct TimedBody {
    inner: Incoming,
    deadline: Pin<Box<Sleep>>,
    conn: Arc<Conn>,
}

impl HttpBody for TimedBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(None) => {
                this.conn.enter(Phase::Handling, None);
                Poll::Ready(None)
            }
            Poll::Ready(Some(frame)) => Poll::Ready(Some(frame.map_err(Into::into))),
            Poll::Pending => match this.deadline.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Some(Err(Box::new(BodyTimeout)))),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A response body that moves its connection on: sending while it goes out (bounded by the idle
/// timeout, so a client that doesn't read its answer is closed), idle once it is out.
struct Tracked {
    inner: Body,
    conn: Arc<Conn>,
    idle_timeout: Duration,
    started: bool,
}

impl HttpBody for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = self.get_mut();
        if !this.started {
            this.started = true;
            this.conn
                .enter(Phase::Sending, Some(Instant::now() + this.idle_timeout));
        }
        Pin::new(&mut this.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.conn
            .enter(Phase::Idle, Some(Instant::now() + self.idle_timeout));
    }
}

/// Whether a body error is the body read timeout.
pub(crate) fn is_body_timeout(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(e) = cur {
        if e.is::<BodyTimeout>() {
            return true;
        }
        cur = e.source();
    }
    false
}
