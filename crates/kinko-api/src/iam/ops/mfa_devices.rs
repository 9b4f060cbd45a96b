//! CreateVirtualMFADevice, EnableMFADevice, ResyncMFADevice, DeactivateMFADevice,
//! DeleteVirtualMFADevice, GetMFADevice, ListMFADevices and ListVirtualMFADevices.
//!
//! Devices live in their own store table, not in the IAM state (see `kinko_core::mfa`). The seed
//! is made and sealed under the root key (bound to the serial number) when the device is created,
//! and returned that once, as base32 text and as a QR code; audit records leave both out, and the
//! codes a request carries (`AuthenticationCode1`/`2`). Codes are checked in [`crate::mfa`].
//!
//! What each action is authorized on follows AWS's Service Authorization Reference: the device
//! (`arn:aws:iam::<account>:mfa/<path/>name`) for CreateVirtualMFADevice and
//! DeleteVirtualMFADevice, the user for the others, and nothing (`*`) for ListVirtualMFADevices.
//!
//! The root user's devices: the root user names no user, and then means itself, as with its
//! access keys (the operation is then authorized on `arn:aws:iam::<account>:root`). AWS documents
//! assigning a device to the root user as a console-only step ("Assign MFA devices in the AWS CLI
//! or AWS API"); kinko's console runs these same operations as the signed-in principal, so the
//! root user may call EnableMFADevice and ResyncMFADevice without `UserName` too. Everyone else
//! must name the user, as AWS's model requires.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use kinko_core::mfa::{Holder, MfaDevice};
use kinko_core::principal::PrincipalKind;
use kinko_core::secret::Tag;
use kinko_wire::query::Params;
use kinko_wire::validate::Violations;
use zeroize::Zeroizing;

use super::KeyOwner;
use super::users::root_created;
use crate::iam::error::IamError;
use crate::iam::input::{Page, Reader, check_tags};
use crate::iam::output::{self, Detail, members};
use crate::iam::{Found, Iam, Target, qr, request_tags};
use crate::mfa::{self, MfaRefused};
use crate::operation::{Authorization, Cx, FromRequest, Operation, QueryReply};

/// `VirtualMFADeviceName` is 1-226 characters.
const DEVICE_NAME: usize = 226;
/// Operations on existing users accept names up to 128 characters.
const USER_NAME: usize = 128;
/// MFA devices one IAM user, or the root user, may have (IAM User Guide, "IAM and AWS STS
/// quotas"; the root user's limit is the same since AWS allowed it several devices in 2022).
const DEVICES_PER_USER: usize = 8;

/// AWS's answer to codes that are not two consecutive codes of the device.
const INVALID_CODE: &str = "Authentication code for device is not valid.";

fn device_not_found(serial_number: &str) -> IamError {
    IamError::NoSuchEntity(format!(
        "VirtualMFADevice with serial number {serial_number} doesn't exist."
    ))
}

fn refused(e: MfaRefused) -> IamError {
    match e {
        MfaRefused::NoDevice | MfaRefused::InvalidCode => {
            IamError::InvalidAuthenticationCode(INVALID_CODE.into())
        }
        MfaRefused::Store(e) => e.into(),
        MfaRefused::Internal(m) => IamError::Internal(m),
    }
}

/// The device, if it is one of the caller's account.
async fn device(cx: &Cx<'_>, serial_number: &str) -> Result<Option<MfaDevice>, IamError> {
    Ok(cx
        .services
        .store
        .mfa_device(serial_number)
        .await?
        .filter(|d| d.account_id == cx.account()))
}

/// The device if it is assigned to `holder`, or the not-found error.
async fn device_of(cx: &Cx<'_>, holder: Holder<'_>, serial_number: &str) -> Result<MfaDevice, IamError> {
    device(cx, serial_number)
        .await?
        .filter(|d| d.assigned_to(holder))
        .ok_or_else(|| device_not_found(serial_number))
}

/// The devices of `holder`, oldest enabled first.
async fn devices_of(cx: &Cx<'_>, holder: Holder<'_>) -> Result<Vec<MfaDevice>, IamError> {
    let mut devices: Vec<MfaDevice> = cx
        .services
        .store
        .list_mfa_devices(cx.account())
        .await?
        .into_iter()
        .filter(|d| d.assigned_to(holder))
        .collect();
    devices.sort_by_key(|d| d.enable_date);
    Ok(devices)
}

/// The named user's ARN (with its tags), whether or not it exists, or the root user's when the
/// root user names none.
async fn read_holder(cx: &Cx<'_>, user_name: Option<&str>) -> Result<Found, IamError> {
    Found::read(cx, |state| KeyOwner::target(cx, state, user_name)).await
}

/// Who the device operation is about: the named user (which must exist), or the caller.
fn holder_of(cx: &Cx<'_>, found: &Found, user_name: Option<&str>) -> Result<KeyOwner, IamError> {
    KeyOwner::resolve(cx, &found.state, user_name)
}

/// EnableMFADevice and ResyncMFADevice name the user, but for the root user's own devices: the
/// error AWS answers a missing `UserName` with, for any other caller. (Checked once the caller
/// is known, so it comes alone, not with the other violations of the request.)
fn require_user_name(cx: &Cx<'_>, user_name: Option<&str>) -> Result<(), IamError> {
    if user_name.is_some() || matches!(cx.rc.principal.kind, PrincipalKind::Root) {
        return Ok(());
    }
    let mut v = Violations::new();
    v.required("userName", &None::<String>);
    match v.message() {
        Some(m) => Err(IamError::Validation(m)),
        None => Ok(()),
    }
}

pub(crate) struct CreateVirtualMFADevice;

pub(crate) struct CreateVirtualMFADeviceInput {
    name: String,
    path: String,
    tags: Vec<Tag>,
}

impl FromRequest<Iam> for CreateVirtualMFADeviceInput {
    fn from_request(p: &Params) -> Result<Self, IamError> {
        let mut r = Reader::new(p);
        let name = r.req_name("VirtualMFADeviceName", DEVICE_NAME);
        let path = r.path("Path");
        let tags = r.tags("Tags", false);
        r.finish()?;
        let tags = tags.unwrap_or_default();
        check_tags(&tags)?;
        Ok(CreateVirtualMFADeviceInput {
            name,
            path: path.unwrap_or_else(|| "/".into()),
            tags,
        })
    }
}

impl Operation for CreateVirtualMFADevice {
    type Service = Iam;
    const NAME: &'static str = "CreateVirtualMFADevice";
    type Input = CreateVirtualMFADeviceInput;
    type Output = QueryReply;
    type Resolved = Found;

    async fn resolve(cx: &Cx<'_>, i: &CreateVirtualMFADeviceInput) -> Result<Found, IamError> {
        let serial_number = MfaDevice::serial_number_of(cx.account(), &i.path, &i.name);
        Found::read(cx, |_| Ok(Target::new_arn(cx, serial_number))).await
    }

    /// The new device's ARN, with the tags it would get.
    fn authorization<'a>(
        cx: &'a Cx<'_>,
        i: &'a CreateVirtualMFADeviceInput,
        found: &'a Found,
    ) -> Result<Authorization<'a>, IamError> {
        Ok(Authorization::of(
            found.check(cx).request_tags(request_tags(&i.tags)),
        ))
    }

    async fn run(cx: &Cx<'_>, i: &CreateVirtualMFADeviceInput, found: Found) -> Result<QueryReply, IamError> {
        // A device is its serial number, which carries its path: the same name under another path
        // is another device, as IAM's message says ("at the same path and name"). Within a path,
        // names ignore case, as IAM's names do.
        let taken = cx
            .services
            .store
            .list_mfa_devices(cx.account())
            .await?
            .iter()
            .any(|d| d.path == i.path && d.name.eq_ignore_ascii_case(&i.name));
        if taken {
            return Err(IamError::EntityAlreadyExists(
                "MFADevice entity at the same path and name already exists.".into(),
            ));
        }
        let serial_number = MfaDevice::serial_number_of(cx.account(), &i.path, &i.name);
        let (seed, sealed_seed) = mfa::new_seed(cx.services, &serial_number).map_err(IamError::Internal)?;
        let base32 = kinko_crypto::totp::base32(&seed);
        let account_name = found
            .state
            .account_alias
            .clone()
            .unwrap_or_else(|| cx.account().to_owned());
        let uri = Zeroizing::new(qr::otpauth_uri(&i.name, &account_name, &base32));
        let png = Zeroizing::new(qr::png(&uri).map_err(IamError::Internal)?);
        // A name taken meanwhile surfaces as a conflict: the operation runs again and finds it.
        cx.services
            .store
            .create_mfa_device(MfaDevice {
                account_id: cx.account().to_owned(),
                serial_number: serial_number.clone(),
                name: i.name.clone(),
                path: i.path.clone(),
                sealed_seed,
                user_name: None,
                root: false,
                enable_date: None,
                create_date: cx.now(),
                tags: i.tags.clone(),
                last_step: 0,
                revision: 0,
            })
            .await?;
        // Both are blobs in IAM's model, so base64 on the wire: the SDKs hand back the base32
        // text and the PNG bytes.
        let mut x = cx.xml::<Iam>();
        x.open("VirtualMFADevice")
            .elem("SerialNumber", &serial_number)
            .elem("Base32StringSeed", &STANDARD.encode(base32.as_bytes()))
            .elem("QRCodePNG", &STANDARD.encode(png.as_slice()));
        if !i.tags.is_empty() {
            output::tags(&mut x, &i.tags);
        }
        x.close("VirtualMFADevice");
        Ok(QueryReply::Result(x))
    }
}

/// EnableMFADevice and ResyncMFADevice: a user (none: the root user itself), a device and two
/// consecutive codes of it.
pub(crate) struct CodesInput {
    user_name: Option<String>,
    serial_number: String,
    code1: Zeroizing<String>,
    code2: Zeroizing<String>,
}

impl FromRequest<Iam> for CodesInput {
    fn from_request(p: &Params) -> Result<Self, IamError> {
        let mut r = Reader::new(p);
        let user_name = r.name("UserName", USER_NAME);
        let serial_number = r.serial_number(true);
        let code1 = r.authentication_code("AuthenticationCode1");
        let code2 = r.authentication_code("AuthenticationCode2");
        r.finish()?;
        Ok(CodesInput {
            user_name,
            serial_number: serial_number.unwrap_or_default(),
            code1,
            code2,
        })
    }
}

/// The step of the second of two consecutive codes of `device`, or AWS's refusal.
fn check_codes(cx: &Cx<'_>, device: &MfaDevice, i: &CodesInput) -> Result<u64, IamError> {
    mfa::consecutive(cx.services, device, &i.code1, &i.code2)
        .map_err(refused)?
        .ok_or_else(|| IamError::InvalidAuthenticationCode(INVALID_CODE.into()))
}

pub(crate) struct EnableMFADevice;

impl Operation for EnableMFADevice {
    type Service = Iam;
    const NAME: &'static str = "EnableMFADevice";
    type Input = CodesInput;
    type Output = QueryReply;
    type Resolved = Found;

    async fn resolve(cx: &Cx<'_>, i: &CodesInput) -> Result<Found, IamError> {
        require_user_name(cx, i.user_name.as_deref())?;
        read_holder(cx, i.user_name.as_deref()).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        _: &'a CodesInput,
        found: &'a Found,
    ) -> Result<Authorization<'a>, IamError> {
        Ok(Authorization::of(found.check(cx)))
    }

    async fn run(cx: &Cx<'_>, i: &CodesInput, found: Found) -> Result<QueryReply, IamError> {
        let owner = holder_of(cx, &found, i.user_name.as_deref())?;
        let device = device(cx, &i.serial_number)
            .await?
            .ok_or_else(|| device_not_found(&i.serial_number))?;
        if device.is_assigned() {
            return Err(IamError::EntityAlreadyExists(
                "MFA Device is already in use.".into(),
            ));
        }
        if devices_of(cx, owner.holder()).await?.len() >= DEVICES_PER_USER {
            return Err(IamError::quota("MFADevicesPerUser", DEVICES_PER_USER));
        }
        let step = check_codes(cx, &device, i)?;
        let mut device = device;
        device.assign(Some(owner.holder()));
        device.enable_date = Some(cx.now());
        device.last_step = step;
        // A concurrent change surfaces as a conflict: the operation runs again on a fresh read
        // (and then finds the device in use, or the codes used).
        cx.services.store.update_mfa_device(device).await?;
        Ok(QueryReply::Empty)
    }
}

pub(crate) struct ResyncMFADevice;

impl Operation for ResyncMFADevice {
    type Service = Iam;
    const NAME: &'static str = "ResyncMFADevice";
    type Input = CodesInput;
    type Output = QueryReply;
    type Resolved = Found;

    async fn resolve(cx: &Cx<'_>, i: &CodesInput) -> Result<Found, IamError> {
        require_user_name(cx, i.user_name.as_deref())?;
        read_holder(cx, i.user_name.as_deref()).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        _: &'a CodesInput,
        found: &'a Found,
    ) -> Result<Authorization<'a>, IamError> {
        Ok(Authorization::of(found.check(cx)))
    }

    async fn run(cx: &Cx<'_>, i: &CodesInput, found: Found) -> Result<QueryReply, IamError> {
        let owner = holder_of(cx, &found, i.user_name.as_deref())?;
        let device = device_of(cx, owner.holder(), &i.serial_number).await?;
        let step = check_codes(cx, &device, i)?;
        cx.services
            .store
            .update_mfa_device(MfaDevice {
                last_step: step,
                ..device
            })
            .await?;
        Ok(QueryReply::Empty)
    }
}

/// DeactivateMFADevice and GetMFADevice: a device, and the user it is assigned to (the caller,
/// an IAM user or the root user, when not named).
pub(crate) struct DeviceOfUserInput {
    user_name: Option<String>,
    serial_number: String,
}

impl FromRequest<Iam> for DeviceOfUserInput {
    fn from_request(p: &Params) -> Result<Self, IamError> {
        let mut r = Reader::new(p);
        let user_name = r.name("UserName", USER_NAME);
        let serial_number = r.serial_number(true);
        r.finish()?;
        Ok(DeviceOfUserInput {
            user_name,
            serial_number: serial_number.unwrap_or_default(),
        })
    }
}

pub(crate) struct DeactivateMFADevice;

impl Operation for DeactivateMFADevice {
    type Service = Iam;
    const NAME: &'static str = "DeactivateMFADevice";
    type Input = DeviceOfUserInput;
    type Output = QueryReply;
    type Resolved = Found;

    async fn resolve(cx: &Cx<'_>, i: &DeviceOfUserInput) -> Result<Found, IamError> {
        read_holder(cx, i.user_name.as_deref()).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        _: &'a DeviceOfUserInput,
        found: &'a Found,
    ) -> Result<Authorization<'a>, IamError> {
        Ok(Authorization::of(found.check(cx)))
    }

    async fn run(cx: &Cx<'_>, i: &DeviceOfUserInput, found: Found) -> Result<QueryReply, IamError> {
        let owner = holder_of(cx, &found, i.user_name.as_deref())?;
        let mut device = device_of(cx, owner.holder(), &i.serial_number).await?;
        // The last accepted step stays: a code seen before can't be used again after a new
        // EnableMFADevice either.
        device.assign(None);
        device.enable_date = None;
        cx.services.store.update_mfa_device(device).await?;
        Ok(QueryReply::Empty)
    }
}

pub(crate) struct GetMFADevice;

impl Operation for GetMFADevice {
    type Service = Iam;
    const NAME: &'static str = "GetMFADevice";
    type Input = DeviceOfUserInput;
    type Output = QueryReply;
    type Resolved = Found;

    async fn resolve(cx: &Cx<'_>, i: &DeviceOfUserInput) -> Result<Found, IamError> {
        read_holder(cx, i.user_name.as_deref()).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        _: &'a DeviceOfUserInput,
        found: &'a Found,
    ) -> Result<Authorization<'a>, IamError> {
        Ok(Authorization::of(found.check(cx)))
    }

    async fn run(cx: &Cx<'_>, i: &DeviceOfUserInput, found: Found) -> Result<QueryReply, IamError> {
        let owner = holder_of(cx, &found, i.user_name.as_deref())?;
        let device = device_of(cx, owner.holder(), &i.serial_number).await?;
        let mut x = cx.xml::<Iam>();
        // The root user has no user name (as GetUser describes it): left out.
        if let KeyOwner::User(name) = &owner {
            x.elem("UserName", name);
        }
        x.elem("SerialNumber", &device.serial_number);
        if let Some(at) = device.enable_date {
            x.elem("EnableDate", &output::ts(at));
        }
        Ok(QueryReply::Result(x))
    }
}

pub(crate) struct DeleteVirtualMFADevice;

pub(crate) struct SerialNumberInput {
    serial_number: String,
}

impl FromRequest<Iam> for SerialNumberInput {
    fn from_request(p: &Params) -> Result<Self, IamError> {
        let mut r = Reader::new(p);
        let serial_number = r.serial_number(true);
        r.finish()?;
        Ok(SerialNumberInput {
            serial_number: serial_number.unwrap_or_default(),
        })
    }
}

/// A device and what its deletion is authorized on: its ARN with its tags; a serial number of
/// another account is authorized as that account's (and is then not found).
pub(crate) struct DeviceFound {
    device: Option<MfaDevice>,
    target: Target,
}

impl Operation for DeleteVirtualMFADevice {
    type Service = Iam;
    const NAME: &'static str = "DeleteVirtualMFADevice";
    type Input = SerialNumberInput;
    type Output = QueryReply;
    type Resolved = DeviceFound;

    async fn resolve(cx: &Cx<'_>, i: &SerialNumberInput) -> Result<DeviceFound, IamError> {
        let device = device(cx, &i.serial_number).await?;
        let target = match (&device, kinko_core::arn::Arn::parse(&i.serial_number)) {
            (Some(d), _) => Target::Arn {
                arn: d.serial_number.clone(),
                account: d.account_id.clone(),
                tags: d.tags.clone(),
                boundary: None,
            },
            (None, Some(arn)) if arn.service == "iam" && arn.account_id.len() == 12 => Target::Arn {
                arn: i.serial_number.clone(),
                account: arn.account_id.to_owned(),
                tags: Vec::new(),
                boundary: None,
            },
            (None, _) => Target::Unresolved(i.serial_number.clone()),
        };
        Ok(DeviceFound { device, target })
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        _: &'a SerialNumberInput,
        found: &'a DeviceFound,
    ) -> Result<Authorization<'a>, IamError> {
        Ok(Authorization::of(found.target.check(cx)))
    }

    async fn run(cx: &Cx<'_>, i: &SerialNumberInput, found: DeviceFound) -> Result<QueryReply, IamError> {
        let device = found.device.ok_or_else(|| device_not_found(&i.serial_number))?;
        if device.is_assigned() {
            return Err(IamError::DeleteConflict("MFA Device is in use.".into()));
        }
        // Changed meanwhile: the operation runs again on a fresh read.
        cx.services
            .store
            .delete_mfa_device(&device.serial_number, device.revision)
            .await?;
        Ok(QueryReply::Empty)
    }
}

pub(crate) struct ListMFADevices;

pub(crate) struct ListMFADevicesInput {
    user_name: Option<String>,
    page: Page,
}

impl FromRequest<Iam> for ListMFADevicesInput {
    fn from_request(p: &Params) -> Result<Self, IamError> {
        let mut r = Reader::new(p);
        let user_name = r.name("UserName", USER_NAME);
        let page = r.page();
        r.finish()?;
        Ok(ListMFADevicesInput { user_name, page })
    }
}

impl Operation for ListMFADevices {
    type Service = Iam;
    const NAME: &'static str = "ListMFADevices";
    type Input = ListMFADevicesInput;
    type Output = QueryReply;
    type Resolved = Found;

    async fn resolve(cx: &Cx<'_>, i: &ListMFADevicesInput) -> Result<Found, IamError> {
        Found::read(cx, |state| KeyOwner::target(cx, state, i.user_name.as_deref())).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        _: &'a ListMFADevicesInput,
        found: &'a Found,
    ) -> Result<Authorization<'a>, IamError> {
        Ok(Authorization::of(found.check(cx)))
    }

    async fn run(cx: &Cx<'_>, i: &ListMFADevicesInput, found: Found) -> Result<QueryReply, IamError> {
        let owner = holder_of(cx, &found, i.user_name.as_deref())?;
        let devices = devices_of(cx, owner.holder()).await?;
        let (page, next) = i.page.apply(devices)?;
        let mut x = cx.xml::<Iam>();
        members(&mut x, "MFADevices", &page, |x, d| {
            // A root user's device names no user (the root user has no user name, as GetUser
            // describes it); the SDKs read the missing member as empty.
            x.opt("UserName", d.user_name.as_deref())
                .elem("SerialNumber", &d.serial_number);
            if let Some(at) = d.enable_date {
                x.elem("EnableDate", &output::ts(at));
            }
        });
        output::truncation(&mut x, next.as_deref());
        Ok(QueryReply::Result(x))
    }
}

pub(crate) struct ListVirtualMFADevices;

pub(crate) struct ListVirtualMFADevicesInput {
    assignment_status: Option<String>,
    page: Page,
}

impl FromRequest<Iam> for ListVirtualMFADevicesInput {
    fn from_request(p: &Params) -> Result<Self, IamError> {
        let mut r = Reader::new(p);
        let assignment_status = r.assignment_status();
        let page = r.page();
        r.finish()?;
        Ok(ListVirtualMFADevicesInput {
            assignment_status,
            page,
        })
    }
}

impl Operation for ListVirtualMFADevices {
    type Service = Iam;
    const NAME: &'static str = "ListVirtualMFADevices";
    type Input = ListVirtualMFADevicesInput;
    type Output = QueryReply;
    type Resolved = Found;

    async fn resolve(cx: &Cx<'_>, _: &ListVirtualMFADevicesInput) -> Result<Found, IamError> {
        Found::read(cx, |_| Ok(Target::Any)).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        _: &'a ListVirtualMFADevicesInput,
        found: &'a Found,
    ) -> Result<Authorization<'a>, IamError> {
        Ok(Authorization::of(found.check(cx)))
    }

    async fn run(cx: &Cx<'_>, i: &ListVirtualMFADevicesInput, found: Found) -> Result<QueryReply, IamError> {
        let devices: Vec<MfaDevice> = cx
            .services
            .store
            .list_mfa_devices(cx.account())
            .await?
            .into_iter()
            .filter(|d| match i.assignment_status.as_deref() {
                Some("Assigned") => d.is_assigned(),
                Some("Unassigned") => !d.is_assigned(),
                _ => true,
            })
            .collect();
        let (page, next) = i.page.apply(devices)?;
        let root_created = if page.iter().any(|d| d.root) {
            Some(root_created(cx).await?)
        } else {
            None
        };
        let mut x = cx.xml::<Iam>();
        members(&mut x, "VirtualMFADevices", &page, |x, d| {
            x.elem("SerialNumber", &d.serial_number);
            if let Some(user) = d.user_name.as_deref().and_then(|n| found.state.user(n)) {
                output::user(x, user, Detail::Listed);
            }
            // The root user's device: AWS shows the root user by account id and ARN.
            if let (true, Some(created)) = (d.root, root_created) {
                output::root_user(x, cx.account(), created);
            }
            if let Some(at) = d.enable_date {
                x.elem("EnableDate", &output::ts(at));
            }
            if !d.tags.is_empty() {
                output::tags(x, &d.tags);
            }
        });
        output::truncation(&mut x, next.as_deref());
        Ok(QueryReply::Result(x))
    }
}
