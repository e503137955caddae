//! A tiny authoritative DNS server on a loopback UDP port, answering from a fixed table of
//! SRV, TXT and A records: enough for RFC 6764 discovery tests without touching the system's
//! resolver. Written by hand from RFC 1035 so that the client's DNS library is checked against
//! an independent encoder.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

/// One record the server answers with.
#[derive(Clone, Debug)]
pub enum DnsRecord {
    /// `NAME SRV priority weight port target`.
    Srv {
        /// The owner name, such as `_caldav._tcp.example.test`.
        name: String,
        /// Lower is preferred.
        priority: u16,
        /// Higher is preferred within one priority.
        weight: u16,
        /// The service's port.
        port: u16,
        /// The host name of the service (`.` for "not offered").
        target: String,
    },
    /// `NAME TXT "string"...`.
    Txt {
        /// The owner name.
        name: String,
        /// The character strings (each at most 255 bytes).
        strings: Vec<String>,
    },
    /// `NAME A address`.
    A {
        /// The owner name.
        name: String,
        /// The address.
        addr: Ipv4Addr,
    },
}

const TYPE_A: u16 = 1;
const TYPE_TXT: u16 = 16;
const TYPE_SRV: u16 = 33;

impl DnsRecord {
    fn name(&self) -> &str {
        match self {
            Self::Srv { name, .. } | Self::Txt { name, .. } | Self::A { name, .. } => name,
        }
    }

    fn rtype(&self) -> u16 {
        match self {
            Self::Srv { .. } => TYPE_SRV,
            Self::Txt { .. } => TYPE_TXT,
            Self::A { .. } => TYPE_A,
        }
    }

    fn rdata(&self) -> Vec<u8> {
        let mut out = Vec::new();
        match self {
            Self::Srv {
                priority,
                weight,
                port,
                target,
                ..
            } => {
                for n in [priority, weight, port] {
                    out.extend_from_slice(&n.to_be_bytes());
                }
                encode_name(target, &mut out);
            }
            Self::Txt { strings, .. } => {
                for s in strings {
                    let bytes = &s.as_bytes()[..s.len().min(255)];
                    out.push(bytes.len() as u8);
                    out.extend_from_slice(bytes);
                }
            }
            Self::A { addr, .. } => out.extend_from_slice(&addr.octets()),
        }
        out
    }
}

fn normalise(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

fn encode_name(name: &str, out: &mut Vec<u8>) {
    for label in name
        .trim_end_matches('.')
        .split('.')
        .filter(|l| !l.is_empty())
    {
        let label = &label.as_bytes()[..label.len().min(63)];
        out.push(label.len() as u8);
        out.extend_from_slice(label);
    }
    out.push(0);
}

/// The question of a query: its name (lower case, no trailing dot), type, and where the
/// question section ends.
fn question(query: &[u8]) -> Option<(String, u16, usize)> {
    if query.len() < 12 || u16::from_be_bytes([query[4], query[5]]) != 1 {
        return None;
    }
    let mut pos = 12;
    let mut labels = Vec::new();
    loop {
        let len = usize::from(*query.get(pos)?);
        pos += 1;
        if len == 0 {
            break;
        }
        // Queries never compress their only name; anything else is not ours to answer.
        if len > 63 {
            return None;
        }
        labels.push(String::from_utf8_lossy(query.get(pos..pos + len)?).to_ascii_lowercase());
        pos += len;
    }
    let qtype = u16::from_be_bytes([*query.get(pos)?, *query.get(pos + 1)?]);
    Some((labels.join("."), qtype, pos + 4))
}

fn answer(records: &[DnsRecord], query: &[u8]) -> Option<Vec<u8>> {
    let (name, qtype, end) = question(query)?;
    if query.len() < end {
        return None;
    }
    let matching: Vec<&DnsRecord> = records
        .iter()
        .filter(|r| normalise(r.name()) == name && r.rtype() == qtype)
        .collect();
    let known = records.iter().any(|r| normalise(r.name()) == name);
    let rcode: u16 = if known { 0 } else { 3 };
    let mut out = Vec::with_capacity(512);
    out.extend_from_slice(&query[0..2]);
    // QR, the query's opcode and RD, AA and RA set.
    let flags = 0x8000 | (u16::from_be_bytes([query[2], query[3]]) & 0x7900) | 0x0400 | 0x0080;
    out.extend_from_slice(&(flags | rcode).to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes());
    out.extend_from_slice(&(matching.len() as u16).to_be_bytes());
    out.extend_from_slice(&[0, 0, 0, 0]);
    out.extend_from_slice(&query[12..end]);
    for record in matching {
        // A pointer to the question's name at offset 12.
        out.extend_from_slice(&[0xc0, 12]);
        out.extend_from_slice(&record.rtype().to_be_bytes());
        out.extend_from_slice(&1u16.to_be_bytes());
        out.extend_from_slice(&60u32.to_be_bytes());
        let rdata = record.rdata();
        out.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        out.extend_from_slice(&rdata);
    }
    Some(out)
}

/// A running server; it stops when dropped.
#[derive(Debug)]
pub struct DnsServer {
    addr: SocketAddr,
    asked: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
}

impl DnsServer {
    /// Starts answering `records` on a random loopback UDP port. Unknown names get NXDOMAIN,
    /// known names asked for another type an empty answer.
    pub fn start(records: Vec<DnsRecord>) -> io::Result<Self> {
        let socket = UdpSocket::bind("127.0.0.1:0")?;
        socket.set_read_timeout(Some(Duration::from_millis(100)))?;
        let addr = socket.local_addr()?;
        let asked = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (log, flag) = (Arc::clone(&asked), Arc::clone(&stop));
        thread::spawn(move || {
            let mut buf = [0u8; 1500];
            while !flag.load(Ordering::Relaxed) {
                let Ok((len, from)) = socket.recv_from(&mut buf) else {
                    continue;
                };
                let query = &buf[..len];
                if let Some((name, qtype, _)) = question(query) {
                    log.lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push(format!("{name} {qtype}"));
                }
                if let Some(reply) = answer(&records, query) {
                    let _ = socket.send_to(&reply, from);
                }
            }
        });
        Ok(Self { addr, asked, stop })
    }

    /// Where the server listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The questions received so far, as `name type` (type as a number: 33 is SRV, 16 TXT,
    /// 1 A, 28 AAAA).
    pub fn asked(&self) -> Vec<String> {
        self.asked.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
