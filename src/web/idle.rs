//! A connection that fails its reads and writes once no byte has moved either way for a
//! while, so hyper drops it: silent clients, idle HTTP/2 connections and clients that
//! stopped reading an answer give their socket (and the page it pins) back.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// Wraps a stream; see the module docs.
pub struct IdleTimeout<S> {
    inner: S,
    /// Allowed quiet time: `first` until the client's first byte, then `idle`.
    limit: Duration,
    idle: Duration,
    last: Instant,
    timer: Pin<Box<Sleep>>,
}

impl<S> IdleTimeout<S> {
    /// `first` bounds the wait for the client's first byte (a connection that never
    /// speaks is cut as early as a slow request head), `idle` every quiet time after it.
    pub fn new(inner: S, first: Duration, idle: Duration) -> Self {
        let last = Instant::now();
        Self {
            inner,
            limit: first,
            idle,
            last,
            timer: Box::pin(tokio::time::sleep_until(last + first)),
        }
    }

    /// Passes `poll` through, noting progress; a pending I/O fails once quiet too long.
    fn watch<T>(
        &mut self,
        cx: &mut Context<'_>,
        poll: Poll<io::Result<T>>,
        moved: impl FnOnce(&T) -> bool,
    ) -> Poll<io::Result<T>> {
        match poll {
            Poll::Ready(Ok(value)) => {
                if moved(&value) {
                    self.last = Instant::now();
                    self.limit = self.idle;
                }
                Poll::Ready(Ok(value))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => self.poll_quiet(cx),
        }
    }

    fn poll_quiet<T>(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<T>> {
        let deadline = self.last + self.limit;
        if self.timer.deadline() != deadline {
            self.timer.as_mut().reset(deadline);
        }
        match self.timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "connection idle for too long",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for IdleTimeout<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let poll = Pin::new(&mut this.inner).poll_read(cx, buf);
        let read = buf.filled().len() > before;
        this.watch(cx, poll, |()| read)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for IdleTimeout<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.watch(cx, poll, |n| *n > 0)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.watch(cx, poll, |n| *n > 0)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_flush(cx);
        this.watch(cx, poll, |()| false)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.inner).poll_shutdown(cx);
        this.watch(cx, poll, |()| false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    // On paused time: the limits pass without waiting for them.
    const FIRST: Duration = Duration::from_millis(200);
    const IDLE: Duration = Duration::from_millis(400);

    /// Cut no earlier than `limit` after `since`, and not much later (a generous bound).
    fn assert_cut_after(since: Instant, limit: Duration) {
        let waited = since.elapsed();
        assert!(
            waited >= limit && waited < limit + Duration::from_secs(5),
            "{waited:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_client_is_cut_after_the_first_byte_limit() {
        let (_client, server) = tokio::io::duplex(64);
        let mut io = IdleTimeout::new(server, FIRST, IDLE);
        let started = Instant::now();
        let err = io.read(&mut [0; 8]).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert_cut_after(started, FIRST);
    }

    #[tokio::test(start_paused = true)]
    async fn after_a_byte_the_idle_limit_counts_from_the_last_progress() {
        let (mut client, server) = tokio::io::duplex(64);
        let mut io = IdleTimeout::new(server, FIRST, IDLE);
        tokio::time::sleep(FIRST / 2).await;
        client.write_all(b"G").await.unwrap();
        assert_eq!(io.read(&mut [0; 8]).await.unwrap(), 1);
        let last = Instant::now();
        let err = io.read(&mut [0; 8]).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert_cut_after(last, IDLE);
    }

    #[tokio::test(start_paused = true)]
    async fn a_write_the_peer_never_reads_fails_after_the_idle_limit() {
        let (_client, server) = tokio::io::duplex(4);
        let mut io = IdleTimeout::new(server, FIRST, IDLE);
        io.write_all(b"abcd").await.unwrap();
        let last = Instant::now();
        let err = io.write_all(b"e").await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert_cut_after(last, IDLE);
    }
}
