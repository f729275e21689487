-- Tag definitions: a guide prompt and the tags (JSON object name → description) a
-- tagging model may give. `version` grows with every change of prompt or tags.

CREATE TABLE tag_definitions (
    id           TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    prompt       TEXT NOT NULL,
    tags         TEXT NOT NULL,
    version      BIGINT NOT NULL,
    description  TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    modified_at  BIGINT NOT NULL,
    CONSTRAINT tag_definitions_name_unique UNIQUE (workspace_id, name)
);
CREATE INDEX tag_definitions_by_workspace ON tag_definitions (workspace_id, created_at DESC, id DESC);
