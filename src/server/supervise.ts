/**
 * `waybill serve --supervise`: keeps a control plane running without a CLI call to start it.
 * The control plane runs as a child; when it dies (a crash, `kill -9`), it is started again
 * after a backoff that doubles up to 30 s and resets after a minute of good health. A clean
 * exit (`waybill down`) ends the supervisor too; SIGTERM and SIGINT are passed on.
 */
import { spawn } from "node:child_process";

const FIRST_BACKOFF_MS = 500;
const MAX_BACKOFF_MS = 30_000;
const HEALTHY_AFTER_MS = 60_000;

export interface Supervision {
  /** The argv of one control plane run, without the node executable */
  args: string[];
  log: (line: string) => void;
}

export async function superviseControlPlane({ args, log }: Supervision): Promise<number> {
  let stopping = false;
  let backoffMs = FIRST_BACKOFF_MS;
  let current: ReturnType<typeof spawn> | undefined;
  const stop = (signal: NodeJS.Signals) => {
    stopping = true;
    current?.kill(signal);
  };
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
  for (;;) {
    const startedAt = Date.now();
    current = spawn(process.execPath, args, { stdio: "inherit" });
    const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      current?.once("exit", (code, signal) => resolve({ code, signal })),
    );
    if (stopping || exit.code === 0) return 0;
    if (Date.now() - startedAt >= HEALTHY_AFTER_MS) backoffMs = FIRST_BACKOFF_MS;
    log(
      `waybill supervise: the control plane ended (${exit.signal ?? `exit code ${exit.code}`}); starting it again in ${backoffMs} ms`,
    );
    await new Promise((resolve) => setTimeout(resolve, backoffMs));
    if (stopping) return 0;
    backoffMs = Math.min(backoffMs * 2, MAX_BACKOFF_MS);
  }
}

/** A systemd unit that runs the control plane with the same state, restarted on any failure. */
export function systemdUnit(options: { node: string; cli: string; stateDir: string; port: number }): string {
  const quote = (text: string) => (/[\s"\\]/.test(text) ? JSON.stringify(text) : text);
  return [
    "[Unit]",
    "Description=Waybill control plane",
    "After=network.target",
    "",
    "[Service]",
    `ExecStart=${[options.node, options.cli, "--state", options.stateDir, "serve", "--port", String(options.port)].map(quote).join(" ")}`,
    "Restart=always",
    "RestartSec=1",
    // The apps and the stage proxies outlive a restart of the control plane, which adopts them.
    "KillMode=process",
    "",
    "[Install]",
    "WantedBy=multi-user.target",
    "",
  ].join("\n");
}
