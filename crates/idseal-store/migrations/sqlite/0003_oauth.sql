-- OAuth 2.1 / OpenID Connect: clients, accounts, sessions, consents, codes, grants, tokens
-- (SQLite). Times are Unix seconds; "flags" are nullable timestamps or 0/1 INTEGERs so that
-- both backends decode them alike. Secrets and tokens are stored as SHA-256 (hex) only.

CREATE TABLE oauth_clients (
    client_id                 TEXT PRIMARY KEY NOT NULL,
    name                      TEXT NOT NULL,
    secret_hash               TEXT,
    redirect_uris             TEXT NOT NULL, -- JSON array of strings
    post_logout_redirect_uris TEXT NOT NULL, -- JSON array of strings
    scopes                    TEXT NOT NULL, -- space-separated
    auth_method               TEXT NOT NULL,
    grant_types               TEXT NOT NULL, -- JSON array of strings
    id_token_alg              TEXT NOT NULL,
    subject_type              TEXT NOT NULL,
    sector                    TEXT NOT NULL,
    is_dynamic                INTEGER NOT NULL CHECK (is_dynamic IN (0, 1)),
    created_at                INTEGER NOT NULL
);
CREATE INDEX oauth_clients_created ON oauth_clients (created_at, client_id);

CREATE TABLE accounts (
    id                TEXT PRIMARY KEY NOT NULL,
    email             TEXT NOT NULL, -- lower-cased by the caller
    password_hash     TEXT,
    email_verified_at INTEGER,
    name              TEXT,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL
);
CREATE UNIQUE INDEX accounts_email ON accounts (email);

CREATE TABLE email_tokens (
    token_hash TEXT PRIMARY KEY NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    purpose    TEXT NOT NULL CHECK (purpose IN ('verify', 'reset')),
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at    INTEGER
);
CREATE INDEX email_tokens_account ON email_tokens (account_id);
CREATE INDEX email_tokens_expiry ON email_tokens (expires_at);

CREATE TABLE user_sessions (
    id         TEXT PRIMARY KEY NOT NULL,
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    ip         TEXT,
    user_agent TEXT,
    created_at INTEGER NOT NULL,
    last_seen  INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    auth_time  INTEGER NOT NULL,
    revoked_at INTEGER
);
CREATE INDEX user_sessions_account ON user_sessions (account_id);
CREATE INDEX user_sessions_expiry ON user_sessions (expires_at);

-- Clients are deleted with their consents in one transaction (no foreign key to the client).
CREATE TABLE consents (
    account_id TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    client_id  TEXT NOT NULL,
    scope      TEXT NOT NULL,
    granted_at INTEGER NOT NULL,
    PRIMARY KEY (account_id, client_id)
);
CREATE INDEX consents_client ON consents (client_id);

CREATE TABLE auth_codes (
    code_hash      TEXT PRIMARY KEY NOT NULL,
    client_id      TEXT NOT NULL,
    account_id     TEXT NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    session_id     TEXT,
    redirect_uri   TEXT NOT NULL,
    scope          TEXT NOT NULL,
    nonce          TEXT,
    code_challenge TEXT NOT NULL,
    auth_time      INTEGER NOT NULL,
    acr            TEXT,
    created_at     INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL,
    used_at        INTEGER
);
CREATE INDEX auth_codes_expiry ON auth_codes (expires_at);

-- Grants keep their client_id after the client is deleted (revoked, for replay checks and audit).
CREATE TABLE grants (
    id         TEXT PRIMARY KEY NOT NULL,
    client_id  TEXT NOT NULL,
    account_id TEXT REFERENCES accounts (id) ON DELETE CASCADE, -- NULL for client_credentials
    scope      TEXT NOT NULL,
    code_hash  TEXT,
    session_id TEXT,
    auth_time  INTEGER,
    acr        TEXT,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);
CREATE INDEX grants_client_account ON grants (client_id, account_id);
CREATE INDEX grants_account ON grants (account_id);
-- A code creates at most one grant.
CREATE UNIQUE INDEX grants_code ON grants (code_hash);

CREATE TABLE access_tokens (
    jti        TEXT PRIMARY KEY NOT NULL,
    grant_id   TEXT NOT NULL REFERENCES grants (id) ON DELETE CASCADE,
    client_id  TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER
);
CREATE INDEX access_tokens_grant ON access_tokens (grant_id);
CREATE INDEX access_tokens_expiry ON access_tokens (expires_at);

CREATE TABLE refresh_tokens (
    token_hash TEXT PRIMARY KEY NOT NULL,
    grant_id   TEXT NOT NULL REFERENCES grants (id) ON DELETE CASCADE,
    client_id  TEXT NOT NULL,
    account_id TEXT NOT NULL,
    scope      TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    rotated_at INTEGER,
    revoked_at INTEGER
);
CREATE INDEX refresh_tokens_grant ON refresh_tokens (grant_id);
CREATE INDEX refresh_tokens_expiry ON refresh_tokens (expires_at);
