-- The tamper-evident audit log (docs/audit-log.md, "Storage"). Times are Unix seconds.
-- All three tables are append-only: triggers refuse UPDATE and DELETE.

-- One row per log entry, at consecutive indices from 0. `kind`, `at` and `subject_pseudonym`
-- (hex HMAC of the subject, as in the entry) are copies for queries; NULL for raw entries.
CREATE TABLE tlog_entries (
    idx               INTEGER PRIMARY KEY NOT NULL,
    leaf_hash         BLOB NOT NULL CHECK (length(leaf_hash) = 32),
    data              BLOB NOT NULL,
    kind              TEXT,
    at                INTEGER,
    subject_pseudonym TEXT
);
CREATE INDEX tlog_entries_kind ON tlog_entries (kind);
CREATE INDEX tlog_entries_at ON tlog_entries (at);
CREATE INDEX tlog_entries_subject ON tlog_entries (subject_pseudonym);

-- The hash of every complete subtree: level 0 holds leaf hashes, (level, idx) covers the
-- entries [idx * 2^level, (idx + 1) * 2^level).
CREATE TABLE tlog_hashes (
    level INTEGER NOT NULL,
    idx   INTEGER NOT NULL,
    hash  BLOB NOT NULL CHECK (length(hash) = 32),
    PRIMARY KEY (level, idx)
);

-- Signed checkpoints (C2SP signed notes); at most one per size, so a fork cannot be stored.
CREATE TABLE tlog_checkpoints (
    size INTEGER PRIMARY KEY NOT NULL,
    root BLOB NOT NULL CHECK (length(root) = 32),
    note TEXT NOT NULL,
    at   INTEGER NOT NULL
);

CREATE TRIGGER tlog_entries_no_update BEFORE UPDATE ON tlog_entries
BEGIN SELECT RAISE(ABORT, 'tlog_entries is append-only'); END;
CREATE TRIGGER tlog_entries_no_delete BEFORE DELETE ON tlog_entries
BEGIN SELECT RAISE(ABORT, 'tlog_entries is append-only'); END;
CREATE TRIGGER tlog_hashes_no_update BEFORE UPDATE ON tlog_hashes
BEGIN SELECT RAISE(ABORT, 'tlog_hashes is append-only'); END;
CREATE TRIGGER tlog_hashes_no_delete BEFORE DELETE ON tlog_hashes
BEGIN SELECT RAISE(ABORT, 'tlog_hashes is append-only'); END;
CREATE TRIGGER tlog_checkpoints_no_update BEFORE UPDATE ON tlog_checkpoints
BEGIN SELECT RAISE(ABORT, 'tlog_checkpoints is append-only'); END;
CREATE TRIGGER tlog_checkpoints_no_delete BEFORE DELETE ON tlog_checkpoints
BEGIN SELECT RAISE(ABORT, 'tlog_checkpoints is append-only'); END;
