-- The PostgreSQL state database, schema version 1 (issue #24). Applied by the exporter in
-- one transaction, recorded in `schema_version` (which the exporter makes itself).
--
-- The columns mean what the SQLite state database's do (src/state/schema.sql): times are
-- unix seconds; `sources` is the bit set (1 config, 2 file, 4 http, 8 api, 16 webhook; 0:
-- retired); `detail` is the counted detail or its give-up, as JSON text (text, not
-- jsonb: jsonb refuses a \u0000 that an odd API answer may carry, and such a row must
-- never stop the commits). The tables are laid
-- out for several replicas sharing one database: the intents, webhook nonces and ids and
-- the relay queue are the group's (per store); the counters and money sums are each
-- replica's own (`replica`), so a replica restarted under its name continues its own
-- counts and the group's total is their sum.

-- The replicas that ever wrote here, by `--replica.name`.
CREATE TABLE replicas (
    name text PRIMARY KEY,
    first_seen timestamptz NOT NULL DEFAULT now(),
    last_seen timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE stores (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name text NOT NULL UNIQUE
);

-- One row per intent (no event log: PostgreSQL's MVCC rewrites a row in place cheaply).
CREATE TABLE intents (
    store bigint NOT NULL REFERENCES stores (id) ON DELETE CASCADE,
    id text NOT NULL,
    sources bigint NOT NULL,
    order_id text,
    added_at double precision,
    status bigint,
    not_found boolean NOT NULL,
    status_changed_at double precision,
    last_success_at double precision,
    terminal_at double precision,
    expired_at double precision,
    dropped_reason text,
    dropped_at double precision,
    confirmed_by text,
    webhook_at double precision,
    verify_pending boolean NOT NULL,
    webhook_missing_at double precision,
    detail text,
    -- Which replica wrote the row last, and when (by the database's clock).
    updated_by text NOT NULL REFERENCES replicas (name),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (store, id)
);

-- Outcome, transition, expiry, drop and webhook counters, per replica: `name` and
-- `label` as in SQLite's `counters`.
CREATE TABLE counters (
    store bigint NOT NULL REFERENCES stores (id) ON DELETE CASCADE,
    replica text NOT NULL REFERENCES replicas (name),
    name text NOT NULL,
    label text NOT NULL,
    value bigint NOT NULL CHECK (value >= 0),
    PRIMARY KEY (store, replica, name, label)
);

-- Money sums, per replica, exact (`numeric` keeps the scale: 0.30 stays 0.30).
CREATE TABLE money (
    store bigint NOT NULL REFERENCES stores (id) ON DELETE CASCADE,
    replica text NOT NULL REFERENCES replicas (name),
    name text NOT NULL,
    outcome text NOT NULL,
    symbol text NOT NULL,
    chain text NOT NULL,
    value numeric NOT NULL,
    PRIMARY KEY (store, replica, name, outcome, symbol, chain)
);

-- Webhook nonces and ids already seen, the group's: a retry landing on any replica is a
-- duplicate.
CREATE TABLE webhook_seen (
    store bigint NOT NULL REFERENCES stores (id) ON DELETE CASCADE,
    kind text NOT NULL CHECK (kind IN ('nonce', 'id')),
    value text NOT NULL,
    seen_at double precision NOT NULL,
    PRIMARY KEY (store, kind, value)
);

-- Verified webhooks waiting to be relayed, in `seq` order per store; `headers` is the
-- JSON list of [name, value] pairs (a value that is not UTF-8 as a list of bytes).
CREATE TABLE webhook_queue (
    store bigint NOT NULL REFERENCES stores (id) ON DELETE CASCADE,
    seq bigint NOT NULL,
    webhook_id text NOT NULL,
    intent_id text NOT NULL,
    received_at double precision NOT NULL,
    path_and_query text NOT NULL,
    headers text NOT NULL,
    body bytea NOT NULL,
    queued_by text NOT NULL REFERENCES replicas (name),
    PRIMARY KEY (store, seq)
);
