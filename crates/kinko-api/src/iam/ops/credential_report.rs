//! GenerateCredentialReport, GetCredentialReport.
//!
//! The report is AWS's CSV (IAM User Guide, "Getting credential reports for your AWS account"):
//! the root user's row (`<root_account>`) first, then each user by name, with the columns below.
//! A report is kept with the account's IAM state. A report generated in the last four hours is
//! answered again rather than made anew, as IAM does; kinko makes one at once, so the first
//! GenerateCredentialReport answers `STARTED` and the next ones `COMPLETE`. Use of passwords isn't
//! tracked, so that column says `no_information`; an access key's last use is what this process
//! saw (`crate::iam::KeyUsage`), `N/A` as AWS says for a key never used. The `cert_*` columns show the user's signing certificates, oldest first.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use kinko_core::Timestamp;
use kinko_core::iam::{CredentialReport, IamState, SigningCertificate, User};
use kinko_core::mfa::{Holder, MfaDevice};
use kinko_core::principal::{AccessKeyRecord, AccessKeyStatus, PrincipalKind};
use kinko_wire::query::Params;

use super::by_name;
use crate::iam::KeyUsage;
use crate::iam::error::IamError;
use crate::iam::{Found, Iam, Target, save};
use crate::operation::{Authorization, Cx, FromRequest, Operation, QueryReply};

/// How long a report is handed out again instead of a new one, and how long it can be read.
const REPORT_LIFETIME_MS: i64 = 4 * 3600 * 1000;

const HEADER: &str = "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated";

/// A time as the report writes it: `2014-11-05T20:12:34+00:00`.
fn report_time(t: Timestamp) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]+00:00");
    t.to_offset_date_time().format(format).unwrap_or_default()
}

/// The columns of two access keys, oldest first.
fn key_columns(row: &mut Vec<String>, keys: &[&AccessKeyRecord], usage: &KeyUsage) {
    // The store lists keys in no particular order: the report's first key is the older one.
    let mut keys = keys.to_vec();
    keys.sort_by_key(|k| (k.created_date, k.access_key_id.clone()));
    for n in 0..2 {
        match keys.get(n) {
            Some(k) => {
                row.push((k.status == AccessKeyStatus::Active).to_string());
                row.push(report_time(k.created_date));
                match usage.get(&k.access_key_id) {
                    Some(last) => row.extend([report_time(last.date), last.region, last.service]),
                    None => row.extend(["N/A", "N/A", "N/A"].map(String::from)),
                }
            }
            None => row.extend(["false", "N/A", "N/A", "N/A", "N/A"].map(String::from)),
        }
    }
}

/// The columns of two signing certificates, oldest first: whether each is active, and when it
/// was uploaded.
fn certificate_columns(row: &mut Vec<String>, certs: &[SigningCertificate]) {
    let mut certs: Vec<&SigningCertificate> = certs.iter().collect();
    certs.sort_by_key(|c| c.upload_date);
    for n in 0..2 {
        match certs.get(n) {
            Some(c) => {
                row.push(c.active.to_string());
                row.push(report_time(c.upload_date));
            }
            None => row.extend(["false", "N/A"].map(String::from)),
        }
    }
}

/// The CSV of the account's users as they are now.
fn build(
    state: &IamState,
    account_created: Option<Timestamp>,
    keys: &[AccessKeyRecord],
    devices: &[MfaDevice],
    usage: &KeyUsage,
) -> String {
    let mut lines = vec![HEADER.to_owned()];
    let root_keys: Vec<&AccessKeyRecord> = keys.iter().filter(|k| k.principal.is_root()).collect();
    let mut root = vec![
        "<root_account>".to_owned(),
        format!("arn:aws:iam::{}:root", state.account_id),
        account_created.map_or_else(|| "N/A".into(), report_time),
        "not_supported".into(),
        "no_information".into(),
        "not_supported".into(),
        "not_supported".into(),
        devices.iter().any(|d| d.assigned_to(Holder::Root)).to_string(),
    ];
    key_columns(&mut root, &root_keys, usage);
    certificate_columns(&mut root, &state.root_signing_certificates);
    lines.push(root.join(","));

    let mut users: Vec<&User> = state.users.iter().collect();
    by_name(&mut users, |u| &u.name);
    let max_age = state.password_policy.as_ref().and_then(|p| p.max_password_age);
    for u in users {
        let user_keys: Vec<&AccessKeyRecord> = keys
            .iter()
            .filter(
                |k| matches!(&k.principal.kind, PrincipalKind::User { user_id, .. } if *user_id == u.user_id),
            )
            .collect();
        let mut row = vec![u.name.clone(), u.arn.clone(), report_time(u.create_date)];
        match &u.login_profile {
            Some(p) => {
                row.push("true".into());
                row.push("no_information".into());
                row.push(report_time(p.password_last_changed));
                row.push(max_age.map_or_else(
                    || "N/A".into(),
                    |days| report_time(p.password_last_changed.plus_days(i64::from(days))),
                ));
            }
            None => row.extend(["false", "N/A", "N/A", "N/A"].map(String::from)),
        }
        row.push(
            devices
                .iter()
                .any(|d| d.assigned_to(Holder::User(&u.name)))
                .to_string(),
        );
        key_columns(&mut row, &user_keys, usage);
        certificate_columns(&mut row, &u.signing_certificates);
        lines.push(row.join(","));
    }
    lines.join("\n")
}

/// Neither action takes parameters.
pub(crate) struct NoInput;

impl FromRequest<Iam> for NoInput {
    fn from_request(_: &Params) -> Result<Self, IamError> {
        Ok(NoInput)
    }
}

pub(crate) struct GenerateCredentialReport;

impl Operation for GenerateCredentialReport {
    type Service = Iam;
    const NAME: &'static str = "GenerateCredentialReport";
    type Input = NoInput;
    type Output = QueryReply;
    type Resolved = Found;

    /// No resource type (Service Authorization Reference): authorized on `*`.
    async fn resolve(cx: &Cx<'_>, _: &NoInput) -> Result<Found, IamError> {
        Found::read(cx, |_| Ok(Target::Any)).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        _: &'a NoInput,
        found: &'a Found,
    ) -> Result<Authorization<'a>, IamError> {
        Ok(Authorization::of(found.check(cx)))
    }

    async fn run(cx: &Cx<'_>, _: &NoInput, found: Found) -> Result<QueryReply, IamError> {
        let mut state = found.state;
        let now = cx.now();
        let fresh = state
            .credential_report
            .as_ref()
            .is_some_and(|r| now.millis() - r.generated.millis() < REPORT_LIFETIME_MS);
        let mut x = cx.xml::<Iam>();
        if fresh {
            x.elem("State", "COMPLETE");
            return Ok(QueryReply::Result(x));
        }
        let store = &cx.services.store;
        let account_created = store.account(cx.account()).await?.map(|a| a.created_date);
        let keys = store.list_access_keys(cx.account(), None).await?;
        let devices = store.list_mfa_devices(cx.account()).await?;
        let content = build(&state, account_created, &keys, &devices, &cx.services.key_usage);
        state.credential_report = Some(CredentialReport {
            generated: now,
            content,
        });
        save(cx, state).await?;
        x.elem("State", "STARTED").elem(
            "Description",
            "No report exists. Starting a new report generation task",
        );
        Ok(QueryReply::Result(x))
    }
}

pub(crate) struct GetCredentialReport;

impl Operation for GetCredentialReport {
    type Service = Iam;
    const NAME: &'static str = "GetCredentialReport";
    type Input = NoInput;
    type Output = QueryReply;
    type Resolved = Found;

    /// No resource type (Service Authorization Reference): authorized on `*`.
    async fn resolve(cx: &Cx<'_>, _: &NoInput) -> Result<Found, IamError> {
        Found::read(cx, |_| Ok(Target::Any)).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        _: &'a NoInput,
        found: &'a Found,
    ) -> Result<Authorization<'a>, IamError> {
        Ok(Authorization::of(found.check(cx)))
    }

    async fn run(cx: &Cx<'_>, _: &NoInput, found: Found) -> Result<QueryReply, IamError> {
        let report = found.state.credential_report.as_ref().ok_or_else(|| {
            IamError::ReportNotPresent(
                "Credential report not present. Use GenerateCredentialReport to generate a report.".into(),
            )
        })?;
        if cx.now().millis() - report.generated.millis() >= REPORT_LIFETIME_MS {
            return Err(IamError::ReportExpired(
                "Credential report expired. Use GenerateCredentialReport to generate a new report.".into(),
            ));
        }
        let mut x = cx.xml::<Iam>();
        x.elem("Content", &STANDARD.encode(report.content.as_bytes()))
            .elem("ReportFormat", "text/csv")
            .elem("GeneratedTime", &crate::iam::output::ts(report.generated));
        Ok(QueryReply::Result(x))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(
            report_time(Timestamp::from_millis(1_415_218_354_123)),
            "2014-11-05T20:12:34+00:00"
        );
    }

    #[test]
    fn rows() {
        let state = IamState::new("123456789012");
        let csv = build(&state, None, &[], &[], &KeyUsage::default());
        let mut lines = csv.lines();
        assert_eq!(lines.next(), Some(HEADER));
        let root = lines.next().unwrap_or_default();
        assert!(root.starts_with("<root_account>,arn:aws:iam::123456789012:root,N/A,not_supported,"));
        assert_eq!(root.split(',').count(), HEADER.split(',').count());
    }
}
