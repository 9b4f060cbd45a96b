//! IAM groups, users' group memberships and instance profiles: `AWS::IAM::Group`,
//! `AWS::IAM::UserToGroupAddition` and `AWS::IAM::InstanceProfile`, created through kinko's IAM
//! operations as the caller.

use kinko_cloudformation_template::Map;
use kinko_core::stack::Stack;

use super::{
    Caller, Created, Reason, attach_policies, delete_principal, generated_name, ignore_missing, list,
    missing, text, xml_text,
};
use crate::ServiceName;

/// `AWS::IAM::Group`: Ref is the group's name, Fn::GetAtt `Arn` its ARN.
pub(super) async fn create_group(
    caller: &Caller,
    stack: &Stack,
    id: &str,
    p: &Map,
) -> Result<Created, Reason> {
    let name = text(p, "GroupName").unwrap_or_else(|| generated_name(stack, id, 128));
    let mut params = vec![("GroupName", name.clone())];
    if let Some(path) = text(p, "Path") {
        params.push(("Path", path));
    }
    let refs: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let answer = caller.query(ServiceName::Iam, "CreateGroup", &refs).await?;
    let mut created = Created {
        physical_id: name.clone(),
        attributes: vec![("Arn".into(), xml_text(&answer, "Arn").unwrap_or_default())],
        cleanup: Vec::new(),
    };
    if let Err(e) = attach_policies(caller, "Group", &name, p, &mut created.cleanup).await {
        let _ = delete_principal(caller, "Group", &name, &created.cleanup).await;
        return Err(e);
    }
    Ok(created)
}

/// Adds the user `user` to `groups` (`AWS::IAM::User`'s `Groups`), noting each as `group:NAME`
/// in `cleanup` so the user leaves it before it is deleted.
pub(super) async fn add_to_groups(
    caller: &Caller,
    user: &str,
    groups: &[String],
    cleanup: &mut Vec<String>,
) -> Result<(), Reason> {
    for group in groups {
        caller
            .query(
                ServiceName::Iam,
                "AddUserToGroup",
                &[("GroupName", group), ("UserName", user)],
            )
            .await?;
        cleanup.push(format!("group:{group}"));
    }
    Ok(())
}

/// `AWS::IAM::UserToGroupAddition`: adds `Users` to `GroupName`. Its physical id (Ref) is a
/// generated name, as AWS gives it; `cleanup` is the group then the users added.
pub(super) async fn create_user_to_group_addition(
    caller: &Caller,
    stack: &Stack,
    id: &str,
    p: &Map,
) -> Result<Created, Reason> {
    let group = text(p, "GroupName").ok_or_else(|| missing("GroupName"))?;
    if p.get("Users").is_none() {
        return Err(missing("Users"));
    }
    let mut cleanup = vec![group.clone()];
    for user in list(p, "Users") {
        let added = caller
            .query(
                ServiceName::Iam,
                "AddUserToGroup",
                &[("GroupName", &group), ("UserName", &user)],
            )
            .await;
        if let Err(e) = added {
            let _ = delete_user_to_group_addition(caller, &cleanup).await;
            return Err(e);
        }
        cleanup.push(user);
    }
    Ok(Created {
        physical_id: generated_name(stack, id, 128),
        attributes: Vec::new(),
        cleanup,
    })
}

/// Removes the users an `AWS::IAM::UserToGroupAddition` added (`cleanup`: the group, then them).
pub(super) async fn delete_user_to_group_addition(caller: &Caller, cleanup: &[String]) -> Result<(), Reason> {
    let Some((group, users)) = cleanup.split_first() else {
        return Ok(());
    };
    for user in users {
        ignore_missing(
            caller
                .query(
                    ServiceName::Iam,
                    "RemoveUserFromGroup",
                    &[("GroupName", group), ("UserName", user)],
                )
                .await,
        )?;
    }
    Ok(())
}

/// `AWS::IAM::InstanceProfile`: Ref is its name, Fn::GetAtt `Arn` its ARN; `Roles` are added to
/// it (IAM takes one role per profile and refuses a second with `LimitExceeded`, as AWS does).
pub(super) async fn create_instance_profile(
    caller: &Caller,
    stack: &Stack,
    id: &str,
    p: &Map,
) -> Result<Created, Reason> {
    if p.get("Roles").is_none() {
        return Err(missing("Roles"));
    }
    let name = text(p, "InstanceProfileName").unwrap_or_else(|| generated_name(stack, id, 128));
    let mut params = vec![("InstanceProfileName", name.clone())];
    if let Some(path) = text(p, "Path") {
        params.push(("Path", path));
    }
    let refs: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let answer = caller
        .query(ServiceName::Iam, "CreateInstanceProfile", &refs)
        .await?;
    let mut created = Created {
        physical_id: name.clone(),
        attributes: vec![("Arn".into(), xml_text(&answer, "Arn").unwrap_or_default())],
        cleanup: Vec::new(),
    };
    for role in list(p, "Roles") {
        let added = caller
            .query(
                ServiceName::Iam,
                "AddRoleToInstanceProfile",
                &[("InstanceProfileName", &name), ("RoleName", &role)],
            )
            .await;
        if let Err(e) = added {
            let _ = delete_instance_profile(caller, &name, &created.cleanup).await;
            return Err(e);
        }
        created.cleanup.push(role);
    }
    Ok(created)
}

/// Removes an instance profile's roles (`cleanup`), then the profile.
pub(super) async fn delete_instance_profile(
    caller: &Caller,
    name: &str,
    cleanup: &[String],
) -> Result<(), Reason> {
    for role in cleanup {
        ignore_missing(
            caller
                .query(
                    ServiceName::Iam,
                    "RemoveRoleFromInstanceProfile",
                    &[("InstanceProfileName", name), ("RoleName", role)],
                )
                .await,
        )?;
    }
    ignore_missing(
        caller
            .query(
                ServiceName::Iam,
                "DeleteInstanceProfile",
                &[("InstanceProfileName", name)],
            )
            .await,
    )
}
