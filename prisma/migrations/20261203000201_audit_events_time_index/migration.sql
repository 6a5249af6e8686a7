-- CreateIndex
CREATE INDEX "audit_events_time_idx" ON "audit_events"("time");
