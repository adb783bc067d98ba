-- idseal foundation schema (SQLite). Times are Unix seconds.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);

CREATE TABLE signing_keys (
    kid            TEXT PRIMARY KEY NOT NULL,
    alg            TEXT NOT NULL,
    state          TEXT NOT NULL CHECK (state IN ('active', 'grace', 'deactivated')),
    created_at     INTEGER NOT NULL,
    grace_until    INTEGER,
    public_jwk     TEXT NOT NULL,
    sealed_private BLOB NOT NULL
);
-- At most one active key per algorithm, whatever number of instances start at once.
CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys (alg) WHERE state = 'active';

CREATE TABLE rate_counters (
    bucket       TEXT NOT NULL,
    window_start INTEGER NOT NULL,
    count        INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    PRIMARY KEY (bucket, window_start)
);
CREATE INDEX rate_counters_expiry ON rate_counters (expires_at);

CREATE TABLE rate_lockouts (
    bucket          TEXT PRIMARY KEY NOT NULL,
    level           INTEGER NOT NULL,
    locked_until    INTEGER NOT NULL,
    last_lockout_at INTEGER NOT NULL
);

CREATE TABLE audit_events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    kind       TEXT NOT NULL,
    at         INTEGER NOT NULL,
    actor      TEXT NOT NULL,
    subject    TEXT,
    ip         TEXT,
    user_agent TEXT,
    details    TEXT NOT NULL
);
CREATE INDEX audit_events_kind ON audit_events (kind);
CREATE INDEX audit_events_subject ON audit_events (subject);
CREATE INDEX audit_events_at ON audit_events (at);

CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END;

CREATE TABLE admin_tokens (
    token_hash TEXT PRIMARY KEY NOT NULL,
    label      TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
