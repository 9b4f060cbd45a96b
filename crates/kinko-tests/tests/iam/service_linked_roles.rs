//! Service-linked roles: the name and path IAM gives them, the trust policy naming the service,
//! deletion through DeleteServiceLinkedRole (DeleteRole refuses them, as do the operations that
//! change a role's policies) and its task status, and
//! `iam:AWSServiceName` in the authorization of their creation.

use aws_sdk_iam::types::DeletionTaskStatusType;

use super::*;

fn decoded(doc: &str) -> serde_json::Value {
    let doc = percent_encoding::percent_decode_str(doc)
        .decode_utf8()
        .expect("UTF-8 document");
    serde_json::from_str(&doc).expect("JSON document")
}

#[tokio::test]
async fn a_service_linked_role_is_named_for_its_service_and_trusts_only_it() {
    let iam = server().iam_client();
    let suffix = short_id();
    let role = ok(iam
        .create_service_linked_role()
        .aws_service_name("autoscaling.amazonaws.com")
        .custom_suffix(&suffix)
        .description("scaling")
        .send()
        .await)
    .role
    .expect("Role");
    let name = format!("AWSServiceRoleForAutoScaling_{suffix}");
    assert_eq!(role.role_name, name);
    assert_eq!(role.path, "/aws-service-role/autoscaling.amazonaws.com/");
    assert_eq!(
        role.arn,
        format!("arn:aws:iam::{DEV_ACCOUNT}:role/aws-service-role/autoscaling.amazonaws.com/{name}")
    );
    assert_eq!(role.description(), Some("scaling"));
    assert!(role.role_id.starts_with("AROA"), "{}", role.role_id);
    let trust = decoded(role.assume_role_policy_document().expect("trust policy"));
    assert_eq!(
        trust["Statement"],
        serde_json::json!([{
            "Effect": "Allow",
            "Principal": {"Service": ["autoscaling.amazonaws.com"]},
            "Action": ["sts:AssumeRole"],
        }])
    );
    let got = ok(iam.get_role().role_name(&name).send().await)
        .role
        .expect("Role");
    assert_eq!(got.arn, role.arn);

    // The same name again: IAM asks for another suffix.
    let again = iam
        .create_service_linked_role()
        .aws_service_name("autoscaling.amazonaws.com")
        .custom_suffix(&suffix)
        .send()
        .await;
    assert_eq!(
        outcome(again),
        failed(
            "InvalidInput",
            &format!(
                "Service role name {name} has been taken in this account, please try a different suffix."
            )
        )
    );
}

#[tokio::test]
async fn delete_role_refuses_a_service_linked_role_and_delete_service_linked_role_deletes_it() {
    let iam = server().iam_client();
    let suffix = short_id();
    let name = format!("AWSServiceRoleForElasticBeanstalk_{suffix}");
    ok(iam
        .create_service_linked_role()
        .aws_service_name("elasticbeanstalk.amazonaws.com")
        .custom_suffix(&suffix)
        .send()
        .await);

    assert_eq!(
        outcome(iam.delete_role().role_name(&name).send().await),
        failed(
            "UnmodifiableEntity",
            &format!(
                "Cannot perform the operation on the protected role '{name}' - this role is only modifiable by AWS"
            )
        )
    );

    // Its policies are the service's too: trust, inline, attached and boundary changes are refused
    // with the same answer; its description may still be edited.
    let protected = failed(
        "UnmodifiableEntity",
        &format!(
            "Cannot perform the operation on the protected role '{name}' - this role is only modifiable by AWS"
        ),
    );
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}"#;
    let update = iam
        .update_assume_role_policy()
        .role_name(&name)
        .policy_document(trust);
    assert_eq!(outcome(update.send().await), protected);
    let allow = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#;
    let put = iam
        .put_role_policy()
        .role_name(&name)
        .policy_name("extra")
        .policy_document(allow);
    assert_eq!(outcome(put.send().await), protected);
    let delete_inline = iam.delete_role_policy().role_name(&name).policy_name("extra");
    assert_eq!(outcome(delete_inline.send().await), protected);
    let admin = "arn:aws:iam::aws:policy/AdministratorAccess";
    let attach = iam.attach_role_policy().role_name(&name).policy_arn(admin);
    assert_eq!(outcome(attach.send().await), protected);
    let detach = iam.detach_role_policy().role_name(&name).policy_arn(admin);
    assert_eq!(outcome(detach.send().await), protected);
    let boundary = iam
        .put_role_permissions_boundary()
        .role_name(&name)
        .permissions_boundary(admin);
    assert_eq!(outcome(boundary.send().await), protected);
    let role = ok(iam.get_role().role_name(&name).send().await)
        .role
        .expect("Role");
    assert_eq!(
        decoded(role.assume_role_policy_document().expect("trust"))["Statement"][0]["Principal"]["Service"],
        serde_json::json!(["elasticbeanstalk.amazonaws.com"])
    );
    let listed = ok(iam.list_attached_role_policies().role_name(&name).send().await);
    assert!(listed.attached_policies().is_empty());
    ok(iam
        .update_role_description()
        .role_name(&name)
        .description("edited")
        .send()
        .await);

    let task = ok(iam.delete_service_linked_role().role_name(&name).send().await).deletion_task_id;
    assert!(
        task.starts_with(&format!(
            "task/aws-service-role/elasticbeanstalk.amazonaws.com/{name}/"
        )),
        "{task}"
    );
    let status = ok(iam
        .get_service_linked_role_deletion_status()
        .deletion_task_id(&task)
        .send()
        .await);
    assert_eq!(status.status, DeletionTaskStatusType::Succeeded);
    assert_eq!(
        outcome(iam.get_role().role_name(&name).send().await),
        failed(
            "NoSuchEntity",
            &format!("The role with name {name} cannot be found.")
        )
    );
}

#[tokio::test]
async fn delete_service_linked_role_refuses_other_roles_and_unknown_tasks() {
    let iam = server().iam_client();
    let plain = format!("plain-{}", short_id());
    server().role(&plain, &trust_account(), None).await;
    assert_eq!(
        outcome(iam.delete_service_linked_role().role_name(&plain).send().await),
        failed(
            "InvalidInput",
            &format!("Role {plain} is not a service-linked role.")
        )
    );
    let missing = format!("missing-{}", short_id());
    assert_eq!(
        outcome(iam.delete_service_linked_role().role_name(&missing).send().await),
        failed(
            "NoSuchEntity",
            &format!("The role with name {missing} cannot be found.")
        )
    );
    let task = "task/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling/00000000-0000-0000-0000-000000000000";
    assert_eq!(
        outcome(
            iam.get_service_linked_role_deletion_status()
                .deletion_task_id(task)
                .send()
                .await
        ),
        failed("NoSuchEntity", &format!("Deletion task {task} cannot be found."))
    );
}

#[tokio::test]
async fn creating_a_service_linked_role_is_authorized_with_the_service_name() {
    let p = short_id();
    let policy = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Action": "iam:CreateServiceLinkedRole",
            "Resource": "*",
            "Condition": {"StringEquals": {"iam:AWSServiceName": "elasticbeanstalk.amazonaws.com"}},
        }],
    })
    .to_string();
    let user = server().user("slr-maker", Some(&policy)).await;
    let made = user
        .iam()
        .create_service_linked_role()
        .aws_service_name("elasticbeanstalk.amazonaws.com")
        .custom_suffix(&p)
        .send()
        .await;
    assert_eq!(outcome(made), Ok(()));
    let refused = user
        .iam()
        .create_service_linked_role()
        .aws_service_name("autoscaling.amazonaws.com")
        .custom_suffix(&p)
        .send()
        .await;
    let arn = format!(
        "arn:aws:iam::{DEV_ACCOUNT}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling_{p}"
    );
    assert_eq!(
        outcome(refused),
        denied(
            &user.arn,
            "iam:CreateServiceLinkedRole",
            Some(&arn),
            Denial::NoIdentityPolicy
        )
    );
}
