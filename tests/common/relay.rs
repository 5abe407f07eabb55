//! A loopback TCP relay that keeps the bytes of one direction, so a test can search the
//! wire for what a client sent (its tokens) or what a server handed out (session ids).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Which direction's bytes the relay keeps.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// What the client sent: its requests, bearer tokens and refresh tokens among them.
    ClientSent,
    /// What the server sent: its answers, every token or session id among them.
    ServerSent,
}

/// Starts a relay to `upstream` (`http://host:port` or `host:port`); returns its URL and
/// the kept bytes.
pub async fn relay(upstream: &str, keep: Keep) -> (String, Arc<Mutex<Vec<u8>>>) {
    let upstream: SocketAddr = upstream.trim_start_matches("http://").parse().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let rec = seen.clone();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let Ok(server) = TcpStream::connect(upstream).await else {
                continue;
            };
            let (cr, cw) = client.into_split();
            let (sr, sw) = server.into_split();
            let (to_server, to_client) = match keep {
                Keep::ClientSent => (Some(rec.clone()), None),
                Keep::ServerSent => (None, Some(rec.clone())),
            };
            tokio::spawn(pipe(cr, sw, to_server));
            tokio::spawn(pipe(sr, cw, to_client));
        }
    });
    (url, seen)
}

/// Copies `from` to `to` until either side closes, keeping the bytes when asked.
async fn pipe(
    mut from: impl AsyncRead + Unpin,
    mut to: impl AsyncWrite + Unpin,
    keep: Option<Arc<Mutex<Vec<u8>>>>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if let Some(k) = &keep {
                    k.lock().unwrap().extend_from_slice(&buf[..n]);
                }
                if to.write_all(&buf[..n]).await.is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown().await;
}
