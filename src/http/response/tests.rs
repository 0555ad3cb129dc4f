//! The response parser on every split of each input, chunked framing limits included.

use super::*;

/// Feeds `input` split at `cut` and once more byte by byte; both must agree with `want`.
fn check_splits(input: &[u8], close: bool, want: Result<Response, HttpError>) {
    let run = |parts: &mut dyn Iterator<Item = &[u8]>| -> Result<Response, HttpError> {
        let mut p = ResponseParser::new();
        for part in parts {
            if let Some(r) = p.feed(part)? {
                return Ok(r);
            }
        }
        if close {
            p.eof()
        } else {
            Err(HttpError::Truncated)
        }
    };
    for cut in 0..=input.len() {
        let (a, b) = input.split_at(cut);
        assert_eq!(
            run(&mut [a, b].into_iter()),
            want,
            "split at {cut}: {:?}",
            String::from_utf8_lossy(input)
        );
    }
    assert_eq!(run(&mut input.chunks(1)), want, "byte by byte");
}

fn ok(code: u16, reason: &str) -> Result<Response, HttpError> {
    Ok(Response {
        code,
        reason: reason.into(),
    })
}

#[test]
fn content_length_body() {
    check_splits(
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
        false,
        ok(200, "OK"),
    );
    check_splits(
        b"HTTP/1.1 201 Created\r\ncontent-length: 0\r\n\r\n",
        false,
        ok(201, "Created"),
    );
    check_splits(
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel",
        true,
        Err(HttpError::Truncated),
    );
    check_splits(
        b"HTTP/1.1 500 Oops\r\nContent-Length: 1\r\n\r\nxTRAILING GARBAGE",
        false,
        ok(500, "Oops"),
    );
}

#[test]
fn chunked_body() {
    check_splits(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
          5;ext=1\r\nhello\r\nA\r\n0123456789\r\n0\r\nX-Trailer: y\r\n\r\n",
        false,
        ok(200, "OK"),
    );
    check_splits(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\nContent-Length: 99\r\n\r\n0\r\n\r\n",
        false,
        ok(200, "OK"),
    );
    check_splits(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX",
        true,
        Err(HttpError::Chunked),
    );
    check_splits(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        true,
        Err(HttpError::Chunked),
    );
    check_splits(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n",
        true,
        Err(HttpError::Truncated),
    );
}

/// Each size line and the trailer section are bounded on their own, not all the framing
/// together: 20,000 one-byte chunks (100 kB of framing) are a valid body.
#[test]
fn many_chunks_are_fine_one_long_line_is_not() {
    let head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    let mut many = head.clone();
    for _ in 0..20_000 {
        many.extend_from_slice(b"1\r\nx\r\n");
    }
    many.extend_from_slice(b"0\r\n\r\n");
    let mut p = ResponseParser::new();
    assert_eq!(p.feed(&many), ok(200, "OK").map(Some));
    let mut p = ResponseParser::new();
    let got = many.chunks(7).find_map(|c| p.feed(c).transpose());
    assert_eq!(got, Some(ok(200, "OK")));

    // A size line of exactly MAX_HEAD bytes (CRLF included) passes; one byte more does not.
    let line = |len: usize| {
        let mut b = head.clone();
        b.extend_from_slice(b"1;");
        b.extend(std::iter::repeat_n(b'e', len - 4));
        b.extend_from_slice(b"\r\nx\r\n0\r\n\r\n");
        b
    };
    assert_eq!(
        ResponseParser::new().feed(&line(MAX_HEAD)),
        ok(200, "OK").map(Some)
    );
    assert_eq!(
        ResponseParser::new().feed(&line(MAX_HEAD + 1)),
        Err(HttpError::Chunked)
    );

    // The trailer section: bounded as a whole, however many lines it has.
    let trailers = |n: usize| {
        let mut b = head.clone();
        b.extend_from_slice(b"0\r\n");
        for _ in 0..n {
            b.extend_from_slice(b"X-T: 0123456789\r\n");
        }
        b.extend_from_slice(b"\r\n");
        b
    };
    assert_eq!(
        ResponseParser::new().feed(&trailers(10)),
        ok(200, "OK").map(Some)
    );
    assert_eq!(
        ResponseParser::new().feed(&trailers(MAX_HEAD / 17 + 1)),
        Err(HttpError::Chunked)
    );
}

#[test]
fn close_delimited_and_no_body() {
    check_splits(
        b"HTTP/1.0 200 OK\r\nServer: x\r\n\r\nanything at all",
        true,
        ok(200, "OK"),
    );
    check_splits(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nzzz",
        true,
        ok(200, "OK"),
    );
    check_splits(
        b"HTTP/1.1 204 No Content\r\n\r\n",
        false,
        ok(204, "No Content"),
    );
    check_splits(
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
        false,
        ok(200, "OK"),
    );
    check_splits(b"HTTP/1.1 200 OK\r\n", true, Err(HttpError::Truncated));
}

#[test]
fn malformed_heads() {
    let mut p = ResponseParser::new();
    assert!(matches!(
        p.feed(b"HTTX/1.1 200 OK\r\n\r\n"),
        Err(HttpError::Head(_))
    ));
    let mut p = ResponseParser::new();
    assert_eq!(
        p.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"),
        Err(HttpError::ContentLength)
    );
    let mut p = ResponseParser::new();
    let mut long = b"HTTP/1.1 200 OK\r\nX: ".to_vec();
    long.extend(vec![b'a'; MAX_HEAD]);
    assert_eq!(p.feed(&long), Err(HttpError::HeadTooLong));
    let mut many = b"HTTP/1.1 200 OK\r\n".to_vec();
    for i in 0..=MAX_HEADERS {
        many.extend(format!("X-{i}: y\r\n").bytes());
    }
    many.extend(b"\r\n");
    let mut p = ResponseParser::new();
    assert!(matches!(p.feed(&many), Err(HttpError::Head(_))));
    assert!(ok(299, "").unwrap().success() && !ok(300, "").unwrap().success());
}
