//! A small real HTTP/1.1 server for `make demo`: serves a page on the address given as argv\[1\]
//! (default 127.0.0.1:8089) and shuts down cleanly on SIGTERM or SIGINT, which dock forwards to it.
//! Exits 0 after a clean shutdown, so the demo shows dock passing the server's own status on.

// Not shipped: a panic is the failure report here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use nix::sys::signal::{SigSet, Signal};

fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8089".into());
    // Block the stop signals before any thread exists, then wait for them in main (sigwait(3)).
    let mut stop = SigSet::empty();
    stop.add(Signal::SIGTERM);
    stop.add(Signal::SIGINT);
    stop.thread_block()?;
    let listener = TcpListener::bind(&addr)?;
    eprintln!("httpd[{}]: listening on http://{addr}/", std::process::id());
    let served = Arc::new(AtomicUsize::new(0));
    let count = served.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            let _ = conn.set_read_timeout(Some(Duration::from_secs(5)));
            let mut buf = [0u8; 4096];
            let n = conn.read(&mut buf).unwrap_or(0);
            let head = String::from_utf8_lossy(&buf[..n]);
            let first = head.lines().next().unwrap_or("").to_string();
            let k = count.fetch_add(1, Ordering::SeqCst) + 1;
            let body = format!(
                "<h1>hello from pid {} behind dock</h1>\n<p>request {k}: {first}</p>\n",
                std::process::id()
            );
            let _ = write!(
                conn,
                "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\n\
                 Connection: close\r\n\r\n{body}",
                body.len()
            );
            eprintln!("httpd: served {first}");
        }
    });
    let sig = stop.wait()?;
    eprintln!(
        "httpd: {} received, shutting down after {} request(s)",
        sig.as_str(),
        served.load(Ordering::SeqCst)
    );
    Ok(())
}
