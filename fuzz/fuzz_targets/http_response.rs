//! The hook's HTTP response parser on arbitrary bytes, fed in two pieces split at the first byte's
//! value, then closed: never panics, and agrees with feeding it all at once.
#![no_main]
use dock::hook::http::ResponseParser;
use libfuzzer_sys::fuzz_target;

fn run(parts: &[&[u8]]) -> Result<dock::hook::http::Response, dock::hook::http::HttpError> {
    let mut p = ResponseParser::new();
    for part in parts {
        if let Some(r) = p.feed(part)? {
            return Ok(r);
        }
    }
    p.eof()
}

fuzz_target!(|data: &[u8]| {
    let Some((&cut, rest)) = data.split_first() else {
        return;
    };
    let cut = usize::from(cut).min(rest.len());
    let (a, b) = rest.split_at(cut);
    assert_eq!(run(&[a, b]), run(&[rest]));
});
