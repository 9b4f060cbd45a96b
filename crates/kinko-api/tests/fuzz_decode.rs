//! Bounded fuzzing of the Secrets Manager request path: decoding, validation, resolution and the
//! operations behind `kinko_api::secretsmanager::handle`, over a real (in-memory) SQLite store.
//!
//! Inputs: arbitrary bytes, arbitrary JSON (objects with the real member names and random-typed
//! values, huge strings, deep nesting, non-UTF-8, numbers at the i64/f64 extremes and beyond) and
//! mutated valid requests, sent to every operation name and to unknown ones.
//!
//! Properties, for every call:
//! - `handle` never panics;
//! - an error is a client error (status 400..=499): a 5xx is a failure;
//! - a successful answer is a JSON object;
//! - a failed call leaves the store unchanged (all secrets with their versions, tags, policies and
//!   revisions, and all KMS key material, compared before and after).
//!
//! Each property runs 2,000 cases by default (the whole file takes well under a minute in debug).
//! To run longer, set `KINKO_FUZZ_CASES`, preferably in release mode, e.g.:
//!
//! ```text
//! KINKO_FUZZ_CASES=200000 cargo test -p kinko-api --release --test fuzz_decode -- --nocapture
//! ```
//!
//! Failing inputs are shrunk and printed; nothing is written to disk (no regression files).

use std::cell::{Cell, Ref, RefCell};
use std::io::Write as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use kinko_api::secretsmanager::handle;
use kinko_api::{Keyring, RequestContext, Services};
use kinko_core::principal::Principal;
use kinko_core::secret::Secret;
use kinko_core::store::Store;
use kinko_store_sqlite::SqliteStore;
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Value, json};

const ACCOUNT: &str = "000000000000";
const REGION: &str = "us-east-1";
const DEFAULT_CASES: u32 = 2_000;
/// Calls on one store before starting over with a fresh one (keeps long runs from slowing down as
/// fuzzed calls pile up secrets and versions).
const CALLS_PER_STORE: u32 = 500;

/// Every operation `handle` knows, those it refuses as unsupported, and names it doesn't know.
const OPERATIONS: &[&str] = &[
    "CreateSecret",
    "GetSecretValue",
    "BatchGetSecretValue",
    "PutSecretValue",
    "UpdateSecret",
    "DescribeSecret",
    "ListSecrets",
    "ListSecretVersionIds",
    "DeleteSecret",
    "RestoreSecret",
    "UpdateSecretVersionStage",
    "TagResource",
    "UntagResource",
    "GetRandomPassword",
    "PutResourcePolicy",
    "GetResourcePolicy",
    "DeleteResourcePolicy",
    "ValidateResourcePolicy",
    "RotateSecret",
    "CancelRotateSecret",
    "ReplicateSecretToRegions",
    "RemoveRegionsFromReplication",
    "StopReplicationToReplica",
    "",
    "createsecret",
    "CreateSecret ",
    "secretsmanager.CreateSecret",
    "Frobnicate",
];

/// Every input member name of every operation (and of their nested shapes).
const MEMBERS: &[&str] = &[
    "Name",
    "ClientRequestToken",
    "Description",
    "KmsKeyId",
    "SecretBinary",
    "SecretString",
    "Tags",
    "AddReplicaRegions",
    "ForceOverwriteReplicaSecret",
    "Type",
    "SecretId",
    "RecoveryWindowInDays",
    "ForceDeleteWithoutRecovery",
    "PasswordLength",
    "ExcludeCharacters",
    "ExcludeNumbers",
    "ExcludePunctuation",
    "ExcludeUppercase",
    "ExcludeLowercase",
    "IncludeSpace",
    "RequireEachIncludedType",
    "VersionId",
    "VersionStage",
    "VersionStages",
    "SecretIdList",
    "Filters",
    "MaxResults",
    "NextToken",
    "IncludeDeprecated",
    "IncludePlannedDeletion",
    "SortOrder",
    "SortBy",
    "RotationToken",
    "RemoveFromVersionId",
    "MoveToVersionId",
    "ResourcePolicy",
    "BlockPublicPolicy",
    "TagKeys",
    "Key",
    "Value",
    "Values",
    "Region",
];

const SEED_STRING: &str = "fuzz-seed-string";
const SEED_BINARY: &str = "fuzz-seed-binary";
const SEED_EMPTY: &str = "fuzz/seed-empty@x+y=z.w";
const SEED_STRING_TOKEN: &str = "00000000-0000-4000-8000-000000000001";
const SEED_BINARY_TOKEN: &str = "00000000-0000-4000-8000-000000000002";

const POLICY: &str = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:root"},"Action":"secretsmanager:GetSecretValue","Resource":"*"}]}"#;
const PUBLIC_POLICY: &str = r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"secretsmanager:*","Resource":"*"}}"#;

// ---------------------------------------------------------------------------------------------
// Arbitrary JSON, rendered by hand so it can hold what `serde_json::Value` can't: raw number text
// beyond i64/u64/f64, raw non-UTF-8 bytes inside strings, nesting deeper than any parser allows.

#[derive(Debug, Clone)]
enum J {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    /// Number-ish text written as is (may be invalid JSON).
    Raw(String),
    Str(String),
    /// A string of `n` copies of one character.
    Huge(char, usize),
    /// Raw bytes between quotes: non-UTF-8, control characters, bad escapes.
    Bad(Vec<u8>),
    Arr(Vec<J>),
    Obj(Vec<(String, J)>),
    /// `depth` nested arrays (true) or objects (false).
    Deep(usize, bool),
}

impl J {
    fn from_value(v: &Value) -> J {
        match v {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
                (Some(i), _, _) => J::Int(i),
                (_, Some(u), _) => J::UInt(u),
                (_, _, Some(f)) => J::Float(f),
                _ => J::Raw(n.to_string()),
            },
            Value::String(s) => J::Str(s.clone()),
            Value::Array(a) => J::Arr(a.iter().map(J::from_value).collect()),
            Value::Object(o) => J::Obj(o.iter().map(|(k, v)| (k.clone(), J::from_value(v))).collect()),
        }
    }

    fn render(&self, out: &mut Vec<u8>) {
        match self {
            J::Null => out.extend_from_slice(b"null"),
            J::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
            J::Int(i) => out.extend_from_slice(i.to_string().as_bytes()),
            J::UInt(u) => out.extend_from_slice(u.to_string().as_bytes()),
            J::Float(f) => {
                if f.is_finite() {
                    out.extend_from_slice(format!("{f:?}").as_bytes());
                } else {
                    out.extend_from_slice(b"1e999");
                }
            }
            J::Raw(s) => out.extend_from_slice(s.as_bytes()),
            J::Str(s) => out.extend_from_slice(&serde_json::to_vec(s).unwrap_or_default()),
            J::Huge(c, n) => {
                out.push(b'"');
                let mut buf = [0u8; 4];
                let enc = c.encode_utf8(&mut buf).as_bytes().to_vec();
                for _ in 0..*n {
                    out.extend_from_slice(&enc);
                }
                out.push(b'"');
            }
            J::Bad(bytes) => {
                out.push(b'"');
                out.extend_from_slice(bytes);
                out.push(b'"');
            }
            J::Arr(items) => {
                out.push(b'[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    item.render(out);
                }
                out.push(b']');
            }
            J::Obj(members) => {
                out.push(b'{');
                for (i, (k, v)) in members.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    out.extend_from_slice(&serde_json::to_vec(k).unwrap_or_default());
                    out.push(b':');
                    v.render(out);
                }
                out.push(b'}');
            }
            J::Deep(depth, array) => {
                for _ in 0..*depth {
                    out.extend_from_slice(if *array { b"[" } else { b"{\"Tags\":" });
                }
                out.extend_from_slice(b"null");
                for _ in 0..*depth {
                    out.push(if *array { b']' } else { b'}' });
                }
            }
        }
    }

    fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.render(&mut out);
        out
    }
}

/// `kinko:<n>` pagination tokens as the server encodes them, with offsets at the extremes.
fn page_token(offset: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("kinko:{offset}"))
}

fn raw_number() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "1e400",
            "-1e400",
            "1E-400",
            "18446744073709551616",
            "-9223372036854775809",
            "9223372036854775808",
            "0.0000000000000000000000000000001",
            "-0",
            "-0.0",
            "1.0",
            "20.0",
            "7.5",
            "1e2",
            "00",
            "01",
            "1.",
            ".5",
            "+1",
            "NaN",
            "Infinity",
            "-Infinity",
            "0x10",
            "1e",
            "--1",
            "",
        ])
        .prop_map(str::to_owned),
        (1usize..600).prop_map(|n| "9".repeat(n)),
        (1usize..600).prop_map(|n| format!("0.{}1", "0".repeat(n))),
    ]
}

fn interesting_string() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => any::<String>(),
        3 => "[a-zA-Z0-9/_+=.@!-]{1,40}",
        1 => "[ -~]{0,80}",
        2 => "[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
        1 => "[A-Za-z0-9+/]{0,64}={0,3}",
        1 => "[A-Za-z0-9_-]{0,64}",
        4 => prop::sample::select(vec![
            SEED_STRING.to_owned(),
            SEED_BINARY.to_owned(),
            SEED_EMPTY.to_owned(),
            SEED_STRING_TOKEN.to_owned(),
            SEED_BINARY_TOKEN.to_owned(),
            format!("arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{SEED_STRING}"),
            format!("arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{SEED_STRING}-AbCdEf"),
            format!("arn:aws:secretsmanager:eu-west-1:{ACCOUNT}:secret:{SEED_STRING}"),
            format!("arn:aws:secretsmanager:{REGION}:111111111111:secret:{SEED_STRING}"),
            format!("arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:"),
            format!("arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret"),
            "arn:".to_owned(),
            "arn:aws:::::".to_owned(),
            "arn:aws:kms:us-east-1:000000000000:key/00000000-0000-0000-0000-000000000000".to_owned(),
            "alias/aws/secretsmanager".to_owned(),
            "alias/nope".to_owned(),
            "AWSCURRENT".to_owned(),
            "AWSPREVIOUS".to_owned(),
            "AWSPENDING".to_owned(),
            "aws:reserved".to_owned(),
            "name".to_owned(),
            "description".to_owned(),
            "tag-key".to_owned(),
            "tag-value".to_owned(),
            "primary-region".to_owned(),
            "owning-service".to_owned(),
            "all".to_owned(),
            "!fuzz".to_owned(),
            "!".to_owned(),
            "asc".to_owned(),
            "desc".to_owned(),
            "created-date".to_owned(),
            "last-accessed-date".to_owned(),
            "last-changed-date".to_owned(),
            POLICY.to_owned(),
            PUBLIC_POLICY.to_owned(),
            "{}".to_owned(),
            "{\"Statement\":[]}".to_owned(),
            page_token("0"),
            page_token("1"),
            page_token("18446744073709551615"),
            page_token("18446744073709551614"),
            page_token("9223372036854775807"),
            page_token("99999999999999999999999"),
            page_token("-1"),
            page_token(""),
            "kinko:5".to_owned(),
            String::new(),
            " ".to_owned(),
            "\u{0}".to_owned(),
            "\u{feff}".to_owned(),
        ]),
    ]
}

fn huge_string() -> impl Strategy<Value = J> {
    (
        prop::sample::select(vec![
            'a',
            'A',
            '0',
            '/',
            ' ',
            '\u{e9}',
            '\u{20ac}',
            '\u{1f600}',
            '\u{0}',
        ]),
        prop::sample::select(vec![
            0usize, 1, 2, 3, 31, 32, 35, 36, 64, 65, 128, 129, 256, 257, 512, 513, 2048, 2049, 4096, 4097,
            20_480, 20_481, 65_536, 65_537, 100_000,
        ]),
    )
        .prop_map(|(c, n)| J::Huge(c, n))
}

fn bad_string() -> impl Strategy<Value = J> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..24),
        prop::sample::select(vec![
            b"\\ud800".to_vec(),
            b"\\udc00\\ud800".to_vec(),
            b"\\uZZZZ".to_vec(),
            b"\\x41".to_vec(),
            b"\\".to_vec(),
            b"\xff\xfe".to_vec(),
            b"\xc3\x28".to_vec(),
            b"\xed\xa0\x80".to_vec(),
            b"\xf4\x90\x80\x80".to_vec(),
            b"a\nb".to_vec(),
            b"\x00".to_vec(),
        ]),
    ]
    .prop_map(J::Bad)
}

fn leaf() -> impl Strategy<Value = J> {
    prop_oneof![
        2 => Just(J::Null),
        2 => any::<bool>().prop_map(J::Bool),
        3 => prop_oneof![
            any::<i64>(),
            Just(i64::MIN),
            Just(i64::MAX),
            Just(0i64),
            Just(-1i64),
            -5i64..5_000,
        ]
        .prop_map(J::Int),
        1 => prop_oneof![Just(u64::MAX), any::<u64>()].prop_map(J::UInt),
        1 => prop_oneof![
            Just(f64::MAX),
            Just(f64::MIN),
            Just(f64::MIN_POSITIVE),
            Just(5e-324),
            Just(-0.0),
            Just(1.5),
            Just(f64::INFINITY),
            any::<f64>(),
        ]
        .prop_map(J::Float),
        2 => raw_number().prop_map(J::Raw),
        6 => interesting_string().prop_map(J::Str),
        1 => huge_string(),
        1 => bad_string(),
        1 => (0usize..300, any::<bool>()).prop_map(|(d, a)| J::Deep(d, a)),
    ]
}

fn member_name() -> impl Strategy<Value = String> {
    prop_oneof![
        10 => prop::sample::select(MEMBERS).prop_map(str::to_owned),
        1 => prop::sample::select(MEMBERS).prop_map(str::to_lowercase),
        1 => any::<String>(),
    ]
}

fn json() -> impl Strategy<Value = J> {
    leaf().prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(J::Arr),
            prop::collection::vec((member_name(), inner), 0..8).prop_map(J::Obj),
        ]
    })
}

/// Mostly objects whose members are real member names, sometimes any JSON value at the top.
fn json_body() -> impl Strategy<Value = J> {
    prop_oneof![
        3 => prop::collection::vec((member_name(), json()), 0..10).prop_map(J::Obj),
        3 => prop::collection::vec(prop_oneof![(member_name(), json()), typed_member()], 0..10)
            .prop_map(J::Obj),
        1 => json(),
    ]
}

fn operation() -> impl Strategy<Value = String> {
    prop_oneof![
        12 => prop::sample::select(OPERATIONS).prop_map(str::to_owned),
        1 => any::<String>(),
    ]
}

fn raw_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..400),
        prop::collection::vec(any::<u8>(), 0..200).prop_map(|b| [b"{".as_slice(), &b].concat()),
        "\\PC{0,200}".prop_map(String::into_bytes),
        prop::collection::vec(
            prop::sample::select(vec![
                "{",
                "}",
                "[",
                "]",
                ":",
                ",",
                "\"",
                "\\",
                "null",
                "true",
                "1",
                "-",
                "e",
                " ",
                "\"Name\"",
                "\"SecretId\"",
                "\"SecretString\"",
                "\"x\"",
            ]),
            0..60
        )
        .prop_map(|parts| parts.concat().into_bytes()),
    ]
}

// ---------------------------------------------------------------------------------------------
// Mutations of valid requests.

#[derive(Debug, Clone)]
enum Mutation {
    /// Drop a member.
    Remove(Index),
    /// Give a member a random value.
    Replace(Index, J),
    /// Add a member (possibly a duplicate) with a random value.
    Insert(String, J),
    /// Set a member (replacing it if present) to a value of roughly the right shape for it.
    Set(String, J),
    /// Make a member a string of a boundary length.
    Boundary(Index, J),
    /// Replace an element or member inside a nested array/object member.
    Nested(Index, Index, J),
}

/// Integers around every range the model and the operations check, and at the i64 extremes.
fn boundary_int() -> impl Strategy<Value = J> {
    prop_oneof![
        4 => prop::sample::select(vec![
            i64::MIN,
            i64::MIN + 1,
            -4097,
            -1,
            0,
            1,
            2,
            6,
            7,
            8,
            19,
            20,
            21,
            29,
            30,
            31,
            99,
            100,
            101,
            4095,
            4096,
            4097,
            i64::from(u32::MAX),
            i64::MAX - 1,
            i64::MAX,
        ])
        .prop_map(J::Int),
        1 => Just(J::UInt(u64::MAX)),
        1 => raw_number().prop_map(J::Raw),
        1 => any::<i64>().prop_map(J::Int),
    ]
}

/// Pagination tokens: the server's own format at extreme offsets, and garbage.
fn next_token() -> impl Strategy<Value = J> {
    prop_oneof![
        2 => prop::sample::select(vec![
            "0",
            "1",
            "2",
            "3",
            "100",
            "4294967295",
            "9223372036854775807",
            "9223372036854775808",
            "18446744073709551614",
            "18446744073709551615",
            "18446744073709551616",
            "-1",
            "",
            "+1",
            " 1",
        ])
        .prop_map(|n| J::Str(page_token(n))),
        // Offsets so close to the top that adding a page size overflows.
        4 => prop_oneof![Just(0u64), Just(1), 0u64..32]
            .prop_map(|k| J::Str(page_token(&(u64::MAX - k).to_string()))),
        1 => any::<u64>().prop_map(|n| J::Str(page_token(&n.to_string()))),
        1 => interesting_string().prop_map(J::Str),
    ]
}

fn secret_id() -> impl Strategy<Value = J> {
    prop_oneof![
        4 => interesting_string().prop_map(J::Str),
        1 => huge_string(),
        1 => json(),
    ]
}

fn filters() -> impl Strategy<Value = J> {
    let key = prop_oneof![
        4 => prop::sample::select(vec![
            "name",
            "description",
            "tag-key",
            "tag-value",
            "primary-region",
            "owning-service",
            "all",
            "Name",
            "",
        ])
        .prop_map(|k| J::Str(k.to_owned())),
        1 => json(),
    ];
    let values = prop_oneof![
        4 => prop::collection::vec(interesting_string().prop_map(J::Str), 0..12).prop_map(J::Arr),
        1 => json(),
    ];
    let filter = (prop::option::of(key), prop::option::of(values)).prop_map(|(k, v)| {
        let mut members = vec![];
        if let Some(k) = k {
            members.push(("Key".to_owned(), k));
        }
        if let Some(v) = v {
            members.push(("Values".to_owned(), v));
        }
        J::Obj(members)
    });
    prop_oneof![
        4 => prop::collection::vec(filter, 0..12).prop_map(J::Arr),
        1 => json(),
    ]
}

fn tags() -> impl Strategy<Value = J> {
    let tag = (prop::option::of(secret_id()), prop::option::of(secret_id())).prop_map(|(k, v)| {
        let mut members = vec![];
        if let Some(k) = k {
            members.push(("Key".to_owned(), k));
        }
        if let Some(v) = v {
            members.push(("Value".to_owned(), v));
        }
        J::Obj(members)
    });
    prop_oneof![
        4 => prop::collection::vec(tag, 0..60).prop_map(J::Arr),
        1 => json(),
    ]
}

fn string_list() -> impl Strategy<Value = J> {
    prop_oneof![
        4 => prop::collection::vec(secret_id(), 0..25).prop_map(J::Arr),
        1 => json(),
    ]
}

fn boolean() -> impl Strategy<Value = J> {
    prop_oneof![
        4 => any::<bool>().prop_map(J::Bool),
        1 => json(),
    ]
}

/// A value of roughly the right shape for `member`: gets past decoding more often than random
/// values, so the checks and operations behind it are exercised too.
fn typed_value(member: &str) -> BoxedStrategy<J> {
    match member {
        "NextToken" => next_token().boxed(),
        "MaxResults" | "RecoveryWindowInDays" | "PasswordLength" => boundary_int().boxed(),
        "Filters" => filters().boxed(),
        "Tags" => tags().boxed(),
        "SecretIdList" | "VersionStages" | "TagKeys" | "AddReplicaRegions" | "Values" => {
            string_list().boxed()
        }
        "ForceDeleteWithoutRecovery"
        | "IncludeDeprecated"
        | "IncludePlannedDeletion"
        | "BlockPublicPolicy"
        | "ExcludeNumbers"
        | "ExcludePunctuation"
        | "ExcludeUppercase"
        | "ExcludeLowercase"
        | "IncludeSpace"
        | "RequireEachIncludedType"
        | "ForceOverwriteReplicaSecret" => boolean().boxed(),
        _ => secret_id().boxed(),
    }
}

/// Any member name with a value of roughly the right shape for it.
fn typed_member() -> impl Strategy<Value = (String, J)> {
    prop::sample::select(MEMBERS).prop_flat_map(|m| (Just(m.to_owned()), typed_value(m)))
}

#[derive(Debug, Clone)]
enum ByteMutation {
    Keep,
    Truncate(Index),
    Set(Index, u8),
    Insert(Index, u8),
    Delete(Index),
    Trailing(Vec<u8>),
    Leading(Vec<u8>),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        2 => any::<Index>().prop_map(Mutation::Remove),
        4 => (any::<Index>(), json()).prop_map(|(i, j)| Mutation::Replace(i, j)),
        2 => (member_name(), json()).prop_map(|(k, j)| Mutation::Insert(k, j)),
        8 => typed_member().prop_map(|(k, j)| Mutation::Set(k, j)),
        2 => (any::<Index>(), huge_string()).prop_map(|(i, j)| Mutation::Boundary(i, j)),
        2 => (any::<Index>(), any::<Index>(), json()).prop_map(|(i, k, j)| Mutation::Nested(i, k, j)),
    ]
}

fn byte_mutation() -> impl Strategy<Value = ByteMutation> {
    prop_oneof![
        24 => Just(ByteMutation::Keep),
        1 => any::<Index>().prop_map(ByteMutation::Truncate),
        1 => (any::<Index>(), any::<u8>()).prop_map(|(i, b)| ByteMutation::Set(i, b)),
        1 => (any::<Index>(), any::<u8>()).prop_map(|(i, b)| ByteMutation::Insert(i, b)),
        1 => any::<Index>().prop_map(ByteMutation::Delete),
        1 => prop::collection::vec(any::<u8>(), 1..8).prop_map(ByteMutation::Trailing),
        1 => prop::sample::select(vec![
            b"\xef\xbb\xbf".to_vec(),
            b" \n\t".to_vec(),
            b"\x00".to_vec(),
            b"[".to_vec(),
        ])
        .prop_map(ByteMutation::Leading),
    ]
}

#[derive(Debug, Clone)]
struct MutatedRequest {
    /// Which template (the list is the same, in structure, on every harness).
    template: usize,
    /// Send the mutated body to another operation than the template's.
    other_operation: Option<String>,
    mutations: Vec<Mutation>,
    bytes: ByteMutation,
}

/// Mutations of template `t` (of `shapes`: each template's member names), often setting one of
/// its own members to a value of the right shape.
fn mutated_request(shapes: Vec<Vec<String>>) -> impl Strategy<Value = MutatedRequest> {
    (0..shapes.len()).prop_flat_map(move |t| {
        let own = prop::sample::select(shapes[t].clone())
            .prop_flat_map(|m| {
                let value = typed_value(&m);
                (Just(m), value)
            })
            .prop_map(|(k, j)| Mutation::Set(k, j));
        (
            Just(t),
            prop::option::weighted(0.1, operation()),
            prop::collection::vec(prop_oneof![7 => own, 3 => mutation()], 1..4),
            byte_mutation(),
        )
            .prop_map(|(template, other_operation, mutations, bytes)| MutatedRequest {
                template,
                other_operation,
                mutations,
                bytes,
            })
    })
}

fn apply(body: &mut J, m: &Mutation) {
    let J::Obj(members) = body else { return };
    match m {
        Mutation::Remove(i) => {
            if !members.is_empty() {
                members.remove(i.index(members.len()));
            }
        }
        Mutation::Replace(i, j) | Mutation::Boundary(i, j) => {
            if !members.is_empty() {
                let n = i.index(members.len());
                members[n].1 = j.clone();
            }
        }
        Mutation::Insert(k, j) => members.push((k.clone(), j.clone())),
        Mutation::Set(k, j) => match members.iter_mut().find(|(name, _)| name == k) {
            Some(member) => member.1 = j.clone(),
            None => members.push((k.clone(), j.clone())),
        },
        Mutation::Nested(i, k, j) => {
            if members.is_empty() {
                return;
            }
            let n = i.index(members.len());
            match &mut members[n].1 {
                J::Arr(items) if !items.is_empty() => {
                    let at = k.index(items.len());
                    items[at] = j.clone();
                }
                J::Obj(inner) if !inner.is_empty() => {
                    let at = k.index(inner.len());
                    inner[at].1 = j.clone();
                }
                J::Arr(items) => items.push(j.clone()),
                other => *other = J::Arr(vec![j.clone()]),
            }
        }
    }
}

fn apply_bytes(mut b: Vec<u8>, m: &ByteMutation) -> Vec<u8> {
    match m {
        ByteMutation::Keep => {}
        ByteMutation::Truncate(i) => b.truncate(i.index(b.len() + 1)),
        ByteMutation::Set(i, v) => {
            if !b.is_empty() {
                let at = i.index(b.len());
                b[at] = *v;
            }
        }
        ByteMutation::Insert(i, v) => {
            let at = i.index(b.len() + 1);
            b.insert(at, *v);
        }
        ByteMutation::Delete(i) => {
            if !b.is_empty() {
                b.remove(i.index(b.len()));
            }
        }
        ByteMutation::Trailing(t) => b.extend_from_slice(t),
        ByteMutation::Leading(l) => b.splice(0..0, l.iter().copied()).for_each(drop),
    }
    b
}

// ---------------------------------------------------------------------------------------------
// The harness: Services over an in-memory store, a root principal, seeded secrets.

/// Everything in the store a request could change.
#[derive(Debug, PartialEq)]
struct Snapshot {
    secrets: Vec<Secret>,
    kms: Vec<(String, u32, Vec<u8>)>,
}

struct Harness {
    rt: tokio::runtime::Runtime,
    services: Services,
    rc: RequestContext,
    counter: AtomicUsize,
}

fn show(body: &[u8]) -> String {
    const MAX: usize = 600;
    let text = String::from_utf8_lossy(&body[..body.len().min(MAX)]).into_owned();
    if body.len() > MAX {
        format!("{text}... ({} bytes)", body.len())
    } else {
        text
    }
}

impl Harness {
    fn new() -> Harness {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let store = SqliteStore::in_memory().expect("in-memory store");
        let store: Arc<dyn Store> = Arc::new(store);
        let clock: Arc<dyn kinko_core::Clock> = Arc::new(kinko_core::SystemClock);
        let root = kinko_crypto::RootKey::generate().expect("root key");
        let keyring = Arc::new(Keyring::new(store.clone(), clock.clone(), root));
        let services = Services::new(store, clock, keyring);
        let rc = RequestContext::new(Principal::root(ACCOUNT), REGION, "fuzz");
        let h = Harness {
            rt,
            services,
            rc,
            counter: AtomicUsize::new(0),
        };
        h.ensure_seeds();
        h
    }

    async fn call(&self, op: &str, body: &Value) -> Result<Value, kinko_wire::WireError> {
        let body = serde_json::to_vec(body).expect("encode");
        let out = handle(&self.services, &self.rc, op, &body).await?;
        Ok(serde_json::from_slice(&out).unwrap_or(Value::Null))
    }

    /// The seeded secrets exist and aren't scheduled for deletion (fuzzed calls may delete them).
    fn ensure_seeds(&self) {
        self.rt.block_on(async {
            let seeds = [
                (
                    SEED_STRING,
                    Some(json!({"SecretString": "seed-string-value"})),
                    SEED_STRING_TOKEN,
                ),
                (
                    SEED_BINARY,
                    Some(json!({"SecretBinary": STANDARD.encode([0u8, 0x9f, 0x92, 0x96, 0xff])})),
                    SEED_BINARY_TOKEN,
                ),
                (SEED_EMPTY, None, ""),
            ];
            for (name, value, token) in seeds {
                match self.call("DescribeSecret", &json!({"SecretId": name})).await {
                    Ok(d) if d.get("DeletedDate").is_some() => {
                        self.call("RestoreSecret", &json!({"SecretId": name}))
                            .await
                            .expect("restore seed");
                    }
                    Ok(_) => {}
                    Err(_) => {
                        let mut req = json!({
                            "Name": name,
                            "Description": "fuzz seed",
                            "Tags": [{"Key": "team", "Value": "fuzz"}],
                        });
                        if let (Some(Value::Object(v)), Value::Object(r)) = (value, &mut req) {
                            r.extend(v);
                            r.insert("ClientRequestToken".into(), token.into());
                        }
                        self.call("CreateSecret", &req).await.expect("create seed");
                    }
                }
            }
        });
    }

    fn seed_arn(&self, name: &str) -> String {
        self.rt
            .block_on(self.services.store.secret_by_name(ACCOUNT, REGION, name))
            .ok()
            .flatten()
            .map(|s| s.arn)
            .unwrap_or_else(|| format!("arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{name}-AAAAAA"))
    }

    /// Valid requests, one or more per operation, against the seeded secrets.
    fn templates(&self) -> Vec<(&'static str, Value)> {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let token = || uuid::Uuid::new_v4().to_string();
        let new_name = format!("fuzz-new-{n}");
        let arn = self.seed_arn(SEED_STRING);
        let partial_arn = format!("arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{SEED_STRING}");
        vec![
            (
                "CreateSecret",
                json!({"Name": new_name, "ClientRequestToken": token(), "SecretString": "v",
                       "Description": "d", "Tags": [{"Key": "k", "Value": "v"}]}),
            ),
            (
                "CreateSecret",
                json!({"Name": format!("{new_name}-bin"), "ClientRequestToken": token(),
                       "SecretBinary": "AAECAw==", "KmsKeyId": "alias/aws/secretsmanager", "Type": "t"}),
            ),
            ("CreateSecret", json!({"Name": format!("{new_name}-empty")})),
            (
                "GetSecretValue",
                json!({"SecretId": SEED_STRING, "VersionStage": "AWSCURRENT"}),
            ),
            (
                "GetSecretValue",
                json!({"SecretId": arn, "VersionId": SEED_STRING_TOKEN}),
            ),
            ("GetSecretValue", json!({"SecretId": SEED_BINARY})),
            (
                "BatchGetSecretValue",
                json!({"SecretIdList": [SEED_STRING, SEED_BINARY, partial_arn, "missing"]}),
            ),
            (
                "BatchGetSecretValue",
                json!({"Filters": [{"Key": "name", "Values": ["fuzz"]}], "MaxResults": 2,
                       "NextToken": page_token("1")}),
            ),
            (
                "PutSecretValue",
                json!({"SecretId": SEED_STRING, "ClientRequestToken": token(), "SecretString": "p",
                       "VersionStages": ["AWSCURRENT", "EXTRA"]}),
            ),
            (
                "PutSecretValue",
                json!({"SecretId": SEED_BINARY, "ClientRequestToken": token(), "SecretBinary": "/w==",
                       "RotationToken": uuid::Uuid::new_v4().to_string()}),
            ),
            (
                "UpdateSecret",
                json!({"SecretId": SEED_STRING, "ClientRequestToken": token(), "SecretString": "u",
                       "Description": "updated", "KmsKeyId": "alias/aws/secretsmanager", "Type": "t"}),
            ),
            ("DescribeSecret", json!({"SecretId": SEED_EMPTY})),
            (
                "ListSecrets",
                json!({"MaxResults": 5, "Filters": [{"Key": "tag-key", "Values": ["team"]},
                       {"Key": "description", "Values": ["!nothing"]}], "SortOrder": "desc",
                       "SortBy": "name", "IncludePlannedDeletion": true, "NextToken": page_token("2")}),
            ),
            (
                "ListSecretVersionIds",
                json!({"SecretId": SEED_STRING, "MaxResults": 3, "IncludeDeprecated": true,
                       "NextToken": page_token("1")}),
            ),
            (
                "DeleteSecret",
                json!({"SecretId": SEED_BINARY, "RecoveryWindowInDays": 7}),
            ),
            (
                "DeleteSecret",
                json!({"SecretId": format!("{new_name}-gone"), "ForceDeleteWithoutRecovery": true}),
            ),
            ("RestoreSecret", json!({"SecretId": SEED_BINARY})),
            (
                "UpdateSecretVersionStage",
                json!({"SecretId": SEED_STRING, "VersionStage": "STAGE",
                       "MoveToVersionId": SEED_STRING_TOKEN}),
            ),
            (
                "UpdateSecretVersionStage",
                json!({"SecretId": SEED_STRING, "VersionStage": "AWSCURRENT",
                       "MoveToVersionId": SEED_STRING_TOKEN, "RemoveFromVersionId": SEED_STRING_TOKEN}),
            ),
            (
                "TagResource",
                json!({"SecretId": SEED_EMPTY, "Tags": [{"Key": "a", "Value": "b"}, {"Key": "c"}]}),
            ),
            (
                "UntagResource",
                json!({"SecretId": SEED_EMPTY, "TagKeys": ["a", "zz"]}),
            ),
            (
                "GetRandomPassword",
                json!({"PasswordLength": 40, "ExcludeCharacters": "abc", "ExcludeNumbers": false,
                       "ExcludePunctuation": true, "ExcludeUppercase": false, "ExcludeLowercase": false,
                       "IncludeSpace": true, "RequireEachIncludedType": true}),
            ),
            (
                "PutResourcePolicy",
                json!({"SecretId": SEED_STRING, "ResourcePolicy": POLICY, "BlockPublicPolicy": true}),
            ),
            ("GetResourcePolicy", json!({"SecretId": SEED_STRING})),
            ("DeleteResourcePolicy", json!({"SecretId": SEED_EMPTY})),
            (
                "ValidateResourcePolicy",
                json!({"SecretId": SEED_STRING, "ResourcePolicy": PUBLIC_POLICY}),
            ),
            ("ValidateResourcePolicy", json!({"ResourcePolicy": POLICY})),
        ]
    }

    /// Waits until background work started by earlier calls (e.g. recording `LastAccessedDate`
    /// after a read) has committed: lets spawned tasks enqueue their writes, then commits a write
    /// of its own behind them (the store's writer commits in order).
    async fn settle(&self) {
        for _ in 0..8 {
            tokio::task::yield_now().await;
        }
        // Earlier successful reads noted LastAccessedDates that a background task writes later;
        // written now, they can't show up as a change made by the call under test.
        self.services.accessed.flush(&self.services.store).await;
        self.services
            .store
            .meta_put_if_absent("fuzz-barrier", b"x".to_vec())
            .await
            .expect("barrier write");
    }

    async fn snapshot(&self) -> Snapshot {
        let store = &self.services.store;
        let secrets = store.list_secrets(ACCOUNT, REGION).await.expect("list secrets");
        let mut kms: Vec<_> = store
            .all_kms_materials()
            .await
            .expect("kms materials")
            .into_iter()
            .map(|m| (m.key_arn, m.version, m.wrapped))
            .collect();
        kms.sort();
        Snapshot { secrets, kms }
    }

    /// Runs one call and checks the properties.
    fn check(&self, op: &str, body: &[u8]) -> Result<(), TestCaseError> {
        self.rt.block_on(async {
            self.settle().await;
            let before = self.snapshot().await;
            match handle(&self.services, &self.rc, op, body).await {
                Ok(out) => {
                    let parsed: Result<Value, _> = serde_json::from_slice(&out);
                    prop_assert!(
                        matches!(parsed, Ok(Value::Object(_))),
                        "{op} answered with something that is not a JSON object: {}\nrequest: {}",
                        show(&out),
                        show(body)
                    );
                }
                Err(e) => {
                    prop_assert!(
                        (400..=499).contains(&e.status),
                        "{op} failed with status {} {} ({}); request: {}",
                        e.status,
                        e.code,
                        e.message,
                        show(body)
                    );
                    self.settle().await;
                    let after = self.snapshot().await;
                    prop_assert!(
                        before == after,
                        "{op} failed with {} ({}) but changed the store; request: {}\nbefore: {before:?}\nafter: {after:?}",
                        e.code,
                        e.message,
                        show(body)
                    );
                }
            }
            Ok(())
        })
    }
}

fn cases() -> u32 {
    std::env::var("KINKO_FUZZ_CASES")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(DEFAULT_CASES)
}

fn runner() -> TestRunner {
    TestRunner::new(Config {
        cases: cases(),
        // Nothing is written next to the sources; a failure prints its (shrunk) input.
        failure_persistence: None,
        // Bounds the time a failure takes to shrink.
        max_shrink_iters: 2_000,
        ..Config::default()
    })
}

fn report(name: &str, result: Result<(), proptest::test_runner::TestError<impl std::fmt::Debug>>) {
    if let Err(e) = result {
        let _ = std::io::stderr().flush();
        panic!("{name}: {e}");
    }
}

/// A harness that is replaced by a fresh one every [`CALLS_PER_STORE`] calls.
struct Fuzz {
    harness: RefCell<Harness>,
    calls: Cell<u32>,
}

impl Fuzz {
    fn new() -> Fuzz {
        Fuzz {
            harness: RefCell::new(Harness::new()),
            calls: Cell::new(0),
        }
    }

    fn harness(&self) -> Ref<'_, Harness> {
        if self.calls.get() >= CALLS_PER_STORE {
            *self.harness.borrow_mut() = Harness::new();
            self.calls.set(0);
        }
        self.calls.set(self.calls.get() + 1);
        self.harness.borrow()
    }
}

#[test]
fn arbitrary_bytes() {
    let fuzz = Fuzz::new();
    let result = runner().run(&(operation(), raw_bytes()), |(op, body)| {
        fuzz.harness().check(&op, &body)
    });
    report("arbitrary bytes", result);
}

#[test]
fn arbitrary_json() {
    let fuzz = Fuzz::new();
    let result = runner().run(&(operation(), json_body()), |(op, body)| {
        fuzz.harness().check(&op, &body.to_bytes())
    });
    report("arbitrary JSON", result);
}

#[test]
fn mutated_valid_requests() {
    let fuzz = Fuzz::new();
    let shapes = fuzz
        .harness()
        .templates()
        .iter()
        .map(|(_, body)| {
            body.as_object()
                .map(|o| o.keys().cloned().collect())
                .unwrap_or_default()
        })
        .collect();
    let result = runner().run(&mutated_request(shapes), |m| {
        let h = fuzz.harness();
        h.ensure_seeds();
        let templates = h.templates();
        let (op, template) = &templates[m.template];
        let mut body = J::from_value(template);
        for mutation in &m.mutations {
            apply(&mut body, mutation);
        }
        let bytes = apply_bytes(body.to_bytes(), &m.bytes);
        let op = m.other_operation.as_deref().unwrap_or(op);
        h.check(op, &bytes)
    });
    report("mutated valid requests", result);
}

/// Every unmutated template succeeds on fresh seeds (otherwise the mutations would start from
/// requests that fail anyway and reach little of each operation).
#[test]
fn templates_are_valid() {
    let count = Harness::new().templates().len();
    for n in 0..count {
        let h = Harness::new();
        let (op, body) = h.templates().swap_remove(n);
        let bytes = serde_json::to_vec(&body).expect("encode");
        let out = h.rt.block_on(handle(&h.services, &h.rc, op, &bytes));
        if let Err(e) = out {
            panic!(
                "template {op} {body} failed: {} {} {}",
                e.status, e.code, e.message
            );
        }
    }
}
