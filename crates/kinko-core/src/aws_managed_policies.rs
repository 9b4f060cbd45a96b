//! Built-in AWS managed policies (`arn:aws:iam::aws:policy/<name>`): attachable in every account,
//! version `v1`, never editable.

use crate::Timestamp;
use crate::iam::{ManagedPolicy, PolicyVersion};

/// (name, policy id, document)
const POLICIES: &[(&str, &str, &str)] = &[
    (
        "AdministratorAccess",
        "ANPAIWMBCKSKIEE64ZLYK",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
    ),
    (
        "SecretsManagerReadWrite",
        "ANPAI3VG7CI5BIQZQ6G2E",
        r#"{"Version":"2012-10-17","Statement":[{"Sid":"BasePermissions","Effect":"Allow","Action":["secretsmanager:*","kms:DescribeKey","kms:ListAliases","kms:ListKeys"],"Resource":"*"}]}"#,
    ),
    (
        "IAMFullAccess",
        "ANPAI7XKCFMBPM3QQRRVQ",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:*","organizations:DescribeAccount","organizations:DescribeOrganization","organizations:ListAccounts"],"Resource":"*"}]}"#,
    ),
    (
        "IAMReadOnlyAccess",
        "ANPAJKSO7NDY4T57MWDSQ",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:GenerateCredentialReport","iam:GenerateServiceLastAccessedDetails","iam:Get*","iam:List*","iam:SimulateCustomPolicy","iam:SimulatePrincipalPolicy"],"Resource":"*"}]}"#,
    ),
    (
        "AWSKeyManagementServicePowerUser",
        "ANPAJNPP7PPPPMJRV2SA4",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["kms:CreateAlias","kms:CreateKey","kms:DeleteAlias","kms:Describe*","kms:GenerateRandom","kms:Get*","kms:List*","kms:TagResource","kms:UntagResource","iam:ListGroups","iam:ListRoles","iam:ListUsers"],"Resource":"*"}]}"#,
    ),
];

fn build(name: &str, id: &str, doc: &str) -> ManagedPolicy {
    // A fixed date, as AWS managed policies have one.
    let created = Timestamp(1_423_180_800_000);
    ManagedPolicy {
        name: name.to_owned(),
        path: "/".to_owned(),
        policy_id: id.to_owned(),
        arn: format!("arn:aws:iam::aws:policy/{name}"),
        create_date: created,
        update_date: created,
        description: None,
        default_version_id: "v1".to_owned(),
        versions: vec![PolicyVersion {
            version_id: "v1".to_owned(),
            document: doc.to_owned(),
            create_date: created,
        }],
        tags: vec![],
    }
}

/// Every built-in AWS managed policy.
pub fn aws_managed_policies() -> Vec<ManagedPolicy> {
    POLICIES.iter().map(|(n, i, d)| build(n, i, d)).collect()
}

/// The built-in AWS managed policy with this ARN.
pub fn aws_managed_policy(arn: &str) -> Option<ManagedPolicy> {
    let name = arn.strip_prefix("arn:aws:iam::aws:policy/")?;
    POLICIES
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(n, i, d)| build(n, i, d))
}
