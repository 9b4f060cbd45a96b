//! GetAccountSummary: every `SummaryMap` key IAM answers with, the quotas kinko enforces, and
//! counts that follow what the account holds. A server of its own: the counts are the account's.

use std::collections::HashMap;

use aws_sdk_iam::types::SummaryKeyType as K;

use super::*;

async fn summary(iam: &aws_sdk_iam::Client) -> HashMap<K, i32> {
    ok(iam.get_account_summary().send().await)
        .summary_map
        .expect("SummaryMap")
}

#[tokio::test]
async fn the_account_summary_counts_entities_and_states_quotas() {
    let (server, _) = TestServer::start_manual().await;
    let iam = server.iam_client();
    let before = summary(&iam).await;
    let quotas = [
        (K::UsersQuota, 5000),
        (K::GroupsQuota, 300),
        (K::RolesQuota, 1000),
        (K::PoliciesQuota, 1500),
        (K::PolicySizeQuota, 6144),
        (K::PolicyVersionsInUseQuota, 10000),
        (K::VersionsPerPolicyQuota, 5),
        (K::InstanceProfilesQuota, 1000),
        (K::ServerCertificatesQuota, 20),
        (K::UserPolicySizeQuota, 2048),
        (K::GroupPolicySizeQuota, 5120),
        (K::RolePolicySizeQuota, 10240),
        (K::AssumeRolePolicySizeQuota, 2048),
        (K::GroupsPerUserQuota, 10),
        (K::AttachedPoliciesPerUserQuota, 10),
        (K::AttachedPoliciesPerGroupQuota, 10),
        (K::AttachedPoliciesPerRoleQuota, 10),
        (K::AccessKeysPerUserQuota, 2),
        (K::SigningCertificatesPerUserQuota, 2),
        (K::GlobalEndpointTokenVersion, 1),
    ];
    for (key, quota) in &quotas {
        assert_eq!(before.get(key), Some(quota), "{key:?}");
    }
    let counts = [
        K::Users,
        K::Groups,
        K::Roles,
        K::Policies,
        K::PolicyVersionsInUse,
        K::InstanceProfiles,
        K::Providers,
        K::ServerCertificates,
        K::MfaDevices,
        K::MfaDevicesInUse,
        K::AccountMfaEnabled,
        K::AccountSigningCertificatesPresent,
    ];
    for key in &counts {
        assert_eq!(before.get(key), Some(&0), "{key:?} of a new account");
    }
    // The server's root user signs with an access key of its own.
    assert_eq!(before.get(&K::AccountAccessKeysPresent), Some(&1));
    assert_eq!(before.len(), quotas.len() + counts.len() + 1, "{before:?}");

    let user = server.user_named("summed", None).await;
    ok(iam.create_group().group_name("summed").send().await);
    let trust = trust_policy(&[&root_arn(server.account_id())]);
    let req = iam
        .create_role()
        .role_name("summed")
        .assume_role_policy_document(trust);
    ok(req.send().await);
    let doc = allow(&["iam:GetUser"], &["*"]);
    let req = iam.create_policy().policy_name("summed").policy_document(doc);
    let policy = ok(req.send().await).policy.expect("Policy").arn.expect("Arn");
    let req = iam.attach_user_policy().user_name(&user.name);
    ok(req.policy_arn(&policy).send().await);
    let req = iam.attach_group_policy().group_name("summed");
    ok(req.policy_arn(&policy).send().await);
    let req = iam.attach_role_policy().role_name("summed");
    ok(req.policy_arn(&policy).send().await);
    ok(iam
        .create_instance_profile()
        .instance_profile_name("summed")
        .send()
        .await);
    let req = iam
        .create_open_id_connect_provider()
        .url("https://summed.example.com");
    ok(req.thumbprint_list("a".repeat(40)).send().await);
    let req = iam.create_virtual_mfa_device().virtual_mfa_device_name("summed");
    ok(req.send().await);

    let after = summary(&iam).await;
    for (key, n) in [
        (K::Users, 1),
        (K::Groups, 1),
        (K::Roles, 1),
        (K::Policies, 1),
        (K::PolicyVersionsInUse, 3),
        (K::InstanceProfiles, 1),
        (K::Providers, 1),
        (K::MfaDevices, 1),
        (K::MfaDevicesInUse, 0),
        (K::ServerCertificates, 0),
    ] {
        assert_eq!(after.get(&key), Some(&n), "{key:?}");
    }
}

#[tokio::test]
async fn the_account_summary_needs_its_action() {
    let user = server().user("no-summary", None).await;
    assert_eq!(
        outcome(user.iam().get_account_summary().send().await),
        denied(&user.arn, "iam:GetAccountSummary", None, Denial::NoIdentityPolicy)
    );
}
