//! `fetch HOST:PORT [PATH]`: GET a page over HTTP/1.1 and print the body, retrying the connection
//! for up to 10 s while the server starts. Used by `make demo` (no curl needed).

// Not shipped: a panic is the failure report here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

fn main() {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:8089".into());
    let path = args.next().unwrap_or_else(|| "/".into());
    let end = Instant::now() + Duration::from_secs(10);
    let mut conn = loop {
        match TcpStream::connect(&addr) {
            Ok(c) => break c,
            Err(e) if Instant::now() < end => {
                let _ = e;
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => {
                eprintln!("fetch: {addr}: {e}");
                std::process::exit(1);
            }
        }
    };
    let req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    let mut resp = String::new();
    if let Err(e) = conn
        .write_all(req.as_bytes())
        .and_then(|_| conn.read_to_string(&mut resp).map(|_| ()))
    {
        eprintln!("fetch: {addr}: {e}");
        std::process::exit(1);
    }
    let body = resp.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or(&resp);
    print!("{body}");
}
