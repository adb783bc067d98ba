-- Passwordless login (ITU-T X.1280) (SQLite): device accounts, enrollments, services and
-- sessions. Times are Unix seconds; flags are 0/1 INTEGERs. Enrollments hold no identity data
-- (no names, dates of birth or document numbers): only the key, the seal's fingerprint and the
-- trust level. The one-time password is re-derived, never stored.

-- A passwordless identity is an account of kind 'device' whose id is the enrollment's tokenId
-- and whose email is the unroutable marker 'device:<tokenId>' (no '@': no password path can
-- match it).
ALTER TABLE accounts ADD COLUMN kind TEXT NOT NULL DEFAULT 'password' CHECK (kind IN ('password', 'device'));

-- Sealed identity claims of a passwordless login (opaque to the store) and the authentication
-- methods (space-separated), carried from the code to the grant it yields.
ALTER TABLE auth_codes ADD COLUMN identity_sealed BLOB;
ALTER TABLE auth_codes ADD COLUMN amr TEXT;
ALTER TABLE grants ADD COLUMN identity_sealed BLOB;
ALTER TABLE grants ADD COLUMN amr TEXT;

CREATE TABLE enrollments (
    token_id        TEXT PRIMARY KEY NOT NULL,
    device_id       TEXT NOT NULL,
    public_key_pem  TEXT NOT NULL,
    key_thumbprint  TEXT NOT NULL, -- one key binds to one token
    vds_fingerprint TEXT NOT NULL,
    trust_level     INTEGER NOT NULL CHECK (trust_level BETWEEN 1 AND 3),
    vds_expires_at  INTEGER NOT NULL,
    push_kind       TEXT NOT NULL CHECK (push_kind IN ('fcm', 'channel')),
    push_token      TEXT,
    is_revoked      INTEGER NOT NULL DEFAULT 0 CHECK (is_revoked IN (0, 1)),
    revoked_at      INTEGER,
    revoked_reason  TEXT CHECK (revoked_reason IN ('lost_device', 'compromised', 'expired_document',
                                                   'user_request', 'admin')),
    revoked_by      TEXT,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE UNIQUE INDEX enrollments_key ON enrollments (key_thumbprint);
CREATE UNIQUE INDEX enrollments_vds ON enrollments (vds_fingerprint);
CREATE INDEX enrollments_trust_level ON enrollments (trust_level);
CREATE INDEX enrollments_revoked ON enrollments (is_revoked);
CREATE INDEX enrollments_created ON enrollments (created_at);
CREATE INDEX enrollments_device ON enrollments (device_id);

CREATE TABLE x1280_services (
    service_id       TEXT PRIMARY KEY NOT NULL,
    name             TEXT NOT NULL,
    url              TEXT NOT NULL,
    allowed_scopes   TEXT NOT NULL, -- space-separated
    default_scopes   TEXT NOT NULL, -- space-separated
    consent_required INTEGER NOT NULL CHECK (consent_required IN (0, 1)),
    vds_fingerprint  TEXT, -- the Service VDS registered for it (one service each)
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
);
CREATE UNIQUE INDEX x1280_services_vds ON x1280_services (vds_fingerprint);

-- The live session and, once resolved, its audit record.
CREATE TABLE x1280_sessions (
    session_id       TEXT PRIMARY KEY NOT NULL,
    token_id         TEXT NOT NULL,
    service_id       TEXT NOT NULL,
    service_name     TEXT NOT NULL,
    service_verified INTEGER NOT NULL CHECK (service_verified IN (0, 1)),
    requested_scopes TEXT NOT NULL,
    granted_scopes   TEXT,
    random           TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected', 'expired')),
    reject_reason    TEXT,
    attempts         INTEGER NOT NULL DEFAULT 0,
    initiated_at     INTEGER NOT NULL,
    expires_at       INTEGER NOT NULL,
    resolved_at      INTEGER,
    client_ip        TEXT,
    browser_binding  TEXT, -- ties an OIDC browser flow to the session (opaque)
    service_url      TEXT NOT NULL, -- the origin shown on the phone
    result_sealed    BLOB -- an approved OIDC login's result, sealed, until its browser collects it
);
CREATE INDEX x1280_sessions_token ON x1280_sessions (token_id, initiated_at);
CREATE INDEX x1280_sessions_status ON x1280_sessions (status, expires_at);
