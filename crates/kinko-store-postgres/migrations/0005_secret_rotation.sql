-- kinko schema on PostgreSQL, version 5: when each secret is due for rotation, for the rotation
-- scheduler. `rotation_ms` is `Secret::rotation_due_date`: the secret's NextRotationDate while
-- rotation is on and it is not scheduled for deletion; NULL otherwise. No secret had rotation
-- configured before this version, so every existing row starts NULL.
ALTER TABLE secrets ADD COLUMN rotation_ms BIGINT;
CREATE INDEX secrets_by_rotation ON secrets (rotation_ms) WHERE rotation_ms IS NOT NULL;
