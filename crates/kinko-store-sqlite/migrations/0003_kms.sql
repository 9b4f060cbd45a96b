-- kinko schema, version 3: KMS key listing and deletion schedule, alias dates.
ALTER TABLE kms_keys ADD COLUMN created_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE kms_keys ADD COLUMN deletion_ms INTEGER;
CREATE INDEX kms_keys_by_account ON kms_keys (account_id, region, created_ms);
CREATE INDEX kms_keys_by_deletion ON kms_keys (deletion_ms) WHERE deletion_ms IS NOT NULL;

ALTER TABLE kms_aliases ADD COLUMN created_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE kms_aliases ADD COLUMN updated_ms INTEGER NOT NULL DEFAULT 0;
CREATE INDEX kms_aliases_by_target ON kms_aliases (target_arn);
