//! Policy document validation: each malformed document and the message IAM returns for it.

use kinko_policy::{
    Effect, Policy, PolicyError, PolicyKind, PolicyVersion, document_size, document_size_without_whitespace,
};

use PolicyKind::*;

fn stmt(body: &str) -> String {
    format!(r#"{{"Version":"2012-10-17","Statement":[{body}]}}"#)
}

const ALLOW_ALL: &str = r#""Effect":"Allow","Action":"*","Resource":"*""#;

/// Documents IAM stores although they look odd (AWS's answers, as moto's IAM policy tests record
/// them), and which parse for evaluation too.
#[test]
fn iam_accepts() {
    for condition in [
        r#"{"StringEquals":{}}"#,
        r#"{"StringEquals":{"aws:username":[]}}"#,
        r#"{"StringEquals":{"username":"a"}}"#,
        r#"{"NotAnOperator":{}}"#,
        r#"{"DateLessThan":{"aws:CurrentTime":"01T"}}"#,
    ] {
        let doc = stmt(&format!(r#"{{{ALLOW_ALL},"Condition":{condition}}}"#));
        assert!(Policy::parse_iam(&doc).is_ok(), "{doc}");
        assert!(Policy::parse(&doc, Identity).is_ok(), "{doc}");
        assert!(Policy::parse(&doc, Boundary).is_ok(), "{doc}");
    }
}

#[test]
fn malformed_documents() {
    let syntax = "Syntax errors in policy.";
    let table: Vec<(String, PolicyKind, &str)> = vec![
        // Not JSON at all.
        (String::new(), Identity, "This policy contains invalid Json"),
        ("{".into(), Identity, "This policy contains invalid Json"),
        ("nul".into(), Identity, "This policy contains invalid Json"),
        (r#"{"Version":}"#.into(), Identity, "This policy contains invalid Json"),
        (r#"{"Version":"2012-10-17"} trailing"#.into(), Identity, "This policy contains invalid Json"),
        ("{'Version':'2012-10-17'}".into(), Identity, "This policy contains invalid Json"),
        // Wrong shape.
        ("[]".into(), Identity, syntax),
        ("\"policy\"".into(), Identity, syntax),
        ("null".into(), Identity, syntax),
        (r#"{"Version":"2012-10-17"}"#.into(), Identity, syntax),
        (r#"{"Version":"2012-10-17","Statement":[]}"#.into(), Identity, syntax),
        (r#"{"Version":"2012-10-17","Statement":"x"}"#.into(), Identity, syntax),
        (r#"{"Version":"2012-10-17","Statement":["x"]}"#.into(), Identity, syntax),
        (r#"{"Version":"2012-10-18","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#.into(), Identity, syntax),
        (r#"{"Version":20121017,"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#.into(), Identity, syntax),
        (r#"{"Id":7,"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#.into(), Identity, syntax),
        (
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}],"Condition":{}}"#.into(),
            Identity,
            syntax,
        ),
        (
            r#"{"Version":"2012-10-17","Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}"#
                .into(),
            Identity,
            syntax,
        ),
        (stmt(r#"{"Effect":"Allow","Action":"*","Resource":"*","Effect":"Deny"}"#), Identity, syntax),
        (stmt(r#"{"effect":"Allow","Action":"*","Resource":"*"}"#), Identity, syntax),
        (stmt(r#"{"Sid":1,"Effect":"Allow","Action":"*","Resource":"*"}"#), Identity, syntax),
        // Effect: IAM's syntax check reads it case-insensitively, its legacy parser exactly.
        (stmt(r#"{"Effect":"allow","Action":"*","Resource":"*"}"#), Identity, "The policy failed legacy parsing"),
        (stmt(r#"{"Effect":"Permit","Action":"*","Resource":"*"}"#), Identity, syntax),
        (stmt(r#"{"Action":"*","Resource":"*"}"#), Identity, syntax),
        (stmt(r#"{"Effect":true,"Action":"*","Resource":"*"}"#), Identity, syntax),
        (stmt(r#"{"Effect":"Permit","Action":"*","Resource":"*"}"#), Session, "The policy failed legacy parsing"),
        (stmt(r#"{"Action":"*","Resource":"*"}"#), Session, "The policy failed legacy parsing"),
        // Principal where none is allowed.
        (stmt(&format!(r#"{{{ALLOW_ALL},"Principal":"*"}}"#)), Identity, "Policy document should not specify a principal."),
        (stmt(&format!(r#"{{{ALLOW_ALL},"NotPrincipal":{{"AWS":"*"}}}}"#)), Identity, "Policy document should not specify a principal."),
        (stmt(&format!(r#"{{{ALLOW_ALL},"Principal":"*"}}"#)), Boundary, "Policy document should not specify a principal."),
        (stmt(&format!(r#"{{{ALLOW_ALL},"Principal":"*"}}"#)), Session, "Policy document should not specify a principal."),
        // Principal missing where required.
        (stmt(&format!("{{{ALLOW_ALL}}}")), Resource, "Missing required field Principal"),
        (stmt(&format!("{{{ALLOW_ALL}}}")), KeyPolicy, "Missing required field Principal"),
        (
            stmt(r#"{"Effect":"Allow","Action":"sts:AssumeRole"}"#),
            Trust,
            "Invalid principal in policy: com.amazon.balsa.error.InvalidPolicyException: The passed in policy has a statement with no principals!",
        ),
        // Principal values.
        (stmt(&format!(r#"{{{ALLOW_ALL},"Principal":"arn:aws:iam::111122223333:root"}}"#)), Resource, syntax),
        (stmt(&format!(r#"{{{ALLOW_ALL},"Principal":{{}}}}"#)), Resource, syntax),
        (stmt(&format!(r#"{{{ALLOW_ALL},"Principal":{{"AWS":123456789012}}}}"#)), Resource, syntax),
        (stmt(&format!(r#"{{{ALLOW_ALL},"Principal":{{"AWS":[]}}}}"#)), Resource, syntax),
        (stmt(&format!(r#"{{{ALLOW_ALL},"Principal":{{"Group":"x"}}}}"#)), Resource, syntax),
        (
            stmt(&format!(r#"{{{ALLOW_ALL},"Principal":{{"AWS":"arn:aws:iam::111122223333:role/*"}}}}"#)),
            Resource,
            r#"Invalid principal in policy: "AWS":"arn:aws:iam::111122223333:role/*""#,
        ),
        (
            stmt(&format!(r#"{{{ALLOW_ALL},"Principal":{{"AWS":["111122223333","alice"]}}}}"#)),
            Resource,
            r#"Invalid principal in policy: "AWS":"alice""#,
        ),
        (
            stmt(&format!(r#"{{{ALLOW_ALL},"Principal":{{"AWS":"arn:aws:iam::111122223333:group/admins"}}}}"#)),
            Resource,
            r#"Invalid principal in policy: "AWS":"arn:aws:iam::111122223333:group/admins""#,
        ),
        (
            stmt(&format!(r#"{{{ALLOW_ALL},"Principal":{{"Service":"*"}}}}"#)),
            Resource,
            r#"Invalid principal in policy: "Service":"*""#,
        ),
        (
            stmt(&format!(r#"{{{ALLOW_ALL},"Principal":"*","NotPrincipal":{{"AWS":"111122223333"}}}}"#)),
            Resource,
            syntax,
        ),
        // Actions.
        (stmt(r#"{"Effect":"Allow","Resource":"*"}"#), Identity, "Policy statement must contain actions."),
        (stmt(r#"{"Effect":"Allow","Action":[],"Resource":"*"}"#), Identity, "Policy statement must contain actions."),
        (stmt(r#"{"Effect":"Allow","Action":7,"Resource":"*"}"#), Identity, syntax),
        (stmt(r#"{"Effect":"Allow","Action":["s3:GetObject",7],"Resource":"*"}"#), Identity, syntax),
        (stmt(r#"{"Effect":"Allow","Action":"*","NotAction":"s3:*","Resource":"*"}"#), Identity, syntax),
        (
            stmt(r#"{"Effect":"Allow","Action":"GetSecretValue","Resource":"*"}"#),
            Identity,
            "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.",
        ),
        (
            stmt(r#"{"Effect":"Allow","Action":":GetSecretValue","Resource":"*"}"#),
            Identity,
            "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.",
        ),
        (
            stmt(r#"{"Effect":"Allow","Action":"secretsmanager:Get:SecretValue","Resource":"*"}"#),
            Identity,
            "Actions/Condition can contain only one colon.",
        ),
        // Resources.
        (stmt(r#"{"Effect":"Allow","Action":"*"}"#), Identity, "Policy statement must contain resources."),
        (stmt(r#"{"Effect":"Allow","Action":"*","Resource":[]}"#), Identity, "Policy statement must contain resources."),
        (stmt(r#"{"Effect":"Allow","Action":"*"}"#), Boundary, "Policy statement must contain resources."),
        (stmt(r#"{"Effect":"Allow","Principal":"*","Action":"kms:*"}"#), KeyPolicy, "Policy statement must contain resources."),
        (stmt(r#"{"Effect":"Allow","Action":"*","Resource":{"arn":"x"}}"#), Identity, syntax),
        (stmt(r#"{"Effect":"Allow","Action":"*","Resource":"*","NotResource":"*"}"#), Identity, syntax),
        (
            stmt(r#"{"Effect":"Allow","Action":"s3:*","Resource":"my-bucket"}"#),
            Identity,
            r#"Resource my-bucket must be in ARN format or "*"."#,
        ),
        (
            stmt(r#"{"Effect":"Allow","Action":"s3:*","Resource":["*",""]}"#),
            Identity,
            r#"Resource  must be in ARN format or "*"."#,
        ),
        (
            stmt(r#"{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"sts:AssumeRole","Resource":"*"}"#),
            Trust,
            "Has prohibited field Resource.",
        ),
        (
            stmt(r#"{"Effect":"Allow","Principal":{"AWS":"111122223333"},"Action":"sts:AssumeRole","NotResource":"*"}"#),
            Trust,
            "Has prohibited field Resource.",
        ),
        // Conditions.
        (stmt(&format!(r#"{{{ALLOW_ALL},"Condition":"x"}}"#)), Identity, syntax),
        (stmt(&format!(r#"{{{ALLOW_ALL},"Condition":{{"aws:SourceIp":"1.2.3.4"}}}}"#)), Identity, syntax),
        (stmt(&format!(r#"{{{ALLOW_ALL},"Condition":{{"StringEqualz":{{"aws:username":"a"}}}}}}"#)), Identity, syntax),
        (stmt(&format!(r#"{{{ALLOW_ALL},"Condition":{{"ForSomeValues:StringEquals":{{"aws:TagKeys":"a"}}}}}}"#)), Identity, syntax),
        (stmt(&format!(r#"{{{ALLOW_ALL},"Condition":{{"NullIfExists":{{"aws:TagKeys":"true"}}}}}}"#)), Identity, syntax),
        // IAM stores an operator without keys and a key without values (see `iam_accepts`); the
        // other services' policies may not have them.
        (stmt(&format!(r#"{{{ALLOW_ALL},"Condition":{{"StringEquals":{{}}}}}}"#)), Session, syntax),
        (stmt(&format!(r#"{{{ALLOW_ALL},"Condition":{{"StringEquals":{{"aws:username":[]}}}}}}"#)), Session, syntax),
        (stmt(&format!(r#"{{{ALLOW_ALL},"Condition":{{"StringEquals":{{"aws:username":null}}}}}}"#)), Identity, syntax),
        (stmt(&format!(r#"{{{ALLOW_ALL},"Condition":{{"StringEquals":{{"aws:username":{{"a":"b"}}}}}}}}"#)), Identity, syntax),
        (stmt(&format!(r#"{{{ALLOW_ALL},"Condition":{{"NumericLessThan":{{"s3:max-keys":"ten"}}}}}}"#)), Identity, syntax),
        (
            stmt(&format!(r#"{{{ALLOW_ALL},"Condition":{{"DateLessThan":{{"aws:CurrentTime":"next week"}}}}}}"#)),
            Identity,
            "The policy failed legacy parsing",
        ),
        (stmt(&format!(r#"{{{ALLOW_ALL},"Condition":{{"DateLessThan":{{"aws:CurrentTime":"next week"}}}}}}"#)), Session, syntax),
        (stmt(&format!(r#"{{{ALLOW_ALL},"Condition":{{"IpAddress":{{"aws:SourceIp":"10.0.0.0/40"}}}}}}"#)), Identity, syntax),
        (stmt(&format!(r#"{{{ALLOW_ALL},"Condition":{{"BinaryEquals":{{"example:blob":"not base64!"}}}}}}"#)), Identity, syntax),
        (stmt(&format!(r#"{{{ALLOW_ALL},"Condition":{{"Null":{{"aws:TokenIssueTime":"yes"}}}}}}"#)), Identity, syntax),
        (
            stmt(&format!(
                r#"{{{ALLOW_ALL},"Condition":{{"StringEquals":{{"aws:username":"a"}},"StringEquals":{{"aws:userid":"b"}}}}}}"#
            )),
            Identity,
            syntax,
        ),
        (
            stmt(&format!(r#"{{{ALLOW_ALL},"Condition":{{"StringEquals":{{"username":"a"}}}}}}"#)),
            Session,
            "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc.",
        ),
        // Statement ids in IAM-stored policies.
        (
            stmt(&format!(r#"{{"Sid":"Read",{ALLOW_ALL}}},{{"Sid":"Read",{ALLOW_ALL}}}"#)),
            Identity,
            "Statement IDs (SID) in a single policy must be unique.",
        ),
        (
            stmt(&format!(r#"{{"Sid":"Read Only",{ALLOW_ALL}}}"#)),
            Identity,
            "Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular expression [0-9A-Za-z]*",
        ),
        (
            stmt(&format!(r#"{{"Sid":"read-only",{ALLOW_ALL}}}"#)),
            Boundary,
            "Statement IDs (SID) must be alpha-numeric. Check that your input satisfies the regular expression [0-9A-Za-z]*",
        ),
    ];
    let mut failures = Vec::new();
    for (i, (doc, kind, want)) in table.iter().enumerate() {
        // Identity-based documents are checked as IAM checks one it is asked to store.
        let parsed = match kind {
            Identity => Policy::parse_iam(doc),
            _ => Policy::parse(doc, *kind),
        };
        match parsed {
            Ok(_) => failures.push(format!("#{i} {kind:?} accepted {doc}")),
            Err(e) if e.to_string() != *want => {
                failures.push(format!("#{i} {kind:?} {doc}\n  want: {want}\n  got:  {e}"))
            }
            Err(_) => {}
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} failed:\n{}",
        failures.len(),
        table.len(),
        failures.join("\n")
    );
}

#[test]
fn valid_documents() {
    let table: Vec<(&str, PolicyKind)> = vec![
        // Identity policy, single statement object, no Version.
        (
            r#"{"Statement":{"Effect":"Allow","Action":"s3:ListAllMyBuckets","Resource":"arn:aws:s3:::*"}}"#,
            Identity,
        ),
        // Every element, every operator family.
        (
            r#"{"Version":"2012-10-17","Id":"p1","Statement":[{"Sid":"All","Effect":"Deny","NotAction":["iam:*"],
               "NotResource":"arn:aws:secretsmanager:*:*:secret:public/*","Condition":{
               "StringEqualsIgnoreCase":{"aws:PrincipalTag/team":["a","B"]},"ForAnyValue:StringLike":{"aws:TagKeys":"x*"},
               "NumericLessThanEqualsIfExists":{"secretsmanager:RecoveryWindowInDays":30},"DateGreaterThan":{"aws:CurrentTime":"2020-01-01T00:00:00Z"},
               "Bool":{"aws:SecureTransport":false},"BinaryEquals":{"x:y":"QUJD"},"NotIpAddress":{"aws:SourceIp":["10.0.0.0/8","2001:db8::/32"]},
               "ArnNotLike":{"aws:PrincipalArn":"arn:aws:iam::*:role/admin"},"Null":{"aws:TokenIssueTime":true}}}]}"#,
            Identity,
        ),
        // Trust policy without Resource, with Service and Federated principals.
        (
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":["lambda.amazonaws.com"]},"Action":"sts:AssumeRole"},
               {"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com"},
                "Action":"sts:AssumeRoleWithWebIdentity","Condition":{"StringEquals":{"token.actions.githubusercontent.com:aud":"sts.amazonaws.com"}}}]}"#,
            Trust,
        ),
        // Resource policy with every AWS principal form.
        (
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":{"AWS":["*","111122223333","arn:aws:iam::111122223333:root",
               "arn:aws:iam::111122223333:user/a/b","arn:aws:iam::111122223333:role/r","arn:aws:sts::111122223333:assumed-role/r/s",
               "arn:aws:sts::111122223333:federated-user/f","AIDAJQABLZS4A3QDU576Q"],"CanonicalUser":"79a59df900b949e55d96a1e698fbaced"},
               "Action":"secretsmanager:GetSecretValue","Resource":"*"}}"#,
            Resource,
        ),
        // The default key policy and the aws/secretsmanager one (repeated Sid with spaces).
        (
            r#"{"Version":"2012-10-17","Id":"key-default-1","Statement":[{"Sid":"Enable IAM User Permissions","Effect":"Allow",
               "Principal":{"AWS":"arn:aws:iam::111122223333:root"},"Action":"kms:*","Resource":"*"}]}"#,
            KeyPolicy,
        ),
        (
            r#"{"Version":"2012-10-17","Statement":[{"Sid":"Same Sid","Effect":"Allow","Principal":{"AWS":"*"},"Action":"kms:Decrypt","Resource":"*"},
               {"Sid":"Same Sid","Effect":"Allow","Principal":{"AWS":"*"},"Action":"kms:GenerateDataKey*","Resource":"*"}]}"#,
            KeyPolicy,
        ),
        // Empty Sid, session policy, boundary.
        (
            r#"{"Version":"2012-10-17","Statement":[{"Sid":"","Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#,
            Session,
        ),
        (
            r#"{"Version":"2008-10-17","Statement":[{"Effect":"Allow","NotAction":"iam:*","Resource":"*"}]}"#,
            Boundary,
        ),
    ];
    for (doc, kind) in table {
        if let Err(e) = Policy::parse(doc, kind) {
            panic!("{kind:?} rejected with {e:?}: {doc}");
        }
    }
}

#[test]
fn parsed_form() {
    let p = Policy::parse(
        r#"{"Version":"2012-10-17","Id":"x","Statement":[{"Sid":"A","Effect":"Allow","Action":"*","Resource":"*"},
            {"Effect":"Deny","Action":"*","Resource":"*"}]}"#,
        Identity,
    )
    .unwrap();
    assert_eq!(p.kind(), Identity);
    assert_eq!(p.version(), PolicyVersion::V2012_10_17);
    assert!(p.version_specified());
    assert_eq!(p.id(), Some("x"));
    assert_eq!(p.statements().len(), 2);
    assert_eq!(p.statements()[0].sid(), Some("A"));
    assert_eq!(p.statements()[1].sid(), None);
    assert_eq!(p.statements()[1].effect(), Effect::Deny);
    assert!(!p.statements()[0].has_principal());
    assert_eq!(PolicyError::CODE, "MalformedPolicyDocument");
}

#[test]
fn sizes() {
    let doc = "{ \"Version\": \"2012-10-17\" }\n";
    assert_eq!(document_size(doc), 28);
    assert_eq!(document_size_without_whitespace(doc), 24);
    assert_eq!(document_size("é"), 1);
}
