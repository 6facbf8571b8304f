/**
 * How the pages say things: states as an icon and a word (never a colour alone), durations, and
 * times. Pure, so the tests run them in Node; the pages render what these return.
 */
import type { EventView } from "../../api/runs.js";

export interface Badge {
  /** A symbol beside the word; hidden from screen readers, which read the word */
  icon: string;
  label: string;
  /** The CSS class that colours it; the icon and word carry the meaning without it */
  tone: "good" | "busy" | "waiting" | "bad" | "neutral";
}

const badges: Record<string, Badge> = {
  released: { icon: "✓", label: "live", tone: "good" },
  succeeded: { icon: "✓", label: "succeeded", tone: "good" },
  verified: { icon: "✓", label: "verified", tone: "good" },
  pass: { icon: "✓", label: "pass", tone: "good" },
  running: { icon: "▶", label: "running", tone: "busy" },
  queued: { icon: "…", label: "queued", tone: "neutral" },
  "waiting-approval": { icon: "‖", label: "waiting for approval", tone: "waiting" },
  warning: { icon: "⚠", label: "warning", tone: "waiting" },
  failed: { icon: "✗", label: "failed", tone: "bad" },
  fail: { icon: "✗", label: "fail", tone: "bad" },
  "rolling-back": { icon: "↺", label: "rolling back", tone: "bad" },
  "rolled-back": { icon: "↺", label: "rolled back", tone: "bad" },
  empty: { icon: "○", label: "nothing deployed", tone: "neutral" },
  info: { icon: "ℹ", label: "info only", tone: "neutral" },
};

/** The prefix of every CloudEvent type the control plane writes (the API's events carry it) */
const EVENT_TYPE_PREFIX = "dev.waybill.";

/**
 * An event's type without the product's CloudEvents prefix (`dev.waybill.task.started` →
 * `task.started`), as the event log names them
 */
export function eventKind(type: string): string {
  return type.startsWith(EVENT_TYPE_PREFIX) ? type.slice(EVENT_TYPE_PREFIX.length) : type;
}

export function badgeOf(state: string): Badge {
  return badges[state] ?? { icon: "•", label: state, tone: "neutral" };
}

export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return "—";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const seconds = ms / 1000;
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const whole = Math.round(seconds);
  if (whole < 3600) return `${Math.floor(whole / 60)} min ${whole % 60} s`;
  return `${Math.floor(whole / 3600)} h ${Math.floor((whole % 3600) / 60)} min`;
}

export function formatAgo(iso: string, now: number): string {
  const ms = now - Date.parse(iso);
  if (!Number.isFinite(ms)) return iso;
  if (ms < 5_000) return "just now";
  if (ms < 60_000) return `${Math.floor(ms / 1000)} s ago`;
  if (ms < 3_600_000) return `${Math.floor(ms / 60_000)} min ago`;
  if (ms < 86_400_000) return `${Math.floor(ms / 3_600_000)} h ago`;
  return `${Math.floor(ms / 86_400_000)} d ago`;
}

export interface TaskSpan {
  task: string;
  startedAt: string;
  finishedAt: string | null;
  state: "running" | "succeeded" | "failed";
  attempt: number;
  reason: string | null;
  output: Record<string, unknown> | null;
}

/** The run's tasks from its log: each start with the success or failure that ended it */
export function taskTimeline(events: readonly EventView[]): TaskSpan[] {
  const spans: TaskSpan[] = [];
  for (const event of events) {
    const task = typeof event.data["task"] === "string" ? event.data["task"] : undefined;
    if (task === undefined) continue;
    const kind = eventKind(event.type);
    if (kind === "task.started") {
      const attempt = typeof event.data["attempt"] === "number" ? event.data["attempt"] : 1;
      spans.push({
        task,
        startedAt: event.time,
        finishedAt: null,
        state: "running",
        attempt,
        reason: null,
        output: null,
      });
      continue;
    }
    const open = spans.findLast((span) => span.task === task && span.finishedAt === null);
    if (open === undefined) continue;
    if (kind === "task.succeeded") {
      open.state = "succeeded";
      open.finishedAt = event.time;
      const output = event.data["output"];
      open.output =
        typeof output === "object" && output !== null ? (output as Record<string, unknown>) : null;
    } else if (kind === "task.failed") {
      open.state = "failed";
      open.finishedAt = event.time;
      open.reason = typeof event.data["reason"] === "string" ? event.data["reason"] : null;
    }
  }
  return spans;
}

/** A stage requirement (`sbom`, `{slo-evaluation: {from_stage: staging}}`) in a few words */
export function describeRequirement(requirement: unknown): string {
  if (typeof requirement === "string") return requirement;
  if (typeof requirement !== "object" || requirement === null) return String(requirement);
  return Object.entries(requirement)
    .map(([name, conditions]) =>
      typeof conditions === "object" && conditions !== null
        ? `${name} (${Object.entries(conditions)
            .map(([key, value]) => `${key}: ${typeof value === "string" ? value : JSON.stringify(value)}`)
            .join(", ")})`
        : name,
    )
    .join(", ");
}

/** Whether a run has nothing more to do (its page stops following it) */
export function settled(state: string): boolean {
  return state === "succeeded" || state === "failed";
}
