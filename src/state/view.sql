-- The view of the state database (schema.sql), made anew by each schema upgrade.

-- Every intent as the exporter knows it now, with its store's and status's names.
CREATE VIEW intent_state AS
WITH latest AS (
    SELECT * FROM (
        SELECT store, lower(hex(id)) AS id, gone, sources, order_id, added_at, status,
               not_found, status_changed_at, last_success_at, terminal_at, expired_at,
               dropped_reason, dropped_at, confirmed_by, webhook_at, verify_pending,
               webhook_missing_at, detail,
               row_number() OVER (PARTITION BY store, id ORDER BY seq DESC) AS newest
        FROM events
    ) WHERE newest = 1
),
current AS (
    SELECT store, id, sources, order_id, added_at, status, not_found, status_changed_at,
           last_success_at, terminal_at, expired_at, dropped_reason, dropped_at,
           confirmed_by, webhook_at, verify_pending, webhook_missing_at, detail
    FROM latest WHERE gone = 0
    UNION ALL
    SELECT i.store, i.id, i.sources, i.order_id, i.added_at, i.status, i.not_found,
           i.status_changed_at, i.last_success_at, i.terminal_at, i.expired_at,
           i.dropped_reason, i.dropped_at, i.confirmed_by, i.webhook_at, i.verify_pending,
           i.webhook_missing_at, i.detail
    FROM intents i
    WHERE NOT EXISTS (SELECT 1 FROM latest l WHERE l.store = i.store AND l.id = i.id)
)
SELECT s.name AS store, c.id, c.order_id, c.sources, c.sources != 0 AS watched,
       c.status, CASE WHEN c.not_found THEN 'NOT_FOUND' ELSE n.name END AS status_name,
       c.not_found,
       c.added_at, c.status_changed_at, c.last_success_at, c.terminal_at, c.expired_at,
       c.dropped_reason, c.dropped_at, c.confirmed_by, c.webhook_at, c.verify_pending,
       c.webhook_missing_at, c.detail
FROM current c
JOIN stores s ON s.id = c.store
LEFT JOIN status_names n ON n.code = c.status;
