-- SCAL3 (PostgreSQL): a token's SCAL3 credential with its PIN-failure counter, and the challenges
-- that authorise one instruction each. Times are Unix seconds. The credential, the verifying
-- key Vk and the device key are public values (the record is checked against them); no PIN and
-- no provider secret is stored.

CREATE TABLE scal3_credentials (
    token_id     TEXT PRIMARY KEY, -- an enrollments.token_id (one credential each)
    credential   BYTEA NOT NULL,
    vk           BYTEA NOT NULL, -- 33-byte compressed P-256 point
    device_pk    BYTEA NOT NULL, -- 33-byte compressed P-256 point
    pin_failures BIGINT NOT NULL DEFAULT 0,
    locked_at    BIGINT, -- set by the failure that reached the limit
    created_at   BIGINT NOT NULL
);

-- A challenge is consumed once (used_at) before prove runs, authorised (authorized_at, record)
-- once prove succeeded, and may be spent once more (spent_at) by the step it authorises.
CREATE TABLE scal3_challenges (
    challenge_id     BYTEA PRIMARY KEY, -- 32 random bytes
    token_id         TEXT NOT NULL,
    instruction      TEXT NOT NULL, -- canonical JSON (RFC 8785)
    instruction_hash TEXT NOT NULL, -- hex
    created_at       BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL,
    used_at          BIGINT,
    authorized_at    BIGINT,
    record           BYTEA,
    spent_at         BIGINT
);
CREATE INDEX scal3_challenges_token ON scal3_challenges (token_id, created_at);
CREATE INDEX scal3_challenges_expires ON scal3_challenges (expires_at);
