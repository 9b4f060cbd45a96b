//! Exports and imports between the stacks of an account and region: an output's `Export.Name`
//! is taken by one stack at a time, `Fn::ImportValue` reads it, and a stack whose export another
//! stack imports can neither delete nor change it.
//!
//! They are read from the stack records themselves (the outputs' export names, and the `imports`
//! each stack's operation records), so every node of a cluster sees the same, on SQLite and
//! PostgreSQL alike. The checks and the writes that depend on them (a stack taking an export
//! name, recording its imports, giving its exports up to be deleted) run under one lease per
//! account and region, so two operations can't both pass a check the other would have failed.

use kinko_core::stack::Stack;

use super::super::CfnError;
use crate::Services;

/// One export: its name, value and the stack exporting it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Export {
    pub name: String,
    pub value: String,
    pub stack_id: String,
    pub stack_name: String,
}

/// The live stacks of an account and region, oldest first.
async fn live_stacks(services: &Services, account: &str, region: &str) -> Result<Vec<Stack>, CfnError> {
    Ok(services
        .store
        .list_stacks(account, region)
        .await?
        .into_iter()
        .filter(|s| !s.is_deleted())
        .collect())
}

/// Every export of an account and region, by name.
pub async fn exports(services: &Services, account: &str, region: &str) -> Result<Vec<Export>, CfnError> {
    let mut out: Vec<Export> = live_stacks(services, account, region)
        .await?
        .iter()
        .flat_map(|s| {
            s.outputs.iter().filter_map(|o| {
                Some(Export {
                    name: o.export_name.clone()?,
                    value: o.value.clone(),
                    stack_id: s.stack_id.clone(),
                    stack_name: s.name.clone(),
                })
            })
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// The names of the live stacks (other than `except`) importing `name`, oldest first.
pub async fn importers(
    services: &Services,
    account: &str,
    region: &str,
    name: &str,
    except: Option<&str>,
) -> Result<Vec<String>, CfnError> {
    Ok(live_stacks(services, account, region)
        .await?
        .into_iter()
        .filter(|s| Some(s.stack_id.as_str()) != except && s.imports.iter().any(|i| i == name))
        .map(|s| s.name)
        .collect())
}

/// AWS's reason for an import of an export no stack has.
pub fn missing_export(name: &str) -> String {
    format!("No export named {name} found")
}

/// The lease over the exports of an account and region, held while a check and the write it
/// allows run; released when dropped (or run out, should the node stop).
pub struct ExportsLease {
    services: Services,
    name: String,
    holder: String,
}

impl ExportsLease {
    /// Takes the lease, waiting for another holder to give it up (at most the lease's length,
    /// after which it has run out).
    pub async fn take(services: &Services, account: &str, region: &str) -> Result<Self, CfnError> {
        let name = format!("cloudformation/exports/{account}/{region}");
        // Unique per taker, so two operations on one node exclude each other too.
        let holder = format!("{}/{}", services.node.holder, uuid::Uuid::new_v4());
        let length = i64::try_from(services.node.lease.as_millis()).unwrap_or(i64::MAX);
        let deadline = std::time::Instant::now() + services.node.lease * 2;
        loop {
            let now = services.clock.now();
            let expires = kinko_core::Timestamp(now.millis().saturating_add(length));
            if services.store.acquire_lease(&name, &holder, now, expires).await? {
                return Ok(ExportsLease {
                    services: services.clone(),
                    name,
                    holder,
                });
            }
            if std::time::Instant::now() > deadline {
                return Err(CfnError::Internal(
                    "the exports of this account and region stayed locked".into(),
                ));
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    pub async fn release(self) {
        if let Err(e) = self.services.store.release_lease(&self.name, &self.holder).await {
            tracing::warn!(error = %e, "giving up the exports lease failed; it runs out on its own");
        }
    }
}

/// What keeps `stack` from publishing `new` outputs in place of `old` ones: an export name another
/// stack has, or an export another stack imports that would go or change. AWS's texts, as users
/// quote them (`Export with name X is already exported by stack Y. Rollback requested by user.`,
/// `Cannot delete/update export X as it is in use by Y`); several importers are listed
/// comma-separated [unverified: AWS's joining is not documented].
pub async fn publish_refusal(
    services: &Services,
    stack: &Stack,
    old: &[kinko_core::stack::StackOutput],
    new: &[kinko_core::stack::StackOutput],
) -> Result<Option<String>, CfnError> {
    let all = exports(services, &stack.account_id, &stack.region).await?;
    for o in new {
        let Some(name) = &o.export_name else { continue };
        if let Some(other) = all
            .iter()
            .find(|e| e.name == *name && e.stack_id != stack.stack_id)
        {
            return Ok(Some(format!(
                "Export with name {name} is already exported by stack {}",
                other.stack_name
            )));
        }
    }
    for o in old {
        let Some(name) = &o.export_name else { continue };
        let kept = new
            .iter()
            .find(|n| n.export_name.as_deref() == Some(name.as_str()));
        if kept.is_some_and(|k| k.value == o.value) {
            continue;
        }
        let users = importers(
            services,
            &stack.account_id,
            &stack.region,
            name,
            Some(&stack.stack_id),
        )
        .await?;
        if users.is_empty() {
            continue;
        }
        let verb = if kept.is_some() { "update" } else { "delete" };
        return Ok(Some(format!(
            "Cannot {verb} export {name} as it is in use by {}",
            users.join(", ")
        )));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_export_is_worded_as_aws_words_it() {
        assert_eq!(missing_export("shared-vpc"), "No export named shared-vpc found");
    }
}
