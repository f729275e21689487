-- Workspaces, API keys, datasets and dataset versions.
-- Times are milliseconds since the Unix epoch (INTEGER) on both engines, so the same
-- statements and indexes serve PostgreSQL and SQLite.

CREATE TABLE workspaces (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL
);

CREATE TABLE api_keys (
    id             TEXT PRIMARY KEY,
    workspace_id   TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name           TEXT NOT NULL,
    role           TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'editor', 'viewer')),
    token_hash     TEXT NOT NULL UNIQUE,
    display_prefix TEXT NOT NULL,
    created_at     INTEGER NOT NULL,
    revoked_at     INTEGER
);
CREATE INDEX api_keys_by_workspace ON api_keys (workspace_id, created_at DESC, id DESC);

CREATE TABLE datasets (
    id            TEXT PRIMARY KEY,
    workspace_id  TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    description   TEXT NOT NULL,
    labels        TEXT NOT NULL,
    uri           TEXT NOT NULL,
    data_type     TEXT NOT NULL,
    property      TEXT NOT NULL,
    dataset_type  TEXT NOT NULL CHECK (dataset_type IN ('Premium', 'Logical')),
    connection_id TEXT,
    next_version  INTEGER NOT NULL DEFAULT 1,
    created_at    INTEGER NOT NULL,
    modified_at   INTEGER NOT NULL,
    CONSTRAINT datasets_name_unique UNIQUE (workspace_id, name)
);
CREATE INDEX datasets_by_workspace ON datasets (workspace_id, created_at DESC, id DESC);

CREATE TABLE dataset_versions (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    dataset_id   TEXT NOT NULL REFERENCES datasets (id) ON DELETE CASCADE,
    number       INTEGER NOT NULL,
    description  TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('Pending', 'Building', 'Ready', 'Failed')),
    data_count   INTEGER NOT NULL DEFAULT 0,
    data_size    INTEGER NOT NULL DEFAULT 0,
    created_at   INTEGER NOT NULL,
    modified_at  INTEGER NOT NULL,
    CONSTRAINT dataset_versions_number_unique UNIQUE (dataset_id, number)
);
CREATE INDEX dataset_versions_by_workspace ON dataset_versions (workspace_id, dataset_id, number);
