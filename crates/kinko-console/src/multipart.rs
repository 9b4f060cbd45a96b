//! `multipart/form-data` bodies (RFC 7578): what a browser sends for a form with a file input,
//! the one way to upload a file without a script. The body is read whole (its size bounded by
//! the route) and split at its boundary; a part with a `filename` is a file, any other a field.

/// A file a form sent: its input's name, the file's name as the browser gave it, and its bytes.
pub(crate) struct Upload {
    pub name: String,
    pub file_name: String,
    pub bytes: Vec<u8>,
}

/// A form's fields (in order) and its files.
pub(crate) struct Parts {
    pub fields: Vec<(String, String)>,
    pub files: Vec<Upload>,
}

/// The boundary of a `multipart/form-data` content type, or `None` for any other type.
pub(crate) fn boundary(content_type: &str) -> Option<String> {
    let mut params = content_type.split(';');
    if !params.next()?.trim().eq_ignore_ascii_case("multipart/form-data") {
        return None;
    }
    params.find_map(|p| {
        let (k, v) = p.trim().split_once('=')?;
        k.trim().eq_ignore_ascii_case("boundary").then(|| {
            let v = v.trim();
            v.strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(v)
                .to_owned()
        })
    })
}

/// The parts of `body`, or `None` when it is not a well-formed multipart body with `boundary`.
pub(crate) fn parse(body: &[u8], boundary: &str) -> Option<Parts> {
    // RFC 2046: a boundary is 1 to 70 characters.
    if boundary.is_empty() || boundary.len() > 70 {
        return None;
    }
    let delimiter = format!("--{boundary}");
    let between = format!("\r\n--{boundary}");
    let mut parts = Parts {
        fields: Vec::new(),
        files: Vec::new(),
    };
    // The first delimiter (after a preamble, which is ignored).
    let mut at = find(body, delimiter.as_bytes(), 0)? + delimiter.len();
    loop {
        let rest = body.get(at..)?;
        if rest.starts_with(b"--") {
            return Some(parts);
        }
        // Transport padding, then the line break that ends the delimiter's line.
        let line_end = find(body, b"\r\n", at)?;
        if body[at..line_end].iter().any(|b| *b != b' ' && *b != b'\t') {
            return None;
        }
        let headers_start = line_end + 2;
        let headers_end = find(body, b"\r\n\r\n", headers_start)?;
        let headers = std::str::from_utf8(&body[headers_start..headers_end]).ok()?;
        let content_start = headers_end + 4;
        let content_end = find(body, between.as_bytes(), content_start)?;
        let content = &body[content_start..content_end];
        let (name, file_name) = disposition(headers)?;
        match file_name {
            Some(file_name) => parts.files.push(Upload {
                name,
                file_name,
                bytes: content.to_vec(),
            }),
            None => parts
                .fields
                .push((name, String::from_utf8_lossy(content).into_owned())),
        }
        at = content_end + between.len();
    }
}

/// The `name` and `filename` of a part's `Content-Disposition: form-data` header.
fn disposition(headers: &str) -> Option<(String, Option<String>)> {
    let value = headers.split("\r\n").find_map(|line| {
        let (k, v) = line.split_once(':')?;
        k.trim().eq_ignore_ascii_case("content-disposition").then_some(v)
    })?;
    let mut params = value.split(';');
    if !params.next()?.trim().eq_ignore_ascii_case("form-data") {
        return None;
    }
    let (mut name, mut file_name) = (None, None);
    for p in params {
        let Some((k, v)) = p.trim().split_once('=') else {
            continue;
        };
        let v = v.trim();
        // Browsers quote both and escape a quote in them as `%22` (the HTML standard's
        // encoding of form-data names), which is left as it is: the console's own names have none.
        let v = v
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(v)
            .to_owned();
        match k.trim().to_ascii_lowercase().as_str() {
            "name" => name = Some(v),
            "filename" => file_name = Some(v),
            _ => {}
        }
    }
    Some((name?, file_name))
}

/// Where `needle` first occurs in `haystack` from `from`.
fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    haystack
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_boundary_of_a_form_data_type() {
        assert_eq!(
            boundary("multipart/form-data; boundary=----WebKitFormBoundaryx7").as_deref(),
            Some("----WebKitFormBoundaryx7")
        );
        assert_eq!(
            boundary("Multipart/Form-Data; charset=utf-8; Boundary=\"a b\"").as_deref(),
            Some("a b")
        );
        assert_eq!(boundary("application/x-www-form-urlencoded"), None);
        assert_eq!(boundary("multipart/form-data"), None);
    }

    #[test]
    fn fields_and_files_as_a_browser_sends_them() {
        let body = b"preamble\r\n--XyZ\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\ntok\r\n\
--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n\x00\xff\r\n--X\r\n\
--XyZ\r\nContent-Disposition: form-data; name=\"empty\"; filename=\"\"\r\n\r\n\r\n\
--XyZ\r\ncontent-disposition: form-data; name=\"text\"\r\n\r\nline 1\r\nline 2\r\n--XyZ--\r\n";
        let parts = parse(body, "XyZ").expect("parsed");
        assert_eq!(
            parts.fields,
            vec![
                ("csrf".to_owned(), "tok".to_owned()),
                ("text".to_owned(), "line 1\r\nline 2".to_owned())
            ]
        );
        assert_eq!(parts.files.len(), 2);
        assert_eq!(parts.files[0].name, "file");
        assert_eq!(parts.files[0].file_name, "a.bin");
        assert_eq!(parts.files[0].bytes, b"\x00\xff\r\n--X");
        assert_eq!(parts.files[1].file_name, "");
        assert!(parts.files[1].bytes.is_empty());
    }

    #[test]
    fn a_malformed_body_is_none() {
        assert!(
            parse(
                b"--XyZ\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nno end",
                "XyZ"
            )
            .is_none()
        );
        assert!(parse(b"--XyZ\r\nContent-Type: text/plain\r\n\r\nx\r\n--XyZ--", "XyZ").is_none());
        assert!(parse(b"no delimiter", "XyZ").is_none());
        assert!(parse(b"--XyZ--", "").is_none());
    }
}
