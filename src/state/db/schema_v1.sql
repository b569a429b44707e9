-- The state database schema of version 1, as earlier builds wrote it: the upgrade test
-- starts from it.

-- The state database, schema version 1 (docs/operations.md shows queries against it).
--
-- `intents` holds one row per intent as of the last compaction; `events` holds every row
-- written since, appended in order (a status change is one short row at the end of the
-- table, not a rewrite of the file). An intent's current row is its last event, or its
-- `intents` row when it has none: the `intent_state` view. The writer folds `events`
-- into `intents` in the background once there are several times more events than
-- intents, so the rewrite of the table is shared by many changes.
--
-- Times are unix seconds (REAL). `sources` is a bit set: 1 config, 2 file, 4 http, 8 api,
-- 16 webhook; 0 means the intent left the watch list and is remembered (retired) because
-- it is final. `confirmed_by` is `webhook` or `poll`: which saw the confirmation first.

CREATE TABLE meta (
    key TEXT PRIMARY KEY,
    value ANY
) WITHOUT ROWID;

CREATE TABLE stores (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
);

CREATE TABLE intents (
    store INTEGER NOT NULL,
    id TEXT NOT NULL,
    sources INTEGER NOT NULL,
    order_id TEXT,
    added_at REAL,
    status INTEGER,
    not_found INTEGER NOT NULL,
    status_changed_at REAL,
    last_success_at REAL,
    terminal_at REAL,
    expired_at REAL,
    dropped_reason TEXT,
    dropped_at REAL,
    confirmed_by TEXT,
    webhook_at REAL,
    verify_pending INTEGER NOT NULL,
    webhook_missing_at REAL,
    PRIMARY KEY (store, id)
) WITHOUT ROWID;

-- `id` is the intent id's 12 bytes (`lower(hex(id))` is its text): events are most of
-- what the database writes. `gone` = 1: the intent was forgotten (its row is deleted at
-- the next compaction).
CREATE TABLE events (
    seq INTEGER PRIMARY KEY,
    store INTEGER NOT NULL,
    id BLOB NOT NULL,
    gone INTEGER NOT NULL,
    sources INTEGER NOT NULL,
    order_id TEXT,
    added_at REAL,
    status INTEGER,
    not_found INTEGER NOT NULL,
    status_changed_at REAL,
    last_success_at REAL,
    terminal_at REAL,
    expired_at REAL,
    dropped_reason TEXT,
    dropped_at REAL,
    confirmed_by TEXT,
    webhook_at REAL,
    verify_pending INTEGER NOT NULL,
    webhook_missing_at REAL
);

-- Outcome, transition, expiry, drop and webhook counters: `name` is the counter, `label`
-- its label value (`outcome`, `from>to`, `reason`, `webhook`/`poll` for `confirmation`;
-- empty for `expired`, `webhook_missing` and `webhook_disagreement`).
CREATE TABLE counters (
    store INTEGER NOT NULL,
    name TEXT NOT NULL,
    label TEXT NOT NULL,
    value INTEGER NOT NULL,
    PRIMARY KEY (store, name, label)
) WITHOUT ROWID;

-- Webhook nonces (`kind` 'nonce', kept 10 minutes) and webhook ids ('id', kept for
-- terminal_retention) already seen: a replay is refused also right after a restart.
CREATE TABLE webhook_seen (
    store INTEGER NOT NULL,
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    seen_at REAL NOT NULL,
    PRIMARY KEY (store, kind, value)
) WITHOUT ROWID;

-- Verified webhooks waiting to be relayed to `forward_url`, in order; `headers` is a JSON
-- list of [name, value] pairs (values as received).
CREATE TABLE webhook_queue (
    store INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    webhook_id TEXT NOT NULL,
    intent_id TEXT NOT NULL,
    received_at REAL NOT NULL,
    path_and_query TEXT NOT NULL,
    headers TEXT NOT NULL,
    body BLOB NOT NULL,
    PRIMARY KEY (store, seq)
) WITHOUT ROWID;

CREATE TABLE status_names (
    code INTEGER PRIMARY KEY,
    name TEXT NOT NULL
);

INSERT INTO status_names (code, name) VALUES
    (-5, 'TIMEOUT'), (-4, 'CANCELED'), (-3, 'UNDERPAID'), (-2, 'REJECTED'), (-1, 'FAILED'),
    (1, 'CREATED'), (2, 'VIEWED'), (3, 'TEMP_WALLET_RECEIVED'),
    (4, 'PENDING_MANUAL_OPERATION'), (5, 'SEND_BACK'), (10, 'ON_CHAIN'), (20, 'CONFIRMED');

-- Every intent as the exporter knows it now, with its store's and status's names.
CREATE VIEW intent_state AS
WITH latest AS (
    SELECT * FROM (
        SELECT store, lower(hex(id)) AS id, gone, sources, order_id, added_at, status,
               not_found, status_changed_at, last_success_at, terminal_at, expired_at,
               dropped_reason, dropped_at, confirmed_by, webhook_at, verify_pending,
               webhook_missing_at,
               row_number() OVER (PARTITION BY store, id ORDER BY seq DESC) AS newest
        FROM events
    ) WHERE newest = 1
),
current AS (
    SELECT store, id, sources, order_id, added_at, status, not_found, status_changed_at,
           last_success_at, terminal_at, expired_at, dropped_reason, dropped_at,
           confirmed_by, webhook_at, verify_pending, webhook_missing_at
    FROM latest WHERE gone = 0
    UNION ALL
    SELECT i.store, i.id, i.sources, i.order_id, i.added_at, i.status, i.not_found,
           i.status_changed_at, i.last_success_at, i.terminal_at, i.expired_at,
           i.dropped_reason, i.dropped_at, i.confirmed_by, i.webhook_at, i.verify_pending,
           i.webhook_missing_at
    FROM intents i
    WHERE NOT EXISTS (SELECT 1 FROM latest l WHERE l.store = i.store AND l.id = i.id)
)
SELECT s.name AS store, c.id, c.order_id, c.sources, c.sources != 0 AS watched,
       c.status, CASE WHEN c.not_found THEN 'NOT_FOUND' ELSE n.name END AS status_name,
       c.not_found,
       c.added_at, c.status_changed_at, c.last_success_at, c.terminal_at, c.expired_at,
       c.dropped_reason, c.dropped_at, c.confirmed_by, c.webhook_at, c.verify_pending,
       c.webhook_missing_at
FROM current c
JOIN stores s ON s.id = c.store
LEFT JOIN status_names n ON n.code = c.status;
