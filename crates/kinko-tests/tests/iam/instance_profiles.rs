//! Instance profiles, as IAM has them: one role at most, DeleteConflict both ways while a role is
//! in a profile, AWS's messages for missing and duplicate profiles, tags, listing by path and by
//! role, and `iam:PassRole` needed to put a role into a profile.

use aws_sdk_iam::types::Tag;

use super::*;

fn profile_arn(path: &str, name: &str) -> String {
    format!("arn:aws:iam::{DEV_ACCOUNT}:instance-profile{path}{name}")
}

fn tag(k: &str, v: &str) -> Tag {
    Tag::builder().key(k).value(v).build().expect("tag")
}

#[tokio::test]
async fn an_instance_profile_holds_one_role_and_keeps_it_until_removed() {
    let iam = server().iam_client();
    let p = short_id();
    let name = format!("web-{p}");
    let path = format!("/app-{p}/");
    let created = ok(iam
        .create_instance_profile()
        .instance_profile_name(&name)
        .path(&path)
        .tags(tag("team", "web"))
        .send()
        .await)
    .instance_profile
    .expect("InstanceProfile");
    assert_eq!(created.arn, profile_arn(&path, &name));
    assert_eq!(created.path, path);
    assert!(
        created.instance_profile_id.starts_with("AIPA"),
        "{}",
        created.instance_profile_id
    );
    assert_eq!(created.instance_profile_id.len(), 21);
    assert!(created.roles.is_empty());
    assert_eq!(created.tags(), [tag("team", "web")]);

    let role = format!("web-role-{p}");
    let role_arn = server().role(&role, &trust_account(), None).await;
    ok(iam
        .add_role_to_instance_profile()
        .instance_profile_name(&name)
        .role_name(&role)
        .send()
        .await);
    let got = ok(iam
        .get_instance_profile()
        .instance_profile_name(&name)
        .send()
        .await)
    .instance_profile
    .expect("InstanceProfile");
    assert_eq!(got.instance_profile_id, created.instance_profile_id);
    let roles: Vec<&str> = got.roles.iter().map(|r| r.arn.as_str()).collect();
    assert_eq!(roles, [role_arn.as_str()]);

    // One role per profile: another one, or the same one again, exceeds the quota.
    let other = format!("other-role-{p}");
    server().role(&other, &trust_account(), None).await;
    let quota = "Cannot exceed quota for InstanceSessionsPerInstanceProfile: 1";
    for r in [&other, &role] {
        let add = iam
            .add_role_to_instance_profile()
            .instance_profile_name(&name)
            .role_name(r);
        assert_eq!(outcome(add.send().await), failed("LimitExceeded", quota));
    }

    let for_role = ok(iam
        .list_instance_profiles_for_role()
        .role_name(&role)
        .send()
        .await);
    let names: Vec<&str> = for_role
        .instance_profiles
        .iter()
        .map(|p| p.instance_profile_name.as_str())
        .collect();
    assert_eq!(names, [name.as_str()]);
    let listed = ok(iam.list_instance_profiles().path_prefix(&path).send().await);
    assert_eq!(listed.instance_profiles.len(), 1);
    assert_eq!(listed.instance_profiles[0].roles[0].role_name, role);

    // Neither the profile nor its role can be deleted while the role is in it.
    let conflict = "Cannot delete entity, must remove roles from instance profile first.";
    let delete = iam.delete_instance_profile().instance_profile_name(&name);
    assert_eq!(outcome(delete.send().await), failed("DeleteConflict", conflict));
    let delete_role = iam.delete_role().role_name(&role);
    assert_eq!(
        outcome(delete_role.send().await),
        failed("DeleteConflict", conflict)
    );

    ok(iam
        .remove_role_from_instance_profile()
        .instance_profile_name(&name)
        .role_name(&role)
        .send()
        .await);
    ok(iam.delete_role().role_name(&role).send().await);
    ok(iam
        .delete_instance_profile()
        .instance_profile_name(&name)
        .send()
        .await);
    let gone = iam.get_instance_profile().instance_profile_name(&name);
    assert_eq!(
        outcome(gone.send().await),
        failed(
            "NoSuchEntity",
            &format!("Instance Profile {name} cannot be found.")
        )
    );
}

#[tokio::test]
async fn instance_profile_names_are_unique_and_missing_ones_are_named() {
    let iam = server().iam_client();
    let name = format!("dup-{}", short_id());
    ok(iam
        .create_instance_profile()
        .instance_profile_name(&name)
        .send()
        .await);
    let again = iam
        .create_instance_profile()
        .instance_profile_name(name.to_uppercase());
    assert_eq!(
        outcome(again.send().await),
        failed(
            "EntityAlreadyExists",
            &format!("Instance Profile {} already exists.", name.to_uppercase())
        )
    );
    let missing = format!("missing-{}", short_id());
    let add = iam
        .add_role_to_instance_profile()
        .instance_profile_name(&missing)
        .role_name("whatever");
    assert_eq!(
        outcome(add.send().await),
        failed(
            "NoSuchEntity",
            &format!("Instance Profile {missing} cannot be found.")
        )
    );
    let add = iam
        .add_role_to_instance_profile()
        .instance_profile_name(&name)
        .role_name(&missing);
    assert_eq!(
        outcome(add.send().await),
        failed(
            "NoSuchEntity",
            &format!("The role with name {missing} cannot be found.")
        )
    );
}

#[tokio::test]
async fn instance_profiles_are_tagged_and_untagged() {
    let iam = server().iam_client();
    let name = format!("tagged-{}", short_id());
    ok(iam
        .create_instance_profile()
        .instance_profile_name(&name)
        .send()
        .await);
    ok(iam
        .tag_instance_profile()
        .instance_profile_name(&name)
        .tags(tag("env", "prod"))
        .tags(tag("owner", "ops"))
        .send()
        .await);
    ok(iam
        .untag_instance_profile()
        .instance_profile_name(&name)
        .tag_keys("OWNER")
        .send()
        .await);
    let tags = ok(iam
        .list_instance_profile_tags()
        .instance_profile_name(&name)
        .send()
        .await)
    .tags;
    assert_eq!(tags, [tag("env", "prod")]);
}

#[tokio::test]
async fn adding_a_role_to_an_instance_profile_needs_pass_role_on_the_role() {
    let p = short_id();
    let name = format!("pass-{p}");
    let role = format!("passed-{p}");
    let role_arn = server().role(&role, &trust_account(), None).await;
    ok(server()
        .iam_client()
        .create_instance_profile()
        .instance_profile_name(&name)
        .send()
        .await);
    let profile = profile_arn("/", &name);
    let manager = server()
        .user(
            "profiles",
            Some(&allow(&["iam:AddRoleToInstanceProfile"], &[&profile])),
        )
        .await;
    let add = || {
        manager
            .iam()
            .add_role_to_instance_profile()
            .instance_profile_name(&name)
            .role_name(&role)
    };
    assert_eq!(
        outcome(add().send().await),
        denied(
            &manager.arn,
            "iam:PassRole",
            Some(&role_arn),
            Denial::NoIdentityPolicy
        )
    );

    let passer = server()
        .user(
            "passer",
            Some(&policy_document(&[
                statement("Allow", &["iam:PassRole"], &[&role_arn]),
                statement("Allow", &["iam:AddRoleToInstanceProfile"], &[&profile]),
            ])),
        )
        .await;
    ok(passer
        .iam()
        .add_role_to_instance_profile()
        .instance_profile_name(&name)
        .role_name(&role)
        .send()
        .await);
    // Authorization comes first: a caller without permission learns nothing about the profile.
    let other = format!("nothing-{p}");
    let probe = manager.iam().get_instance_profile().instance_profile_name(&other);
    assert_eq!(
        outcome(probe.send().await),
        denied(
            &manager.arn,
            "iam:GetInstanceProfile",
            Some(&profile_arn("/", &other)),
            Denial::NoIdentityPolicy
        )
    );
}
