//! The secrets a stack record holds, sealed under the root key: NoEcho parameter values (of the
//! stack, its change sets and the deployment an update started from) and secret resource
//! attributes (an access key's `SecretAccessKey`). The record holds them only sealed; they are
//! opened in memory where an operation evaluates the template, and the root key's rotation
//! re-wraps them (`RootSealed::StackValue`).
//!
//! What a stack records of its deployed resources (their evaluated properties, to tell an update
//! from no change) has [`placeholder`] where a NoEcho value went.

use kinko_core::stack::{Sealed, Stack, StackParameter, sealed_name};
use zeroize::{Zeroize as _, Zeroizing};

use super::CfnError;
use crate::Services;

/// The associated data of a value sealed in stack `stack_id` under `name`
/// ([`kinko_core::stack::sealed_name`]).
pub fn sealed_aad(stack_id: &str, name: &str) -> Vec<u8> {
    kinko_crypto::encode_aad(&[b"cloudformation", stack_id.as_bytes(), name.as_bytes()])
}

/// What a deployed resource's recorded properties hold in place of NoEcho parameter `key`'s value.
pub fn placeholder(key: &str) -> String {
    format!("{{{{NoEcho:{key}}}}}")
}

fn seal(services: &Services, stack_id: &str, name: &str, value: &[u8]) -> Result<Sealed, CfnError> {
    services
        .keyring
        .root()
        .seal(value, &sealed_aad(stack_id, name))
        .map(Sealed)
        .map_err(|e| CfnError::Internal(format!("sealing {name} of {stack_id}: {e}")))
}

fn open(
    services: &Services,
    stack_id: &str,
    name: &str,
    sealed: &Sealed,
) -> Result<Zeroizing<String>, CfnError> {
    let plain = services
        .keyring
        .root()
        .open(&sealed.0, &sealed_aad(stack_id, name))
        .map_err(|e| CfnError::Internal(format!("opening {name} of {stack_id}: {e}")))?;
    String::from_utf8(plain.to_vec())
        .map(Zeroizing::new)
        .map_err(|_| CfnError::Internal(format!("{name} of {stack_id} is not text")))
}

fn seal_parameters_of(
    services: &Services,
    stack_id: &str,
    parameters: &mut [StackParameter],
) -> Result<(), CfnError> {
    for p in parameters.iter_mut().filter(|p| p.no_echo && p.sealed.is_none()) {
        p.sealed = Some(seal(
            services,
            stack_id,
            &sealed_name::parameter(&p.key),
            p.value.as_bytes(),
        )?);
        p.value.zeroize();
        p.value.clear();
    }
    Ok(())
}

/// Seals the NoEcho parameter values of `stack` still open (new ones, and those of records written
/// before kinko sealed them): what every write of a stack does first.
pub fn seal_parameters(services: &Services, stack: &mut Stack) -> Result<(), CfnError> {
    let stack_id = stack.stack_id.clone();
    seal_parameters_of(services, &stack_id, &mut stack.parameters)?;
    for c in &mut stack.change_sets {
        seal_parameters_of(services, &stack_id, &mut c.parameters)?;
    }
    if let Some(previous) = stack.operation.as_mut().and_then(|o| o.previous.as_mut()) {
        seal_parameters_of(services, &stack_id, &mut previous.parameters)?;
    }
    Ok(())
}

/// The value of parameter `p` of stack `stack_id`, opened if sealed.
pub fn parameter_value(
    services: &Services,
    stack_id: &str,
    p: &StackParameter,
) -> Result<Zeroizing<String>, CfnError> {
    match &p.sealed {
        Some(sealed) => open(services, stack_id, &sealed_name::parameter(&p.key), sealed),
        None => Ok(Zeroizing::new(p.value.clone())),
    }
}

/// A secret attribute of resource `logical_id`, sealed.
pub fn seal_attribute(
    services: &Services,
    stack_id: &str,
    logical_id: &str,
    attribute: &str,
    value: &str,
) -> Result<Sealed, CfnError> {
    seal(
        services,
        stack_id,
        &sealed_name::attribute(logical_id, attribute),
        value.as_bytes(),
    )
}

/// A sealed attribute of resource `logical_id`, opened.
pub fn open_attribute(
    services: &Services,
    stack_id: &str,
    logical_id: &str,
    attribute: &str,
    sealed: &Sealed,
) -> Result<Zeroizing<String>, CfnError> {
    open(
        services,
        stack_id,
        &sealed_name::attribute(logical_id, attribute),
        sealed,
    )
}
