//! The MFA section of an IAM user's page, and of the root user's security credentials page: the
//! user's (or root user's) MFA devices, assigning a virtual MFA device
//! (CreateVirtualMFADevice, then EnableMFADevice with two consecutive codes) and removing one
//! (DeactivateMFADevice, then DeleteVirtualMFADevice, after the signed-in identity's password
//! again, as for access keys). Each step is the IAM operation of the same name, run as the
//! signed-in principal; for the root user's own devices, without `UserName`.
//!
//! The new device's QR code and secret key stay in the browser's console session until the
//! device is enabled, so they can be shown again after a wrong code; the QR code is served from
//! that session (`img-src 'self'`: the page's policy allows no `data:` images), never to another.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use kinko_wire::WireError;
use maud::{Markup, html};
use zeroize::Zeroizing;

use super::error_box;
use super::iam::{iam, members, text};
use crate::session::{MfaSetup, SignedIn};
use crate::{Console, Ctx, Form};

/// The name the device form suggests for the root user's device (the name AWS's console used).
const ROOT_DEVICE_NAME: &str = "root-account-mfa-device";

/// `UserName` for the user `name`, none for the root user itself.
fn user_param(name: Option<&str>) -> Vec<(&str, &str)> {
    name.map(|n| ("UserName", n)).into_iter().collect()
}

/// Where the QR code of the device being assigned is served.
pub(crate) const QR_PATH: &str = "/console/iam/mfa-qr";

/// The QR code of the device this session is assigning.
pub(crate) async fn qr(State(_console): State<Arc<Console>>, ctx: Ctx) -> Response {
    let (_, session, _) = match ctx.signed_in() {
        Ok(s) => s,
        Err(r) => return r,
    };
    match &session.mfa_setup {
        Some(setup) => (
            [(header::CONTENT_TYPE, "image/png")],
            setup.qr_png.as_slice().to_vec(),
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// The section: devices of the user `name` (`None`: the signed-in root user), and the form of
/// the next step.
pub(crate) async fn section(
    console: &Console,
    ctx: &Ctx,
    who: &SignedIn,
    name: Option<&str>,
    csrf: &str,
    back: &str,
) -> Markup {
    let t = |k| ctx.lang.t(k);
    let devices = iam(console, ctx, who, "ListMFADevices", &user_param(name)).await;
    let setup = ctx
        .session
        .as_ref()
        .and_then(|s| s.mfa_setup.as_ref())
        .filter(|s| s.user_name.as_deref() == name);
    html! {
        section.card #mfa {
            h2 { (t("mfa")) }
            @match &devices {
                Err(e) => (error_box(e)),
                Ok(xml) => {
                    @let devices = members(xml, "MFADevices");
                    @if devices.is_empty() {
                        p #mfa-none { (t("mfa_none")) }
                    } @else {
                        table.list #mfa-devices {
                            thead { tr { th scope="col" { (t("mfa_identifier")) } th scope="col" { (t("created")) } th scope="col" {} } }
                            tbody { @for d in &devices {
                                tr {
                                    td { code { (d["SerialNumber"]) } }
                                    td { (d.get("EnableDate").map_or("", String::as_str)) }
                                    td {
                                        form.inline method="post" action=(back) {
                                            input type="hidden" name="csrf" value=(csrf);
                                            input type="hidden" name="op" value="remove_mfa";
                                            input type="hidden" name="serial" value=(d["SerialNumber"]);
                                            input type="password" name="confirm_password" placeholder=(t("confirm_with_password")) aria-label=(t("confirm_with_password")) autocomplete="current-password";
                                            " " button.danger.small type="submit" { (t("remove")) }
                                        }
                                    }
                                }
                            } }
                        }
                    }
                }
            }
            @if let Some(setup) = setup {
                p { (t("mfa_scan")) }
                img #mfa-qr src=(QR_PATH) alt=(t("mfa_qr"));
                dl.props {
                    dt { (t("mfa_identifier")) } dd { code { (setup.serial_number) } }
                    dt { (t("mfa_secret_key")) } dd { code #mfa-secret-key { (setup.base32_seed.as_str()) } }
                }
                form method="post" action=(back) {
                    input type="hidden" name="csrf" value=(csrf);
                    input type="hidden" name="op" value="enable_mfa";
                    label for="mfa_code_1" { (t("mfa_code_1")) }
                    input #mfa_code_1 type="text" name="code1" required inputmode="numeric" pattern="[0-9]{6}" maxlength="6" autocomplete="one-time-code";
                    label for="mfa_code_2" { (t("mfa_code_2")) }
                    input #mfa_code_2 type="text" name="code2" required inputmode="numeric" pattern="[0-9]{6}" maxlength="6" autocomplete="one-time-code";
                    div.buttons { button.primary type="submit" { (t("add_mfa")) } }
                }
            } @else {
                form method="post" action=(back) {
                    input type="hidden" name="csrf" value=(csrf);
                    input type="hidden" name="op" value="create_mfa";
                    label for="mfa_device_name" { (t("mfa_device_name")) }
                    input #mfa_device_name type="text" name="device_name" required value=(name.unwrap_or(ROOT_DEVICE_NAME));
                    div.buttons { button.primary type="submit" { (t("assign_mfa")) } }
                }
            }
        }
    }
}

/// What an MFA step of the user page (`name`; `None`: the root user's page) did: `Ok` to show
/// "Done.", or the operation's error.
pub(crate) async fn action(
    console: &Console,
    ctx: &Ctx,
    id: &str,
    who: &SignedIn,
    name: Option<&str>,
    op: &str,
    form: &Form,
) -> Result<(), WireError> {
    match op {
        "create_mfa" => {
            let device_name = form.get("device_name").unwrap_or_default().trim();
            let xml = iam(
                console,
                ctx,
                who,
                "CreateVirtualMFADevice",
                &[("VirtualMFADeviceName", device_name)],
            )
            .await?;
            let decode = |tag: &str| {
                text(&xml, tag)
                    .and_then(|b64| STANDARD.decode(b64.as_bytes()).ok())
                    .map(Zeroizing::new)
            };
            let (Some(serial_number), Some(seed), Some(qr_png)) = (
                text(&xml, "SerialNumber"),
                decode("Base32StringSeed"),
                decode("QRCodePNG"),
            ) else {
                return Err(WireError::new(
                    "ServiceFailure",
                    500,
                    "The new MFA device could not be read.",
                ));
            };
            let setup = MfaSetup {
                user_name: name.map(str::to_owned),
                serial_number,
                base32_seed: Zeroizing::new(String::from_utf8_lossy(&seed).into_owned()),
                qr_png,
            };
            console.sessions.update(id, |s| s.mfa_setup = Some(setup));
            Ok(())
        }
        "enable_mfa" => {
            let setup = ctx
                .session
                .as_ref()
                .and_then(|s| s.mfa_setup.as_ref())
                .filter(|s| s.user_name.as_deref() == name);
            let Some(setup) = setup else {
                return Ok(());
            };
            let mut params = user_param(name);
            params.extend([
                ("SerialNumber", setup.serial_number.as_str()),
                (
                    "AuthenticationCode1",
                    form.get("code1").unwrap_or_default().trim(),
                ),
                (
                    "AuthenticationCode2",
                    form.get("code2").unwrap_or_default().trim(),
                ),
            ]);
            iam(console, ctx, who, "EnableMFADevice", &params).await?;
            console.sessions.update(id, |s| s.mfa_setup = None);
            Ok(())
        }
        _ => {
            let serial = form.get("serial").unwrap_or_default();
            let mut params = user_param(name);
            params.push(("SerialNumber", serial));
            iam(console, ctx, who, "DeactivateMFADevice", &params).await?;
            iam(
                console,
                ctx,
                who,
                "DeleteVirtualMFADevice",
                &[("SerialNumber", serial)],
            )
            .await?;
            Ok(())
        }
    }
}
