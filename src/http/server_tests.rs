//! The server on a real loopback socket and a real mio loop, driven from a client thread.

use super::*;
use mio::{Events, Poll};
use std::io::{Read, Write};
use std::net::TcpStream as StdStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

const BASE: usize = 100;

/// Runs a server in a thread until `stop`; returns its address.
fn serve(stop: Arc<AtomicBool>) -> (SocketAddr, std::thread::JoinHandle<()>) {
    let poll = Poll::new().unwrap();
    let mut server = Server::bind("127.0.0.1:0".parse().unwrap(), poll.registry(), BASE).unwrap();
    let addr = server.local_addr();
    let handle = std::thread::spawn(move || {
        let mut poll = poll;
        let mut events = Events::with_capacity(64);
        let mut answer = |req: &request::Request| match req.path.as_str() {
            "/hello" => Response::text(200, "hello\n"),
            "/busy" => Response::text(503, "busy\n"),
            p => Response::not_found(p),
        };
        while !stop.load(Ordering::SeqCst) {
            poll.poll(&mut events, Some(Duration::from_millis(20)))
                .unwrap();
            for ev in events.iter() {
                assert!(server.owns(ev.token()));
                server.ready(ev.token(), poll.registry(), Instant::now(), &mut answer);
            }
            server.expire(poll.registry(), Instant::now());
        }
    });
    (addr, handle)
}

fn exchange(addr: SocketAddr, request: &[u8]) -> String {
    let mut c = StdStream::connect(addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    c.write_all(request).unwrap();
    let mut out = String::new();
    c.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn answers_closes_and_refuses_what_it_should() {
    let stop = Arc::new(AtomicBool::new(false));
    let (addr, handle) = serve(stop.clone());

    let ok = exchange(addr, b"GET /hello?x HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(
        ok,
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 6\r\n\
         Cache-Control: no-store\r\nConnection: close\r\n\r\nhello\n"
    );
    let head = exchange(addr, b"HEAD /hello HTTP/1.0\r\n\r\n");
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n") && head.contains("Content-Length: 6\r\n"));
    assert!(head.ends_with("\r\n\r\n"), "no body for HEAD: {head:?}");
    assert!(exchange(addr, b"GET /busy HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 503 "));
    assert!(exchange(addr, b"GET /nope HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 404 "));
    let post = exchange(addr, b"POST /hello HTTP/1.1\r\n\r\n");
    assert!(post.starts_with("HTTP/1.1 405 ") && post.contains("Allow: GET, HEAD\r\n"));
    assert!(exchange(addr, b"junk\r\n\r\n").starts_with("HTTP/1.1 400 "));
    let mut huge = b"GET /hello HTTP/1.1\r\nX: ".to_vec();
    huge.extend(vec![b'a'; 3 * request::MAX_HEAD]);
    assert!(exchange(addr, &huge).starts_with("HTTP/1.1 431 "));

    // A request sent a byte at a time is still answered.
    let mut slow = StdStream::connect(addr).unwrap();
    for b in b"GET /hello HTTP/1.1\r\n\r\n" {
        slow.write_all(&[*b]).unwrap();
        std::thread::sleep(Duration::from_millis(2));
    }
    let mut out = String::new();
    slow.read_to_string(&mut out).unwrap();
    assert!(out.ends_with("hello\n"), "{out:?}");

    stop.store(true, Ordering::SeqCst);
    handle.join().unwrap();
}

#[test]
fn silent_and_surplus_clients_cannot_starve_the_rest() {
    let stop = Arc::new(AtomicBool::new(false));
    let (addr, handle) = serve(stop.clone());
    // Twice the connection limit, all silent: the surplus is turned away, the rest time out.
    let silent: Vec<StdStream> = (0..2 * MAX_CONNECTIONS)
        .map(|_| StdStream::connect(addr).unwrap())
        .collect();
    let mut closed = 0;
    for mut s in silent {
        s.set_read_timeout(Some(IDLE_TIMEOUT * 3)).unwrap();
        let mut buf = [0u8; 16];
        // Closed by the server: EOF, or a reset for one turned away at accept; a read that
        // times out means the server forgot it.
        match s.read(&mut buf) {
            Ok(0) => closed += 1,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(_) => closed += 1,
            Ok(n) => panic!("{n} unexpected bytes"),
        }
    }
    assert_eq!(closed, 2 * MAX_CONNECTIONS, "every silent client is closed");
    assert!(exchange(addr, b"GET /hello HTTP/1.1\r\n\r\n").ends_with("hello\n"));
    stop.store(true, Ordering::SeqCst);
    handle.join().unwrap();
}
