/** Where each service's stages stand: what is live, what runs, what waits. */
import { z } from "zod";
import { defineRoute } from "./contract.js";

export const stageStatusSchema = z.object({
  name: z.string(),
  version: z.string().nullable(),
  digest: z.string().nullable(),
  state: z.enum(["released", "running", "waiting-approval", "failed", "rolled-back", "empty"]),
  url: z.string().nullable(),
  /** The run now in progress or last finished, if any */
  runId: z.string().nullable(),
  reason: z.string().nullable(),
  /** Runs waiting their turn on this stage, oldest first */
  queued: z.array(z.object({ id: z.string(), version: z.string() })),
  targets: z.array(
    z.object({ name: z.string(), version: z.string(), digest: z.string(), releasedAt: z.string() }),
  ),
});

export const statusSchema = z.object({
  services: z.array(z.object({ name: z.string(), stages: z.array(stageStatusSchema) })),
  /** The `after` of the next page of services, null on the last page */
  next: z.string().nullable(),
});

/** Services a page holds unless the request says otherwise, and at most */
export const STATUS_PAGE = { default: 30, max: 100 } as const;
export type StatusView = z.output<typeof statusSchema>;

/** Every service, page after page: `fetchPage(after)` asks for the page after a service's name. */
export async function allStatusPages(
  fetchPage: (after: string | undefined) => Promise<StatusView>,
): Promise<StatusView> {
  let status = await fetchPage(undefined);
  for (let after = status.next; after !== null; after = status.next) {
    const page = await fetchPage(after);
    status = { services: [...status.services, ...page.services], next: page.next };
  }
  return status;
}

export const getStatus = defineRoute({
  method: "GET",
  path: "/v1/status",
  role: "viewer",
  tag: "status",
  summary:
    "Each service's stages: the live version, the run in progress, the queue. Services come in pages by name " +
    `(\`limit\`, default ${STATUS_PAGE.default}); \`next\` is the \`after\` of the next page, null on the last`,
  query: z.strictObject({
    service: z.string().optional(),
    limit: z.coerce.number().int().min(1).max(STATUS_PAGE.max).optional(),
    after: z.string().optional(),
  }),
  response: { status: 200, schema: statusSchema },
});

export const statusRoutes = [getStatus];
