//! The server's own time on each request, from its arrival (headers read) to the last byte
//! of its answer handed to the connection, summed in `/_sim/stats` (`service_requests`,
//! `service_us_total`, `service_us_max`). A benchmark divides the sum by the concurrency to
//! get the ideal wall time of a run, so what it calls client overhead no longer depends on
//! how punctual the simulator's own timers were.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use hyper::body::{Frame, SizeHint};

use super::state::Sim;

/// Middleware: times every request but the simulator's own `/_sim` paths.
pub async fn timed(State(sim): State<Arc<Sim>>, req: Request, next: Next) -> Response {
    if req.uri().path().starts_with("/_sim") {
        return next.run(req).await;
    }
    let arrived = Instant::now();
    let resp = next.run(req).await;
    resp.map(|inner| {
        Body::new(Timed {
            inner,
            clock: Some((arrived, sim)),
        })
    })
}

/// An answer's body that books the service time when its last frame has been taken.
struct Timed {
    inner: Body,
    /// Taken when booked: once per request.
    clock: Option<(Instant, Arc<Sim>)>,
}

impl Timed {
    fn book(&mut self) {
        if let Some((arrived, sim)) = self.clock.take() {
            let us = u64::try_from(arrived.elapsed().as_micros()).unwrap_or(u64::MAX);
            let s = &sim.stats;
            s.service_requests.fetch_add(1, Ordering::Relaxed);
            s.service_us_total.fetch_add(us, Ordering::Relaxed);
            s.service_us_max.fetch_max(us, Ordering::Relaxed);
        }
    }
}

impl HttpBody for Timed {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(None) => self.book(),
            Poll::Ready(Some(_)) if self.inner.is_end_stream() => self.book(),
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
