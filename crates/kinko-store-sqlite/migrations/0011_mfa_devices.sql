-- kinko schema, version 11: virtual MFA devices (IAM CreateVirtualMFADevice). The TOTP seed is
-- only kept sealed under the root key (re-wrapped with the other root-sealed values); the rest of
-- the device is one JSON document, replaced whole based on its revision.
CREATE TABLE mfa_devices (
    serial_number TEXT PRIMARY KEY,
    account_id    TEXT NOT NULL,
    sealed_seed   BLOB NOT NULL,
    revision      INTEGER NOT NULL,
    device        TEXT NOT NULL
);
CREATE INDEX mfa_devices_by_account ON mfa_devices (account_id, serial_number);
