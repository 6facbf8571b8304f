/** A run's events as they are appended, for pages that follow a run live. */
import { z } from "zod";
import { defineRoute } from "./contract.js";

export const streamRun = defineRoute({
  method: "GET",
  path: "/v1/runs/:id/stream",
  role: "viewer",
  tag: "runs",
  summary:
    "Server-sent events of one run: `event` for each new event of its log (id: its sequence number), `run` when its state, task or progress changes, `end` once it has settled",
  params: z.strictObject({ id: z.string().min(1) }),
  response: {
    status: 200,
    contentType: "text/event-stream",
    description:
      "A stream of server-sent events; `Last-Event-ID` resumes after that event. It closes when the run has settled.",
  },
});

export const streamRoutes = [streamRun];
