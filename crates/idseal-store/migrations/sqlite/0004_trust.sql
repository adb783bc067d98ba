-- The highest sequence number accepted per trust-list location, so that a rolled-back list is
-- refused across restarts and instances (docs/trust.md).
CREATE TABLE trust_list_state (
    location        TEXT PRIMARY KEY,
    sequence_number INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
