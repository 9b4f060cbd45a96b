//! What a call's audit record says about the call itself, in CloudTrail's shape: its
//! `requestParameters`, `responseElements`, `resources` and `readOnly`.
//!
//! One mechanism for every operation of every service, with no per-action code:
//!
//! - `requestParameters` are the parameters as the client sent them: the members of a JSON 1.1
//!   body that the operation's input knows ([`struct_members`]), or the Query parameters (without
//!   `Action`, `Version` and the `X-Amz-*` signing parameters), lists (`Tags.member.1.Key`) nested
//!   as arrays;
//! - `responseElements` are the answer as the service gave it: the JSON body, or the content of the
//!   Query answer's `<ActionResult>` element as a tree, lists (`<member>`) as arrays. Only for the
//!   operations whose answer CloudTrail records ([`crate::operation::Operation::RESPONSE_ELEMENTS`]);
//!
//! both named as CloudTrail names members ([`member_name`]: the API's member name with its first
//! letter in lower case, `secretId`, `keyId`, `userName`), both without what CloudTrail never records:
//! each service's [`Shape`] lists the members left out at any depth (secret values, plaintexts,
//! ciphertexts, key material, secret access keys, session tokens), those masked (passwords), and
//! the members whose value is a map of the caller's own strings, kept exactly as sent (KMS
//! encryption contexts). Values are kept as the API carries them (timestamps as the API writes
//! them, not in CloudTrail's `Oct 3, 2023, 4:15:52 PM` form).
//!
//! This module reads requests and answers only; it decides nothing and writes nothing.

use std::collections::BTreeMap;

use kinko_wire::query::Params;
use serde_json::{Map, Value};

/// What CloudTrail writes in place of a password it records the presence of.
pub const HIDDEN: &str = "HIDDEN_DUE_TO_SECURITY_REASONS";

/// Largest `requestParameters` or `responseElements`, as JSON, in bytes. CloudTrail keeps each to
/// 100 KB and omits the content of larger ones; the record then says only that it was omitted and
/// how large it was (`{"omitted": true, "originalSize": N}`), so a record stays one bounded line.
pub const MAX_ELEMENTS_BYTES: usize = 100_000;

/// What of a service's requests and answers CloudTrail never records, or records otherwise.
/// Names are the API's member names (`SecretString`), matched at any depth, ignoring case.
#[derive(Debug)]
pub struct Shape {
    /// Members left out of records: values, plaintexts, ciphertexts, key material, credentials.
    pub omitted: &'static [&'static str],
    /// Members recorded as [`HIDDEN`]: passwords, whose presence the record shows.
    pub hidden: &'static [&'static str],
    /// Members whose value is a map with the caller's own keys (an encryption context): recorded
    /// as sent, keys unchanged.
    pub verbatim: &'static [&'static str],
    /// Query members that are numbers in the API's model (the Query protocol carries every
    /// value as text; JSON bodies carry their types).
    pub numbers: &'static [&'static str],
    /// Query members that are booleans in the API's model.
    pub booleans: &'static [&'static str],
}

/// Whether an action only reads, going by its name (`Get*`, `List*`, `Describe*`), as CloudTrail's
/// `readOnly` marks most actions. Operations that read under other names (KMS's cryptographic
/// operations, STS `AssumeRole`) say so themselves.
pub const fn read_only(name: &str) -> bool {
    starts_with(name, "Get") || starts_with(name, "List") || starts_with(name, "Describe")
}

const fn starts_with(s: &str, prefix: &str) -> bool {
    let (s, p) = (s.as_bytes(), prefix.as_bytes());
    if s.len() < p.len() {
        return false;
    }
    let mut i = 0;
    while i < p.len() {
        if s[i] != p[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// A member's name as CloudTrail writes it: the API's member name with its first letter in lower
/// case (`SecretId` → `secretId`, KMS's `AWSAccountId` → `aWSAccountId`, IAM's `SSHPublicKeyId` →
/// `sSHPublicKeyId`). Secrets Manager's `ARN` is `arn`: Secrets Manager made every event write
/// it so in January 2024 (ten of its events wrote `aRN` before).
pub fn member_name(name: &str) -> String {
    if name == "ARN" {
        return "arn".to_owned();
    }
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn named(list: &[&str], name: &str) -> bool {
    list.iter().any(|n| n.eq_ignore_ascii_case(name))
}

/// A tree of API members in CloudTrail's shape: [`Shape::omitted`] members left out,
/// [`Shape::hidden`] ones masked, names as [`member_name`] writes them.
pub fn shaped(shape: &Shape, value: Value) -> Value {
    match value {
        Value::Object(members) => Value::Object(
            members
                .into_iter()
                .filter(|(name, _)| !named(shape.omitted, name))
                .map(|(name, v)| {
                    let v = if named(shape.hidden, &name) {
                        Value::String(HIDDEN.to_owned())
                    } else if named(shape.verbatim, &name) {
                        v
                    } else {
                        shaped(shape, v)
                    };
                    (member_name(&name), v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(|v| shaped(shape, v)).collect()),
        other => other,
    }
}

/// Counts the bytes written to it.
struct Counter(usize);

impl std::io::Write for Counter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// `value`, or when larger than [`MAX_ELEMENTS_BYTES`] as JSON, a note that it was omitted; none
/// for no members at all (CloudTrail writes `null` then).
fn recorded(value: Value) -> Option<Value> {
    match &value {
        Value::Null => return None,
        Value::Object(m) if m.is_empty() => return None,
        _ => {}
    }
    let mut size = Counter(0);
    let size = match serde_json::to_writer(&mut size, &value) {
        Ok(()) => size.0,
        Err(_) => return None,
    };
    if size > MAX_ELEMENTS_BYTES {
        return Some(serde_json::json!({"omitted": true, "originalSize": size}));
    }
    Some(value)
}

/// `requestParameters` of a JSON 1.1 request: the body's members (those in `members`, the
/// operation's input members, when known), and the `defaults` of those it leaves out, in
/// CloudTrail's shape. None when the body is not a JSON object or names no member.
pub fn json_parameters(
    shape: &Shape,
    body: &[u8],
    members: Option<&[&str]>,
    defaults: &[(&str, &str)],
) -> Option<Value> {
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}".as_slice()
    } else {
        body
    };
    let Ok(Value::Object(mut object)) = serde_json::from_slice::<Value>(body) else {
        return None;
    };
    if let Some(members) = members {
        object.retain(|name, _| members.contains(&name.as_str()));
    }
    for (name, value) in defaults {
        object
            .entry(*name)
            .or_insert_with(|| Value::String((*value).to_owned()));
    }
    recorded(shaped(shape, Value::Object(object)))
}

/// `responseElements` of a JSON 1.1 answer, in CloudTrail's shape.
pub fn json_elements(shape: &Shape, body: &[u8]) -> Option<Value> {
    let value = serde_json::from_slice::<Value>(body).ok()?;
    recorded(shaped(shape, value))
}

/// A member read from the Query protocol, before it becomes JSON.
enum Node {
    Text(String),
    Members(BTreeMap<String, Node>),
    /// `Name.member.N`: items by index.
    List(BTreeMap<u64, Node>),
}

impl Node {
    fn empty() -> Node {
        Node::Members(BTreeMap::new())
    }

    /// Puts `value` at `path` (`["Tags", "member", "1", "Key"]`). A structure or list given
    /// members wins over the same name given as text (`Tags=` is an empty list in Query).
    fn insert(&mut self, path: &[&str], value: &str) {
        let Some((head, rest)) = path.split_first() else {
            if matches!(self, Node::Members(m) if m.is_empty()) {
                *self = Node::Text(value.to_owned());
            }
            return;
        };
        if *head == "member"
            && let Some((index, rest)) = rest.split_first()
            && let Ok(index) = index.parse::<u64>()
        {
            if !matches!(self, Node::List(_)) {
                *self = Node::List(BTreeMap::new());
            }
            if let Node::List(items) = self {
                items.entry(index).or_insert_with(Node::empty).insert(rest, value);
            }
            return;
        }
        if !matches!(self, Node::Members(_)) {
            *self = Node::empty();
        }
        if let Node::Members(members) = self {
            members
                .entry((*head).to_owned())
                .or_insert_with(Node::empty)
                .insert(rest, value);
        }
    }

    fn into_json(self, shape: &Shape, name: &str) -> Value {
        match self {
            Node::Text(text) => typed(shape, name, text),
            Node::Members(members) => Value::Object(
                members
                    .into_iter()
                    .map(|(n, node)| {
                        let v = node.into_json(shape, &n);
                        (n, v)
                    })
                    .collect(),
            ),
            Node::List(items) => Value::Array(items.into_values().map(|n| n.into_json(shape, "")).collect()),
        }
    }
}

/// A Query value as the API's model types it: a number or boolean for the members the service
/// lists as such (when the text reads as one), else text.
fn typed(shape: &Shape, name: &str, text: String) -> Value {
    if named(shape.numbers, name)
        && let Ok(n) = text.parse::<i64>()
    {
        return Value::from(n);
    }
    if named(shape.booleans, name) {
        match text.as_str() {
            "true" => return Value::Bool(true),
            "false" => return Value::Bool(false),
            _ => {}
        }
    }
    Value::String(text)
}

/// Whether a Query parameter is part of the protocol rather than of the action's input: the
/// action and version, and the signature of a presigned request (whose `X-Amz-Security-Token` is
/// a session token).
fn protocol_parameter(name: &str) -> bool {
    name == "Action" || name == "Version" || name.get(..6).is_some_and(|p| p.eq_ignore_ascii_case("X-Amz-"))
}

/// `requestParameters` of a Query request, in CloudTrail's shape.
pub fn query_parameters(shape: &Shape, params: &Params) -> Option<Value> {
    let mut root = Node::empty();
    for name in params.names().filter(|n| !protocol_parameter(n)) {
        let path: Vec<&str> = name.split('.').collect();
        root.insert(&path, params.get(name).unwrap_or_default());
    }
    recorded(shaped(shape, root.into_json(shape, "")))
}

/// An element of a Query answer being read.
struct Element {
    name: String,
    children: Vec<(String, Value)>,
    text: String,
}

impl Element {
    /// An element with child elements is a structure, or a list when they are all `<member>`s;
    /// one with none is its text.
    fn into_json(self, shape: &Shape) -> Value {
        if self.children.is_empty() {
            return typed(shape, &self.name, self.text);
        }
        if self.children.iter().all(|(n, _)| n == "member") {
            return Value::Array(self.children.into_iter().map(|(_, v)| v).collect());
        }
        let mut members = Map::new();
        for (name, value) in self.children {
            match members.get_mut(&name) {
                None => {
                    members.insert(name, value);
                }
                // A name repeated outside a `<member>` list: all of its values, in order.
                Some(Value::Array(items)) => items.push(value),
                Some(first) => *first = Value::Array(vec![first.take(), value]),
            }
        }
        Value::Object(members)
    }
}

/// `responseElements` of a Query answer: the content of its `<ActionResult>` element, in
/// CloudTrail's shape. None when the answer has no result (`DeleteUser`).
pub fn query_elements(shape: &Shape, body: &[u8]) -> Option<Value> {
    use xmlparser::{ElementEnd, Token, Tokenizer};
    let text = std::str::from_utf8(body).ok()?;
    let mut open: Vec<Element> = Vec::new();
    for token in Tokenizer::from(text) {
        match token.ok()? {
            Token::ElementStart { local, .. } => open.push(Element {
                name: local.as_str().to_owned(),
                children: Vec::new(),
                text: String::new(),
            }),
            Token::ElementEnd {
                end: ElementEnd::Close(..) | ElementEnd::Empty,
                ..
            } => {
                let element = open.pop()?;
                let name = element.name.clone();
                let value = element.into_json(shape);
                // `<ActionResponse><ActionResult>`: the result is the response's child.
                if open.len() == 1 && name.ends_with("Result") {
                    return recorded(shaped(shape, value));
                }
                open.last_mut()?.children.push((name, value));
            }
            Token::Text { text } | Token::Cdata { text, .. } => {
                if let Some(e) = open.last_mut() {
                    e.text.push_str(&unescape(text.as_str()));
                }
            }
            _ => {}
        }
    }
    None
}

/// XML text with its character and entity references resolved.
fn unescape(text: &str) -> String {
    if !text.contains('&') {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        let Some(end) = tail.find(';') else {
            out.push_str(tail);
            return out;
        };
        let entity = &tail[1..end];
        let c = match entity {
            "lt" => Some('<'),
            "gt" => Some('>'),
            "amp" => Some('&'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .or_else(|| entity.strip_prefix("#X"))
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match c {
            Some(c) => out.push(c),
            None => out.push_str(&tail[..=end]),
        }
        rest = &tail[end + 1..];
    }
    out.push_str(rest);
    out
}

/// The members of a struct deserialized from JSON by serde (its wire names), read from what its
/// `Deserialize` asks for; none for a type that isn't a struct.
pub fn struct_members<T: serde::de::DeserializeOwned>() -> Option<&'static [&'static str]> {
    let mut members = None;
    let _ = T::deserialize(MembersProbe(&mut members));
    members
}

/// A deserializer that only notes the members a struct asks for, and fails.
struct MembersProbe<'a>(&'a mut Option<&'static [&'static str]>);

fn probed() -> serde::de::value::Error {
    serde::de::Error::custom("members probed")
}

impl<'de> serde::Deserializer<'de> for MembersProbe<'_> {
    type Error = serde::de::value::Error;

    fn deserialize_any<V: serde::de::Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
        Err(probed())
    }

    fn deserialize_struct<V: serde::de::Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Self::Error> {
        *self.0 = Some(fields);
        Err(probed())
    }

    /// An input without members (`struct NoInput;`): nothing of the body is recorded.
    fn deserialize_unit_struct<V: serde::de::Visitor<'de>>(
        self,
        _: &'static str,
        _: V,
    ) -> Result<V::Value, Self::Error> {
        *self.0 = Some(&[]);
        Err(probed())
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option
        unit newtype_struct seq tuple tuple_struct map enum identifier ignored_any
    }
}

/// One entry of a record's `resources`: a resource the call was authorized on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditResource {
    pub arn: String,
    pub account_id: String,
    /// `AWS::SecretsManager::Secret`, `AWS::KMS::Key`, `AWS::IAM::Role`, ...
    pub kind: String,
}

/// The `resources` entry of an ARN: its account, and its type named as CloudFormation and
/// CloudTrail name types (`AWS::<service>::<resource type>`). None for text that isn't an ARN.
pub fn resource(arn: &str) -> Option<AuditResource> {
    let parsed = kinko_core::arn::Arn::parse(arn)?;
    let service = match parsed.service {
        "secretsmanager" => "SecretsManager",
        "kms" => "KMS",
        "iam" => "IAM",
        "sts" => "STS",
        "organizations" => "Organizations",
        "lambda" => "Lambda",
        "cloudformation" => "CloudFormation",
        _ => return None,
    };
    let type_name = parsed.resource.split(['/', ':']).next().unwrap_or_default();
    let kind = match (parsed.service, type_name) {
        // `arn:aws:iam::<account>:root`: the account itself.
        ("iam", "root") => "Account".to_owned(),
        ("iam", "instance-profile") => "InstanceProfile".to_owned(),
        ("iam", "oidc-provider") => "OIDCProvider".to_owned(),
        (_, t) => {
            let mut chars = t.chars();
            match chars.next() {
                Some(first) => first.to_uppercase().chain(chars).collect(),
                None => return None,
            }
        }
    };
    Some(AuditResource {
        arn: arn.to_owned(),
        account_id: parsed.account_id.to_owned(),
        kind: format!("AWS::{service}::{kind}"),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const SHAPE: Shape = Shape {
        omitted: &["SecretString", "SecretAccessKey"],
        hidden: &["Password"],
        verbatim: &["EncryptionContext"],
        numbers: &["DurationSeconds", "MaxItems"],
        booleans: &["SetAsDefault"],
    };

    #[test]
    fn member_names_lower_their_first_letter() {
        assert_eq!(member_name("SecretId"), "secretId");
        assert_eq!(member_name("ARN"), "arn");
        assert_eq!(member_name("Arn"), "arn");
        assert_eq!(member_name("AWSAccountId"), "aWSAccountId");
        assert_eq!(member_name("KeyId"), "keyId");
        assert_eq!(member_name(""), "");
    }

    #[test]
    fn read_only_goes_by_the_action_name() {
        assert!(read_only("GetSecretValue"));
        assert!(read_only("ListSecrets"));
        assert!(read_only("DescribeKey"));
        assert!(!read_only("PutSecretValue"));
        assert!(!read_only("Ge"));
    }

    #[test]
    fn json_parameters_keep_known_members_shaped() {
        let body = br#"{"SecretId":"s","SecretString":"v","Unknown":1,
            "EncryptionContext":{"SecretARN":"a"},"Tags":[{"Key":"k","Password":"p"}]}"#;
        let members = ["SecretId", "SecretString", "EncryptionContext", "Tags"];
        assert_eq!(
            json_parameters(&SHAPE, body, Some(&members), &[("Algorithm", "A")]),
            Some(json!({
                "secretId": "s",
                "encryptionContext": {"SecretARN": "a"},
                "tags": [{"key": "k", "password": HIDDEN}],
                "algorithm": "A",
            }))
        );
        assert_eq!(json_parameters(&SHAPE, b"{}", None, &[]), None);
        assert_eq!(json_parameters(&SHAPE, b"", None, &[]), None);
        assert_eq!(json_parameters(&SHAPE, b"[1]", None, &[]), None);
        assert_eq!(
            json_parameters(&SHAPE, b" ", None, &[("Algorithm", "A")]),
            Some(json!({"algorithm": "A"}))
        );
    }

    #[test]
    fn query_parameters_nest_lists_and_type_values() {
        let params = Params::parse(
            b"Action=AssumeRole&Version=2011-06-15&RoleArn=arn&DurationSeconds=900\
              &Tags.member.2.Key=b&Tags.member.1.Key=a&Tags.member.1.Value=1\
              &TransitiveTagKeys.member.1=a&X-Amz-Security-Token=tok&SetAsDefault=true&MaxItems=x",
        )
        .expect("params");
        assert_eq!(
            query_parameters(&SHAPE, &params),
            Some(json!({
                "roleArn": "arn",
                "durationSeconds": 900,
                "tags": [{"key": "a", "value": "1"}, {"key": "b"}],
                "transitiveTagKeys": ["a"],
                "setAsDefault": true,
                "maxItems": "x",
            }))
        );
    }

    #[test]
    fn query_results_become_trees() {
        let body = b"<CreateAccessKeyResponse xmlns=\"x\"><CreateAccessKeyResult><AccessKey>\
            <UserName>a&amp;b&#x41;</UserName><AccessKeyId>AKIA</AccessKeyId>\
            <SecretAccessKey>s3cr3t</SecretAccessKey><Tags><member><Key>k</Key></member></Tags>\
            </AccessKey></CreateAccessKeyResult><ResponseMetadata><RequestId>r</RequestId>\
            </ResponseMetadata></CreateAccessKeyResponse>";
        assert_eq!(
            query_elements(&SHAPE, body),
            Some(json!({"accessKey": {
                "userName": "a&bA",
                "accessKeyId": "AKIA",
                "tags": [{"key": "k"}],
            }}))
        );
        let empty = b"<DeleteUserResponse xmlns=\"x\"><ResponseMetadata><RequestId>r</RequestId>\
            </ResponseMetadata></DeleteUserResponse>";
        assert_eq!(query_elements(&SHAPE, empty), None);
    }

    #[test]
    fn large_elements_are_omitted() {
        let big = "x".repeat(MAX_ELEMENTS_BYTES);
        let body = serde_json::to_vec(&json!({"Policy": big})).expect("json");
        assert_eq!(
            json_parameters(&SHAPE, &body, None, &[]),
            Some(json!({"omitted": true, "originalSize": MAX_ELEMENTS_BYTES + 13}))
        );
    }

    #[test]
    fn struct_members_are_the_wire_names() {
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "PascalCase")]
        #[expect(dead_code, reason = "only the members are read")]
        struct Input {
            secret_id: Option<String>,
            #[serde(rename = "Type")]
            kind: Option<String>,
        }
        assert_eq!(struct_members::<Input>(), Some(&["SecretId", "Type"][..]));
        #[derive(serde::Deserialize)]
        struct NoInput;
        assert_eq!(struct_members::<NoInput>(), Some(&[][..]));
        assert_eq!(struct_members::<serde_json::Value>(), None);
    }

    #[test]
    fn resources_are_typed_by_arn() {
        let r = resource("arn:aws:secretsmanager:us-east-1:111122223333:secret:a-AbCdEf").expect("ARN");
        assert_eq!(r.kind, "AWS::SecretsManager::Secret");
        assert_eq!(r.account_id, "111122223333");
        let kinds = [
            ("arn:aws:kms:us-east-1:1:key/k", "AWS::KMS::Key"),
            ("arn:aws:kms:us-east-1:1:alias/a", "AWS::KMS::Alias"),
            ("arn:aws:iam::1:role/r", "AWS::IAM::Role"),
            ("arn:aws:iam::1:user/p/u", "AWS::IAM::User"),
            ("arn:aws:iam::1:policy/p", "AWS::IAM::Policy"),
            ("arn:aws:iam::1:root", "AWS::IAM::Account"),
            (
                "arn:aws:iam::1:instance-profile/p/ip",
                "AWS::IAM::InstanceProfile",
            ),
            (
                "arn:aws:iam::1:oidc-provider/example.com/x",
                "AWS::IAM::OIDCProvider",
            ),
        ];
        for (arn, kind) in kinds {
            assert_eq!(resource(arn).map(|r| r.kind), Some(kind.to_owned()), "{arn}");
        }
        assert_eq!(resource("not-an-arn"), None);
    }
}
