-- The PostgreSQL state database, schema version 2 (issue #24): each replica's relay queue
-- is its own. Sequence numbers are allocated per replica, so two replicas queueing at
-- once no longer share a key (one's event replaced the other's, and one's delivery
-- removed the other's); a replica reads back and relays the events it received.
ALTER TABLE webhook_queue DROP CONSTRAINT webhook_queue_pkey;
ALTER TABLE webhook_queue ADD PRIMARY KEY (store, queued_by, seq);
