-- Connections (object stores for now), the job queue, and file metas.

CREATE TABLE connections (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    kind         TEXT NOT NULL,
    config       TEXT NOT NULL,
    -- AES-256-GCM of the secrets JSON: 12-byte nonce followed by ciphertext and tag.
    secrets      BYTEA NOT NULL,
    created_at   BIGINT NOT NULL,
    modified_at  BIGINT NOT NULL,
    CONSTRAINT connections_name_unique UNIQUE (workspace_id, name)
);
CREATE INDEX connections_by_workspace ON connections (workspace_id, created_at DESC, id DESC);

CREATE TABLE jobs (
    id              TEXT PRIMARY KEY,
    workspace_id    TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    dataset_id      TEXT NOT NULL REFERENCES datasets (id) ON DELETE CASCADE,
    version_id      BIGINT NOT NULL REFERENCES dataset_versions (id) ON DELETE CASCADE,
    version_number  BIGINT NOT NULL,
    action          TEXT NOT NULL,
    mode            TEXT NOT NULL,
    spec            TEXT NOT NULL,
    description     TEXT NOT NULL,
    status          TEXT NOT NULL,
    stop_requested  BOOLEAN NOT NULL DEFAULT FALSE,
    total_files     BIGINT NOT NULL DEFAULT 0,
    completed_files BIGINT NOT NULL DEFAULT 0,
    failed_files    BIGINT NOT NULL DEFAULT 0,
    message         TEXT NOT NULL DEFAULT '',
    idempotency_key TEXT,
    created_at      BIGINT NOT NULL,
    started_at      BIGINT,
    finished_at     BIGINT,
    CONSTRAINT jobs_idempotency_unique UNIQUE (workspace_id, idempotency_key)
);
CREATE INDEX jobs_by_dataset ON jobs (workspace_id, dataset_id, created_at DESC, id DESC);
CREATE INDEX jobs_by_version ON jobs (version_id, status);

-- A job is split into tasks of bounded size so several workers share it.
CREATE TABLE job_tasks (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id           TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    task_key         TEXT NOT NULL,
    payload          TEXT NOT NULL,
    state            TEXT NOT NULL CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    attempt          INTEGER NOT NULL DEFAULT 0,
    max_attempts     INTEGER NOT NULL,
    run_after        BIGINT NOT NULL,
    lease_expires_at BIGINT,
    last_error       TEXT,
    finished_at      BIGINT,
    CONSTRAINT job_tasks_key_unique UNIQUE (job_id, task_key)
);
CREATE INDEX job_tasks_claimable ON job_tasks (state, run_after, id);
CREATE INDEX job_tasks_by_job ON job_tasks (job_id, state);

CREATE TABLE job_failures (
    job_id     TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    uri        TEXT NOT NULL,
    reason     TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (job_id, uri)
);

CREATE TABLE job_logs (
    id      BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id  TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    at      BIGINT NOT NULL,
    level   TEXT NOT NULL,
    message TEXT NOT NULL
);
CREATE INDEX job_logs_by_job ON job_logs (job_id, id);

-- One image of one version. `file_id` is derived from the version and the key, so a
-- re-listed file keeps its id and writes are idempotent.
CREATE TABLE file_metas (
    version_id   BIGINT NOT NULL REFERENCES dataset_versions (id) ON DELETE CASCADE,
    file_id      TEXT NOT NULL,
    workspace_id TEXT NOT NULL,
    uri          TEXT NOT NULL,
    file_key     TEXT NOT NULL,
    name         TEXT NOT NULL,
    dir          TEXT NOT NULL,
    size         BIGINT NOT NULL,
    fingerprint  TEXT NOT NULL,
    content_type TEXT NOT NULL,
    file_type    TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    width        INTEGER,
    height       INTEGER,
    probe_state  TEXT NOT NULL CHECK (probe_state IN ('pending', 'done')),
    probe_chunk  BIGINT NOT NULL DEFAULT 0,
    listed_by    TEXT NOT NULL,
    registered_at BIGINT NOT NULL,
    PRIMARY KEY (version_id, file_id)
);
CREATE INDEX file_metas_by_name ON file_metas (version_id, name, file_id);
CREATE INDEX file_metas_by_update ON file_metas (version_id, updated_at, file_id);
CREATE INDEX file_metas_probe ON file_metas (version_id, probe_chunk) WHERE probe_state = 'pending';

-- At most one active job per action and version (e.g. one build at a time).
CREATE UNIQUE INDEX jobs_one_active ON jobs (version_id, action) WHERE status IN ('Pending', 'Running');
