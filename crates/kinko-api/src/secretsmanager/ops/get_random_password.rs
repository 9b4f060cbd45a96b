//! GetRandomPassword: no secret, no KMS; just the generator.

use kinko_core::password::{self, PasswordError, PasswordOptions};
use kinko_wire::validate::Violations;
use serde::{Deserialize, Serialize};

use crate::secretsmanager::model;
use crate::secretsmanager::{Authorization, Cx, Found, Operation, SecretsManager, SmError, Target};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Input {
    password_length: Option<i64>,
    exclude_characters: Option<String>,
    exclude_numbers: Option<bool>,
    exclude_punctuation: Option<bool>,
    exclude_uppercase: Option<bool>,
    exclude_lowercase: Option<bool>,
    include_space: Option<bool>,
    require_each_included_type: Option<bool>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Output {
    random_password: String,
}

pub(crate) struct GetRandomPassword;

impl Operation for GetRandomPassword {
    type Service = SecretsManager;
    const NAME: &'static str = "GetRandomPassword";
    type Input = Input;
    type Output = Output;
    type Resolved = Found;

    fn validate(i: &Input) -> Result<(), SmError> {
        let mut v = Violations::new();
        // Out of 1-4096 is the model's ValidationException, as AWS answers (moto's own code quotes
        // AWS's `1 validation error detected: Value '5555' at 'passwordLength' ...`, yet answers
        // the code `InvalidParameterValue`, which moto's `test_get_random_too_long_password`
        // asserts and Secrets Manager doesn't have).
        v.range("passwordLength", i.password_length, 1, 4096);
        v.length(
            "excludeCharacters",
            i.exclude_characters.as_deref(),
            0,
            4096,
            false,
        );
        model::violations(v)
    }

    async fn resolve(cx: &Cx<'_>, _: &Input) -> Result<Found, SmError> {
        crate::secretsmanager::resolve(cx, Target::None).await
    }

    fn authorization<'a>(
        cx: &'a Cx<'_>,
        _: &'a Input,
        found: &'a Found,
    ) -> Result<Authorization<'a>, SmError> {
        Ok(Authorization::of(crate::secretsmanager::check(
            cx,
            Target::None,
            found,
        )))
    }

    async fn run(_: &Cx<'_>, i: &Input, _: Found) -> Result<Output, SmError> {
        let opts = PasswordOptions {
            password_length: i.password_length,
            exclude_characters: i.exclude_characters.clone(),
            exclude_numbers: i.exclude_numbers.unwrap_or(false),
            exclude_punctuation: i.exclude_punctuation.unwrap_or(false),
            exclude_uppercase: i.exclude_uppercase.unwrap_or(false),
            exclude_lowercase: i.exclude_lowercase.unwrap_or(false),
            // With RequireEachIncludedType (the default) the space counts as one of the
            // included types, so a password must have room for one of each: 4 characters with
            // IncludeSpace is too short. AWS's reference ("at least one of every character
            // type") doesn't say more; moto's `test_get_random_include_space_true` expects a
            // space in 4 characters, where moto returns 5 characters.
            include_space: i.include_space.unwrap_or(false),
            require_each_included_type: i.require_each_included_type.unwrap_or(true),
        };
        let password = password::generate(&opts).map_err(|e| match e {
            PasswordError::InvalidLength(_) => SmError::Validation(e.to_string()),
            PasswordError::TooShort | PasswordError::AllExcluded => SmError::InvalidParameter(e.to_string()),
            PasswordError::RandomSource => SmError::Internal(e.to_string()),
        })?;
        Ok(Output {
            random_password: password.to_string(),
        })
    }
}
