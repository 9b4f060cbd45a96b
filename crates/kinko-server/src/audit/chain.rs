//! The hash chain through the records: each record ends with its `sequence` number (counting every
//! record the log ever held, across files) and its `chain`, the hex SHA-256 of the previous
//! record's chain followed by the record's own bytes up to and including its sequence number. An
//! edited, removed, inserted or reordered line breaks the chain at that point; the sequence numbers
//! tell which of these happened.

use ring::digest;

/// Hex characters of a chain value.
pub(crate) const CHAIN_LEN: usize = 64;

/// The chain before the first record of a log.
pub(crate) const GENESIS: [u8; CHAIN_LEN] = [b'0'; CHAIN_LEN];

const SEQUENCE: &[u8] = b",\"sequence\":";
const CHAIN: &[u8] = b",\"chain\":\"";
const END: &[u8] = b"\"}";

/// Where the chain stands: the last record's sequence number and chain value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Link {
    pub sequence: u64,
    pub chain: [u8; CHAIN_LEN],
}

impl Link {
    pub(crate) const START: Link = Link {
        sequence: 0,
        chain: GENESIS,
    };

    pub(crate) fn chain_str(&self) -> &str {
        std::str::from_utf8(&self.chain).unwrap_or_default()
    }
}

/// Appends `record` (one JSON object) to `out` as the record after `prev`, with its sequence
/// number and chain, and a newline; returns the new link.
pub(crate) fn append(out: &mut Vec<u8>, record: &[u8], prev: &Link) -> Link {
    let start = out.len();
    // The object without its closing brace, then the sequence member.
    let body = record.strip_suffix(b"}").unwrap_or(record);
    out.extend_from_slice(body);
    out.extend_from_slice(SEQUENCE);
    let sequence = prev.sequence + 1;
    out.extend_from_slice(sequence.to_string().as_bytes());
    let chain = link(&prev.chain, &out[start..]);
    out.extend_from_slice(CHAIN);
    out.extend_from_slice(&chain);
    out.extend_from_slice(END);
    out.push(b'\n');
    Link { sequence, chain }
}

/// The chain value of a record whose bytes up to its sequence number are `prefix`, after `prev`.
pub(crate) fn link(prev: &[u8; CHAIN_LEN], prefix: &[u8]) -> [u8; CHAIN_LEN] {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(prev);
    ctx.update(prefix);
    hex(ctx.finish().as_ref())
}

/// Lower-case hex of a SHA-256 digest.
pub(crate) fn hex(bytes: &[u8]) -> [u8; CHAIN_LEN] {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = [b'0'; CHAIN_LEN];
    for (i, b) in bytes.iter().take(CHAIN_LEN / 2).enumerate() {
        out[2 * i] = DIGITS[usize::from(b >> 4)];
        out[2 * i + 1] = DIGITS[usize::from(b & 15)];
    }
    out
}

/// A record line as written: the bytes its chain covers, its sequence number and its chain.
pub(crate) struct Parsed<'a> {
    pub prefix: &'a [u8],
    pub link: Link,
}

/// Reads the sequence number and chain a line (without its newline) ends with; `None` when it
/// ends with neither (a line written before records were chained, or damaged).
pub(crate) fn parse(line: &[u8]) -> Option<Parsed<'_>> {
    let rest = line.strip_suffix(END)?;
    if rest.len() < CHAIN_LEN {
        return None;
    }
    let (rest, chain) = rest.split_at(rest.len() - CHAIN_LEN);
    let prefix = rest.strip_suffix(CHAIN)?;
    let at = prefix.windows(SEQUENCE.len()).rposition(|w| w == SEQUENCE)?;
    let digits = &prefix[at + SEQUENCE.len()..];
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let sequence = std::str::from_utf8(digits).ok()?.parse().ok()?;
    let chain: [u8; CHAIN_LEN] = chain.try_into().ok()?;
    if !chain
        .iter()
        .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(c))
    {
        return None;
    }
    Some(Parsed {
        prefix,
        link: Link { sequence, chain },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appended_records_parse_back_and_link() {
        let mut out = Vec::new();
        let first = append(&mut out, br#"{"a":"x,\"sequence\":9"}"#, &Link::START);
        let second = append(&mut out, br#"{"b":{"sequence":2}}"#, &first);
        assert_eq!((first.sequence, second.sequence), (1, 2));
        let lines: Vec<&[u8]> = out.split(|&b| b == b'\n').filter(|l| !l.is_empty()).collect();
        let p1 = parse(lines[0]).expect("first parses");
        let p2 = parse(lines[1]).expect("second parses");
        assert_eq!(p1.link, first);
        assert_eq!(p2.link, second);
        assert_eq!(link(&GENESIS, p1.prefix), first.chain);
        assert_eq!(link(&first.chain, p2.prefix), second.chain);
        let v: serde_json::Value = serde_json::from_slice(lines[1]).expect("JSON");
        assert_eq!(v["sequence"], 2);
        assert_eq!(v["chain"], second.chain_str());
        assert_eq!(v["b"]["sequence"], 2);
    }

    #[test]
    fn lines_without_a_chain_do_not_parse() {
        assert!(parse(br#"{"a":1}"#).is_none());
        assert!(parse(b"").is_none());
        assert!(parse(br#"{"sequence":x,"chain":"00"}"#).is_none());
    }
}
