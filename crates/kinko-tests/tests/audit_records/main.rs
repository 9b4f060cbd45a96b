//! What each audit record says about its call, in CloudTrail's shape: the request parameters and
//! response elements of every action (`table`), and that no record of a whole workload holds a
//! secret value, a plaintext, a ciphertext, a secret access key, a session token or a password
//! (`scan`).

mod identities;
mod scan;
mod table;

use serde_json::Value;

/// The request id of an SDK output or error, whichever SDK it comes from.
macro_rules! request_id {
    ($r:expr) => {{
        use aws_sdk_secretsmanager::operation::RequestId as _;
        $r.request_id().expect("request id").to_owned()
    }};
}
pub(crate) use request_id;

/// The keys of a JSON object, sorted; none for `null`.
pub fn keys(v: &Value) -> Option<Vec<String>> {
    match v {
        Value::Null => None,
        Value::Object(m) => {
            let mut k: Vec<String> = m.keys().cloned().collect();
            k.sort();
            Some(k)
        }
        other => panic!("not an object: {other}"),
    }
}
