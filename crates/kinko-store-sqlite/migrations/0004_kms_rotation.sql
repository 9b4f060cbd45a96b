-- kinko schema, version 4: when each KMS key is due for automatic rotation, for the rotation job.
-- `rotation_ms` is `KmsKey::next_rotation_date`: the rotation anchor (`material_date`, else the
-- creation date) plus the period, for enabled keys with rotation enabled; NULL otherwise.
ALTER TABLE kms_keys ADD COLUMN rotation_ms INTEGER;
UPDATE kms_keys
SET rotation_ms = coalesce(json_extract(doc, '$.material_date'), json_extract(doc, '$.creation_date'))
    + json_extract(doc, '$.rotation_period_days') * 86400000
WHERE json_extract(doc, '$.rotation_period_days') IS NOT NULL
  AND json_extract(doc, '$.key_state') = 'Enabled';
CREATE INDEX kms_keys_by_rotation ON kms_keys (rotation_ms) WHERE rotation_ms IS NOT NULL;
