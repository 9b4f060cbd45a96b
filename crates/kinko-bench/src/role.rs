//! The IAM role session some loads sign with: a role with five attached managed policies that
//! allow GetSecretValue (each on a condition), and an IAM user allowed to assume it (AWS does not
//! let the root user assume roles). Shared by `kinko-bench instructions` (through the server's
//! router) and `kinko-bench --caller role` (over HTTP).

use serde_json::json;

/// Name of the role.
pub(crate) const ROLE_NAME: &str = "reader";
/// Name of the IAM user that assumes it.
pub(crate) const USER_NAME: &str = "caller";
/// Number of managed policies attached to the role.
pub(crate) const POLICIES: usize = 5;

/// One IAM Query call: its parameters, `Action` first.
pub(crate) type Call = Vec<(&'static str, String)>;

/// The role's ARN in `account`.
pub(crate) fn role_arn(account: &str) -> String {
    format!("arn:aws:iam::{account}:role/{ROLE_NAME}")
}

/// The IAM calls, in order, that make the role (trusting the account, with [`POLICIES`] attached
/// policies allowing GetSecretValue and DescribeSecret of the secrets whose names start with
/// `secret_prefix` in `region`, on the condition `aws:RequestedRegion`) and the user allowed to
/// assume it. The caller then creates the user's access key ([`create_access_key`]) and assumes
/// the role with it ([`assume_role`]).
pub(crate) fn setup_calls(account: &str, region: &str, secret_prefix: &str) -> Vec<Call> {
    let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"AWS": format!("arn:aws:iam::{account}:root")}, "Action": "sts:AssumeRole"}]})
    .to_string();
    let mut calls = vec![vec![
        ("Action", "CreateRole".to_owned()),
        ("RoleName", ROLE_NAME.to_owned()),
        ("AssumeRolePolicyDocument", trust),
    ]];
    for i in 0..POLICIES {
        let document = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Action": ["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
            "Resource": format!("arn:aws:secretsmanager:{region}:{account}:secret:{secret_prefix}*"),
            "Condition": {"StringEquals": {"aws:RequestedRegion": region}}}]})
        .to_string();
        let name = format!("{ROLE_NAME}-{i}");
        calls.push(vec![
            ("Action", "CreatePolicy".to_owned()),
            ("PolicyName", name.clone()),
            ("PolicyDocument", document),
        ]);
        calls.push(vec![
            ("Action", "AttachRolePolicy".to_owned()),
            ("RoleName", ROLE_NAME.to_owned()),
            ("PolicyArn", format!("arn:aws:iam::{account}:policy/{name}")),
        ]);
    }
    let may_assume = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Action": "sts:AssumeRole", "Resource": role_arn(account)}]})
    .to_string();
    calls.push(vec![
        ("Action", "CreateUser".to_owned()),
        ("UserName", USER_NAME.to_owned()),
    ]);
    calls.push(vec![
        ("Action", "PutUserPolicy".to_owned()),
        ("UserName", USER_NAME.to_owned()),
        ("PolicyName", "assume".to_owned()),
        ("PolicyDocument", may_assume),
    ]);
    calls
}

/// The IAM call creating the user's access key (answered with `AccessKeyId`, `SecretAccessKey`).
pub(crate) fn create_access_key() -> Call {
    vec![
        ("Action", "CreateAccessKey".to_owned()),
        ("UserName", USER_NAME.to_owned()),
    ]
}

/// The STS call, signed with the user's key, that opens a session of the role.
pub(crate) fn assume_role(account: &str, session_name: &str) -> Call {
    vec![
        ("Action", "AssumeRole".to_owned()),
        ("RoleArn", role_arn(account)),
        ("RoleSessionName", session_name.to_owned()),
    ]
}

/// `call` as the borrowed pairs the signer takes.
pub(crate) fn pairs(call: &Call) -> Vec<(&str, &str)> {
    call.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_policy_is_created_then_attached_by_its_arn() {
        let calls = setup_calls("111122223333", "us-east-1", "bench-");
        assert_eq!(calls.len(), 1 + 2 * POLICIES + 2);
        let attached: Vec<&str> = calls
            .iter()
            .filter(|c| c[0].1 == "AttachRolePolicy")
            .map(|c| c[2].1.as_str())
            .collect();
        assert_eq!(attached.len(), POLICIES);
        assert_eq!(attached[0], "arn:aws:iam::111122223333:policy/reader-0");
        let created = calls.iter().filter(|c| c[0].1 == "CreatePolicy").count();
        assert_eq!(created, POLICIES);
    }
}
