//! Lambda's operations.

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use kinko_core::function::{FunctionSpec, Invocation, RunError};
use kinko_core::lambda::{Function, FunctionConfig, FunctionPolicy, FunctionWrite, LATEST, function_arn};
use kinko_core::secret::Tag;
use kinko_wire::validate::Violations;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Lambda, LambdaError, Reply, Shown, configuration, decode};
use crate::authz::{Bound, Check, Resource, ResourcePolicy};
use crate::operation::{Authorization, Cx, FromRequest, Operation, RestRequest};

/// Implements [`FromRequest`] for inputs read through serde from the request's members.
macro_rules! rest_input {
    ($($t:ty),* $(,)?) => {
        $(
            impl FromRequest<Lambda> for $t {
                fn from_request(raw: &RestRequest<'_>) -> Result<Self, LambdaError> {
                    decode(raw)
                }

                fn members() -> Option<&'static [&'static str]> {
                    crate::cloudtrail::struct_members::<$t>()
                }
            }
        )*
    };
}

rest_input!(
    CreateFunctionInput,
    FunctionInput,
    ListFunctionsInput,
    UpdateFunctionCodeInput,
    UpdateFunctionConfigurationInput,
    AddPermissionInput,
    RemovePermissionInput,
    TagsInput,
    PublishVersionInput,
    ListVersionsInput,
);

// --- names ---

const NAME_PATTERN: &str = r"(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\d{1}:)?(\d{12}:)?(function:)?([a-zA-Z0-9-_\.]+)(:(\$LATEST|[a-zA-Z0-9-_]+))?";
const CREATE_NAME_PATTERN: &str = r"(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\d{1}:)?(\d{12}:)?(function:)?([a-zA-Z0-9-_]+)(:(\$LATEST|[a-zA-Z0-9-_]+))?";
const ROLE_PATTERN: &str = r"arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+";
const QUALIFIER_PATTERN: &str = r"(|[a-zA-Z0-9$_-]+)";

/// A function as a request names it: by name, partial ARN or ARN, maybe qualified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FunctionRef {
    account_id: Option<String>,
    region: Option<String>,
    name: String,
    qualifier: Option<String>,
}

fn is_name(s: &str, dots: bool) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || (dots && c == '.'))
}

fn is_qualifier(s: &str) -> bool {
    s == LATEST
        || (!s.is_empty()
            && s.len() <= 128
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
}

fn is_account(s: &str) -> bool {
    s.len() == 12 && s.chars().all(|c| c.is_ascii_digit())
}

impl FunctionRef {
    /// Parses a `FunctionName` member; `None` when it matches none of its forms.
    fn parse(s: &str, dots: bool) -> Option<FunctionRef> {
        let parts: Vec<&str> = s.split(':').collect();
        let (account_id, region, name, qualifier) = match parts.as_slice() {
            [
                "arn",
                partition,
                "lambda",
                region,
                account,
                "function",
                name,
                rest @ ..,
            ] if partition.starts_with("aws") && is_account(account) && !region.is_empty() => {
                (Some(*account), Some(*region), *name, rest)
            }
            [account, "function", name, rest @ ..] if is_account(account) => {
                (Some(*account), None, *name, rest)
            }
            [name, rest @ ..] => (None, None, *name, rest),
            [] => return None,
        };
        let qualifier = match qualifier {
            [] => None,
            [q] if is_qualifier(q) => Some((*q).to_owned()),
            _ => return None,
        };
        if !is_name(name, dots) || name.len() > 64 {
            return None;
        }
        Some(FunctionRef {
            account_id: account_id.map(str::to_owned),
            region: region.map(str::to_owned),
            name: name.to_owned(),
            qualifier,
        })
    }
}

fn check_name(v: &mut Violations, name: Option<&str>, max: usize, create: bool) {
    v.length("functionName", name, 1, max, false);
    if let Some(n) = name
        && n.chars().count() <= max
    {
        let pattern = if create { CREATE_NAME_PATTERN } else { NAME_PATTERN };
        v.pattern(
            "functionName",
            Some(n),
            pattern,
            FunctionRef::parse(n, !create).is_some(),
        );
    }
}

fn check_qualifier(v: &mut Violations, q: Option<&str>) {
    v.length("qualifier", q, 1, 128, false);
    if let Some(q) = q {
        v.pattern("qualifier", Some(q), QUALIFIER_PATTERN, is_qualifier(q));
    }
}

fn violations(v: &Violations) -> Result<(), LambdaError> {
    match v.message() {
        Some(m) => Err(LambdaError::Validation(m)),
        None => Ok(()),
    }
}

/// What a request about one function found: its ARNs (unqualified, and as authorized), and the
/// function with its policy document, if it exists.
pub struct Target {
    account_id: String,
    /// The ARN the request is authorized on: qualified when the request names a qualifier.
    authorized_arn: String,
    qualifier: Option<String>,
    function: Option<Function>,
    policy_document: Option<String>,
    tags: Vec<Tag>,
}

impl Target {
    fn check<'a>(&'a self, action: &'a str) -> Check<'a> {
        let mut check = Check::new(
            action,
            Resource::Arn {
                arn: &self.authorized_arn,
                account_id: &self.account_id,
            },
        )
        .tags(None, &self.tags);
        if let (Some(doc), Some(policy)) = (
            &self.policy_document,
            self.function.as_ref().and_then(|f| f.policy.as_ref()),
        ) {
            check = check.policy(ResourcePolicy::Resource(Bound {
                document: doc,
                principals: &policy.principals,
            }));
        }
        check
    }

    fn authorization<'a>(&'a self, action: &'a str) -> Authorization<'a> {
        Authorization::of(self.check(action))
    }

    /// The function, or Lambda's not-found error naming the ARN the request asked for.
    fn found(&self) -> Result<&Function, LambdaError> {
        self.function
            .as_ref()
            .ok_or_else(|| LambdaError::not_found(&self.authorized_arn))
    }

    /// The configuration the request's qualifier names.
    fn config(&self) -> Result<(&Function, &FunctionConfig), LambdaError> {
        let f = self.found()?;
        let c = f
            .config(self.qualifier.as_deref())
            .ok_or_else(|| LambdaError::not_found(&self.authorized_arn))?;
        Ok((f, c))
    }

    fn into_function(self) -> Result<Function, LambdaError> {
        match self.function {
            Some(f) => Ok(f),
            None => Err(LambdaError::not_found(&self.authorized_arn)),
        }
    }
}

/// Finds the function `name` names (with `qualifier`, the `Qualifier` member) for the caller.
async fn target(cx: &Cx<'_>, name: &str, qualifier: Option<&str>) -> Result<Target, LambdaError> {
    let r = FunctionRef::parse(name, true)
        .ok_or_else(|| LambdaError::InvalidParameterValue(format!("Function name {name} is invalid.")))?;
    let qualifier = match (r.qualifier.as_deref(), qualifier) {
        (Some(a), Some(b)) if a != b => {
            return Err(LambdaError::InvalidParameterValue(
                "The derived qualifier from the function name does not match the specified qualifier.".into(),
            ));
        }
        (a, b) => a.or(b).map(str::to_owned),
    };
    let account_id = r.account_id.clone().unwrap_or_else(|| cx.account().to_owned());
    let region = r.region.as_deref().unwrap_or(cx.region());
    let arn = function_arn(region, &account_id, &r.name);
    let authorized_arn = match &qualifier {
        Some(q) => format!("{arn}:{q}"),
        None => arn.clone(),
    };
    let function = cx.services.store.function(&arn).await?;
    let policy_document = function
        .as_ref()
        .and_then(|f| f.policy.as_ref())
        .map(FunctionPolicy::document);
    let tags = function
        .as_ref()
        .map(|f| {
            f.tags
                .iter()
                .map(|(key, value)| Tag {
                    key: key.clone(),
                    value: value.clone(),
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(Target {
        account_id,
        authorized_arn,
        qualifier,
        function,
        policy_document,
        tags,
    })
}

fn new_revision_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn check_revision(given: Option<&str>, current: &str) -> Result<(), LambdaError> {
    match given {
        Some(r) if r != current => Err(LambdaError::PreconditionFailed(
            "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id".into(),
        )),
        _ => Ok(()),
    }
}

async fn write(cx: &Cx<'_>, w: FunctionWrite) -> Result<(), LambdaError> {
    cx.services.store.write_function(w).await?;
    Ok(())
}

// --- shared inputs ---

#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct CodeInput {
    #[serde(default, with = "kinko_wire::json::opt_blob")]
    zip_file: Option<Vec<u8>>,
    #[serde(rename = "S3Bucket")]
    s3_bucket: Option<String>,
    #[serde(rename = "S3Key")]
    s3_key: Option<String>,
    image_uri: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct EnvironmentInput {
    variables: Option<BTreeMap<String, String>>,
}

/// The runtimes the API accepts (Lambda's, current and deprecated).
const RUNTIMES: &[&str] = &[
    "nodejs",
    "nodejs4.3",
    "nodejs6.10",
    "nodejs8.10",
    "nodejs10.x",
    "nodejs12.x",
    "nodejs14.x",
    "nodejs16.x",
    "nodejs18.x",
    "nodejs20.x",
    "nodejs22.x",
    "java8",
    "java8.al2",
    "java11",
    "java17",
    "java21",
    "python2.7",
    "python3.6",
    "python3.7",
    "python3.8",
    "python3.9",
    "python3.10",
    "python3.11",
    "python3.12",
    "python3.13",
    "dotnetcore1.0",
    "dotnetcore2.0",
    "dotnetcore2.1",
    "dotnetcore3.1",
    "dotnet6",
    "dotnet8",
    "nodejs4.3-edge",
    "go1.x",
    "ruby2.5",
    "ruby2.7",
    "ruby3.2",
    "ruby3.3",
    "provided",
    "provided.al2",
    "provided.al2023",
];

/// Environment variables Lambda sets itself.
const RESERVED_VARIABLES: &[&str] = &[
    "_HANDLER",
    "_X_AMZN_TRACE_ID",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API",
    "LAMBDA_TASK_ROOT",
    "LAMBDA_RUNTIME_DIR",
];

/// The model checks of the configuration members CreateFunction and UpdateFunctionConfiguration
/// share.
fn check_config(
    v: &mut Violations,
    runtime: Option<&str>,
    role: Option<&str>,
    handler: Option<&str>,
    description: Option<&str>,
    timeout: Option<i64>,
    memory_size: Option<i64>,
) {
    if let Some(r) = role {
        v.pattern("role", Some(r), ROLE_PATTERN, is_role_arn(r));
    }
    v.length("handler", handler, 0, 128, false);
    if let Some(h) = handler {
        v.pattern(
            "handler",
            Some(h),
            r"[^\s]+",
            !h.is_empty() && !h.chars().any(char::is_whitespace),
        );
    }
    v.length("description", description, 0, 256, false);
    v.range("timeout", timeout, 1, 900);
    v.range("memorySize", memory_size, 128, 10240);
    v.one_of("runtime", runtime, RUNTIMES);
}

fn is_role_arn(r: &str) -> bool {
    kinko_core::arn::Arn::parse(r).is_some_and(|a| {
        a.partition.starts_with("aws")
            && a.service == "iam"
            && a.region.is_empty()
            && is_account(a.account_id)
            && a.resource.starts_with("role/")
            && a.resource.len() > "role/".len()
    })
}

/// Lambda's checks of environment variables (names, reserved names, 4 KB in all).
fn check_environment(vars: &BTreeMap<String, String>) -> Result<(), LambdaError> {
    for key in vars.keys() {
        let mut chars = key.chars();
        let ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
            && key.len() >= 2
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ok {
            return Err(LambdaError::Validation(
                "1 validation error detected: Value at 'environment.variables' failed to satisfy constraint: Map keys must satisfy constraint: [Member must satisfy regular expression pattern: [a-zA-Z]([a-zA-Z0-9_])+]".into(),
            ));
        }
    }
    let reserved: Vec<&str> = vars
        .keys()
        .map(String::as_str)
        .filter(|k| RESERVED_VARIABLES.contains(k))
        .collect();
    if !reserved.is_empty() {
        return Err(LambdaError::InvalidParameterValue(format!(
            "Lambda was unable to configure your environment variables because the environment variables you have provided contains reserved keys that are currently not supported for modification. Reserved keys used in this request: {}",
            reserved.join(",")
        )));
    }
    let measured = serde_json::to_string(vars).unwrap_or_default();
    if measured.len() > 4096 {
        return Err(LambdaError::InvalidParameterValue(format!(
            "Lambda was unable to configure your environment variables because the environment variables you have provided exceeded the 4KB limit. String measured: {measured}"
        )));
    }
    Ok(())
}

/// The deployment package of a `Code` (or UpdateFunctionCode) member: a zip, given inline.
fn zip_of(zip_file: Option<&Vec<u8>>, elsewhere: bool) -> Result<&Vec<u8>, LambdaError> {
    let Some(zip) = zip_file else {
        return Err(if elsewhere {
            LambdaError::InvalidParameterValue(
                "kinko takes a function's deployment package inline only (Code.ZipFile): S3 locations and container images are not supported.".into(),
            )
        } else {
            LambdaError::InvalidParameterValue("Please provide a source for function code.".into())
        });
    };
    if zip.len() > super::MAX_ZIP {
        return Err(LambdaError::RequestTooLarge(format!(
            "Zipped size must be smaller than {} bytes",
            super::MAX_ZIP
        )));
    }
    if !looks_like_zip(zip) {
        return Err(LambdaError::InvalidParameterValue(
            "Could not unzip uploaded file. Please check your file, then try to upload again.".into(),
        ));
    }
    Ok(zip)
}

/// An empty zip archive: the package of a built-in rotator's function created without one.
const EMPTY_ZIP: &[u8] = b"PK\x05\x06\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0";

/// CreateFunction's package: `Code.ZipFile`; a built-in rotator's function
/// ([`kinko_core::function::builtin_rotator`]) runs no package, so `Code: {}` gives it an empty
/// one (kinko's choice: Lambda has no such functions, and asking for a dummy zip helps no one).
fn new_package(i: &CreateFunctionInput) -> Result<&[u8], LambdaError> {
    let code = i.code.as_ref();
    let zip_file = code.and_then(|c| c.zip_file.as_ref());
    let elsewhere =
        code.is_some_and(|c| c.s3_bucket.is_some() || c.s3_key.is_some() || c.image_uri.is_some());
    let builtin = kinko_core::function::builtin_rotator(
        i.runtime.as_deref().unwrap_or_default(),
        i.handler.as_deref().unwrap_or_default(),
    )
    .is_some();
    if zip_file.is_none() && !elsewhere && builtin {
        return Ok(EMPTY_ZIP);
    }
    zip_of(zip_file, elsewhere).map(Vec::as_slice)
}

/// Whether `bytes` end with a zip archive's end-of-central-directory record (within the 64 KiB a
/// comment may take), and start like a zip.
fn looks_like_zip(bytes: &[u8]) -> bool {
    const EOCD: &[u8] = b"PK\x05\x06";
    if bytes.len() < 22 || !bytes.starts_with(b"PK") {
        return false;
    }
    let from = bytes.len().saturating_sub(22 + 65_535);
    bytes[from..].windows(4).rev().any(|w| w == EOCD)
}

fn code_sha256(zip: &[u8]) -> String {
    B64.encode(kinko_crypto::sha256(zip))
}

/// `iam:PassRole` on an execution role, passed to Lambda.
fn pass_role<'a>(role: &'a str, account_id: &'a str) -> Check<'a> {
    Check::new(
        "iam:PassRole",
        Resource::Arn {
            arn: role,
            account_id,
        },
    )
    .condition("iam:PassedToService", super::LAMBDA_SERVICE)
}

/// An execution role must be of the function's account.
fn same_account_role(role: &str, account_id: &str) -> Result<(), LambdaError> {
    match kinko_core::arn::Arn::parse(role) {
        Some(a) if a.account_id != account_id => Err(LambdaError::AccessDenied(
            "Cross-account pass role is not allowed.".into(),
        )),
        _ => Ok(()),
    }
}

/// Whether Lambda may assume `role`: it exists and its trust policy lets `lambda.amazonaws.com`
/// assume it, asked through the one authorization path as STS asks it for the service.
async fn assumable_by_lambda(cx: &Cx<'_>, role_arn: &str) -> Result<(), LambdaError> {
    let cannot = || {
        LambdaError::InvalidParameterValue(
            "The role defined for the function cannot be assumed by Lambda.".into(),
        )
    };
    let Some(parsed) = kinko_core::arn::Arn::parse(role_arn) else {
        return Err(cannot());
    };
    let name = parsed.resource.rsplit('/').next().unwrap_or_default();
    let iam = cx.services.store.iam_state(parsed.account_id).await?;
    let Some(role) = iam.role(name).filter(|r| r.arn == role_arn) else {
        return Err(cannot());
    };
    let check = Check::new(
        "sts:AssumeRole",
        Resource::Arn {
            arn: role_arn,
            account_id: parsed.account_id,
        },
    )
    .service_principal(super::LAMBDA_SERVICE)
    .policy(ResourcePolicy::Trust(Bound {
        document: &role.assume_role_policy_document,
        principals: &role.trust_principals,
    }))
    .tags(Some("iam"), &role.tags);
    // Asked as STS asks it for a service: for Lambda, not the caller (root may not assume roles,
    // but may pass one to Lambda).
    let lambda = crate::RequestContext::new(
        kinko_core::principal::Principal::anonymous(),
        cx.region(),
        &cx.rc.request_id,
    );
    match crate::authz::check(cx.services, &lambda, &check).await {
        Ok(()) => Ok(()),
        Err(crate::authz::AuthzError::Denied(_) | crate::authz::AuthzError::Refused(_)) => Err(cannot()),
        Err(crate::authz::AuthzError::Store(e)) => Err(e.into()),
    }
}

fn check_tags(tags: &BTreeMap<String, String>) -> Result<(), LambdaError> {
    let mut v = Violations::new();
    for (key, value) in tags {
        v.length("tags.key", Some(key), 1, 128, false);
        v.length("tags.value", Some(value), 0, 256, false);
    }
    violations(&v)?;
    if tags.len() > 50 {
        return Err(LambdaError::InvalidParameterValue(
            "Number of tags exceeds resource tag limit.".into(),
        ));
    }
    if tags.keys().any(|k| kinko_wire::validate::is_reserved_tag_key(k)) {
        return Err(LambdaError::InvalidParameterValue(
            "Tag keys starting with 'aws:' are reserved for AWS use.".into(),
        ));
    }
    Ok(())
}

fn tag_pairs(tags: &BTreeMap<String, String>) -> Vec<(String, String)> {
    tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// Publishes `$LATEST` as a new version, unless the last version is the same code and
/// configuration (Lambda then answers that version). Returns the version's number.
fn publish(f: &mut Function, description: Option<&str>, now: kinko_core::Timestamp) -> String {
    let same = |v: &FunctionConfig| {
        let mut l = f.latest.clone();
        l.version.clone_from(&v.version);
        l.last_modified = v.last_modified;
        l.revision_id.clone_from(&v.revision_id);
        l.description.clone_from(&v.description);
        l == *v
    };
    if let Some(last) = f.versions.last()
        && same(last)
    {
        return last.version.clone();
    }
    f.last_version += 1;
    let mut v = f.latest.clone();
    v.version = f.last_version.to_string();
    v.last_modified = now;
    v.revision_id = new_revision_id();
    if let Some(d) = description {
        d.clone_into(&mut v.description);
    }
    let number = v.version.clone();
    f.versions.push(v);
    // Publishing changes `$LATEST`'s revision too.
    f.latest.revision_id = new_revision_id();
    number
}

// --- CreateFunction ---

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct CreateFunctionInput {
    function_name: Option<String>,
    runtime: Option<String>,
    role: Option<String>,
    handler: Option<String>,
    code: Option<CodeInput>,
    description: Option<String>,
    timeout: Option<i64>,
    memory_size: Option<i64>,
    publish: Option<bool>,
    environment: Option<EnvironmentInput>,
    tags: Option<BTreeMap<String, String>>,
    package_type: Option<String>,
    architectures: Option<Vec<String>>,
}

/// The function to be, named by the request.
pub struct NewFunction {
    account_id: String,
    region: String,
    name: String,
    arn: String,
    tags: Vec<(String, String)>,
}

pub(crate) struct CreateFunction;

impl Operation for CreateFunction {
    type Service = Lambda;
    const NAME: &'static str = "CreateFunction";
    type Input = CreateFunctionInput;
    type Output = Reply;
    type Resolved = NewFunction;

    fn validate(i: &CreateFunctionInput) -> Result<(), LambdaError> {
        let mut v = Violations::new();
        v.required("functionName", &i.function_name);
        check_name(&mut v, i.function_name.as_deref(), 140, true);
        v.required("role", &i.role);
        v.required("code", &i.code);
        check_config(
            &mut v,
            i.runtime.as_deref(),
            i.role.as_deref(),
            i.handler.as_deref(),
            i.description.as_deref(),
            i.timeout,
            i.memory_size,
        );
        v.one_of("packageType", i.package_type.as_deref(), &["Zip", "Image"]);
        violations(&v)?;
        if i.function_name
            .as_deref()
            .and_then(|n| FunctionRef::parse(n, false))
            .is_some_and(|r| r.qualifier.is_some())
        {
            return Err(LambdaError::InvalidParameterValue(
                "Unsupported function name: a new function's name has no qualifier.".into(),
            ));
        }
        if i.package_type.as_deref() == Some("Image") {
            return Err(LambdaError::InvalidParameterValue(
                "kinko runs .zip deployment packages only (PackageType Zip).".into(),
            ));
        }
        if i.architectures
            .as_ref()
            .is_some_and(|a| a.iter().any(|a| a != "x86_64" && a != "arm64"))
        {
            return Err(LambdaError::Validation(
                "1 validation error detected: Value at 'architectures' failed to satisfy constraint: Member must satisfy constraint: [Member must satisfy enum value set: [x86_64, arm64]]".into(),
            ));
        }
        if i.runtime.is_none() || i.handler.is_none() {
            return Err(LambdaError::InvalidParameterValue(
                "Runtime and Handler are mandatory parameters for functions created with deployment packages.".into(),
            ));
        }
        new_package(i)?;
        if let Some(vars) = i.environment.as_ref().and_then(|e| e.variables.as_ref()) {
            check_environment(vars)?;
        }
        check_tags(i.tags.as_ref().unwrap_or(&BTreeMap::new()))
    }

    async fn resolve(cx: &Cx<'_>, i: &CreateFunctionInput) -> Result<NewFunction, LambdaError> {
        let name = i.function_name.as_deref().unwrap_or_default();
        let r = FunctionRef::parse(name, false)
            .ok_or_else(|| LambdaError::InvalidParameterValue(format!("Function name {name} is invalid.")))?;
        let account_id = r.account_id.unwrap_or_else(|| cx.account().to_owned());
        let region = r.region.unwrap_or_else(|| cx.region().to_owned());
        if account_id != cx.account() {
            return Err(LambdaError::AccessDenied(format!(
                "User: {} is not authorized to perform: lambda:CreateFunction on resource: {} because no resource-based policy allows the lambda:CreateFunction action",
                cx.rc.principal.arn,
                function_arn(&region, &account_id, &r.name)
            )));
        }
        same_account_role(i.role.as_deref().unwrap_or_default(), &account_id)?;
        Ok(NewFunction {
            arn: function_arn(&region, &account_id, &r.name),
            account_id,
            region,
            name: r.name,
            tags: tag_pairs(i.tags.as_ref().unwrap_or(&BTreeMap::new())),
        })
    }

    /// `lambda:CreateFunction` on the new function (with the tags it sets), and `iam:PassRole` on
    /// its role for Lambda.
    fn authorization<'a>(
        _: &'a Cx<'_>,
        i: &'a CreateFunctionInput,
        n: &'a NewFunction,
    ) -> Result<Authorization<'a>, LambdaError> {
        Ok(Authorization::of(
            Check::new(
                "lambda:CreateFunction",
                Resource::Arn {
                    arn: &n.arn,
                    account_id: &n.account_id,
                },
            )
            .request_tags(n.tags.as_slice()),
        )
        .and(pass_role(i.role.as_deref().unwrap_or_default(), &n.account_id)))
    }

    async fn run(cx: &Cx<'_>, i: &CreateFunctionInput, n: NewFunction) -> Result<Reply, LambdaError> {
        if cx.services.store.function(&n.arn).await?.is_some() {
            return Err(LambdaError::ResourceConflict(format!(
                "Function already exist: {}",
                n.name
            )));
        }
        let role = i.role.clone().unwrap_or_default();
        assumable_by_lambda(cx, &role).await?;
        let zip = new_package(i)?;
        let now = cx.now();
        let latest = FunctionConfig {
            version: LATEST.to_owned(),
            runtime: i.runtime.clone().unwrap_or_default(),
            handler: i.handler.clone().unwrap_or_default(),
            role,
            description: i.description.clone().unwrap_or_default(),
            timeout: u32::try_from(i.timeout.unwrap_or(3)).unwrap_or(3),
            memory_size: u32::try_from(i.memory_size.unwrap_or(128)).unwrap_or(128),
            environment: i
                .environment
                .as_ref()
                .and_then(|e| e.variables.clone())
                .unwrap_or_default(),
            code_sha256: code_sha256(zip),
            code_size: zip.len() as u64,
            last_modified: now,
            revision_id: new_revision_id(),
        };
        let mut f = Function {
            arn: n.arn,
            account_id: n.account_id,
            region: n.region,
            name: n.name,
            latest,
            versions: vec![],
            last_version: 0,
            policy: None,
            tags: i.tags.clone().unwrap_or_default(),
            created: now,
            revision: 0,
        };
        let version = i.publish.unwrap_or(false).then(|| publish(&mut f, None, now));
        write(
            cx,
            FunctionWrite::Create {
                function: f.clone(),
                code: zip.to_vec(),
            },
        )
        .await?;
        let c = f.config(version.as_deref()).unwrap_or(&f.latest);
        Reply::json(201, &configuration(&f, c, Shown::Created))
    }
}

// --- reads of one function ---

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct FunctionInput {
    function_name: Option<String>,
    qualifier: Option<String>,
}

/// The function (and version) a [`FunctionInput`] names.
async fn named_target(cx: &Cx<'_>, i: &FunctionInput) -> Result<Target, LambdaError> {
    target(
        cx,
        i.function_name.as_deref().unwrap_or_default(),
        i.qualifier.as_deref(),
    )
    .await
}

fn check_function_input(i: &FunctionInput) -> Result<(), LambdaError> {
    let mut v = Violations::new();
    v.required("functionName", &i.function_name);
    check_name(&mut v, i.function_name.as_deref(), 170, false);
    check_qualifier(&mut v, i.qualifier.as_deref());
    violations(&v)
}

pub(crate) struct GetFunction;

impl Operation for GetFunction {
    type Service = Lambda;
    const NAME: &'static str = "GetFunction";
    type Input = FunctionInput;
    type Output = Reply;
    type Resolved = Target;

    fn validate(i: &FunctionInput) -> Result<(), LambdaError> {
        check_function_input(i)
    }

    async fn resolve(cx: &Cx<'_>, i: &FunctionInput) -> Result<Target, LambdaError> {
        named_target(cx, i).await
    }

    fn authorization<'a>(
        _: &'a Cx<'_>,
        _: &'a FunctionInput,
        t: &'a Target,
    ) -> Result<Authorization<'a>, LambdaError> {
        Ok(t.authorization("lambda:GetFunction"))
    }

    async fn run(_: &Cx<'_>, _: &FunctionInput, t: Target) -> Result<Reply, LambdaError> {
        let (f, c) = t.config()?;
        let mut out = json!({
            "Configuration": configuration(f, c, Shown::Stored),
            "Code": {"RepositoryType": "S3"},
        });
        if t.qualifier.is_none() && !f.tags.is_empty() {
            out["Tags"] = json!(f.tags);
        }
        Reply::json(200, &out)
    }
}

pub(crate) struct GetFunctionConfiguration;

impl Operation for GetFunctionConfiguration {
    type Service = Lambda;
    const NAME: &'static str = "GetFunctionConfiguration";
    type Input = FunctionInput;
    type Output = Reply;
    type Resolved = Target;

    fn validate(i: &FunctionInput) -> Result<(), LambdaError> {
        check_function_input(i)
    }

    async fn resolve(cx: &Cx<'_>, i: &FunctionInput) -> Result<Target, LambdaError> {
        named_target(cx, i).await
    }

    fn authorization<'a>(
        _: &'a Cx<'_>,
        _: &'a FunctionInput,
        t: &'a Target,
    ) -> Result<Authorization<'a>, LambdaError> {
        Ok(t.authorization("lambda:GetFunctionConfiguration"))
    }

    async fn run(_: &Cx<'_>, _: &FunctionInput, t: Target) -> Result<Reply, LambdaError> {
        let (f, c) = t.config()?;
        Reply::json(200, &configuration(f, c, Shown::Stored))
    }
}

// --- ListFunctions ---

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListFunctionsInput {
    marker: Option<String>,
    max_items: Option<i64>,
    function_version: Option<String>,
    master_region: Option<String>,
}

/// A page of a listing from its `Marker` (an offset, opaque to clients) and `MaxItems`.
fn page<T>(
    all: Vec<T>,
    marker: Option<&str>,
    max_items: Option<i64>,
) -> Result<(Vec<T>, Option<String>), LambdaError> {
    let start = match marker {
        None => 0,
        Some(m) => B64
            .decode(m)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| s.parse::<usize>().ok())
            .filter(|n| *n <= all.len())
            .ok_or_else(|| LambdaError::InvalidParameterValue("Invalid marker.".into()))?,
    };
    let limit = usize::try_from(max_items.unwrap_or(50)).unwrap_or(50);
    let end = start.saturating_add(limit).min(all.len());
    let next = (end < all.len()).then(|| B64.encode(end.to_string()));
    Ok((all.into_iter().skip(start).take(end - start).collect(), next))
}

pub(crate) struct ListFunctions;

impl Operation for ListFunctions {
    type Service = Lambda;
    const NAME: &'static str = "ListFunctions";
    type Input = ListFunctionsInput;
    type Output = Reply;
    type Resolved = ();

    fn validate(i: &ListFunctionsInput) -> Result<(), LambdaError> {
        let mut v = Violations::new();
        v.range("maxItems", i.max_items, 1, 10000);
        v.one_of("functionVersion", i.function_version.as_deref(), &["ALL"]);
        violations(&v)?;
        if i.master_region.is_some() {
            return Err(LambdaError::InvalidParameterValue(
                "kinko has no Lambda@Edge replicas: MasterRegion is not supported.".into(),
            ));
        }
        Ok(())
    }

    async fn resolve(_: &Cx<'_>, _: &ListFunctionsInput) -> Result<(), LambdaError> {
        Ok(())
    }

    fn authorization<'a>(
        _: &'a Cx<'_>,
        _: &'a ListFunctionsInput,
        _: &'a (),
    ) -> Result<Authorization<'a>, LambdaError> {
        Ok(Authorization::of(Check::new(
            "lambda:ListFunctions",
            Resource::Any,
        )))
    }

    async fn run(cx: &Cx<'_>, i: &ListFunctionsInput, _: ()) -> Result<Reply, LambdaError> {
        let all = cx
            .services
            .store
            .list_functions(cx.account(), cx.region())
            .await?;
        let every = i.function_version.is_some();
        let configs: Vec<(usize, usize)> = all
            .iter()
            .enumerate()
            .flat_map(|(fi, f)| {
                let n = if every { 1 + f.versions.len() } else { 1 };
                (0..n).map(move |ci| (fi, ci))
            })
            .collect();
        let (page, next) = page(configs, i.marker.as_deref(), i.max_items)?;
        let functions: Vec<_> = page
            .into_iter()
            .map(|(fi, ci)| {
                let f = &all[fi];
                let c = if ci == 0 { &f.latest } else { &f.versions[ci - 1] };
                configuration(f, c, Shown::Stored)
            })
            .collect();
        let mut out = json!({"Functions": functions});
        if let Some(m) = next {
            out["NextMarker"] = json!(m);
        }
        Reply::json(200, &out)
    }
}

// --- DeleteFunction ---

pub(crate) struct DeleteFunction;

impl Operation for DeleteFunction {
    type Service = Lambda;
    const NAME: &'static str = "DeleteFunction";
    type Input = FunctionInput;
    type Output = Reply;
    type Resolved = Target;

    fn validate(i: &FunctionInput) -> Result<(), LambdaError> {
        check_function_input(i)
    }

    async fn resolve(cx: &Cx<'_>, i: &FunctionInput) -> Result<Target, LambdaError> {
        named_target(cx, i).await
    }

    fn authorization<'a>(
        _: &'a Cx<'_>,
        _: &'a FunctionInput,
        t: &'a Target,
    ) -> Result<Authorization<'a>, LambdaError> {
        Ok(t.authorization("lambda:DeleteFunction"))
    }

    async fn run(cx: &Cx<'_>, _: &FunctionInput, t: Target) -> Result<Reply, LambdaError> {
        let qualifier = t.qualifier.clone();
        t.config()?;
        let mut f = t.into_function()?;
        match qualifier.as_deref() {
            None => {
                write(
                    cx,
                    FunctionWrite::Delete {
                        arn: f.arn.clone(),
                        revision: f.revision,
                    },
                )
                .await?;
            }
            Some(LATEST) => {
                return Err(LambdaError::InvalidParameterValue(
                    "$LATEST version cannot be deleted without deleting the function.".into(),
                ));
            }
            Some(q) => {
                f.versions.retain(|v| v.version != q);
                write(
                    cx,
                    FunctionWrite::Update {
                        function: f.clone(),
                        code: None,
                    },
                )
                .await?;
            }
        }
        cx.services.functions.retire(&f.arn);
        Ok(Reply::empty(204))
    }
}

// --- UpdateFunctionCode ---

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct UpdateFunctionCodeInput {
    function_name: Option<String>,
    #[serde(default, with = "kinko_wire::json::opt_blob")]
    zip_file: Option<Vec<u8>>,
    #[serde(rename = "S3Bucket")]
    s3_bucket: Option<String>,
    #[serde(rename = "S3Key")]
    s3_key: Option<String>,
    image_uri: Option<String>,
    publish: Option<bool>,
    dry_run: Option<bool>,
    revision_id: Option<String>,
}

pub(crate) struct UpdateFunctionCode;

impl Operation for UpdateFunctionCode {
    type Service = Lambda;
    const NAME: &'static str = "UpdateFunctionCode";
    type Input = UpdateFunctionCodeInput;
    type Output = Reply;
    type Resolved = Target;

    fn validate(i: &UpdateFunctionCodeInput) -> Result<(), LambdaError> {
        let mut v = Violations::new();
        v.required("functionName", &i.function_name);
        check_name(&mut v, i.function_name.as_deref(), 140, false);
        violations(&v)?;
        zip_of(
            i.zip_file.as_ref(),
            i.s3_bucket.is_some() || i.s3_key.is_some() || i.image_uri.is_some(),
        )?;
        Ok(())
    }

    async fn resolve(cx: &Cx<'_>, i: &UpdateFunctionCodeInput) -> Result<Target, LambdaError> {
        target(cx, i.function_name.as_deref().unwrap_or_default(), None).await
    }

    fn authorization<'a>(
        _: &'a Cx<'_>,
        _: &'a UpdateFunctionCodeInput,
        t: &'a Target,
    ) -> Result<Authorization<'a>, LambdaError> {
        Ok(t.authorization("lambda:UpdateFunctionCode"))
    }

    async fn run(cx: &Cx<'_>, i: &UpdateFunctionCodeInput, t: Target) -> Result<Reply, LambdaError> {
        if t.qualifier.is_some() {
            return Err(LambdaError::InvalidParameterValue(
                "Only the $LATEST version of a function's code can be updated.".into(),
            ));
        }
        let mut f = t.into_function()?;
        check_revision(i.revision_id.as_deref(), &f.latest.revision_id)?;
        let zip = zip_of(i.zip_file.as_ref(), false)?;
        let now = cx.now();
        f.latest.code_sha256 = code_sha256(zip);
        f.latest.code_size = zip.len() as u64;
        f.latest.last_modified = now;
        f.latest.revision_id = new_revision_id();
        if i.dry_run.unwrap_or(false) {
            return Reply::json(200, &configuration(&f, &f.latest, Shown::Stored));
        }
        let version = i.publish.unwrap_or(false).then(|| publish(&mut f, None, now));
        write(
            cx,
            FunctionWrite::Update {
                function: f.clone(),
                code: Some(zip.clone()),
            },
        )
        .await?;
        cx.services.functions.retire(&f.arn);
        let c = f.config(version.as_deref()).unwrap_or(&f.latest);
        Reply::json(200, &configuration(&f, c, Shown::Updated))
    }
}

// --- UpdateFunctionConfiguration ---

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct UpdateFunctionConfigurationInput {
    function_name: Option<String>,
    role: Option<String>,
    handler: Option<String>,
    description: Option<String>,
    timeout: Option<i64>,
    memory_size: Option<i64>,
    environment: Option<EnvironmentInput>,
    runtime: Option<String>,
    revision_id: Option<String>,
}

pub(crate) struct UpdateFunctionConfiguration;

impl Operation for UpdateFunctionConfiguration {
    type Service = Lambda;
    const NAME: &'static str = "UpdateFunctionConfiguration";
    type Input = UpdateFunctionConfigurationInput;
    type Output = Reply;
    type Resolved = Target;

    fn validate(i: &UpdateFunctionConfigurationInput) -> Result<(), LambdaError> {
        let mut v = Violations::new();
        v.required("functionName", &i.function_name);
        check_name(&mut v, i.function_name.as_deref(), 140, false);
        check_config(
            &mut v,
            i.runtime.as_deref(),
            i.role.as_deref(),
            i.handler.as_deref(),
            i.description.as_deref(),
            i.timeout,
            i.memory_size,
        );
        violations(&v)?;
        if let Some(vars) = i.environment.as_ref().and_then(|e| e.variables.as_ref()) {
            check_environment(vars)?;
        }
        Ok(())
    }

    async fn resolve(cx: &Cx<'_>, i: &UpdateFunctionConfigurationInput) -> Result<Target, LambdaError> {
        let t = target(cx, i.function_name.as_deref().unwrap_or_default(), None).await?;
        if let Some(role) = &i.role {
            same_account_role(role, &t.account_id)?;
        }
        Ok(t)
    }

    /// `lambda:UpdateFunctionConfiguration`, and `iam:PassRole` on a new role for Lambda.
    fn authorization<'a>(
        _: &'a Cx<'_>,
        i: &'a UpdateFunctionConfigurationInput,
        t: &'a Target,
    ) -> Result<Authorization<'a>, LambdaError> {
        let mut a = t.authorization("lambda:UpdateFunctionConfiguration");
        if let Some(role) = &i.role {
            a = a.and(pass_role(role, &t.account_id));
        }
        Ok(a)
    }

    async fn run(cx: &Cx<'_>, i: &UpdateFunctionConfigurationInput, t: Target) -> Result<Reply, LambdaError> {
        if t.qualifier.is_some() {
            return Err(LambdaError::InvalidParameterValue(
                "Only the $LATEST version of a function's configuration can be updated.".into(),
            ));
        }
        let mut f = t.into_function()?;
        check_revision(i.revision_id.as_deref(), &f.latest.revision_id)?;
        if let Some(role) = &i.role {
            assumable_by_lambda(cx, role).await?;
            role.clone_into(&mut f.latest.role);
        }
        let c = &mut f.latest;
        if let Some(h) = &i.handler {
            h.clone_into(&mut c.handler);
        }
        if let Some(d) = &i.description {
            d.clone_into(&mut c.description);
        }
        if let Some(r) = &i.runtime {
            r.clone_into(&mut c.runtime);
        }
        if let Some(t) = i.timeout {
            c.timeout = u32::try_from(t).unwrap_or(c.timeout);
        }
        if let Some(m) = i.memory_size {
            c.memory_size = u32::try_from(m).unwrap_or(c.memory_size);
        }
        if let Some(e) = &i.environment {
            c.environment = e.variables.clone().unwrap_or_default();
        }
        c.last_modified = cx.now();
        c.revision_id = new_revision_id();
        write(
            cx,
            FunctionWrite::Update {
                function: f.clone(),
                code: None,
            },
        )
        .await?;
        cx.services.functions.retire(&f.arn);
        Reply::json(200, &configuration(&f, &f.latest, Shown::Updated))
    }
}

// --- Invoke ---

pub(crate) struct InvokeInput {
    function_name: Option<String>,
    qualifier: Option<String>,
    invocation_type: Option<String>,
    log_type: Option<String>,
    client_context: Option<String>,
    payload: Vec<u8>,
}

fn member_str(req: &RestRequest<'_>, name: &str) -> Option<String> {
    req.members
        .iter()
        .find(|(n, _)| *n == name)
        .and_then(|(_, v)| v.as_str())
        .map(str::to_owned)
}

impl FromRequest<Lambda> for InvokeInput {
    fn from_request(raw: &RestRequest<'_>) -> Result<Self, LambdaError> {
        Ok(InvokeInput {
            function_name: member_str(raw, "FunctionName"),
            qualifier: member_str(raw, "Qualifier"),
            invocation_type: member_str(raw, "InvocationType"),
            log_type: member_str(raw, "LogType"),
            client_context: member_str(raw, "ClientContext"),
            payload: raw.body.to_vec(),
        })
    }

    fn members() -> Option<&'static [&'static str]> {
        Some(&["FunctionName", "Qualifier", "InvocationType", "LogType"])
    }
}

pub(crate) struct Invoke;

impl Operation for Invoke {
    type Service = Lambda;
    const NAME: &'static str = "Invoke";
    type Input = InvokeInput;
    type Output = Reply;
    type Resolved = Target;
    const READ_ONLY: bool = false;
    // The answer is the function's payload: never recorded.
    const RESPONSE_ELEMENTS: bool = false;

    fn validate(i: &InvokeInput) -> Result<(), LambdaError> {
        let mut v = Violations::new();
        v.required("functionName", &i.function_name);
        check_name(&mut v, i.function_name.as_deref(), 170, false);
        check_qualifier(&mut v, i.qualifier.as_deref());
        v.one_of(
            "invocationType",
            i.invocation_type.as_deref(),
            &["Event", "RequestResponse", "DryRun"],
        );
        v.one_of("logType", i.log_type.as_deref(), &["None", "Tail"]);
        violations(&v)?;
        if let Some(c) = &i.client_context
            && (c.len() > 3583 || B64.decode(c).is_err())
        {
            return Err(LambdaError::InvalidParameterValue(
                "Client context must be a valid Base64-encoded JSON object of at most 3583 bytes.".into(),
            ));
        }
        if !i.payload.iter().all(u8::is_ascii_whitespace)
            && serde_json::from_slice::<serde::de::IgnoredAny>(&i.payload).is_err()
        {
            return Err(LambdaError::InvalidParameterValue(
                "Could not parse request body into json: Could not parse payload into json".into(),
            ));
        }
        Ok(())
    }

    async fn resolve(cx: &Cx<'_>, i: &InvokeInput) -> Result<Target, LambdaError> {
        target(
            cx,
            i.function_name.as_deref().unwrap_or_default(),
            i.qualifier.as_deref(),
        )
        .await
    }

    fn authorization<'a>(
        _: &'a Cx<'_>,
        _: &'a InvokeInput,
        t: &'a Target,
    ) -> Result<Authorization<'a>, LambdaError> {
        Ok(t.authorization("lambda:InvokeFunction"))
    }

    async fn run(cx: &Cx<'_>, i: &InvokeInput, t: Target) -> Result<Reply, LambdaError> {
        let (_, c) = t.config()?;
        let spec = t.spec()?;
        let payload = if i.payload.iter().all(u8::is_ascii_whitespace) {
            b"{}".to_vec()
        } else {
            i.payload.clone()
        };
        let invocation = Invocation {
            request_id: cx.rc.request_id.clone(),
            payload,
            client_context: i.client_context.clone(),
            tail_logs: i.log_type.as_deref() == Some("Tail"),
        };
        match i.invocation_type.as_deref().unwrap_or("RequestResponse") {
            "DryRun" => Ok(Reply::empty(204)),
            "Event" => {
                let runner = cx.services.functions.clone();
                tokio::spawn(async move {
                    let arn = spec.function_arn.clone();
                    if let Err(e) = runner
                        .invoke(
                            &spec,
                            Invocation {
                                tail_logs: false,
                                ..invocation
                            },
                        )
                        .await
                    {
                        tracing::warn!(function = %arn, error = %e, "asynchronous invocation not run");
                    }
                });
                Ok(Reply::empty(202))
            }
            _ => {
                let result = cx
                    .services
                    .functions
                    .invoke(&spec, invocation)
                    .await
                    .map_err(|e| match e {
                        RunError::TooManyRequests(m) => LambdaError::TooManyRequests(m),
                        RunError::Service(m) => LambdaError::Service(m),
                    })?;
                let mut headers = vec![
                    ("content-type", "application/json".to_owned()),
                    ("x-amz-executed-version", c.version.clone()),
                ];
                if let Some(e) = result.function_error {
                    headers.push(("x-amz-function-error", e));
                }
                if let Some(log) = result.log_tail {
                    let tail = &log[log.len().saturating_sub(4096)..];
                    headers.push(("x-amz-log-result", B64.encode(tail)));
                }
                Ok(Reply {
                    status: 200,
                    headers,
                    body: result.payload,
                })
            }
        }
    }
}

// --- invoked by an AWS service ---

impl Target {
    /// The function version the request names, as the runner runs it.
    fn spec(&self) -> Result<FunctionSpec, LambdaError> {
        let (f, c) = self.config()?;
        Ok(FunctionSpec {
            function_arn: f.arn.clone(),
            function_name: f.name.clone(),
            version: c.version.clone(),
            account_id: f.account_id.clone(),
            region: f.region.clone(),
            runtime: c.runtime.clone(),
            handler: c.handler.clone(),
            code_sha256: c.code_sha256.clone(),
            environment: c.environment.clone(),
            timeout: Duration::from_secs(u64::from(c.timeout)),
            memory_mb: c.memory_size,
            role_arn: c.role.clone(),
            revision_id: c.revision_id.clone(),
        })
    }

    /// The function's ARN, qualified when the request named a version or alias.
    pub(crate) fn arn(&self) -> &str {
        &self.authorized_arn
    }

    /// `lambda:InvokeFunction` on the function, for the caller who has a service invoke it.
    pub(crate) fn invoke_check(&self) -> Check<'_> {
        self.check("lambda:InvokeFunction")
    }

    /// Whether the AWS service `service` may invoke the function for the resource `source_arn` of
    /// `source_account`: Invoke's check, made for the service principal, so the function's
    /// resource policy alone decides (a statement AddPermission made for the service, with its
    /// `aws:SourceArn` and `aws:SourceAccount` conditions). A function that doesn't exist (or whose
    /// qualifier names nothing) may not be invoked.
    pub(crate) async fn service_may_invoke(
        &self,
        services: &crate::Services,
        rc: &crate::RequestContext,
        service: &str,
        source_arn: &str,
        source_account: &str,
    ) -> Result<bool, LambdaError> {
        if self.config().is_err() {
            return Ok(false);
        }
        let check = self
            .invoke_check()
            .service_principal(service)
            .condition("aws:SourceArn", source_arn)
            .condition("aws:SourceAccount", source_account);
        // Asked for the service, not for whoever made the request that led to it.
        let service_rc = crate::RequestContext::new(
            kinko_core::principal::Principal::anonymous(),
            &rc.region,
            &rc.request_id,
        );
        match crate::authz::check(services, &service_rc, &check).await {
            Ok(()) => Ok(true),
            Err(crate::authz::AuthzError::Denied(_) | crate::authz::AuthzError::Refused(_)) => Ok(false),
            Err(crate::authz::AuthzError::Store(e)) => Err(e.into()),
        }
    }

    /// Runs one synchronous invocation (`RequestResponse`) of the function, as a service does after
    /// [`Target::service_may_invoke`].
    pub(crate) async fn invoke_for_service(
        &self,
        services: &crate::Services,
        request_id: &str,
        payload: Vec<u8>,
    ) -> Result<kinko_core::function::InvocationResult, LambdaError> {
        let spec = self.spec()?;
        services
            .functions
            .invoke(
                &spec,
                Invocation {
                    request_id: request_id.to_owned(),
                    payload,
                    client_context: None,
                    tail_logs: false,
                },
            )
            .await
            .map_err(|e| match e {
                RunError::TooManyRequests(m) => LambdaError::TooManyRequests(m),
                RunError::Service(m) => LambdaError::Service(m),
            })
    }
}

/// The function `name` (a name or an ARN, optionally qualified) names for the caller, as Invoke
/// finds it: for a service the caller configures to invoke it.
pub(crate) async fn function_target(cx: &Cx<'_>, name: &str) -> Result<Target, LambdaError> {
    target(cx, name, None).await
}

// --- the function's resource policy ---

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct AddPermissionInput {
    function_name: Option<String>,
    statement_id: Option<String>,
    action: Option<String>,
    principal: Option<String>,
    source_arn: Option<String>,
    source_account: Option<String>,
    event_source_token: Option<String>,
    qualifier: Option<String>,
    revision_id: Option<String>,
    #[serde(rename = "PrincipalOrgID")]
    principal_org_id: Option<String>,
    function_url_auth_type: Option<String>,
}

/// The most a function's policy may hold (bytes of its document).
const MAX_POLICY: usize = 20_480;

fn principal_of(p: &str) -> Value {
    if p == "*" {
        json!("*")
    } else if is_account(p) {
        json!({"AWS": format!("arn:aws:iam::{p}:root")})
    } else if p.starts_with("arn:") {
        json!({"AWS": p})
    } else {
        json!({"Service": p})
    }
}

pub(crate) struct AddPermission;

impl Operation for AddPermission {
    type Service = Lambda;
    const NAME: &'static str = "AddPermission";
    type Input = AddPermissionInput;
    type Output = Reply;
    type Resolved = Target;

    fn validate(i: &AddPermissionInput) -> Result<(), LambdaError> {
        let mut v = Violations::new();
        v.required("functionName", &i.function_name);
        check_name(&mut v, i.function_name.as_deref(), 140, false);
        v.required("statementId", &i.statement_id);
        v.length("statementId", i.statement_id.as_deref(), 1, 100, false);
        if let Some(s) = &i.statement_id {
            v.pattern(
                "statementId",
                Some(s),
                r"([a-zA-Z0-9-_.]+)",
                s.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)),
            );
        }
        v.required("action", &i.action);
        if let Some(a) = &i.action {
            let ok = a == "*"
                || a == "lambda:*"
                || a.strip_prefix("lambda:")
                    .is_some_and(|s| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphabetic()));
            v.pattern("action", Some(a), r"(lambda:[*]|lambda:[a-zA-Z]+|[*])", ok);
        }
        v.required("principal", &i.principal);
        if let Some(p) = &i.principal {
            v.pattern(
                "principal",
                Some(p),
                r"[^\s]+",
                !p.is_empty() && !p.chars().any(char::is_whitespace),
            );
        }
        check_qualifier(&mut v, i.qualifier.as_deref());
        violations(&v)?;
        if i.event_source_token.is_some() || i.function_url_auth_type.is_some() {
            return Err(LambdaError::InvalidParameterValue(
                "kinko has no function URLs or Alexa event sources: EventSourceToken and FunctionUrlAuthType are not supported.".into(),
            ));
        }
        Ok(())
    }

    async fn resolve(cx: &Cx<'_>, i: &AddPermissionInput) -> Result<Target, LambdaError> {
        target(
            cx,
            i.function_name.as_deref().unwrap_or_default(),
            i.qualifier.as_deref(),
        )
        .await
    }

    fn authorization<'a>(
        _: &'a Cx<'_>,
        _: &'a AddPermissionInput,
        t: &'a Target,
    ) -> Result<Authorization<'a>, LambdaError> {
        Ok(t.authorization("lambda:AddPermission"))
    }

    async fn run(cx: &Cx<'_>, i: &AddPermissionInput, t: Target) -> Result<Reply, LambdaError> {
        t.config()?;
        let resource = t.authorized_arn.clone();
        let mut f = t.into_function()?;
        let sid = i.statement_id.clone().unwrap_or_default();
        let policy = f.policy.get_or_insert_with(|| FunctionPolicy {
            statements: vec![],
            principals: vec![],
            revision_id: String::new(),
        });
        check_revision(i.revision_id.as_deref(), &policy.revision_id).or_else(|e| {
            if policy.statements.is_empty() {
                Ok(())
            } else {
                Err(e)
            }
        })?;
        if policy.statements.iter().any(|s| s["Sid"] == sid.as_str()) {
            return Err(LambdaError::ResourceConflict(
                "The statement id (sid) provided already exists. Please choose a unique statement id or use RemovePermission to remove the existing statement.".into(),
            ));
        }
        let mut statement = json!({
            "Sid": sid,
            "Effect": "Allow",
            "Principal": principal_of(i.principal.as_deref().unwrap_or_default()),
            "Action": i.action.clone().unwrap_or_default(),
            "Resource": resource,
        });
        let mut condition = serde_json::Map::new();
        if let Some(a) = &i.source_arn {
            condition.insert("ArnLike".into(), json!({"AWS:SourceArn": a}));
        }
        let mut equals = serde_json::Map::new();
        if let Some(a) = &i.source_account {
            equals.insert("AWS:SourceAccount".into(), json!(a));
        }
        if let Some(o) = &i.principal_org_id {
            equals.insert("aws:PrincipalOrgID".into(), json!(o));
        }
        if !equals.is_empty() {
            condition.insert("StringEquals".into(), Value::Object(equals));
        }
        if !condition.is_empty() {
            statement["Condition"] = Value::Object(condition);
        }
        policy.statements.push(statement.clone());
        let document = policy.document();
        if document.len() > MAX_POLICY {
            return Err(LambdaError::PolicyLengthExceeded(format!(
                "The final policy size ({}) is bigger than the limit ({MAX_POLICY}).",
                document.len()
            )));
        }
        policy.principals = match crate::authz::bind_principals(cx.services, &document).await? {
            Ok(p) => p,
            Err(_) => {
                return Err(LambdaError::InvalidParameterValue(
                    "The provided principal was invalid. Please check the principal and try again.".into(),
                ));
            }
        };
        policy.revision_id = new_revision_id();
        write(
            cx,
            FunctionWrite::Update {
                function: f,
                code: None,
            },
        )
        .await?;
        Reply::json(201, &json!({"Statement": statement.to_string()}))
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct RemovePermissionInput {
    function_name: Option<String>,
    statement_id: Option<String>,
    qualifier: Option<String>,
    revision_id: Option<String>,
}

pub(crate) struct RemovePermission;

impl Operation for RemovePermission {
    type Service = Lambda;
    const NAME: &'static str = "RemovePermission";
    type Input = RemovePermissionInput;
    type Output = Reply;
    type Resolved = Target;

    fn validate(i: &RemovePermissionInput) -> Result<(), LambdaError> {
        let mut v = Violations::new();
        v.required("functionName", &i.function_name);
        check_name(&mut v, i.function_name.as_deref(), 140, false);
        v.required("statementId", &i.statement_id);
        v.length("statementId", i.statement_id.as_deref(), 1, 100, false);
        check_qualifier(&mut v, i.qualifier.as_deref());
        violations(&v)
    }

    async fn resolve(cx: &Cx<'_>, i: &RemovePermissionInput) -> Result<Target, LambdaError> {
        target(
            cx,
            i.function_name.as_deref().unwrap_or_default(),
            i.qualifier.as_deref(),
        )
        .await
    }

    fn authorization<'a>(
        _: &'a Cx<'_>,
        _: &'a RemovePermissionInput,
        t: &'a Target,
    ) -> Result<Authorization<'a>, LambdaError> {
        Ok(t.authorization("lambda:RemovePermission"))
    }

    async fn run(cx: &Cx<'_>, i: &RemovePermissionInput, t: Target) -> Result<Reply, LambdaError> {
        t.config()?;
        let mut f = t.into_function()?;
        let sid = i.statement_id.clone().unwrap_or_default();
        let missing =
            || LambdaError::ResourceNotFound(format!("Statement {sid} is not found in resource policy."));
        let Some(policy) = f.policy.as_mut() else {
            return Err(missing());
        };
        check_revision(i.revision_id.as_deref(), &policy.revision_id)?;
        let before = policy.statements.len();
        policy.statements.retain(|s| s["Sid"] != sid.as_str());
        if policy.statements.len() == before {
            return Err(missing());
        }
        if policy.statements.is_empty() {
            f.policy = None;
        } else {
            let document = policy.document();
            policy.principals.retain(|b| document.contains(&b.arn));
            policy.revision_id = new_revision_id();
        }
        write(
            cx,
            FunctionWrite::Update {
                function: f,
                code: None,
            },
        )
        .await?;
        Ok(Reply::empty(204))
    }
}

pub(crate) struct GetPolicy;

impl Operation for GetPolicy {
    type Service = Lambda;
    const NAME: &'static str = "GetPolicy";
    type Input = FunctionInput;
    type Output = Reply;
    type Resolved = Target;

    fn validate(i: &FunctionInput) -> Result<(), LambdaError> {
        check_function_input(i)
    }

    async fn resolve(cx: &Cx<'_>, i: &FunctionInput) -> Result<Target, LambdaError> {
        named_target(cx, i).await
    }

    fn authorization<'a>(
        _: &'a Cx<'_>,
        _: &'a FunctionInput,
        t: &'a Target,
    ) -> Result<Authorization<'a>, LambdaError> {
        Ok(t.authorization("lambda:GetPolicy"))
    }

    async fn run(cx: &Cx<'_>, _: &FunctionInput, t: Target) -> Result<Reply, LambdaError> {
        let (f, _) = t.config()?;
        let Some(policy) = &f.policy else {
            return Err(LambdaError::ResourceNotFound(
                "The resource you requested does not exist.".into(),
            ));
        };
        let shown = crate::authz::shown_policy(cx.services, &policy.document(), &policy.principals).await?;
        Reply::json(200, &json!({"Policy": shown, "RevisionId": policy.revision_id}))
    }
}

// --- tags ---

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct TagsInput {
    resource: Option<String>,
    tags: Option<BTreeMap<String, String>>,
    tag_keys: Option<Vec<String>>,
}

/// The function a tagging call's `Resource` ARN names.
async fn tagged(cx: &Cx<'_>, i: &TagsInput) -> Result<Target, LambdaError> {
    let arn = i.resource.as_deref().unwrap_or_default();
    target(cx, arn, None).await
}

fn check_resource(i: &TagsInput) -> Result<(), LambdaError> {
    let mut v = Violations::new();
    v.required("resource", &i.resource);
    if let Some(r) = &i.resource {
        let ok = r.starts_with("arn:")
            && FunctionRef::parse(r, false).is_some_and(|f| f.account_id.is_some() && f.qualifier.is_none());
        v.pattern(
            "resource",
            Some(r),
            r"arn:(aws[a-zA-Z-]*):lambda:[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:\d{12}:function:[a-zA-Z0-9-_]+",
            ok,
        );
    }
    violations(&v)
}

pub(crate) struct ListTags;

impl Operation for ListTags {
    type Service = Lambda;
    const NAME: &'static str = "ListTags";
    type Input = TagsInput;
    type Output = Reply;
    type Resolved = Target;

    fn validate(i: &TagsInput) -> Result<(), LambdaError> {
        check_resource(i)
    }

    async fn resolve(cx: &Cx<'_>, i: &TagsInput) -> Result<Target, LambdaError> {
        tagged(cx, i).await
    }

    fn authorization<'a>(
        _: &'a Cx<'_>,
        _: &'a TagsInput,
        t: &'a Target,
    ) -> Result<Authorization<'a>, LambdaError> {
        Ok(t.authorization("lambda:ListTags"))
    }

    async fn run(_: &Cx<'_>, _: &TagsInput, t: Target) -> Result<Reply, LambdaError> {
        let f = t.found()?;
        Reply::json(200, &json!({"Tags": f.tags}))
    }
}

/// TagResource's checks: the tags it sets as `aws:RequestTag/*`.
pub struct Tagging {
    target: Target,
    tags: Vec<(String, String)>,
}

pub(crate) struct TagResource;

impl Operation for TagResource {
    type Service = Lambda;
    const NAME: &'static str = "TagResource";
    type Input = TagsInput;
    type Output = Reply;
    type Resolved = Tagging;

    fn validate(i: &TagsInput) -> Result<(), LambdaError> {
        check_resource(i)?;
        let mut v = Violations::new();
        v.required("tags", &i.tags);
        violations(&v)?;
        check_tags(i.tags.as_ref().unwrap_or(&BTreeMap::new()))
    }

    async fn resolve(cx: &Cx<'_>, i: &TagsInput) -> Result<Tagging, LambdaError> {
        Ok(Tagging {
            target: tagged(cx, i).await?,
            tags: tag_pairs(i.tags.as_ref().unwrap_or(&BTreeMap::new())),
        })
    }

    fn authorization<'a>(
        _: &'a Cx<'_>,
        _: &'a TagsInput,
        t: &'a Tagging,
    ) -> Result<Authorization<'a>, LambdaError> {
        Ok(Authorization::of(
            t.target
                .check("lambda:TagResource")
                .request_tags(t.tags.as_slice()),
        ))
    }

    async fn run(cx: &Cx<'_>, i: &TagsInput, t: Tagging) -> Result<Reply, LambdaError> {
        let mut f = t.target.into_function()?;
        f.tags.extend(i.tags.clone().unwrap_or_default());
        check_tags(&f.tags)?;
        write(
            cx,
            FunctionWrite::Update {
                function: f,
                code: None,
            },
        )
        .await?;
        Ok(Reply::empty(204))
    }
}

pub(crate) struct UntagResource;

impl Operation for UntagResource {
    type Service = Lambda;
    const NAME: &'static str = "UntagResource";
    type Input = TagsInput;
    type Output = Reply;
    type Resolved = Target;

    fn validate(i: &TagsInput) -> Result<(), LambdaError> {
        check_resource(i)?;
        let mut v = Violations::new();
        v.required("tagKeys", &i.tag_keys);
        violations(&v)
    }

    async fn resolve(cx: &Cx<'_>, i: &TagsInput) -> Result<Target, LambdaError> {
        tagged(cx, i).await
    }

    fn authorization<'a>(
        _: &'a Cx<'_>,
        i: &'a TagsInput,
        t: &'a Target,
    ) -> Result<Authorization<'a>, LambdaError> {
        let mut check = t.check("lambda:UntagResource");
        for k in i.tag_keys.iter().flatten() {
            check = check.condition("aws:TagKeys", k.as_str());
        }
        Ok(Authorization::of(check))
    }

    async fn run(cx: &Cx<'_>, i: &TagsInput, t: Target) -> Result<Reply, LambdaError> {
        let mut f = t.into_function()?;
        for k in i.tag_keys.iter().flatten() {
            f.tags.remove(k);
        }
        write(
            cx,
            FunctionWrite::Update {
                function: f,
                code: None,
            },
        )
        .await?;
        Ok(Reply::empty(204))
    }
}

// --- versions ---

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct PublishVersionInput {
    function_name: Option<String>,
    code_sha256: Option<String>,
    description: Option<String>,
    revision_id: Option<String>,
}

pub(crate) struct PublishVersion;

impl Operation for PublishVersion {
    type Service = Lambda;
    const NAME: &'static str = "PublishVersion";
    type Input = PublishVersionInput;
    type Output = Reply;
    type Resolved = Target;

    fn validate(i: &PublishVersionInput) -> Result<(), LambdaError> {
        let mut v = Violations::new();
        v.required("functionName", &i.function_name);
        check_name(&mut v, i.function_name.as_deref(), 140, false);
        v.length("description", i.description.as_deref(), 0, 256, false);
        violations(&v)
    }

    async fn resolve(cx: &Cx<'_>, i: &PublishVersionInput) -> Result<Target, LambdaError> {
        target(cx, i.function_name.as_deref().unwrap_or_default(), None).await
    }

    fn authorization<'a>(
        _: &'a Cx<'_>,
        _: &'a PublishVersionInput,
        t: &'a Target,
    ) -> Result<Authorization<'a>, LambdaError> {
        Ok(t.authorization("lambda:PublishVersion"))
    }

    async fn run(cx: &Cx<'_>, i: &PublishVersionInput, t: Target) -> Result<Reply, LambdaError> {
        let mut f = t.into_function()?;
        check_revision(i.revision_id.as_deref(), &f.latest.revision_id)?;
        if let Some(sha) = &i.code_sha256
            && *sha != f.latest.code_sha256
        {
            return Err(LambdaError::InvalidParameterValue(format!(
                "CodeSHA256 ({sha}) is different from current CodeSHA256 in $LATEST ({}). Please try again with the CodeSHA256 in $LATEST.",
                f.latest.code_sha256
            )));
        }
        let before = f.last_version;
        let version = publish(&mut f, i.description.as_deref(), cx.now());
        if f.last_version != before {
            write(
                cx,
                FunctionWrite::Update {
                    function: f.clone(),
                    code: None,
                },
            )
            .await?;
        }
        let c = f.config(Some(&version)).unwrap_or(&f.latest);
        Reply::json(201, &configuration(&f, c, Shown::Stored))
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ListVersionsInput {
    function_name: Option<String>,
    marker: Option<String>,
    max_items: Option<i64>,
}

pub(crate) struct ListVersionsByFunction;

impl Operation for ListVersionsByFunction {
    type Service = Lambda;
    const NAME: &'static str = "ListVersionsByFunction";
    type Input = ListVersionsInput;
    type Output = Reply;
    type Resolved = Target;

    fn validate(i: &ListVersionsInput) -> Result<(), LambdaError> {
        let mut v = Violations::new();
        v.required("functionName", &i.function_name);
        check_name(&mut v, i.function_name.as_deref(), 170, false);
        v.range("maxItems", i.max_items, 1, 10000);
        violations(&v)
    }

    async fn resolve(cx: &Cx<'_>, i: &ListVersionsInput) -> Result<Target, LambdaError> {
        target(cx, i.function_name.as_deref().unwrap_or_default(), None).await
    }

    fn authorization<'a>(
        _: &'a Cx<'_>,
        _: &'a ListVersionsInput,
        t: &'a Target,
    ) -> Result<Authorization<'a>, LambdaError> {
        Ok(t.authorization("lambda:ListVersionsByFunction"))
    }

    async fn run(_: &Cx<'_>, i: &ListVersionsInput, t: Target) -> Result<Reply, LambdaError> {
        let f = t.found()?;
        let all: Vec<&FunctionConfig> = std::iter::once(&f.latest).chain(&f.versions).collect();
        let (page, next) = page(all, i.marker.as_deref(), i.max_items)?;
        let versions: Vec<_> = page
            .into_iter()
            .map(|c| configuration(f, c, Shown::Stored))
            .collect();
        let mut out = json!({"Versions": versions});
        if let Some(m) = next {
            out["NextMarker"] = json!(m);
        }
        Reply::json(200, &out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_names_in_every_form() {
        let r = FunctionRef::parse("arn:aws:lambda:us-east-1:111122223333:function:f:1", true).unwrap();
        assert_eq!(r.account_id.as_deref(), Some("111122223333"));
        assert_eq!(r.region.as_deref(), Some("us-east-1"));
        assert_eq!(r.name, "f");
        assert_eq!(r.qualifier.as_deref(), Some("1"));
        let r = FunctionRef::parse("111122223333:function:f", true).unwrap();
        assert_eq!(
            (r.account_id.as_deref(), r.name.as_str()),
            (Some("111122223333"), "f")
        );
        let r = FunctionRef::parse("f:$LATEST", true).unwrap();
        assert_eq!(r.qualifier.as_deref(), Some("$LATEST"));
        for bad in ["", "a b", "f:1:2", "arn:aws:s3:::b", "1234:function:f", "f:"] {
            assert_eq!(FunctionRef::parse(bad, true), None, "{bad}");
        }
        assert!(FunctionRef::parse("a.b", true).is_some());
        assert!(FunctionRef::parse("a.b", false).is_none());
    }

    #[test]
    fn zips_are_recognized_by_their_directory_end() {
        let mut empty = b"PK\x05\x06".to_vec();
        empty.extend([0u8; 18]);
        assert!(looks_like_zip(&empty));
        assert!(!looks_like_zip(b"not a zip at all, not a zip at all"));
        let mut truncated = b"PK\x03\x04".to_vec();
        truncated.extend([1u8; 40]);
        assert!(!looks_like_zip(&truncated));
    }
}
