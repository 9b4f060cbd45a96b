//! Helpers shared by the integration tests: an owned request and a parser for the raw HTTP
//! requests of the AWS test suite.

#![allow(dead_code)]

use kinko_sigv4::Request;

/// An owned HTTP request that lends itself out as a [`Request`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnedRequest {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl OwnedRequest {
    pub fn with<R>(&self, f: impl FnOnce(&Request<'_>) -> R) -> R {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let req = Request {
            method: &self.method,
            path: &self.path,
            query: self.query.as_deref(),
            headers: &headers,
            body: &self.body,
        };
        f(&req)
    }

    /// Parses `METHOD path[?query] HTTP/1.1`, `Name:value` header lines (lines starting with
    /// whitespace continue the previous value, kept with their line break), a blank line and the
    /// body. Paths may contain raw spaces and UTF-8, as in the test suite.
    pub fn parse_http(text: &str) -> OwnedRequest {
        let (head, body) = match text.find("\n\n") {
            Some(i) => (&text[..i], &text[i + 2..]),
            None => (text.trim_end_matches('\n'), ""),
        };
        let mut lines = head.split('\n');
        let request_line = lines.next().expect("request line");
        let (method, rest) = request_line.split_once(' ').expect("method");
        let (target, version) = rest.rsplit_once(' ').expect("version");
        assert!(version.starts_with("HTTP/"), "{request_line}");
        let (path, query) = match target.split_once('?') {
            Some((p, q)) => (p.to_owned(), Some(q.to_owned())),
            None => (target.to_owned(), None),
        };
        let mut headers: Vec<(String, String)> = Vec::new();
        for line in lines {
            if line.starts_with([' ', '\t']) {
                let last = headers.last_mut().expect("continuation after a header");
                last.1.push('\n');
                last.1.push_str(line);
            } else {
                let (name, value) = line.split_once(':').expect("header line");
                headers.push((name.to_owned(), value.to_owned()));
            }
        }
        OwnedRequest {
            method: method.to_owned(),
            path,
            query,
            headers,
            body: body.as_bytes().to_vec(),
        }
    }
}

/// `s` with byte `i` XOR-ed with 1, if the result is still UTF-8.
pub fn flip(s: &str, i: usize) -> Option<String> {
    let mut bytes = s.as_bytes().to_vec();
    bytes[i] ^= 1;
    String::from_utf8(bytes).ok()
}
