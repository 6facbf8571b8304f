/**
 * What the integrations keep (`src/integrations`): the CloudEvents received on POST /v1/events,
 * the webhook subscriptions with their secrets (sealed), and one delivery row per (subscription,
 * event) with its attempts. Every state change that two replicas could race on is one
 * conditional UPDATE (a lease with an expiry), which SQLite and PostgreSQL both carry out
 * atomically, so exactly one replica holds an intake event, the fan-out cursor or a delivery at
 * a time. Times are ISO-8601 text (UTC, fixed width), so they compare as text on both dialects.
 *
 * Every lease expiry and due time is set and compared by the database's clock, never by the
 * caller's: callers give durations. Replicas on several machines need not agree on the time, and
 * one whose clock runs ahead cannot take a lease another still holds. On PostgreSQL the time is
 * `clock_timestamp()`, computed in the statement itself; on SQLite (one process, one machine) it
 * is this process's clock.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { sql, type Expression, type Kysely, type Selectable } from "kysely";
import type { EnvSealer } from "./env-sealer.js";
import { dialectOf, type Dialect } from "./migrations.js";

export interface IntakeEventsTable {
  source: string;
  id: string;
  type: string;
  action: string;
  /** The whole CloudEvent as received, JSON */
  event: string;
  received_by: string;
  received_at: string;
  state: string;
  outcome: string | null;
  lease_holder: string | null;
  lease_until: string | null;
}

export interface WebhookSubscriptionsTable {
  id: string;
  url: string;
  events: string;
  secret: string;
  created_by: string;
  created_at: string;
}

export interface WebhookDeliveriesTable {
  id: string;
  subscription_id: string;
  event_id: string;
  event_type: string;
  event_seq: number;
  payload: string;
  state: string;
  attempts: number;
  next_attempt_at: string;
  lease_holder: string | null;
  lease_until: string | null;
  last_error: string | null;
  last_status: number | null;
  created_at: string;
  finished_at: string | null;
}

export interface WebhookCursorTable {
  name: string;
  seq: number;
  lease_holder: string | null;
  lease_until: string | null;
}

export interface IntegrationTables {
  intake_events: IntakeEventsTable;
  webhook_subscriptions: WebhookSubscriptionsTable;
  webhook_deliveries: WebhookDeliveriesTable;
  webhook_cursor: WebhookCursorTable;
}

/** "acting" while the event's ship or approval is under way; "done" once its outcome is recorded */
export type IntakeState = "acting" | "done";

export interface IntakeRecord {
  source: string;
  id: string;
  type: string;
  action: string;
  event: Record<string, unknown>;
  receivedBy: string;
  receivedAt: string;
  state: IntakeState;
  outcome: Record<string, unknown> | null;
}

export interface SubscriptionRecord {
  id: string;
  url: string;
  /** Event type patterns: `run.finished`, `run.*`, or `*` */
  events: string[];
  createdBy: string;
  createdAt: string;
}

export type DeliveryState = "pending" | "delivered" | "dead";

export interface DeliveryRecord {
  id: string;
  subscriptionId: string;
  eventId: string;
  eventType: string;
  eventSeq: number;
  state: DeliveryState;
  attempts: number;
  nextAttemptAt: string;
  lastError: string | null;
  lastStatus: number | null;
  createdAt: string;
  finishedAt: string | null;
}

/** A delivery one replica holds the lease of: what to send, where, and with which secret */
export interface ClaimedDelivery extends DeliveryRecord {
  payload: string;
  url: string;
  secret: string;
}

/** An event of the log to fan out: its position, identity, short type and CloudEvent body */
export interface FanOutEvent {
  seq: number;
  id: string;
  type: string;
  time: string;
  payload: string;
}

const FAN_OUT_CURSOR = "fan-out";
const SECRET_BYTES = 24;

export class IntegrationStore {
  private readonly dialect: Dialect;

  /** `clock` stands in for the database's clock on both dialects, for tests that step time */
  constructor(
    private readonly db: Kysely<IntegrationTables>,
    private readonly sealer?: EnvSealer,
    private readonly clock?: () => number,
  ) {
    this.dialect = dialectOf(db as unknown as Kysely<unknown>);
  }

  /** The database's time `offsetMs` from now, as the ISO text the tables keep */
  private at(offsetMs = 0): Expression<string> {
    if (this.clock === undefined && this.dialect === "postgres") {
      return sql<string>`to_char((clock_timestamp() + ${offsetMs}::double precision * interval '1 millisecond') at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;
    }
    return sql.val(new Date((this.clock ?? Date.now)() + offsetMs).toISOString());
  }

  /**
   * Records a received event and takes its lease, or answers the record already kept for its
   * (source, id): the insert does nothing on a conflict, so of two replicas receiving the same
   * event at once exactly one records it.
   */
  async recordIntake(
    record: Omit<IntakeRecord, "state" | "outcome">,
    lease: { holder: string; leaseMs: number },
  ): Promise<{ recorded: true } | { recorded: false; existing: IntakeRecord }> {
    const result = await this.db
      .insertInto("intake_events")
      .values({
        source: record.source,
        id: record.id,
        type: record.type,
        action: record.action,
        event: JSON.stringify(record.event),
        received_by: record.receivedBy,
        received_at: record.receivedAt,
        state: "acting",
        outcome: null,
        lease_holder: lease.holder,
        lease_until: this.at(lease.leaseMs),
      })
      .onConflict((conflict) => conflict.columns(["source", "id"]).doNothing())
      .executeTakeFirst();
    if (Number(result.numInsertedOrUpdatedRows ?? 0n) === 1) return { recorded: true };
    const existing = await this.intake(record.source, record.id);
    if (existing === undefined) throw new Error(`intake event ${record.source} ${record.id} vanished`);
    return { recorded: false, existing };
  }

  async intake(source: string, id: string): Promise<IntakeRecord | undefined> {
    const row = await this.db
      .selectFrom("intake_events")
      .selectAll()
      .where("source", "=", source)
      .where("id", "=", id)
      .executeTakeFirst();
    return row && toIntake(row);
  }

  /** Takes over an event whose holder's lease ran out before its outcome was recorded (a crash). */
  async takeOverIntake(source: string, id: string, holder: string, leaseMs: number): Promise<boolean> {
    const result = await this.db
      .updateTable("intake_events")
      .set({ lease_holder: holder, lease_until: this.at(leaseMs) })
      .where("source", "=", source)
      .where("id", "=", id)
      .where("state", "=", "acting")
      .where("lease_until", "<", this.at())
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  async finishIntake(
    source: string,
    id: string,
    holder: string,
    outcome: Record<string, unknown>,
  ): Promise<void> {
    await this.db
      .updateTable("intake_events")
      .set({ state: "done", outcome: JSON.stringify(outcome), lease_holder: null, lease_until: null })
      .where("source", "=", source)
      .where("id", "=", id)
      .where("lease_holder", "=", holder)
      .execute();
  }

  /** Forgets an event whose action was refused: it was not accepted, so sending it again may succeed. */
  async forgetIntake(source: string, id: string, holder: string): Promise<void> {
    await this.db
      .deleteFrom("intake_events")
      .where("source", "=", source)
      .where("id", "=", id)
      .where("state", "=", "acting")
      .where("lease_holder", "=", holder)
      .execute();
  }

  /** Events left acting by a holder whose lease has run out, oldest first */
  async abandonedIntake(limit = 20): Promise<IntakeRecord[]> {
    const rows = await this.db
      .selectFrom("intake_events")
      .selectAll()
      .where("state", "=", "acting")
      .where("lease_until", "<", this.at())
      .orderBy("received_at")
      .orderBy("source")
      .orderBy("id")
      .limit(limit)
      .execute();
    return rows.map(toIntake);
  }

  /** Received events, newest first */
  async listIntake(limit: number): Promise<IntakeRecord[]> {
    const rows = await this.db
      .selectFrom("intake_events")
      .selectAll()
      .orderBy("received_at", "desc")
      .orderBy("source", "desc")
      .orderBy("id", "desc")
      .limit(limit)
      .execute();
    return rows.map(toIntake);
  }

  /** A new subscription and its secret, which is answered here only: it is stored sealed. */
  async addSubscription(input: {
    url: string;
    events: string[];
    createdBy: string;
    now: string;
  }): Promise<{ subscription: SubscriptionRecord; secret: string }> {
    const secret = `whsec_${randomBytes(SECRET_BYTES).toString("base64")}`;
    const subscription: SubscriptionRecord = {
      id: `wh_${randomUUID()}`,
      url: input.url,
      events: input.events,
      createdBy: input.createdBy,
      createdAt: input.now,
    };
    await this.db
      .insertInto("webhook_subscriptions")
      .values({
        id: subscription.id,
        url: subscription.url,
        events: JSON.stringify(subscription.events),
        secret: this.sealer === undefined ? secret : this.sealer.seal(secret),
        created_by: subscription.createdBy,
        created_at: subscription.createdAt,
      })
      .execute();
    return { subscription, secret };
  }

  async listSubscriptions(): Promise<SubscriptionRecord[]> {
    const rows = await this.db
      .selectFrom("webhook_subscriptions")
      .select(["id", "url", "events", "created_by", "created_at"])
      .orderBy("created_at")
      .orderBy("id")
      .execute();
    return rows.map((row) => ({
      id: row.id,
      url: row.url,
      events: JSON.parse(row.events) as string[],
      createdBy: row.created_by,
      createdAt: row.created_at,
    }));
  }

  /** Removes a subscription with its deliveries (there is nowhere left to send them); false when unknown */
  async removeSubscription(id: string): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom("webhook_deliveries").where("subscription_id", "=", id).execute();
      const result = await trx.deleteFrom("webhook_subscriptions").where("id", "=", id).executeTakeFirst();
      return Number(result.numDeletedRows) === 1;
    });
  }

  /**
   * Takes (or renews) the right to advance the fan-out cursor; the cursor's position when
   * taken, undefined while another replica's lease runs.
   */
  async claimFanOut(holder: string, leaseMs: number): Promise<number | undefined> {
    await this.db
      .insertInto("webhook_cursor")
      .values({ name: FAN_OUT_CURSOR, seq: 0, lease_holder: null, lease_until: null })
      .onConflict((conflict) => conflict.column("name").doNothing())
      .execute();
    const result = await this.db
      .updateTable("webhook_cursor")
      .set({ lease_holder: holder, lease_until: this.at(leaseMs) })
      .where("name", "=", FAN_OUT_CURSOR)
      .where((eb) =>
        eb.or([
          eb("lease_holder", "is", null),
          eb("lease_holder", "=", holder),
          eb("lease_until", "<", this.at()),
        ]),
      )
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) !== 1) return undefined;
    const row = await this.db
      .selectFrom("webhook_cursor")
      .select("seq")
      .where("name", "=", FAN_OUT_CURSOR)
      .executeTakeFirstOrThrow();
    return Number(row.seq);
  }

  /**
   * Creates a delivery for each (subscription, event) that matches and moves the cursor past the
   * events, in one transaction, only while `holder` still holds the cursor. A delivery that
   * exists already is kept as it is, so fanning the same events out again changes nothing.
   */
  async fanOut(
    holder: string,
    events: FanOutEvent[],
    throughSeq: number,
    matches: (subscription: SubscriptionRecord, event: FanOutEvent) => boolean,
  ): Promise<number> {
    const subscriptions = await this.listSubscriptions();
    return this.db.transaction().execute(async (trx) => {
      const moved = await trx
        .updateTable("webhook_cursor")
        .set({ seq: throughSeq })
        .where("name", "=", FAN_OUT_CURSOR)
        .where("lease_holder", "=", holder)
        .where("seq", "<", throughSeq)
        .executeTakeFirst();
      if (Number(moved.numUpdatedRows) !== 1) return 0;
      let created = 0;
      for (const event of events) {
        for (const subscription of subscriptions) {
          if (!matches(subscription, event)) continue;
          const result = await trx
            .insertInto("webhook_deliveries")
            .values({
              id: `msg_${randomUUID()}`,
              subscription_id: subscription.id,
              event_id: event.id,
              event_type: event.type,
              event_seq: event.seq,
              payload: event.payload,
              state: "pending",
              attempts: 0,
              next_attempt_at: this.at(),
              lease_holder: null,
              lease_until: null,
              last_error: null,
              last_status: null,
              created_at: this.at(),
              finished_at: null,
            })
            .onConflict((conflict) => conflict.columns(["subscription_id", "event_id"]).doNothing())
            .executeTakeFirst();
          created += Number(result.numInsertedOrUpdatedRows ?? 0n);
        }
      }
      return created;
    });
  }

  /** Pending deliveries whose next attempt is due and whose lease (if any) has run out, oldest first */
  async dueDeliveries(limit: number): Promise<string[]> {
    const rows = await this.db
      .selectFrom("webhook_deliveries")
      .select("id")
      .where("state", "=", "pending")
      .where("next_attempt_at", "<=", this.at())
      .where((eb) => eb.or([eb("lease_until", "is", null), eb("lease_until", "<", this.at())]))
      .orderBy("event_seq")
      .orderBy("id")
      .limit(limit)
      .execute();
    return rows.map((row) => row.id);
  }

  /**
   * Takes a due delivery's lease and counts the attempt, in one conditional UPDATE: of replicas
   * that race for it, one gets it. Counting at the claim bounds the attempts even when the
   * process dies mid-request.
   */
  async claimDelivery(id: string, holder: string, leaseMs: number): Promise<ClaimedDelivery | undefined> {
    const result = await this.db
      .updateTable("webhook_deliveries")
      .set((eb) => ({
        lease_holder: holder,
        lease_until: this.at(leaseMs),
        attempts: eb("attempts", "+", 1),
      }))
      .where("id", "=", id)
      .where("state", "=", "pending")
      .where("next_attempt_at", "<=", this.at())
      .where((eb) => eb.or([eb("lease_until", "is", null), eb("lease_until", "<", this.at())]))
      .executeTakeFirst();
    if (Number(result.numUpdatedRows) !== 1) return undefined;
    const row = await this.db
      .selectFrom("webhook_deliveries")
      .innerJoin("webhook_subscriptions", "webhook_subscriptions.id", "webhook_deliveries.subscription_id")
      .selectAll("webhook_deliveries")
      .select(["webhook_subscriptions.url", "webhook_subscriptions.secret"])
      .where("webhook_deliveries.id", "=", id)
      .executeTakeFirst();
    if (row === undefined) {
      // Fanned out while its subscription was being removed: there is nowhere to send it.
      await this.db.deleteFrom("webhook_deliveries").where("id", "=", id).execute();
      return undefined;
    }
    return {
      ...toDelivery(row),
      payload: row.payload,
      url: row.url,
      secret: this.sealer === undefined ? row.secret : this.sealer.open(row.secret),
    };
  }

  /** Records a delivery as delivered, only while `holder` holds it */
  async markDelivered(id: string, holder: string, status: number): Promise<boolean> {
    const result = await this.db
      .updateTable("webhook_deliveries")
      .set({
        state: "delivered",
        last_status: status,
        last_error: null,
        lease_holder: null,
        lease_until: null,
        finished_at: this.at(),
      })
      .where("id", "=", id)
      .where("lease_holder", "=", holder)
      .where("state", "=", "pending")
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  /** Records a failed attempt: the next one `retryInMs` from now, or the dead-letter list when there is none */
  async markFailed(
    id: string,
    holder: string,
    failure: { error: string; status: number | null; retryInMs: number | null },
  ): Promise<void> {
    await this.db
      .updateTable("webhook_deliveries")
      .set({
        state: failure.retryInMs === null ? "dead" : "pending",
        next_attempt_at: this.at(failure.retryInMs ?? 0),
        last_error: failure.error,
        last_status: failure.status,
        lease_holder: null,
        lease_until: null,
        finished_at: failure.retryInMs === null ? this.at() : null,
      })
      .where("id", "=", id)
      .where("lease_holder", "=", holder)
      .where("state", "=", "pending")
      .execute();
  }

  async delivery(id: string): Promise<DeliveryRecord | undefined> {
    const row = await this.db
      .selectFrom("webhook_deliveries")
      .selectAll()
      .where("id", "=", id)
      .executeTakeFirst();
    return row && toDelivery(row);
  }

  /** Deliveries, oldest event first; by state or subscription when asked */
  async deliveries(
    filter: { state?: DeliveryState; subscriptionId?: string; limit?: number } = {},
  ): Promise<DeliveryRecord[]> {
    let query = this.db.selectFrom("webhook_deliveries").selectAll().orderBy("event_seq").orderBy("id");
    if (filter.state !== undefined) query = query.where("state", "=", filter.state);
    if (filter.subscriptionId !== undefined)
      query = query.where("subscription_id", "=", filter.subscriptionId);
    if (filter.limit !== undefined) query = query.limit(filter.limit);
    return (await query.execute()).map(toDelivery);
  }

  /** Puts a dead letter back in line with a fresh count of attempts; false when it is no dead letter */
  async retryDeadLetter(id: string): Promise<boolean> {
    const result = await this.db
      .updateTable("webhook_deliveries")
      .set({ state: "pending", attempts: 0, next_attempt_at: this.at(), finished_at: null })
      .where("id", "=", id)
      .where("state", "=", "dead")
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }
}

function toIntake(row: Selectable<IntakeEventsTable>): IntakeRecord {
  return {
    source: row.source,
    id: row.id,
    type: row.type,
    action: row.action,
    event: JSON.parse(row.event) as Record<string, unknown>,
    receivedBy: row.received_by,
    receivedAt: row.received_at,
    state: row.state as IntakeState,
    outcome: row.outcome === null ? null : (JSON.parse(row.outcome) as Record<string, unknown>),
  };
}

function toDelivery(row: Selectable<WebhookDeliveriesTable>): DeliveryRecord {
  return {
    id: row.id,
    subscriptionId: row.subscription_id,
    eventId: row.event_id,
    eventType: row.event_type,
    eventSeq: Number(row.event_seq),
    state: row.state as DeliveryState,
    attempts: Number(row.attempts),
    nextAttemptAt: row.next_attempt_at,
    lastError: row.last_error,
    lastStatus: row.last_status === null ? null : Number(row.last_status),
    createdAt: row.created_at,
    finishedAt: row.finished_at,
  };
}
