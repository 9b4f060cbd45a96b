//! The Query protocol (IAM, STS): form-encoded parameters in, XML out.
//!
//! Lists arrive flattened (`Tags.member.1.Key=k&Tags.member.1.Value=v`, `PolicyArns.member.1.arn=..`),
//! responses are `<ActionResponse xmlns=..><ActionResult>..</ActionResult><ResponseMetadata>..`.

use std::collections::BTreeMap;

use crate::WireError;

/// The decoded parameters of a Query request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params(BTreeMap<String, String>);

impl Params {
    /// Decodes a form body (`application/x-www-form-urlencoded`). Each name may appear once: a
    /// repeated name (a second `Action`, say) is refused with [`invalid_query`] rather than
    /// resolved in favour of one of the values, which would let a part of a request the signer
    /// didn't mean override one they did.
    pub fn parse(body: &[u8]) -> Result<Params, WireError> {
        if std::str::from_utf8(body).is_err() {
            return Err(WireError::new(
                "MalformedQueryString",
                400,
                "The request body is not valid UTF-8.",
            ));
        }
        let mut params = BTreeMap::new();
        for (name, value) in form_urlencoded::parse(body).into_owned() {
            if params.insert(name, value).is_some() {
                return Err(invalid_query());
            }
        }
        Ok(Params(params))
    }

    pub fn action(&self) -> Option<&str> {
        self.get("Action")
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// `prefix.member.1`, `prefix.member.2`, ... in index order (stops at the first gap). An empty
    /// list is sent as `prefix=` and yields `Some(vec![])`; an absent list yields `None`.
    pub fn list(&self, prefix: &str) -> Option<Vec<String>> {
        let mut out = Vec::new();
        for i in 1.. {
            match self.0.get(&format!("{prefix}.member.{i}")) {
                Some(v) => out.push(v.clone()),
                None => break,
            }
        }
        if out.is_empty() && !self.0.contains_key(prefix) {
            return None;
        }
        Some(out)
    }

    /// A list of structures: `prefix.member.N.Field` → one map of fields per element.
    pub fn struct_list(&self, prefix: &str) -> Option<Vec<BTreeMap<String, String>>> {
        let mut out = Vec::new();
        for i in 1.. {
            let head = format!("{prefix}.member.{i}.");
            let fields: BTreeMap<String, String> = self
                .0
                .range(head.clone()..)
                .take_while(|(k, _)| k.starts_with(&head))
                .map(|(k, v)| (k[head.len()..].to_owned(), v.clone()))
                .collect();
            if fields.is_empty() {
                break;
            }
            out.push(fields);
        }
        if out.is_empty() && !self.0.contains_key(prefix) {
            return None;
        }
        Some(out)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }
}

/// AWS's Query-protocol error for a query that doesn't follow its rules (a repeated parameter,
/// parameters outside what a presigned URL signed): `InvalidQueryParameter`, 400, with the text of
/// the "Common Errors" page of the IAM and STS API references.
pub fn invalid_query() -> WireError {
    WireError::new(
        "InvalidQueryParameter",
        400,
        "The AWS query string is malformed or does not adhere to AWS standards.",
    )
}

/// Text for an XML element or attribute: markup characters escaped, and the characters XML 1.0
/// cannot carry at all, even as references (control characters other than tab, line feed and
/// carriage return; U+FFFE, U+FFFF), replaced with U+FFFD so that a message echoing a client's
/// value keeps the response well-formed.
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\t' | '\n' | '\r' => out.push(c),
            '\u{0}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}' => out.push('\u{fffd}'),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// A small XML writer for Query responses.
#[derive(Debug, Default)]
pub struct Xml {
    buf: String,
}

impl Xml {
    /// Starts `<{action}Response xmlns="{xmlns}"><{action}Result>`.
    pub fn response(action: &str, xmlns: &str) -> Xml {
        let mut x = Xml::default();
        x.buf
            .push_str(&format!("<{action}Response xmlns=\"{xmlns}\"><{action}Result>"));
        x
    }

    pub fn open(&mut self, tag: &str) -> &mut Self {
        self.buf.push('<');
        self.buf.push_str(tag);
        self.buf.push('>');
        self
    }

    pub fn close(&mut self, tag: &str) -> &mut Self {
        self.buf.push_str("</");
        self.buf.push_str(tag);
        self.buf.push('>');
        self
    }

    /// `<tag>text</tag>`, text escaped.
    pub fn elem(&mut self, tag: &str, text: &str) -> &mut Self {
        self.open(tag);
        self.buf.push_str(&xml_escape(text));
        self.close(tag)
    }

    pub fn opt(&mut self, tag: &str, text: Option<&str>) -> &mut Self {
        if let Some(t) = text {
            self.elem(tag, t);
        }
        self
    }

    /// Ends the result and adds the response metadata.
    pub fn finish(mut self, action: &str, request_id: &str) -> String {
        self.buf.push_str(&format!(
            "</{action}Result><ResponseMetadata><RequestId>{}</RequestId></ResponseMetadata></{action}Response>",
            xml_escape(request_id)
        ));
        self.buf
    }
}

/// A Query timestamp: ISO 8601 UTC with milliseconds (`2019-07-15T23:28:33.359Z`).
pub fn timestamp(ms: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    t.format(format).unwrap_or_default()
}

/// `<ErrorResponse><Error><Type>Sender</Type><Code>..</Code><Message>..</Message></Error><RequestId>..`
pub fn error_body(e: &WireError, xmlns: &str, request_id: &str) -> String {
    let kind = if e.status >= 500 { "Receiver" } else { "Sender" };
    format!(
        "<ErrorResponse xmlns=\"{xmlns}\"><Error><Type>{kind}</Type><Code>{}</Code><Message>{}</Message></Error><RequestId>{}</RequestId></ErrorResponse>",
        xml_escape(e.code),
        xml_escape(&e.message),
        xml_escape(request_id)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_and_structs() {
        let p = Params::parse(
            b"Action=CreateUser&Tags.member.1.Key=a&Tags.member.1.Value=1&Tags.member.2.Key=b&Tags.member.2.Value=2&PolicyArns.member.1.arn=x&Empty=",
        )
        .unwrap();
        assert_eq!(p.action(), Some("CreateUser"));
        let tags = p.struct_list("Tags").unwrap();
        assert_eq!(tags.len(), 2);
        assert_eq!(tags[1]["Key"], "b");
        assert_eq!(p.struct_list("PolicyArns").unwrap()[0]["arn"], "x");
        assert_eq!(p.list("Empty"), Some(vec![]));
        assert_eq!(p.list("Missing"), None);
    }

    #[test]
    fn repeated_names_are_refused() {
        for body in [
            &b"Action=GetCallerIdentity&Action=GetSessionToken"[..],
            b"Action=ListUsers&MaxItems=1&MaxItems=1",
            b"Action=ListUsers&Marker=&Marker=",
            b"Action=ListUsers&Max%49tems=1&MaxItems=2",
        ] {
            assert_eq!(Params::parse(body), Err(invalid_query()), "{body:?}");
        }
        // Names differing in case are different parameters.
        let p = Params::parse(b"Action=ListUsers&action=x").unwrap();
        assert_eq!(p.action(), Some("ListUsers"));
    }

    #[test]
    fn xml_and_time() {
        let mut x = Xml::response("GetUser", "https://iam.amazonaws.com/doc/2010-05-08/");
        x.open("User").elem("UserName", "a<b").close("User");
        let s = x.finish("GetUser", "r1");
        assert!(s.contains("<UserName>a&lt;b</UserName>"));
        assert_eq!(
            xml_escape("a\u{0}b\tc\u{1b}\u{fffe}'\""),
            "a\u{fffd}b\tc\u{fffd}\u{fffd}&apos;&quot;"
        );
        assert!(s.ends_with("</GetUserResponse>"));
        assert_eq!(timestamp(1_563_233_313_359), "2019-07-15T23:28:33.359Z");
    }
}
