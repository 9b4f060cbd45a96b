//! kinko-cloudformation-template: CloudFormation templates, as data.
//!
//! This crate owns the template language of AWS CloudFormation, for kinko's CloudFormation API
//! (which deploys the templates people write around Secrets Manager with `aws cloudformation
//! deploy`, unchanged):
//!
//! - [`Template::parse`] reads a body in JSON or YAML (with the short-form tags `!Ref`,
//!   `!GetAtt`, `!Sub`, `!Join`, `!Select`, `!Split`, `!If`, `!Equals`, `!And`, `!Or`, `!Not`,
//!   `!FindInMap`, `!Base64`, `!GetAZs`, `!ImportValue`, `!Condition`, nested, and the
//!   `!GetAtt Resource.Attribute` string form) into its sections: format version, description,
//!   transform, [`Parameter`]s, mappings, conditions, [`Resource`]s and [`Output`]s;
//! - [`Template::validate`] checks it as `ValidateTemplate` does (unsupported functions, argument
//!   shapes, unresolved references, conditions, circular dependencies) and returns each
//!   resource's [`Dependencies`] (implicit through `Ref`, `Fn::GetAtt` and `Fn::Sub`, plus
//!   `DependsOn`);
//! - [`bind_parameters`] applies given values and defaults and checks `AllowedValues`,
//!   `AllowedPattern`, lengths and bounds;
//! - [`Evaluator`] evaluates conditions, orders the active resources for creation and deletion,
//!   and resolves intrinsic functions and pseudo parameters in properties and outputs, asking the
//!   caller's [`Resolver`] for resources' physical ids and attributes, Availability Zones,
//!   imports and [`DynamicReference`]s (`{{resolve:secretsmanager:...}}`), so secret values are
//!   never part of the stored template;
//! - [`physical_name`] and [`random_suffix`] make the `STACK-LOGICALID-SUFFIX` names AWS gives
//!   unnamed resources, and [`Template::check_capabilities`] asks for `CAPABILITY_IAM` or
//!   `CAPABILITY_NAMED_IAM` as AWS does.
//!
//! Every error is a [`TemplateError`] carrying the AWS error code and message text. Texts found in
//! AWS's documentation or in errors users quote are used as they are; the others are marked
//! `[unverified wording]` where they are written.
//!
//! ```
//! use kinko_cloudformation_template::*;
//!
//! let template = Template::parse(
//!     r#"
//! Resources:
//!   Role:
//!     Type: AWS::IAM::Role
//!   Function:
//!     Type: AWS::Lambda::Function
//!     Properties:
//!       Role: !GetAtt Role.Arn
//! "#,
//! )?;
//! let graph = template.validate()?;
//! template.check_capabilities(&[Capability::Iam], true)?;
//! let parameters = bind_parameters(&template, &[])?;
//! let context = StackContext::new("demo", "stack-id", "us-east-1", "111122223333");
//! let evaluator = Evaluator::new(&template, parameters, context)?;
//! assert_eq!(evaluator.creation_order(&graph)?, ["Role", "Function"]);
//! # Ok::<(), TemplateError>(())
//! ```
//!
//! The crate is pure: no I/O, no clock, no randomness of its own (the caller supplies random
//! bytes), no async, and no dependency on other kinko crates. Resource types and what `Ref` and
//! `Fn::GetAtt` return for them belong to the stack engine, not here.

mod dynref;
mod error;
mod eval;
mod intrinsic;
mod model;
mod naming;
mod params;
mod parse;
mod validate;
mod value;

pub use dynref::{DynamicReference, find as find_dynamic_references, parse_reference};
pub use error::{Result, TemplateError};
pub use eval::{Evaluator, ResolvedOutput, Resolver, StackContext, substitute_dynamic_references};
pub use intrinsic::{PSEUDO_PARAMETERS, SUPPORTED_FUNCTIONS};
pub use model::{DeletionPolicy, FORMAT_VERSION, Output, Parameter, ParameterType, Resource, Template};
pub use naming::{Capability, RequiredCapabilities, SUFFIX_LEN, physical_name, random_suffix};
pub use params::{BoundParameters, bind_parameters, check_defaults, check_value};
pub use parse::{Format, parse_body};
pub use validate::{Dependencies, creation_order, deletion_order, unsupported_attribute};
pub use value::{Map, Value};

#[cfg(test)]
mod tests;
