//! The request side of HTTP/1.x, as much as probes and scrapers need (pure).
//!
//! Only the request line matters: the method (GET or HEAD) and the path. Headers are skipped,
//! bodies are not read (a probe sends none), and every response closes the connection, so there
//! is no keep-alive or pipelining state to get wrong.

/// The most a request head may take; a probe's is ~100 bytes, a browser's under 2 KiB.
pub const MAX_HEAD: usize = 8 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// HEAD: the same status and headers as GET, without the body.
    pub head_only: bool,
    /// The path without its query string (`/metrics?x=1` is `/metrics`).
    pub path: String,
}

/// Why a request is refused, with the status code it gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// 400: not an HTTP/1.x request line.
    Malformed,
    /// 405: a method other than GET or HEAD.
    Method,
    /// 431: the head did not end within `MAX_HEAD` bytes.
    TooLarge,
    /// 505: HTTP/2 prior knowledge or an unknown version.
    Version,
}

impl Error {
    pub fn status(self) -> u16 {
        match self {
            Error::Malformed => 400,
            Error::Method => 405,
            Error::TooLarge => 431,
            Error::Version => 505,
        }
    }
}

/// The request in `buf` once its head is complete (`Ok(None)` until then).
pub fn parse(buf: &[u8]) -> Result<Option<Request>, Error> {
    let Some(end) = find(buf, b"\r\n\r\n").or_else(|| find(buf, b"\n\n")) else {
        return if buf.len() >= MAX_HEAD {
            Err(Error::TooLarge)
        } else {
            Ok(None)
        };
    };
    if end > MAX_HEAD {
        return Err(Error::TooLarge);
    }
    let head = &buf[..end];
    let line_end = find(head, b"\n").unwrap_or(head.len());
    let line = std::str::from_utf8(&head[..line_end]).map_err(|_| Error::Malformed)?;
    let mut words = line.trim_end_matches('\r').split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (words.next(), words.next(), words.next(), words.next())
    else {
        return Err(Error::Malformed);
    };
    if !version.starts_with("HTTP/") {
        return Err(Error::Malformed);
    }
    if version != "HTTP/1.1" && version != "HTTP/1.0" {
        return Err(Error::Version);
    }
    if !target.starts_with('/') {
        return Err(Error::Malformed);
    }
    let head_only = match method {
        "GET" => false,
        "HEAD" => true,
        m if !m.is_empty() && m.bytes().all(|b| b.is_ascii_uppercase()) => {
            return Err(Error::Method)
        }
        _ => return Err(Error::Malformed),
    };
    let path = target.split(['?', '#']).next().unwrap_or("/").to_string();
    Ok(Some(Request { head_only, path }))
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> Request {
        parse(text.as_bytes()).unwrap().unwrap()
    }

    #[test]
    fn probes_and_scrapers() {
        let r = ok("GET /readyz HTTP/1.1\r\nHost: x\r\nUser-Agent: kube-probe/1.30\r\n\r\n");
        assert_eq!((r.head_only, r.path.as_str()), (false, "/readyz"));
        let r = ok("HEAD /metrics?name[]=x HTTP/1.0\r\n\r\n");
        assert_eq!((r.head_only, r.path.as_str()), (true, "/metrics"));
        // netcat users type bare newlines.
        assert_eq!(ok("GET /livez HTTP/1.1\n\n").path, "/livez");
    }

    #[test]
    fn incomplete_heads_wait() {
        for part in [
            "",
            "GET",
            "GET /livez HTTP/1.1\r\n",
            "GET /livez HTTP/1.1\r\nHost: x\r\n",
        ] {
            assert_eq!(parse(part.as_bytes()), Ok(None), "{part:?}");
        }
    }

    #[test]
    fn refusals_carry_their_status() {
        let cases: &[(&[u8], Error)] = &[
            (b"POST /livez HTTP/1.1\r\n\r\n", Error::Method),
            (b"DELETE / HTTP/1.1\r\n\r\n", Error::Method),
            (b"GET /livez HTTP/2.0\r\n\r\n", Error::Version),
            (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", Error::Version),
            (b"GET /livez\r\n\r\n", Error::Malformed),
            (b"GET  /livez HTTP/1.1\r\n\r\n", Error::Malformed),
            (b"GET livez HTTP/1.1\r\n\r\n", Error::Malformed),
            (b"get /livez HTTP/1.1\r\n\r\n", Error::Malformed),
            (b"GET /livez FTP/1.1\r\n\r\n", Error::Malformed),
            (b"GET /\xff HTTP/1.1\r\n\r\n", Error::Malformed),
            (
                b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\n\n",
                Error::Malformed,
            ),
        ];
        for (input, want) in cases {
            assert_eq!(
                parse(input),
                Err(*want),
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
        let endless = vec![b'a'; MAX_HEAD];
        assert_eq!(parse(&endless), Err(Error::TooLarge));
        let mut long = b"GET / HTTP/1.1\r\nX: ".to_vec();
        long.extend(vec![b'a'; MAX_HEAD]);
        long.extend(b"\r\n\r\n");
        assert_eq!(parse(&long), Err(Error::TooLarge));
        assert_eq!(
            [400, 405, 431, 505],
            [
                Error::Malformed,
                Error::Method,
                Error::TooLarge,
                Error::Version
            ]
            .map(Error::status)
        );
    }
}
