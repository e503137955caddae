//! A loopback TCP proxy that cuts connections after a chosen number of bytes, for testing what
//! a client does when its connection drops at any point (mid-command, mid-literal, between
//! responses).
//!
//! Each accepted connection asks the test's plan ([`CutProxy::set_plan`]) what to do with it:
//! pass everything, or forward exactly N bytes in one direction (or N in both together) and
//! then shut both sockets down, so that client and server each see the connection end there.
//! Every connection is recorded ([`CutProxy::connections`]) with the bytes it carried, so a
//! failing test can print what happened and replay it.

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;

use crate::net::HOST;

/// Which bytes count towards a cut.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Client to server (commands, APPEND literals).
    ToServer,
    /// Server to client (responses, FETCH literals).
    ToClient,
    /// Both together.
    Both,
}

/// What the proxy does with one connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cut {
    /// Forward everything.
    Never,
    /// Forward exactly `bytes` bytes counted in `direction`, then close the connection.
    After {
        /// Bytes forwarded before the cut.
        bytes: u64,
        /// Which bytes count.
        direction: Direction,
    },
    /// Forward exactly `bytes` bytes counted in `direction`, then forward nothing more in that
    /// direction (what arrives is discarded) but keep the connection open: a server or network
    /// that hangs, for testing timeouts.
    StallAfter {
        /// Bytes forwarded before the stall.
        bytes: u64,
        /// Which direction stalls.
        direction: Direction,
    },
    /// Refuse at once: accept and close before forwarding anything.
    Refuse,
}

/// What one connection did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectionRecord {
    /// 0 for the first connection the proxy accepted.
    pub index: usize,
    /// What the plan said.
    pub cut: Cut,
    /// Bytes forwarded client -> server.
    pub to_server: u64,
    /// Bytes forwarded server -> client.
    pub to_client: u64,
    /// True once the proxy cut it (rather than one of the ends closing it).
    pub was_cut: bool,
    /// True once either end closed it or the proxy cut it: set before the other end can see
    /// the connection end, so a connection a client opened after seeing this one end always
    /// finds it set (how a test tells requests in flight together from one after another).
    pub ended: bool,
}

type Plan = Box<dyn FnMut(usize) -> Cut + Send>;

/// Bytes to watch for on their way to the server, and what to do, once, before they go on.
type Hook = (Vec<u8>, Box<dyn FnOnce() + Send>);

struct Shared {
    plan: Mutex<Plan>,
    /// Set by [`CutProxy::before_sending`].
    hook: Mutex<Option<Hook>>,
    records: Mutex<Vec<Arc<Tracked>>>,
    stop: AtomicBool,
    /// Connections open now (accepted, not yet closed on both ends).
    open: AtomicUsize,
    /// The most that were open at once.
    most_open: AtomicUsize,
}

struct Tracked {
    index: usize,
    /// The client's end, to cut the connection from outside.
    client: Mutex<Option<TcpStream>>,
    cut: Cut,
    to_server: AtomicU64,
    to_client: AtomicU64,
    was_cut: AtomicBool,
    /// Forwarding directions still running; the connection counts as open until both end.
    directions: AtomicUsize,
    /// Set by [`CutProxy::stall_open_connections`]: forward nothing more, close nothing.
    stalled: AtomicBool,
    /// See [`ConnectionRecord::ended`].
    ended: AtomicBool,
}

/// A proxy on a free port of 127.0.0.1 in front of `127.0.0.1:target`. Stops when dropped
/// (open connections end when their ends close them).
pub struct CutProxy {
    port: u16,
    shared: Arc<Shared>,
}

impl CutProxy {
    /// Starts a proxy to `127.0.0.1:target` that passes everything until a plan is set.
    pub fn start(target: u16) -> io::Result<CutProxy> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        let port = listener.local_addr()?.port();
        let shared = Arc::new(Shared {
            plan: Mutex::new(Box::new(|_| Cut::Never)),
            hook: Mutex::new(None),
            records: Mutex::new(Vec::new()),
            stop: AtomicBool::new(false),
            open: AtomicUsize::new(0),
            most_open: AtomicUsize::new(0),
        });
        let accepting = Arc::clone(&shared);
        thread::Builder::new()
            .name(format!("cut-proxy-{port}"))
            .spawn(move || accept_loop(&listener, target, &accepting))?;
        Ok(CutProxy { port, shared })
    }

    /// The address to connect to instead of the server.
    pub fn host(&self) -> &'static str {
        HOST
    }

    /// The proxy's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Sets what happens to each later connection: `plan` gets the connection's index (counting
    /// every connection since the proxy started) and returns its fate.
    pub fn set_plan(&self, plan: impl FnMut(usize) -> Cut + Send + 'static) {
        *self
            .shared
            .plan
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Box::new(plan);
    }

    /// Runs `hook` once, the first time a client sends `needle` (e.g. `b" UID STORE "`) on any
    /// connection, before the bytes that hold it reach the server: to make another client's
    /// change land at an exact point of a run (after its listing, before its writes). The
    /// connection waits for the hook to return.
    pub fn before_sending(&self, needle: &[u8], hook: impl FnOnce() + Send + 'static) {
        *self
            .shared
            .hook
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some((needle.to_vec(), Box::new(hook)));
    }

    /// Lets every later connection through untouched.
    pub fn pass_all(&self) {
        self.set_plan(|_| Cut::Never);
    }

    /// Cuts every connection that is open now, as if the network failed.
    pub fn cut_open_connections(&self) {
        for tracked in self.records().iter() {
            let client = tracked
                .client
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take();
            if let Some(client) = client {
                tracked.was_cut.store(true, Ordering::SeqCst);
                let _ = client.shutdown(Shutdown::Both);
            }
        }
    }

    /// Stops forwarding on every connection open now, in both directions, without closing
    /// any: what arrives is discarded, as when a network path dies silently (a suspended
    /// laptop's Wi-Fi, a NAT that forgot the connection). Only a timeout can tell.
    pub fn stall_open_connections(&self) {
        for tracked in self.records().iter() {
            tracked.stalled.store(true, Ordering::SeqCst);
        }
    }

    fn records(&self) -> std::sync::MutexGuard<'_, Vec<Arc<Tracked>>> {
        self.shared
            .records
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The most connections that were open through the proxy at the same time, since it started
    /// or since the last [`CutProxy::reset_most_open`]: how a test sees that a client used
    /// several connections at once.
    pub fn most_open(&self) -> usize {
        self.shared.most_open.load(Ordering::SeqCst)
    }

    /// Starts counting [`CutProxy::most_open`] afresh from the connections open now.
    pub fn reset_most_open(&self) {
        let open = self.shared.open.load(Ordering::SeqCst);
        self.shared.most_open.store(open, Ordering::SeqCst);
    }

    /// Every connection so far, in the order they were accepted.
    pub fn connections(&self) -> Vec<ConnectionRecord> {
        self.shared
            .records
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|t| ConnectionRecord {
                index: t.index,
                cut: t.cut,
                to_server: t.to_server.load(Ordering::SeqCst),
                to_client: t.to_client.load(Ordering::SeqCst),
                was_cut: t.was_cut.load(Ordering::SeqCst),
                ended: t.ended.load(Ordering::SeqCst),
            })
            .collect()
    }
}

impl Drop for CutProxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop so that it sees the flag.
        let _ = TcpStream::connect((HOST, self.port));
    }
}

fn accept_loop(listener: &TcpListener, target: u16, shared: &Arc<Shared>) {
    for client in listener.incoming() {
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(client) = client else { continue };
        let index = shared
            .records
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len();
        let cut = (shared.plan.lock().unwrap_or_else(PoisonError::into_inner))(index);
        let tracked = Arc::new(Tracked {
            index,
            client: Mutex::new(client.try_clone().ok()),
            cut,
            to_server: AtomicU64::new(0),
            to_client: AtomicU64::new(0),
            was_cut: AtomicBool::new(false),
            directions: AtomicUsize::new(2),
            stalled: AtomicBool::new(false),
            ended: AtomicBool::new(false),
        });
        shared
            .records
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Arc::clone(&tracked));
        if cut == Cut::Refuse {
            tracked.was_cut.store(true, Ordering::SeqCst);
            tracked.ended.store(true, Ordering::SeqCst);
            let _ = client.shutdown(Shutdown::Both);
            continue;
        }
        let Ok(server) = TcpStream::connect((HOST, target)) else {
            let _ = client.shutdown(Shutdown::Both);
            continue;
        };
        let _ = client.set_nodelay(true);
        let _ = server.set_nodelay(true);
        let (Ok(client2), Ok(server2)) = (client.try_clone(), server.try_clone()) else {
            continue;
        };
        let open = shared.open.fetch_add(1, Ordering::SeqCst) + 1;
        shared.most_open.fetch_max(open, Ordering::SeqCst);
        let (up, up_shared) = (Arc::clone(&tracked), Arc::clone(shared));
        let _ = thread::Builder::new()
            .name(format!("cut-proxy-up-{index}"))
            .spawn(move || {
                forward(client, server, &up, Direction::ToServer, Some(&up_shared));
                closed(&up, &up_shared);
            });
        let (down, down_shared) = (tracked, Arc::clone(shared));
        let _ = thread::Builder::new()
            .name(format!("cut-proxy-down-{index}"))
            .spawn(move || {
                forward(server2, client2, &down, Direction::ToClient, None);
                closed(&down, &down_shared);
            });
    }
}

/// Called as each direction of a connection ends: the second one closes the connection.
fn closed(tracked: &Tracked, shared: &Shared) {
    if tracked.directions.fetch_sub(1, Ordering::SeqCst) == 1 {
        shared.open.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Copies `from` to `to` until either end closes or the cut is reached; then closes both.
/// `hooked`: the proxy's state, where this direction runs its [`CutProxy::before_sending`] hook.
fn forward(
    mut from: TcpStream,
    mut to: TcpStream,
    tracked: &Tracked,
    direction: Direction,
    hooked: Option<&Shared>,
) {
    let mut buf = vec![0u8; 16 << 10];
    // The last bytes forwarded, so that a needle split between two reads is found.
    let mut tail = Vec::new();
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if let Some(shared) = hooked {
            run_hook(shared, &mut tail, &buf[..n]);
        }
        if tracked.stalled.load(Ordering::SeqCst) {
            continue;
        }
        let (allowed, cut_now) = budget(tracked, direction, n as u64);
        if allowed > 0 && to.write_all(&buf[..allowed as usize]).is_err() {
            break;
        }
        if cut_now {
            tracked.was_cut.store(true, Ordering::SeqCst);
            if matches!(tracked.cut, Cut::StallAfter { .. }) {
                // Swallow the rest until an end gives up on the connection.
                while matches!(from.read(&mut buf), Ok(n) if n > 0) {}
            }
            break;
        }
    }
    tracked.ended.store(true, Ordering::SeqCst);
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
}

/// Runs the hook if `tail` (kept here) followed by `bytes` holds its needle.
fn run_hook(shared: &Shared, tail: &mut Vec<u8>, bytes: &[u8]) {
    let mut slot = shared.hook.lock().unwrap_or_else(PoisonError::into_inner);
    let Some((needle, _)) = slot.as_ref() else {
        return;
    };
    tail.extend_from_slice(bytes);
    let found = needle.is_empty() || tail.windows(needle.len()).any(|w| w == needle.as_slice());
    let keep = needle.len().saturating_sub(1);
    tail.drain(..tail.len().saturating_sub(keep));
    if found && let Some((_, hook)) = slot.take() {
        drop(slot);
        hook();
    }
}

/// How many of `n` bytes just read may be forwarded, and whether the cut is reached; counts
/// the forwarded bytes.
fn budget(tracked: &Tracked, direction: Direction, n: u64) -> (u64, bool) {
    let counter = match direction {
        Direction::ToServer => &tracked.to_server,
        _ => &tracked.to_client,
    };
    let limit = match tracked.cut {
        Cut::After {
            bytes,
            direction: d,
        }
        | Cut::StallAfter {
            bytes,
            direction: d,
        } if d == direction || d == Direction::Both => Some((bytes, d)),
        _ => None,
    };
    let Some((bytes, counted)) = limit else {
        counter.fetch_add(n, Ordering::SeqCst);
        return (n, tracked.was_cut.load(Ordering::SeqCst));
    };
    let used = match counted {
        Direction::Both => {
            tracked.to_server.load(Ordering::SeqCst) + tracked.to_client.load(Ordering::SeqCst)
        }
        _ => counter.load(Ordering::SeqCst),
    };
    let allowed = n.min(bytes.saturating_sub(used));
    counter.fetch_add(allowed, Ordering::SeqCst);
    (allowed, allowed < n || used + allowed >= bytes)
}
