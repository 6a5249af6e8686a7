/**
 * `tessera audit list`: the audit trail of administrative changes and refused calls, newest first.
 */
import { create } from "@bufbuild/protobuf";
import { ListAuditEventsResponseSchema } from "../gen/tessera/v1/client_admin_service_pb.js";
import { positiveInteger } from "./args.js";
import type { Command } from "./command.js";
import { messageJson } from "./output.js";
import { auditTable } from "./views.js";

const listAuditEvents: Command = {
  path: ["audit", "list"],
  summary: "List audit events, newest first.",
  connects: true,
  options: {
    client: { type: "string", placeholder: "ID", help: "Only events about this client." },
    "page-size": { type: "string", placeholder: "N", help: "Events per page (server default 50, at most 500)." },
    "page-token": { type: "string", placeholder: "TOKEN", help: "Continue from a previous page." },
    all: { type: "boolean", help: "Follow next_page_token to the end." },
  },
  async run({ args, admin }) {
    const request = {
      pageSize: positiveInteger(args.string("page-size"), "page-size") ?? 0,
      pageToken: args.string("page-token") ?? "",
      clientId: args.string("client") ?? "",
    };
    const api = await admin();
    let page = await api.listAuditEvents(request);
    const events = [...page.events];
    while (args.flag("all") && page.nextPageToken !== "") {
      page = await api.listAuditEvents({ ...request, pageToken: page.nextPageToken });
      events.push(...page.events);
    }
    const response = create(ListAuditEventsResponseSchema, { events, nextPageToken: page.nextPageToken });
    return {
      json: messageJson(ListAuditEventsResponseSchema, response),
      text: auditTable(events),
      notes: page.nextPageToken ? [`more events: add --page-token ${page.nextPageToken}, or use --all`] : [],
    };
  },
};

export const AUDIT_COMMANDS: readonly Command[] = [listAuditEvents];
