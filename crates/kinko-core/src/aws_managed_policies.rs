//! Built-in AWS managed policies (`arn:aws:iam::aws:policy/<name>`): attachable in every account,
//! listed with `Scope=AWS`, one version (`v1`), never editable.
//!
//! Names, policy ids, descriptions and dates are AWS's. The documents are AWS's current default
//! versions, except `ReadOnlyAccess`, whose real document lists read actions of every AWS service
//! (some 70 KB): here it keeps exactly the entries AWS's document has for the services kinko speaks
//! (IAM, KMS, Organizations, Secrets Manager, STS). Like AWS's, it does not allow
//! `secretsmanager:GetSecretValue`.

use crate::Timestamp;
use crate::iam::{AWS_MANAGED_POLICY_PREFIX, ManagedPolicy, PolicyVersion};

struct Builtin {
    name: &'static str,
    id: &'static str,
    description: &'static str,
    /// Milliseconds since the epoch.
    created: i64,
    /// When the current default version was published.
    updated: i64,
    document: &'static str,
}

const POLICIES: &[Builtin] = &[
    Builtin {
        name: "AdministratorAccess",
        id: "ANPAIWMBCKSKIEE64ZLYK",
        description: "Provides full access to AWS services and resources.",
        created: 1_423_247_986_000,
        updated: 1_423_247_986_000,
        document: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#,
    },
    Builtin {
        name: "PowerUserAccess",
        id: "ANPAJYRXTHIB4FOVS3ZXS",
        description: "Provides full access to AWS services and resources, but does not allow management of Users and groups.",
        created: 1_423_247_987_000,
        updated: 1_423_247_987_000,
        document: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","NotAction":["iam:*","organizations:*","account:*"],"Resource":"*"},{"Effect":"Allow","Action":["account:GetAccountInformation","account:GetGovCloudAccountInformation","account:GetPrimaryEmail","account:ListRegions","iam:CreateServiceLinkedRole","iam:DeleteServiceLinkedRole","iam:ListRoles","organizations:DescribeEffectivePolicy","organizations:DescribeOrganization"],"Resource":"*"}]}"#,
    },
    Builtin {
        name: "ReadOnlyAccess",
        id: "ANPAILL3HVNFSB6DCOWYQ",
        description: "Provides read-only access to AWS services and resources.",
        created: 1_423_247_988_000,
        updated: 1_651_689_503_000,
        document: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:Generate*","iam:Get*","iam:List*","iam:Simulate*","kms:Describe*","kms:Get*","kms:List*","organizations:Describe*","organizations:List*","secretsmanager:Describe*","secretsmanager:GetResourcePolicy","secretsmanager:List*","sts:GetAccessKeyInfo","sts:GetCallerIdentity","sts:GetSessionToken"],"Resource":"*"}]}"#,
    },
    Builtin {
        name: "SecretsManagerReadWrite",
        id: "ANPAI3VG7CI5BIQZQ6G2E",
        description: "Provides read/write access to AWS Secrets Manager via the AWS Management Console. Note: this exludes IAM actions, so combine with IAMFullAccess if rotation configuration is required.",
        created: 1_522_865_129_000,
        updated: 1_693_341_759_000,
        document: r#"{"Version":"2012-10-17","Statement":[{"Sid":"BasePermissions","Effect":"Allow","Action":["secretsmanager:*","cloudformation:CreateChangeSet","cloudformation:DescribeChangeSet","cloudformation:DescribeStackResource","cloudformation:DescribeStacks","cloudformation:ExecuteChangeSet","docdb-elastic:GetCluster","docdb-elastic:ListClusters","ec2:DescribeSecurityGroups","ec2:DescribeSubnets","ec2:DescribeVpcs","kms:DescribeKey","kms:ListAliases","kms:ListKeys","lambda:ListFunctions","rds:DescribeDBClusters","rds:DescribeDBInstances","redshift:DescribeClusters","redshift-serverless:ListWorkgroups","redshift-serverless:GetNamespace","tag:GetResources"],"Resource":"*"},{"Sid":"LambdaPermissions","Effect":"Allow","Action":["lambda:AddPermission","lambda:CreateFunction","lambda:GetFunction","lambda:InvokeFunction","lambda:UpdateFunctionConfiguration"],"Resource":"arn:aws:lambda:*:*:function:SecretsManager*"},{"Sid":"SARPermissions","Effect":"Allow","Action":["serverlessrepo:CreateCloudFormationChangeSet","serverlessrepo:GetApplication"],"Resource":"arn:aws:serverlessrepo:*:*:applications/SecretsManager*"},{"Sid":"S3Permissions","Effect":"Allow","Action":["s3:GetObject"],"Resource":["arn:aws:s3:::awsserverlessrepo-changesets*","arn:aws:s3:::secrets-manager-rotation-apps-*/*"]}]}"#,
    },
    Builtin {
        name: "IAMFullAccess",
        id: "ANPAI7XKCFMBPM3QQRRVQ",
        description: "Provides full access to IAM via the AWS Management Console.",
        created: 1_423_248_038_000,
        updated: 1_561_146_000_000,
        document: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:*","organizations:DescribeAccount","organizations:DescribeOrganization","organizations:DescribeOrganizationalUnit","organizations:DescribePolicy","organizations:ListChildren","organizations:ListParents","organizations:ListPoliciesForTarget","organizations:ListRoots","organizations:ListPolicies","organizations:ListTargetsForPolicy"],"Resource":"*"}]}"#,
    },
    Builtin {
        name: "IAMReadOnlyAccess",
        id: "ANPAJKSO7NDY4T57MWDSQ",
        description: "Provides read only access to IAM via the AWS Management Console.",
        created: 1_423_248_039_000,
        updated: 1_516_907_487_000,
        document: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:GenerateCredentialReport","iam:GenerateServiceLastAccessedDetails","iam:Get*","iam:List*","iam:SimulateCustomPolicy","iam:SimulatePrincipalPolicy"],"Resource":"*"}]}"#,
    },
    Builtin {
        name: "AWSKeyManagementServicePowerUser",
        id: "ANPAJNPP7PPPPMJRV2SA4",
        description: "Provides access to AWS Key Management Service (KMS).",
        created: 1_423_248_040_000,
        updated: 1_488_848_111_000,
        document: r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["kms:CreateAlias","kms:CreateKey","kms:DeleteAlias","kms:Describe*","kms:GenerateRandom","kms:Get*","kms:List*","kms:TagResource","kms:UntagResource","iam:ListGroups","iam:ListRoles","iam:ListUsers"],"Resource":"*"}]}"#,
    },
];

fn build(b: &Builtin) -> ManagedPolicy {
    ManagedPolicy {
        name: b.name.to_owned(),
        path: "/".to_owned(),
        policy_id: b.id.to_owned(),
        arn: format!("{AWS_MANAGED_POLICY_PREFIX}{}", b.name),
        create_date: Timestamp(b.created),
        update_date: Timestamp(b.updated),
        description: Some(b.description.to_owned()),
        default_version_id: "v1".to_owned(),
        versions: vec![PolicyVersion {
            version_id: "v1".to_owned(),
            document: b.document.to_owned(),
            create_date: Timestamp(b.updated),
        }],
        tags: vec![],
        versions_created: 1,
    }
}

/// Every built-in AWS managed policy.
pub fn aws_managed_policies() -> Vec<ManagedPolicy> {
    POLICIES.iter().map(build).collect()
}

/// The built-in AWS managed policy with this ARN.
pub fn aws_managed_policy(arn: &str) -> Option<ManagedPolicy> {
    let name = arn.strip_prefix(AWS_MANAGED_POLICY_PREFIX)?;
    POLICIES.iter().find(|b| b.name == name).map(build)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_are_json_and_lookups_work() {
        for p in aws_managed_policies() {
            let doc = p.default_document().expect("default version");
            let v: serde_json::Value = serde_json::from_str(doc).expect("valid JSON");
            assert_eq!(v["Version"], "2012-10-17", "{}", p.name);
            assert_eq!(p.policy_id.len(), 21);
            assert!(p.is_aws_managed());
            assert_eq!(aws_managed_policy(&p.arn).map(|q| q.name), Some(p.name.clone()));
        }
        assert!(aws_managed_policy("arn:aws:iam::aws:policy/Nope").is_none());
        assert!(aws_managed_policy("arn:aws:iam::123456789012:policy/AdministratorAccess").is_none());
        let ro = aws_managed_policy("arn:aws:iam::aws:policy/ReadOnlyAccess").expect("ReadOnlyAccess");
        assert!(
            !ro.default_document()
                .unwrap_or_default()
                .contains("GetSecretValue")
        );
    }
}
