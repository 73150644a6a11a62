//! The open connections of one listener ([`Slots`]) and the connection wrapper that lets
//! them be closed from outside ([`Guarded`]): at the cap, by a newer connection; by the
//! watchdog, when a connection sent no whole request within `header_read_timeout` or
//! nothing at all for `idle_timeout` (nothing read or written, no answer being computed).

use super::config::ConnectionLimits;
use futures::task::AtomicWaker;
use std::collections::BTreeMap;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// One open connection, as its listener sees it.
#[derive(Debug)]
pub struct Conn {
    /// When it was accepted, ms since the listener's epoch.
    opened: u64,
    /// When bytes last arrived or were sent, ms since the listener's epoch.
    last_read: AtomicU64,
    /// Requests being answered: a slow answer (a large query) is not idleness.
    answering: AtomicU64,
    /// Whether a whole request (its headers) arrived on it.
    served: AtomicBool,
    /// Whether it is to be closed: every read and write fails from then on.
    killed: AtomicBool,
    /// The task that serves it, woken to notice `killed`.
    waker: AtomicWaker,
}

impl Conn {
    /// Marks that a whole request arrived: the connection is no longer the first to make
    /// room at the cap, and the header timeout no longer applies to it.
    pub fn served(&self) {
        self.served.store(true, Ordering::Relaxed);
    }

    fn kill(&self) {
        self.killed.store(true, Ordering::Release);
        self.waker.wake();
    }
}

/// A request's answer being computed on a connection, from its headers until the answer
/// is ready (or dropped): the idle timeout waits for it. Its body is sent afterwards, and
/// writes count as activity.
pub struct Answering(Arc<Conn>);

impl Answering {
    /// Counts an answer in progress on `conn`.
    pub fn new(conn: Arc<Conn>) -> Answering {
        conn.answering.fetch_add(1, Ordering::Relaxed);
        Answering(conn)
    }
}

impl Drop for Answering {
    fn drop(&mut self) {
        self.0.answering.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Why connections were closed by the listener; counted.
#[derive(Debug, Default)]
pub struct SlotCounters {
    /// Connections accepted.
    pub accepted: AtomicU64,
    /// Closed at once: the cap was reached and every open connection had been served.
    pub refused: AtomicU64,
    /// Closed to make room at the cap (not yet served, the oldest such).
    pub evicted: AtomicU64,
    /// Closed by the watchdog: no whole request within `header_read_timeout`.
    pub header_timeouts: AtomicU64,
    /// Closed by the watchdog: nothing arrived for `idle_timeout`.
    pub idle_timeouts: AtomicU64,
}

/// The open connections of one listener, bounded by `limits.max`.
#[derive(Debug)]
pub struct Slots {
    name: &'static str,
    limits: ConnectionLimits,
    epoch: Instant,
    open: Mutex<(u64, BTreeMap<u64, Arc<Conn>>)>,
    /// What the listener closed, and why.
    pub counters: SlotCounters,
    last_warned: AtomicU64,
}

impl Slots {
    /// The connections of the listener `name` (for logs), and their watchdog (a task that
    /// ends with them).
    pub fn new(name: &'static str, limits: ConnectionLimits) -> Arc<Slots> {
        let slots = Arc::new(Slots {
            name,
            limits,
            epoch: Instant::now(),
            open: Mutex::default(),
            counters: SlotCounters::default(),
            last_warned: AtomicU64::new(0),
        });
        tokio::spawn(watch(Arc::downgrade(&slots)));
        slots
    }

    /// The listener's name, for logs.
    pub fn name(&self) -> &'static str {
        self.name
    }

    fn now(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// Connections open now.
    pub fn len(&self) -> usize {
        self.open.lock().expect("slots lock").1.len()
    }

    /// Whether none is open.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Takes a slot for `io`, making room at the cap (see [`ConnectionLimits::max`]); `None`:
    /// no room, `io` is to be dropped (closed).
    pub fn admit<IO>(self: &Arc<Self>, io: IO) -> Option<Guarded<IO>> {
        self.counters.accepted.fetch_add(1, Ordering::Relaxed);
        let now = self.now();
        let mut open = self.open.lock().expect("slots lock");
        if open.1.len() >= self.limits.max {
            let oldest = open
                .1
                .iter()
                .find(|(_, c)| !c.served.load(Ordering::Relaxed))
                .map(|(id, _)| *id);
            let full = match oldest.and_then(|id| open.1.remove(&id)) {
                Some(conn) => {
                    conn.kill();
                    self.counters.evicted.fetch_add(1, Ordering::Relaxed);
                    false
                }
                None => {
                    self.counters.refused.fetch_add(1, Ordering::Relaxed);
                    true
                }
            };
            self.warn_full(now, open.1.len(), full);
            if full {
                return None;
            }
        }
        let conn = Arc::new(Conn {
            opened: now,
            last_read: AtomicU64::new(now),
            answering: AtomicU64::new(0),
            served: AtomicBool::new(false),
            killed: AtomicBool::new(false),
            waker: AtomicWaker::new(),
        });
        open.0 += 1;
        let id = open.0;
        open.1.insert(id, conn.clone());
        Some(Guarded {
            io,
            conn,
            slots: self.clone(),
            id,
        })
    }

    /// Logs the cap being reached, at most once per 10 s.
    fn warn_full(&self, now: u64, open: usize, refused: bool) {
        let last = self.last_warned.load(Ordering::Relaxed);
        if last != 0 && now.saturating_sub(last) < 10_000 {
            return;
        }
        self.last_warned.store(now.max(1), Ordering::Relaxed);
        tracing::warn!(
            listener = self.name,
            open,
            max = self.limits.max,
            refused,
            evicted = self.counters.evicted.load(Ordering::Relaxed),
            "connection cap reached: closing the oldest connection that has sent no request \
             yet (or the new one, when every open one has)"
        );
    }

    fn remove(&self, id: u64) {
        self.open.lock().expect("slots lock").1.remove(&id);
    }

    /// Closes the connections past their timeouts; how often to look again.
    fn sweep(&self) -> Duration {
        let now = self.now();
        let header = self.limits.header_read_timeout.as_millis() as u64;
        let idle = self.limits.idle_timeout.as_millis() as u64;
        let mut open = self.open.lock().expect("slots lock");
        open.1.retain(|_, conn| {
            let silent = now.saturating_sub(conn.last_read.load(Ordering::Relaxed));
            let expired = if !conn.served.load(Ordering::Relaxed)
                && now.saturating_sub(conn.opened) >= header
            {
                &self.counters.header_timeouts
            } else if silent >= idle && conn.answering.load(Ordering::Relaxed) == 0 {
                &self.counters.idle_timeouts
            } else {
                return true;
            };
            expired.fetch_add(1, Ordering::Relaxed);
            conn.kill();
            false
        });
        // A tenth of the shorter timeout: closed at most 10 % late; 50 ms to 1 s.
        Duration::from_millis((header.min(idle) / 10).clamp(50, 1000))
    }
}

/// The watchdog of a listener's connections, until the listener is gone.
async fn watch(slots: Weak<Slots>) {
    loop {
        let Some(slots) = slots.upgrade() else {
            return;
        };
        let next = slots.sweep();
        drop(slots);
        tokio::time::sleep(next).await;
    }
}

/// A connection holding a slot of its listener: closed (every read and write fails) once
/// its listener says so; gives its slot back when dropped.
#[derive(Debug)]
pub struct Guarded<IO> {
    io: IO,
    conn: Arc<Conn>,
    slots: Arc<Slots>,
    id: u64,
}

impl<IO> Guarded<IO> {
    /// The listener's view of this connection (to mark it served).
    pub fn conn(&self) -> &Arc<Conn> {
        &self.conn
    }

    /// The wrapped connection.
    pub fn get_ref(&self) -> &IO {
        &self.io
    }

    fn closed(&self, cx: &mut Context<'_>) -> Option<io::Error> {
        self.conn.waker.register(cx.waker());
        self.conn.killed.load(Ordering::Acquire).then(|| {
            io::Error::new(
                io::ErrorKind::TimedOut,
                format!("{} connection closed by the listener", self.slots.name),
            )
        })
    }
}

impl<IO> Drop for Guarded<IO> {
    fn drop(&mut self) {
        self.slots.remove(self.id);
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for Guarded<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if let Some(err) = self.closed(cx) {
            return Poll::Ready(Err(err));
        }
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.io).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            let now = self.slots.now();
            self.conn.last_read.store(now, Ordering::Relaxed);
        }
        polled
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Guarded<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if let Some(err) = self.closed(cx) {
            return Poll::Ready(Err(err));
        }
        let polled = Pin::new(&mut self.io).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            let now = self.slots.now();
            self.conn.last_read.store(now, Ordering::Relaxed);
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Some(err) = self.closed(cx) {
            return Poll::Ready(Err(err));
        }
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}
