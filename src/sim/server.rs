//! The HTTP server: an axum router served connection by connection with hyper, so a
//! handler can have a connection cut (the `CutConnection` marker makes the service fail,
//! and hyper closes the socket without an answer) and so shutdown is graceful.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request, Uri};
use axum::routing::{get, post};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

use super::reply::{self, CutConnection};
use super::state::Sim;
use super::{admin, api, auth, service_time, session, styled, token_login};

const LOG: &str = "supsync::sim";
/// Slow or silent clients may not hold a connection open forever before sending headers.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// How long shutdown waits for requests in flight before dropping them.
const DRAIN: Duration = Duration::from_secs(2);
/// A TLS handshake that takes longer is abandoned (a client that connects and says nothing).
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The client certificate of a TLS connection (DER), verified against the profile's
/// client CA; in every request's extensions when one was presented.
#[derive(Debug, Clone)]
pub struct PeerCertificate(pub Vec<u8>);

pub fn router(sim: Arc<Sim>) -> Router {
    let router = Router::new()
        .route("/oauth/token", post(auth::token))
        .route("/api/v1/health", get(api::health))
        .route("/_sim/stats", get(admin::stats))
        .route("/_sim/revoke", post(admin::revoke))
        .route("/_sim/outage", post(admin::outage))
        .route("/_sim/calm", post(admin::calm));
    // Session logins (docs/API.md §7): their paths exist only while sessions are on. The
    // profile check keeps them apart from each other and from the paths above.
    let s = &sim.profile.session;
    let router = if s.enabled {
        router
            .route(&s.login_path, post(session::login))
            .route(
                &s.logout_path,
                post(session::logout)
                    .put(session::logout)
                    .delete(session::logout),
            )
            .route(
                &s.keepalive_path,
                get(session::keepalive).post(session::keepalive),
            )
    } else {
        router
    };
    // Token logins (docs/API.md §8): their paths exist only while they are on.
    let t = &sim.profile.token_login;
    let router = if t.enabled {
        router
            .route(&t.login_path, post(token_login::login))
            .route(&t.refresh_path, post(token_login::refresh))
            .route(&t.logout_path, post(token_login::logout))
    } else {
        router
    };
    // Another style serves its own paths (and not the contract's) from the mapping.
    let router = if sim.styled.is_some() {
        router.fallback(styled::handle)
    } else {
        router
            .route("/api/v1/suppliers/batch", get(api::pull).post(api::push))
            .fallback(
                |method: Method, uri: Uri| async move { reply::not_found(&method, uri.path()) },
            )
    };
    // A key in the query leaves the URL before any handler reads it.
    let router = match sim.profile.api_key.enabled && !sim.profile.api_key.query.is_empty() {
        true => router.layer(axum::middleware::from_fn_with_state(
            Arc::clone(&sim),
            super::api_key::lift_query,
        )),
        false => router,
    };
    router
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&sim),
            service_time::timed,
        ))
        .method_not_allowed_fallback(|method: Method, uri: Uri| async move {
            let shown: String = uri.path().chars().take(100).collect();
            reply::error(
                axum::http::StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                format!("{method} is not allowed on {shown}"),
            )
        })
        .with_state(sim)
}

/// Accepts connections until `cancel`, then drains them for up to `DRAIN`. With `tls`,
/// each connection is a TLS handshake first.
pub async fn accept_loop(
    listener: TcpListener,
    app: Router,
    tls: Option<TlsAcceptor>,
    cancel: CancellationToken,
) {
    let tracker = TaskTracker::new();
    loop {
        tokio::select! {
            () = cancel.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let (app, cancel) = (app.clone(), cancel.clone());
                    match &tls {
                        None => {
                            tracker.spawn(serve_tcp(stream, peer, app, cancel));
                        }
                        Some(acceptor) => {
                            tracker.spawn(serve_tls(acceptor.clone(), stream, peer, app, cancel));
                        }
                    }
                }
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(target: LOG, error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
        }
    }
    drop(listener);
    tracker.close();
    if tokio::time::timeout(DRAIN, tracker.wait()).await.is_err() {
        tracing::info!(target: LOG, "shutdown: requests still in flight were dropped");
    }
}

/// The error that makes hyper close a connection without answering.
#[derive(Debug)]
struct Cut;

impl std::fmt::Display for Cut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection cut by an injected fault")
    }
}

impl std::error::Error for Cut {}

async fn serve_tcp(stream: TcpStream, peer: SocketAddr, app: Router, cancel: CancellationToken) {
    // Ignored on purpose: Nagle only costs latency.
    let _ = stream.set_nodelay(true);
    serve_connection(stream, peer, None, app, cancel).await;
}

async fn serve_tls(
    acceptor: TlsAcceptor,
    stream: TcpStream,
    peer: SocketAddr,
    app: Router,
    cancel: CancellationToken,
) {
    let _ = stream.set_nodelay(true);
    let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
        Ok(Ok(tls)) => tls,
        Ok(Err(e)) => {
            tracing::info!(target: LOG, %peer, error = %e, "TLS handshake failed");
            return;
        }
        Err(_) => {
            tracing::info!(target: LOG, %peer, "TLS handshake timed out");
            return;
        }
    };
    let cert = tls
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|c| c.first())
        .map(|c| PeerCertificate(c.as_ref().to_vec()));
    serve_connection(tls, peer, cert, app, cancel).await;
}

async fn serve_connection<I>(
    stream: I,
    peer: SocketAddr,
    cert: Option<PeerCertificate>,
    app: Router,
    cancel: CancellationToken,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
        let app = app.clone();
        let cert = cert.clone();
        async move {
            req.extensions_mut().insert(ConnectInfo(peer));
            if let Some(cert) = cert {
                req.extensions_mut().insert(cert);
            }
            let method = req.method().clone();
            let path: String = req.uri().path().chars().take(200).collect();
            let started = Instant::now();
            let resp = match app.oneshot(req.map(Body::new)).await {
                Ok(resp) => resp,
                Err(never) => match never {},
            };
            let ms = started.elapsed().as_millis() as u64;
            if resp.extensions().get::<CutConnection>().is_some() {
                tracing::info!(target: LOG, %method, %path, ms, "connection cut (injected fault)");
                return Err(Cut);
            }
            tracing::info!(target: LOG, %method, %path, status = resp.status().as_u16(), ms);
            Ok::<_, Cut>(resp)
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    let mut conn = std::pin::pin!(conn);
    let result = tokio::select! {
        r = conn.as_mut() => r,
        () = cancel.cancelled() => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = result {
        tracing::debug!(target: LOG, %peer, error = %e, "connection ended");
    }
}
