-- The built-in connections of every existing workspace: `local-model` (the in-process
-- local embedder and zero-shot tagger) and `embedded-vectors` (the embedded vector
-- store). New workspaces get them in the transaction that creates them; the ids and
-- settings here must match loupe_core::connection::BuiltIn. They hold no secrets.

-- A connection a user already named like a built-in keeps its id and settings under a
-- new name, so the built-in can take the name.
UPDATE connections SET name = name || '-' || substr(id, 6, 8)
WHERE name IN ('local-model', 'embedded-vectors');

INSERT INTO connections (id, workspace_id, name, kind, config, secrets, created_at, modified_at)
SELECT 'conn-local-model-' || substr(id, 4), id, 'local-model', 'EmbeddingModel',
       '{"configs":{"Provider":"local"},"secret_names":[]}', X'', created_at, created_at
FROM workspaces;

INSERT INTO connections (id, workspace_id, name, kind, config, secrets, created_at, modified_at)
SELECT 'conn-embedded-vectors-' || substr(id, 4), id, 'embedded-vectors', 'VectorDatabase',
       '{"configs":{"Engine":"embedded"},"secret_names":[]}', X'', created_at, created_at
FROM workspaces;
