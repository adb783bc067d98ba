-- The tamper-evident audit log (docs/audit-log.md, "Storage"). Times are Unix seconds.
-- All three tables are append-only: triggers refuse UPDATE, DELETE and TRUNCATE.

-- One row per log entry, at consecutive indices from 0. `kind`, `at` and `subject_pseudonym`
-- (hex HMAC of the subject, as in the entry) are copies for queries; NULL for raw entries.
CREATE TABLE tlog_entries (
    idx               BIGINT PRIMARY KEY CHECK (idx >= 0),
    leaf_hash         BYTEA NOT NULL CHECK (length(leaf_hash) = 32),
    data              BYTEA NOT NULL,
    kind              TEXT,
    at                BIGINT,
    subject_pseudonym TEXT
);
CREATE INDEX tlog_entries_kind ON tlog_entries (kind);
CREATE INDEX tlog_entries_at ON tlog_entries (at);
CREATE INDEX tlog_entries_subject ON tlog_entries (subject_pseudonym);

-- The hash of every complete subtree: level 0 holds leaf hashes, (level, idx) covers the
-- entries [idx * 2^level, (idx + 1) * 2^level).
CREATE TABLE tlog_hashes (
    level INT NOT NULL CHECK (level >= 0 AND level < 64),
    idx   BIGINT NOT NULL CHECK (idx >= 0),
    hash  BYTEA NOT NULL CHECK (length(hash) = 32),
    PRIMARY KEY (level, idx)
);

-- Signed checkpoints (C2SP signed notes); at most one per size, so a fork cannot be stored.
CREATE TABLE tlog_checkpoints (
    size BIGINT PRIMARY KEY CHECK (size >= 0),
    root BYTEA NOT NULL CHECK (length(root) = 32),
    note TEXT NOT NULL,
    at   BIGINT NOT NULL
);

CREATE FUNCTION tlog_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME;
END;
$$;
CREATE TRIGGER tlog_entries_no_update_delete BEFORE UPDATE OR DELETE ON tlog_entries
    FOR EACH ROW EXECUTE FUNCTION tlog_append_only();
CREATE TRIGGER tlog_entries_no_truncate BEFORE TRUNCATE ON tlog_entries
    FOR EACH STATEMENT EXECUTE FUNCTION tlog_append_only();
CREATE TRIGGER tlog_hashes_no_update_delete BEFORE UPDATE OR DELETE ON tlog_hashes
    FOR EACH ROW EXECUTE FUNCTION tlog_append_only();
CREATE TRIGGER tlog_hashes_no_truncate BEFORE TRUNCATE ON tlog_hashes
    FOR EACH STATEMENT EXECUTE FUNCTION tlog_append_only();
CREATE TRIGGER tlog_checkpoints_no_update_delete BEFORE UPDATE OR DELETE ON tlog_checkpoints
    FOR EACH ROW EXECUTE FUNCTION tlog_append_only();
CREATE TRIGGER tlog_checkpoints_no_truncate BEFORE TRUNCATE ON tlog_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION tlog_append_only();
