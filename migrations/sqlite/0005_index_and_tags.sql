-- Semantic indexing and smart tagging: each dataset's index configuration, the index
-- and tag stamps on file metas, the tags themselves, and what each job did to each file
-- (so `Increment` knows what is unchanged and `IntelligentTagRevert` what to undo).

-- NULL means the workspace's built-ins (`local-model`, `embedded-vectors`) and the
-- dataset's default index name.
ALTER TABLE datasets ADD COLUMN index_embedding_connection_id TEXT;
ALTER TABLE datasets ADD COLUMN index_vector_connection_id TEXT;
ALTER TABLE datasets ADD COLUMN index_name TEXT;

ALTER TABLE file_metas ADD COLUMN semantic_index_job_id TEXT;
ALTER TABLE file_metas ADD COLUMN semantic_index_update_time INTEGER;
ALTER TABLE file_metas ADD COLUMN tag_update_time INTEGER;

-- Tag names a tagging model gave that its definition does not hold: dropped, and counted.
ALTER TABLE jobs ADD COLUMN dropped_tags INTEGER NOT NULL DEFAULT 0;

-- One row per tag of a file in a group (`ai`, `user`, `user-delete-ai-tags`). The
-- second index answers "files with tag T in group G" for tag search.
CREATE TABLE file_tags (
    version_id INTEGER NOT NULL,
    file_id    TEXT NOT NULL,
    grp        TEXT NOT NULL CHECK (grp IN ('ai', 'user', 'user-delete-ai-tags')),
    tag        TEXT NOT NULL,
    -- The tag definition an `ai` tag came from: a later run of the same definition
    -- replaces its tags, while other definitions' tags stay (`ai` is their union).
    source     TEXT,
    job_id     TEXT,
    confidence REAL,
    PRIMARY KEY (version_id, file_id, grp, tag),
    FOREIGN KEY (version_id, file_id) REFERENCES file_metas (version_id, file_id) ON DELETE CASCADE
);
CREATE INDEX file_tags_by_tag ON file_tags (version_id, grp, tag, file_id);
CREATE INDEX file_tags_by_job ON file_tags (job_id);

-- The last outcome of each kind of work (`index`, `tag`) on each file: the job, the
-- file's fingerprint and the work key (model and index, or model and definition version)
-- it ran with, and whether it succeeded. `Increment` skips a file whose fingerprint and
-- key match a success.
CREATE TABLE file_work (
    version_id  INTEGER NOT NULL,
    file_id     TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('index', 'tag')),
    job_id      TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    work_key    TEXT NOT NULL,
    ok          BOOLEAN NOT NULL,
    at          INTEGER NOT NULL,
    PRIMARY KEY (version_id, file_id, kind),
    -- Not tied to the file meta: a row whose file is gone from the version tells the next
    -- `Increment` index run which vectors to delete.
    FOREIGN KEY (version_id) REFERENCES dataset_versions (id) ON DELETE CASCADE
);
CREATE INDEX file_work_by_job ON file_work (job_id);
