-- idseal foundation schema (PostgreSQL). Times are Unix seconds.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE signing_keys (
    kid            TEXT PRIMARY KEY,
    alg            TEXT NOT NULL,
    state          TEXT NOT NULL CHECK (state IN ('active', 'grace', 'deactivated')),
    created_at     BIGINT NOT NULL,
    grace_until    BIGINT,
    public_jwk     TEXT NOT NULL,
    sealed_private BYTEA NOT NULL
);
-- At most one active key per algorithm, whatever number of instances start at once.
CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys (alg) WHERE state = 'active';

CREATE TABLE rate_counters (
    bucket       TEXT NOT NULL,
    window_start BIGINT NOT NULL,
    count        BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    PRIMARY KEY (bucket, window_start)
);
CREATE INDEX rate_counters_expiry ON rate_counters (expires_at);

CREATE TABLE rate_lockouts (
    bucket          TEXT PRIMARY KEY,
    level           BIGINT NOT NULL,
    locked_until    BIGINT NOT NULL,
    last_lockout_at BIGINT NOT NULL
);

CREATE TABLE audit_events (
    id         BIGSERIAL PRIMARY KEY,
    kind       TEXT NOT NULL,
    at         BIGINT NOT NULL,
    actor      TEXT NOT NULL,
    subject    TEXT,
    ip         TEXT,
    user_agent TEXT,
    details    TEXT NOT NULL
);
CREATE INDEX audit_events_kind ON audit_events (kind);
CREATE INDEX audit_events_subject ON audit_events (subject);
CREATE INDEX audit_events_at ON audit_events (at);

CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only';
END;
$$;
CREATE TRIGGER audit_events_no_update_delete BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();

CREATE TABLE admin_tokens (
    token_hash TEXT PRIMARY KEY,
    label      TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
