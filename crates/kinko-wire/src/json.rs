//! AWS JSON 1.1: content type, error bodies, timestamp and blob members.

use serde::{Deserialize, Deserializer, Serializer};

use crate::WireError;

pub const CONTENT_TYPE: &str = "application/x-amz-json-1.1";

/// `{"__type":"Code","Message":"..."}` (or lowercase `message`).
pub fn error_body(e: &WireError) -> Vec<u8> {
    let key = if e.capital_message { "Message" } else { "message" };
    let mut m = serde_json::Map::new();
    m.insert("__type".into(), e.code.into());
    // Some errors (KMS's InvalidCiphertextException) carry no message member at all.
    if !e.message.is_empty() {
        m.insert(key.into(), e.message.clone().into());
    }
    serde_json::to_vec(&m).unwrap_or_else(|_| b"{}".to_vec())
}

/// Serializes a millisecond timestamp as epoch seconds with fractional milliseconds.
pub fn ser_timestamp<S: Serializer>(ms: &i64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(*ms as f64 / 1000.0)
}

pub fn ser_opt_timestamp<S: Serializer>(ms: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
    match ms {
        Some(ms) => ser_timestamp(ms, s),
        None => s.serialize_none(),
    }
}

/// Blob members are base64 strings in JSON.
pub mod blob {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;

    use super::*;

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        STANDARD
            .decode(s.as_bytes())
            .map_err(|_| serde::de::Error::custom("Invalid base64 in blob member"))
    }
}

/// Optional blob members.
pub mod opt_blob {
    use super::*;

    pub fn serialize<S: Serializer>(bytes: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
        match bytes {
            Some(b) => blob::serialize(b, s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<u8>>, D::Error> {
        #[derive(Deserialize)]
        struct W(#[serde(with = "blob")] Vec<u8>);
        Ok(Option::<W>::deserialize(d)?.map(|w| w.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies() {
        let e = WireError::modeled("ResourceNotFoundException", 400, "nope");
        let v: serde_json::Value = serde_json::from_slice(&error_body(&e)).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"__type": "ResourceNotFoundException", "Message": "nope"})
        );
        let e = WireError::new("UnrecognizedClientException", 400, "x");
        assert!(
            String::from_utf8(error_body(&e))
                .unwrap()
                .contains(r#""message":"x""#)
        );
    }
}
