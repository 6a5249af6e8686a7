/**
 * `tessera events …`: how the audit trail is being delivered to the configured sinks, the
 * dead-lettered events, and resuming a sink (EventDeliveryService).
 */
import { create } from "@bufbuild/protobuf";
import { timestampDate, type Timestamp } from "@bufbuild/protobuf/wkt";
import {
  ListEventSinksResponseSchema,
  RedeliverEventsResponseSchema,
  type EventSink,
} from "../gen/tessera/v1/event_delivery_service_pb.js";
import type { Command } from "./command.js";
import { connectEventDeliveryApi } from "./connection.js";
import { messageJson, renderFields, renderTable } from "./output.js";
import { auditTable } from "./views.js";

const listEvents: Command = {
  path: ["events", "list"],
  summary: "Show each event sink: cursor, backlog, failures, and the event it is dead-lettered on.",
  description:
    "A sink that failed one event too often (TESSERA_EVENT_WEBHOOK_MAX_ATTEMPTS) is dead-lettered: it pauses on that event, " +
    "so no later event overtakes it, until `tessera events redeliver SINK`.",
  connects: true,
  options: {
    dead: { type: "boolean", help: "Only the dead-lettered events (one per paused sink)." },
  },
  async run({ args, connection }) {
    const response = await (await connectEventDeliveryApi(connection())).listEventSinks({});
    if (args.flag("dead")) {
      const dead = response.sinks.filter((sink) => sink.deadLettered);
      const deadResponse = create(ListEventSinksResponseSchema, { sinks: dead });
      return {
        json: messageJson(ListEventSinksResponseSchema, deadResponse),
        text: dead.length === 0 ? "no dead-lettered events" : sinksTable(dead) + "\n" + auditTable(dead.flatMap((sink) => (sink.nextEvent ? [sink.nextEvent] : []))),
      };
    }
    return {
      json: messageJson(ListEventSinksResponseSchema, response),
      text: response.sinks.length === 0 ? "no event sink is configured (TESSERA_EVENT_WEBHOOK_URL, TESSERA_EVENT_STDOUT)" : sinksTable(response.sinks),
    };
  },
};

const redeliverEvents: Command = {
  path: ["events", "redeliver"],
  summary: "Resume a sink: retry the event it stopped at, or deliver again from an event on.",
  arguments: ["SINK"],
  connects: true,
  options: {
    from: { type: "string", placeholder: "EVENT_ID", help: "Deliver again from this event id on (receivers deduplicate by id)." },
  },
  async run({ args, connection }) {
    const response = await (await connectEventDeliveryApi(connection())).redeliverEvents({ sink: args.positional(0), fromEventId: args.string("from") ?? "" });
    return { json: messageJson(RedeliverEventsResponseSchema, response), text: sinkView(response.sink!) };
  },
};

function time(value: Timestamp | undefined): string {
  return value ? timestampDate(value).toISOString() : "";
}

function sinksTable(sinks: readonly EventSink[]): string {
  return renderTable(
    ["sink", "delivered through", "backlog", "oldest undelivered", "attempts", "next attempt", "dead-lettered", "event", "last error"],
    sinks.map((sink) => [
      sink.name,
      sink.deliveredThroughEventId,
      String(sink.backlog),
      time(sink.oldestUndeliveredTime),
      String(sink.attempts),
      time(sink.nextAttemptTime),
      sink.deadLettered ? time(sink.deadLetterTime) : "no",
      sink.nextEvent ? `${sink.nextEvent.eventId} ${sink.nextEvent.action}` : "",
      sink.lastError,
    ]),
  );
}

function sinkView(sink: EventSink): string {
  return renderFields([
    ["sink", sink.name],
    ["delivered through", sink.deliveredThroughEventId],
    ["backlog", String(sink.backlog)],
    ["dead-lettered", sink.deadLettered ? "yes" : "no"],
  ]);
}

export const EVENT_COMMANDS: readonly Command[] = [listEvents, redeliverEvents];
