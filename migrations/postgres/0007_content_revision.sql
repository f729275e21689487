-- Bumped by every write to a version's files or tags, in the same transaction: a
-- process's in-memory search index of the version is current while this number is.
ALTER TABLE dataset_versions ADD COLUMN content_revision BIGINT NOT NULL DEFAULT 0;
