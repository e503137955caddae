//! A TCP listener on a free loopback port that hands each connection to its own thread, and
//! stops accepting when dropped: the frame of the small HTTP servers written for tests.

use std::io;
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;

use crate::net::HOST;

/// The listener's port and stop flag.
#[derive(Debug)]
pub(crate) struct LoopbackServer {
    port: u16,
    stop: Arc<AtomicBool>,
}

impl LoopbackServer {
    /// Listens, and runs `serve` on a thread named `name` for each connection.
    pub fn start(
        name: &str,
        serve: impl Fn(TcpStream) + Send + Sync + 'static,
    ) -> io::Result<Self> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        let port = listener.local_addr()?.port();
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        let serve = Arc::new(serve);
        let conn_name = format!("{name}-conn");
        thread::Builder::new().name(name.into()).spawn(move || {
            for stream in listener.incoming() {
                if stopping.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let serve = Arc::clone(&serve);
                let _ = thread::Builder::new()
                    .name(conn_name.clone())
                    .spawn(move || serve(stream));
            }
        })?;
        Ok(Self { port, stop })
    }

    pub fn port(&self) -> u16 {
        self.port
    }
}

impl Drop for LoopbackServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop so that it sees the flag.
        let _ = TcpStream::connect((HOST, self.port));
    }
}
