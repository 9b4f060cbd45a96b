//! Template bodies (JSON or YAML) into [`Value`] trees.
//!
//! YAML short forms become the JSON long forms CloudFormation documents: `!Ref X` is
//! `{"Ref": "X"}`, `!Condition C` is `{"Condition": "C"}`, `!GetAtt A.B` is
//! `{"Fn::GetAtt": ["A", "B"]}` and every other `!Name v` is `{"Fn::Name": v}`; tags nest
//! (`!Sub` inside `!Join` inside `!If`). Untagged plain scalars follow the YAML 1.2 core schema
//! (`true`, `false`, `null`, `~`, numbers); everything else, quoted text and block scalars
//! (`ZipFile: |`) included, is a string. So `AWSTemplateFormatVersion: 2010-09-09` stays the
//! string CloudFormation expects, not a YAML 1.1 timestamp.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use crate::error::{Result, TemplateError};
use crate::value::{Map, Value};

/// Which syntax a body was written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// JSON.
    Json,
    /// YAML.
    Yaml,
}

/// Parses a template body. A body whose first non-blank character is `{` is JSON, anything else
/// YAML (JSON is nearly a subset of YAML, but CloudFormation reports JSON errors as JSON errors).
pub fn parse_body(body: &str) -> Result<(Value, Format)> {
    if body.trim_start().starts_with('{') {
        parse_json(body).map(|v| (v, Format::Json))
    } else {
        parse_yaml(body).map(|v| (v, Format::Yaml))
    }
}

/// Parses a JSON body.
pub fn parse_json(body: &str) -> Result<Value> {
    serde_json::from_str::<Value>(body).map_err(|e| {
        // AWS writes two spaces before "column" in this message.
        TemplateError::format(format!(
            "JSON not well-formed. (line {},  column {})",
            e.line(),
            e.column()
        ))
    })
}

/// Parses a YAML body (one document).
pub fn parse_yaml(body: &str) -> Result<Value> {
    let mut builder = Builder::default();
    let mut parser = Parser::new_from_str(body);
    if let Err(e) = parser.load(&mut builder, false) {
        return Err(yaml_error(*e.marker()));
    }
    if let Some(mark) = builder.error {
        return Err(yaml_error(mark));
    }
    match builder.root {
        Some(v) => Ok(v),
        None => Err(TemplateError::format("YAML not well-formed. (line 1, column 1)")),
    }
}

fn yaml_error(mark: Marker) -> TemplateError {
    TemplateError::format(format!(
        "YAML not well-formed. (line {}, column {})",
        mark.line(),
        mark.col() + 1
    ))
}

/// How deep lists and maps may nest: the limit serde_json applies to JSON bodies, so evaluation,
/// which recurses, never runs out of stack on a hostile body.
const MAX_DEPTH: usize = 128;

enum Frame {
    Seq {
        items: Vec<Value>,
        anchor: usize,
        tag: Option<Tag>,
    },
    Map {
        map: Map,
        key: Option<(String, Marker)>,
        anchor: usize,
        tag: Option<Tag>,
    },
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    anchors: HashMap<usize, Value>,
    root: Option<Value>,
    error: Option<Marker>,
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        if self.error.is_some() {
            return;
        }
        match ev {
            Event::Scalar(text, style, anchor, tag) => {
                // A scalar where a map expects a key is the key, taken as written.
                if let Some(Frame::Map { key: key @ None, .. }) = self.stack.last_mut() {
                    *key = Some((text, mark));
                    return;
                }
                let value = apply_tag(scalar(text, style, tag.as_ref()), tag.as_ref());
                self.finish(value, anchor, mark);
            }
            Event::SequenceStart(anchor, tag) => {
                if self.expecting_key() || self.stack.len() >= MAX_DEPTH {
                    self.error = Some(mark);
                    return;
                }
                self.stack.push(Frame::Seq {
                    items: Vec::new(),
                    anchor,
                    tag,
                });
            }
            Event::MappingStart(anchor, tag) => {
                if self.expecting_key() || self.stack.len() >= MAX_DEPTH {
                    self.error = Some(mark);
                    return;
                }
                self.stack.push(Frame::Map {
                    map: Map::new(),
                    key: None,
                    anchor,
                    tag,
                });
            }
            Event::SequenceEnd | Event::MappingEnd => match self.stack.pop() {
                Some(Frame::Seq { items, anchor, tag }) => {
                    self.finish(apply_tag(Value::List(items), tag.as_ref()), anchor, mark);
                }
                Some(Frame::Map { map, anchor, tag, .. }) => {
                    self.finish(apply_tag(Value::Map(map), tag.as_ref()), anchor, mark);
                }
                None => self.error = Some(mark),
            },
            Event::Alias(id) => {
                if self.expecting_key() {
                    self.error = Some(mark);
                    return;
                }
                match self.anchors.get(&id).cloned() {
                    Some(v) => self.finish(v, 0, mark),
                    None => self.error = Some(mark),
                }
            }
            Event::Nothing
            | Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart
            | Event::DocumentEnd => {}
        }
    }
}

impl Builder {
    fn expecting_key(&self) -> bool {
        matches!(self.stack.last(), Some(Frame::Map { key: None, .. }))
    }

    fn finish(&mut self, value: Value, anchor: usize, mark: Marker) {
        if anchor > 0 {
            self.anchors.insert(anchor, value.clone());
        }
        match self.stack.last_mut() {
            Some(Frame::Seq { items, .. }) => items.push(value),
            Some(Frame::Map { map, key, .. }) => match key.take() {
                // A repeated key is reported where it is written.
                Some((k, key_mark)) if map.contains_key(&k) => self.error = Some(key_mark),
                Some((k, _)) => map.insert(k, value),
                None => self.error = Some(mark),
            },
            None => {
                if self.root.is_none() {
                    self.root = Some(value);
                }
            }
        }
    }
}

const CORE_SCHEMA: &str = "tag:yaml.org,2002:";

/// A scalar's value before any short-form tag is applied.
fn scalar(text: String, style: TScalarStyle, tag: Option<&Tag>) -> Value {
    if let Some(tag) = tag
        && tag.handle == CORE_SCHEMA
    {
        return match tag.suffix.as_str() {
            "str" => Value::String(text),
            "int" | "float" if is_number(&text) => Value::Number(text),
            "bool" if text.eq_ignore_ascii_case("true") => Value::Bool(true),
            "bool" if text.eq_ignore_ascii_case("false") => Value::Bool(false),
            "null" => Value::Null,
            _ => Value::String(text),
        };
    }
    if style != TScalarStyle::Plain {
        return Value::String(text);
    }
    match text.as_str() {
        "" | "~" | "null" | "Null" | "NULL" => Value::Null,
        "true" | "True" | "TRUE" => Value::Bool(true),
        "false" | "False" | "FALSE" => Value::Bool(false),
        _ if is_number(&text) => Value::Number(text),
        _ => Value::String(text),
    }
}

/// A decimal integer or float as YAML's core schema writes it (no hex, octal, inf or nan: those
/// stay strings, so an id such as `0x1F` is never reinterpreted).
fn is_number(text: &str) -> bool {
    let t = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (mantissa, exponent) = match t.find(['e', 'E']) {
        Some(i) => (&t[..i], Some(&t[i + 1..])),
        None => (t, None),
    };
    let (int, frac) = match mantissa.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (mantissa, None),
    };
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = match frac {
        None => !int.is_empty() && digits(int),
        Some(f) => digits(int) && digits(f) && !(int.is_empty() && f.is_empty()),
    };
    let exponent_ok = match exponent {
        None => true,
        Some(e) => {
            let e = e.strip_prefix(['-', '+']).unwrap_or(e);
            !e.is_empty() && digits(e)
        }
    };
    mantissa_ok && exponent_ok
}

/// Turns a `!Name` short form into its long form.
fn apply_tag(value: Value, tag: Option<&Tag>) -> Value {
    let Some(tag) = tag else { return value };
    if tag.handle != "!" || tag.suffix.is_empty() {
        return value;
    }
    let (key, arg) = match tag.suffix.as_str() {
        "Ref" => ("Ref".to_owned(), value),
        "Condition" => ("Condition".to_owned(), value),
        "GetAtt" => {
            // `!GetAtt Resource.Attribute`: the attribute may itself contain dots
            // (`Endpoint.Address`), so split at the first one only.
            let arg = match value {
                Value::String(s) => match s.split_once('.') {
                    Some((r, a)) => Value::List(vec![Value::string(r), Value::string(a)]),
                    None => Value::String(s),
                },
                other => other,
            };
            ("Fn::GetAtt".to_owned(), arg)
        }
        name => (format!("Fn::{name}"), value),
    };
    let mut map = Map::new();
    map.insert(key, arg);
    Value::Map(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(s: &str) -> Value {
        match parse_yaml(s) {
            Ok(v) => v,
            Err(e) => panic!("{e}"),
        }
    }

    fn json(s: &str) -> Value {
        match parse_json(s) {
            Ok(v) => v,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn short_forms_become_long_forms() {
        let v = yaml(
            "a: !Ref X\nb: !GetAtt R.Arn\nc: !GetAtt [R, Endpoint.Address]\nd: !GetAtt Db.Endpoint.Address\n\
             e: !Sub '${AWS::Region}-x'\nf: !Condition IsProd\ng: !Base64 abc\n",
        );
        let expected = json(
            r#"{"a":{"Ref":"X"},"b":{"Fn::GetAtt":["R","Arn"]},"c":{"Fn::GetAtt":["R","Endpoint.Address"]},
               "d":{"Fn::GetAtt":["Db","Endpoint.Address"]},"e":{"Fn::Sub":"${AWS::Region}-x"},
               "f":{"Condition":"IsProd"},"g":{"Fn::Base64":"abc"}}"#,
        );
        assert_eq!(v, expected);
    }

    #[test]
    fn nested_short_forms() {
        let v = yaml(
            "x: !If [IsProd, !Join ['-', [!Ref A, !Select [0, !Split [',', !Sub '${B}']]]], !Ref AWS::NoValue]\n",
        );
        let expected = json(
            r#"{"x":{"Fn::If":["IsProd",{"Fn::Join":["-",[{"Ref":"A"},{"Fn::Select":["0",
               {"Fn::Split":[",",{"Fn::Sub":"${B}"}]}]}]]},{"Ref":"AWS::NoValue"}]}}"#,
        );
        // `0` is a YAML number; the JSON above wrote it as a string, so compare loosely there.
        let Value::Map(m) = &v else { panic!() };
        let Value::Map(e) = &expected else { panic!() };
        assert_eq!(
            m.get("x").map(|x| x.to_string().replace("[0,", "[\"0\",")),
            e.get("x").map(Value::to_string)
        );
    }

    #[test]
    fn block_tags_on_maps_and_sequences() {
        let v = yaml(
            "a: !Sub\n  - '${X}-${Y}'\n  - Y: !Ref Z\nb: !And\n  - !Equals [a, b]\n  - !Not [!Condition C]\n",
        );
        let expected = json(
            r#"{"a":{"Fn::Sub":["${X}-${Y}",{"Y":{"Ref":"Z"}}]},
               "b":{"Fn::And":[{"Fn::Equals":["a","b"]},{"Fn::Not":[{"Condition":"C"}]}]}}"#,
        );
        assert_eq!(v, expected);
    }

    #[test]
    fn scalars_follow_the_core_schema() {
        let v = yaml(
            "v: 2010-09-09\nn: 42\nf: 1.5\nb: true\nq: 'true'\nz: ~\no: 0x1F\na: 012345678901\nblock: |\n  line1\n  line2\n",
        );
        let m = v.as_map().expect("map");
        assert_eq!(m.get("v"), Some(&Value::string("2010-09-09")));
        assert_eq!(m.get("n"), Some(&Value::Number("42".into())));
        assert_eq!(m.get("f"), Some(&Value::Number("1.5".into())));
        assert_eq!(m.get("b"), Some(&Value::Bool(true)));
        assert_eq!(m.get("q"), Some(&Value::string("true")));
        assert_eq!(m.get("z"), Some(&Value::Null));
        assert_eq!(m.get("o"), Some(&Value::string("0x1F")));
        assert_eq!(m.get("a"), Some(&Value::Number("012345678901".into())));
        assert_eq!(m.get("block"), Some(&Value::string("line1\nline2\n")));
    }

    #[test]
    fn key_order_is_kept() {
        let v = yaml("z: 1\na: 2\nm: 3\n");
        let keys: Vec<_> = v.as_map().expect("map").keys().collect();
        assert_eq!(keys, ["z", "a", "m"]);
        let v = json(r#"{"z":1,"a":2,"m":3}"#);
        let keys: Vec<_> = v.as_map().expect("map").keys().collect();
        assert_eq!(keys, ["z", "a", "m"]);
    }

    #[test]
    fn anchors_and_aliases() {
        let v = yaml("a: &x {k: v}\nb: *x\n");
        let m = v.as_map().expect("map");
        assert_eq!(m.get("a"), m.get("b"));
    }

    #[test]
    fn malformed_bodies() {
        assert_eq!(
            parse_body("{\"a\": }").map(|_| ()),
            Err(TemplateError::Validation(
                "Template format error: JSON not well-formed. (line 1,  column 7)".into()
            ))
        );
        let e = parse_body("a: [1, 2\nb: c").map(|_| ()).unwrap_err();
        assert!(
            e.message()
                .starts_with("Template format error: YAML not well-formed. (line "),
            "{e}"
        );
        let e = parse_body("a: 1\na: 2\n").map(|_| ()).unwrap_err();
        assert_eq!(
            e.message(),
            "Template format error: YAML not well-formed. (line 2, column 1)"
        );
        assert!(parse_body("").is_err());
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let deep = format!("a: {}1{}", "[".repeat(20_000), "]".repeat(20_000));
        assert!(
            parse_body(&deep)
                .unwrap_err()
                .message()
                .starts_with("Template format error: YAML not well-formed.")
        );
        let deep = format!("{{\"a\": {}1{}}}", "[".repeat(20_000), "]".repeat(20_000));
        assert!(
            parse_body(&deep)
                .unwrap_err()
                .message()
                .starts_with("Template format error: JSON not well-formed.")
        );
        let ok = format!("a: {}1{}", "[".repeat(100), "]".repeat(100));
        assert!(parse_body(&ok).is_ok());
    }

    #[test]
    fn format_detection() {
        assert_eq!(parse_body("  {\"a\": 1}").map(|(_, f)| f), Ok(Format::Json));
        assert_eq!(parse_body("a: 1").map(|(_, f)| f), Ok(Format::Yaml));
    }
}
