-- The state database, schema version 3 (3 adds counter rows, no table, to 2) (the view is in view.sql) (docs/operations.md shows queries against it).
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
-- `detail` is the intent's detail once fetched and its money counted, a JSON object
-- (`at`, `coin`, `chain`, `currency`, `amount_cents`, and the decimal strings `amount`,
-- `paid`, `fee`, `net`), or, when it stayed malformed and was given up,
-- `{"given_up_at": …, "request_id": …}`; NULL until either.

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
    detail TEXT,
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
    webhook_missing_at REAL,
    detail TEXT
);

-- Outcome, transition, expiry, drop and webhook counters: `name` is the counter, `label`
-- its label value (`outcome`, `from>to`, `reason`, `webhook`/`poll` for `confirmation`;
-- empty for `expired`, `webhook_missing`, `webhook_disagreement`, `confirmed_short` and
-- `details_given_up`).
CREATE TABLE counters (
    store INTEGER NOT NULL,
    name TEXT NOT NULL,
    label TEXT NOT NULL,
    value INTEGER NOT NULL,
    PRIMARY KEY (store, name, label)
) WITHOUT ROWID;

-- Money sums from intent details, exact decimal text: `name` is amount, paid, shortfall,
-- fee, net or fiat; `outcome`, `symbol` (the coin, or for fiat the currency) and `chain`
-- are its label values, empty where the counter has no such label.
CREATE TABLE money (
    store INTEGER NOT NULL,
    name TEXT NOT NULL,
    outcome TEXT NOT NULL,
    symbol TEXT NOT NULL,
    chain TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (store, name, outcome, symbol, chain)
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

