/**
 * Who this control-plane replica is, and the lease it holds on a run while it drives it.
 *
 * A replica is `<machine>/<pid>/<random>`: the machine tells which local stages are its own,
 * the random part tells a restarted process from its predecessor with the same pid.
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { hostname } from "node:os";
import { errorMessage } from "../errors.js";
import type { LeaseHolder } from "../store/leases.js";
import type { Store } from "../store/store.js";

export const DEFAULT_LEASE_MS = 15_000;

/** This machine: its systemd/D-Bus machine id, else its host name. */
export function machineId(): string {
  for (const file of ["/etc/machine-id", "/var/lib/dbus/machine-id"]) {
    try {
      const id = readFileSync(file, "utf8").trim();
      if (id !== "") return id;
    } catch {
      // no such file on this system: try the next
    }
  }
  return hostname();
}

export function newReplica(machine = machineId()): LeaseHolder {
  return { replica: `${machine}/${process.pid}/${randomBytes(4).toString("hex")}`, machine };
}

/**
 * A claimed run's lease, renewed every third of its length while the run is driven. When a
 * renewal finds the lease gone (this replica stalled past its expiry and another took the run),
 * `lost` aborts, and the driver stops: its appends would be refused anyway.
 */
export class HeldLease {
  private readonly lostController = new AbortController();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly store: Store,
    readonly runId: string,
    readonly replica: string,
    ttlMs: number,
    log: (line: string) => void,
  ) {
    this.timer = setInterval(
      () => {
        this.store.renewRun(runId, replica, ttlMs).then(
          (held) => {
            if (!held) this.lostController.abort();
          },
          (error: unknown) => log(`run ${runId}: could not renew its lease: ${errorMessage(error)}`),
        );
      },
      Math.max(1, Math.floor(ttlMs / 3)),
    );
    this.timer.unref();
  }

  get lost(): AbortSignal {
    return this.lostController.signal;
  }

  get fence(): { runId: string; replica: string } {
    return { runId: this.runId, replica: this.replica };
  }

  /** Stops renewing; with `release`, lets any replica claim the run at once. */
  async end(release: boolean): Promise<void> {
    clearInterval(this.timer);
    if (release && !this.lost.aborted) await this.store.releaseRun(this.runId, this.replica);
  }
}
