-- kinko schema, version 9: when each secret is due for rotation, for the rotation scheduler.
-- `rotation_ms` is `Secret::rotation_due_date`: the secret's NextRotationDate while rotation is on
-- and it is not scheduled for deletion; NULL otherwise. No secret had rotation configured before
-- this version, so every existing row starts NULL.
ALTER TABLE secrets ADD COLUMN rotation_ms INTEGER;
CREATE INDEX secrets_by_rotation ON secrets (rotation_ms) WHERE rotation_ms IS NOT NULL;
