//! The cutting proxy forwards both ways and cuts at exactly the planned byte.

#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests panic on failure by design.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, Shutdown, TcpListener, TcpStream};
use std::thread;

use pimlink_testkit::{Cut, CutProxy, Direction};

/// A server that echoes every connection until it closes.
fn echo_server() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = stream.read(&mut buf) {
                    if n == 0 || stream.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            });
        }
    });
    port
}

/// Sends `bytes` through the proxy one write at a time and returns what came back before EOF.
fn round_trip(proxy: &CutProxy, bytes: usize) -> Vec<u8> {
    let mut stream = TcpStream::connect((proxy.host(), proxy.port())).unwrap();
    let mut back = Vec::new();
    let mut buf = [0u8; 4096];
    for chunk in vec![b'x'; bytes].chunks(100) {
        if stream.write_all(chunk).is_err() {
            break;
        }
        let mut got = 0;
        while got < chunk.len() {
            match stream.read(&mut buf) {
                Ok(0) | Err(_) => return back,
                Ok(n) => {
                    got += n;
                    back.extend_from_slice(&buf[..n]);
                }
            }
        }
    }
    let _ = stream.shutdown(Shutdown::Write);
    while let Ok(n) = stream.read(&mut buf) {
        if n == 0 {
            break;
        }
        back.extend_from_slice(&buf[..n]);
    }
    back
}

#[test]
fn cuts_at_the_planned_byte_in_either_direction_and_records_it() {
    let proxy = CutProxy::start(echo_server()).unwrap();
    assert_eq!(
        round_trip(&proxy, 1000).len(),
        1000,
        "no plan: everything passes"
    );
    let cuts = [
        Cut::After {
            bytes: 250,
            direction: Direction::ToClient,
        },
        Cut::After {
            bytes: 130,
            direction: Direction::ToServer,
        },
        Cut::Refuse,
    ];
    proxy.set_plan(move |index| cuts.get(index - 1).copied().unwrap_or(Cut::Never));
    assert_eq!(round_trip(&proxy, 1000).len(), 250);
    // 130 bytes reach the server; the echo of the last 30 may be cut off on the way back.
    let back = round_trip(&proxy, 1000).len();
    assert!((100..=130).contains(&back), "{back}");
    assert_eq!(round_trip(&proxy, 1000).len(), 0);
    assert_eq!(round_trip(&proxy, 1000).len(), 1000, "later ones pass");
    let records = proxy.connections();
    assert_eq!(records.len(), 5);
    assert_eq!(
        records.iter().map(|r| r.was_cut).collect::<Vec<_>>(),
        [false, true, true, true, false]
    );
    assert_eq!(records[1].to_client, 250);
    assert_eq!(records[2].to_server, 130);
}
