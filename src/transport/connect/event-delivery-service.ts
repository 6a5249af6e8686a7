/**
 * tessera.v1.EventDeliveryService. Authorization happens before these handlers run (the bearer
 * interceptor, as for ClientAdminService); each handler calls the event delivery and converts.
 */
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { ServiceImpl } from "@connectrpc/connect";
import type { EventDelivery, SinkStatus } from "../../audit/event-delivery.js";
import { ADMIN_SCOPE } from "../../clients/tessera-scopes.js";
import { EventDeliveryService, EventSinkSchema, type EventSink } from "../../gen/tessera/v1/event_delivery_service_pb.js";
import { actorOf } from "./context.js";
import { auditEventToProto } from "./converters.js";
import type { ScopeRule } from "./interceptors.js";

const ADMIN: ScopeRule = { anyOf: [ADMIN_SCOPE] };

/** Every RPC needs `tessera:admin`, as the proto comments document. A method missing here is refused. */
export const EVENT_DELIVERY_SCOPES: ReadonlyMap<string, ScopeRule> = new Map(EventDeliveryService.methods.map((method) => [method.name, ADMIN]));

export function eventDeliveryServiceImpl(options: { delivery: EventDelivery }): ServiceImpl<typeof EventDeliveryService> {
  const { delivery } = options;
  return {
    async listEventSinks() {
      return { sinks: (await delivery.listSinks()).map(eventSinkToProto) };
    },
    async redeliverEvents(request, context) {
      const status = await delivery.redeliver({ sink: request.sink, fromEventId: request.fromEventId, actor: actorOf(context.values) });
      return { sink: eventSinkToProto(status) };
    },
  };
}

function eventSinkToProto(status: SinkStatus): EventSink {
  const next = status.nextEvent;
  return create(EventSinkSchema, {
    name: status.name,
    deliveredThroughEventId: status.deliveredThrough.toString(),
    backlog: BigInt(status.backlog),
    ...(next ? { oldestUndeliveredTime: timestampFromDate(next.time), nextEvent: auditEventToProto(next) } : {}),
    attempts: status.attempts,
    ...(status.nextAttemptTime ? { nextAttemptTime: timestampFromDate(status.nextAttemptTime) } : {}),
    lastError: status.lastError ?? "",
    deadLettered: status.deadTime !== undefined,
    ...(status.deadTime ? { deadLetterTime: timestampFromDate(status.deadTime) } : {}),
  });
}
