-- The audit trail is the outbox of event delivery: each sink keeps a cursor into it.
-- CreateTable
CREATE TABLE "event_sinks" (
    "name" TEXT NOT NULL,
    "delivered_through" BIGINT NOT NULL,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "next_attempt_time" TIMESTAMPTZ(3),
    "last_error" TEXT,
    "dead_time" TIMESTAMPTZ(3),

    CONSTRAINT "event_sinks_pkey" PRIMARY KEY ("name")
);

-- Audit ids in commit order. A sequence value is taken when a row is inserted, not when its
-- transaction commits, so id 10 may become visible after id 11: a cursor that had moved past 11
-- would never deliver 10. Each insert waits for this schema's audit lock, held until its
-- transaction ends, and only then takes its id: an id is never lower than one already visible.
-- Admin changes are few, so serialising their last moments costs nothing that matters.
CREATE FUNCTION "audit_events_commit_order"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(1952803941, hashtext(TG_TABLE_SCHEMA));
  NEW."id" := nextval(pg_get_serial_sequence(quote_ident(TG_TABLE_SCHEMA) || '.audit_events', 'id'));
  RETURN NEW;
END
$$;

CREATE TRIGGER "audit_events_commit_order" BEFORE INSERT ON "audit_events"
  FOR EACH ROW EXECUTE FUNCTION "audit_events_commit_order"();
