//! Bodies the server wraps around every request and answer: a request body must arrive
//! whole within a deadline (else the handler reading it gets [`BodyTimedOut`] and the
//! client a 408), and an answer's body keeps its request counted as in progress until it
//! is written, so a connection streaming a page is never taken for an idle one.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body, Frame, SizeHint};
use tokio::time::Sleep;

use super::admission::InFlight;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The error a handler reading a late body gets.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive within the deadline (--web.read-body-timeout)")]
pub struct BodyTimedOut;

/// Whether `error` (or what it wraps) is a [`BodyTimedOut`]: handlers that read a body
/// tell a late one from a bad one with this.
pub fn timed_out(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(error);
    while let Some(e) = next {
        if e.is::<BodyTimedOut>() {
            return true;
        }
        next = e.source();
    }
    false
}

/// A request body that fails once `deadline` has passed, noting it in `late`.
pub struct Deadline<B> {
    inner: B,
    timer: Pin<Box<Sleep>>,
    late: Arc<AtomicBool>,
}

impl<B> Deadline<B> {
    pub fn new(inner: B, within: Duration, late: Arc<AtomicBool>) -> Self {
        Self {
            inner,
            timer: Box::pin(tokio::time::sleep(within)),
            late,
        }
    }
}

impl<B> Body for Deadline<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        match this.timer.as_mut().poll(cx) {
            Poll::Ready(()) => {
                this.late.store(true, Ordering::SeqCst);
                Poll::Ready(Some(Err(Box::new(BodyTimedOut))))
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// An answer's body that holds its request's [`InFlight`] until written (or dropped).
pub struct Guarded<B> {
    inner: B,
    _in_flight: InFlight,
}

impl<B> Guarded<B> {
    pub fn new(inner: B, in_flight: InFlight) -> Self {
        Self {
            inner,
            _in_flight: in_flight,
        }
    }
}

impl<B: Body + Unpin> Body for Guarded<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        Pin::new(&mut self.get_mut().inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{BodyExt, Full, StreamBody};
    use std::sync::atomic::Ordering;

    #[tokio::test(start_paused = true)]
    async fn a_body_that_stalls_fails_at_the_deadline_and_says_so() {
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, BoxError>>(1);
        let stalled = StreamBody::new(tokio_stream_from(rx));
        let late = Arc::new(AtomicBool::new(false));
        let body = Deadline::new(stalled, Duration::from_secs(10), Arc::clone(&late));
        tx.send(Ok(Frame::data(Bytes::from_static(b"{"))))
            .await
            .unwrap();
        // Read as a handler reads it: through axum's body, with a size limit.
        let read = axum::body::to_bytes(axum::body::Body::new(body), 1024);
        let error = read.await.expect_err("the deadline passed");
        assert!(timed_out(&error), "{error}");
        assert!(late.load(Ordering::SeqCst));
        drop(tx);
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_within_the_deadline_is_untouched() {
        let late = Arc::new(AtomicBool::new(false));
        let body = Deadline::new(
            Full::new(Bytes::from_static(b"{}")),
            Duration::from_secs(1),
            Arc::clone(&late),
        );
        assert_eq!(
            body.collect().await.unwrap().to_bytes(),
            Bytes::from_static(b"{}")
        );
        assert!(!late.load(Ordering::SeqCst));
    }

    /// A stream of the frames `rx` receives.
    fn tokio_stream_from(
        rx: tokio::sync::mpsc::Receiver<Result<Frame<Bytes>, BoxError>>,
    ) -> impl futures_util::Stream<Item = Result<Frame<Bytes>, BoxError>> + Unpin {
        Box::pin(futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        }))
    }
}
