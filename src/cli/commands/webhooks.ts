import { UserError } from "../../errors.js";
import {
  addWebhook,
  listWebhooks,
  removeWebhook,
  retryDeadLetter,
  type DeliveryView,
  type SubscriptionView,
} from "../../api/webhooks.js";
import { argument, defineCommand, option } from "../command.js";
import { connect } from "../client.js";
import { printJson } from "../json-output.js";
import { flag, nonEmpty, oneOf, repeatable, text } from "../options.js";
import { table } from "../views.js";

export const webhooksCommand = defineCommand({
  name: "webhooks",
  args: {
    action: argument(oneOf(["list", "add", "remove", "retry"]).prefault("list")),
    target: argument(
      text.optional(),
      "the URL to subscribe (add), the subscription's id (remove), or a dead letter's id (retry)",
    ),
  },
  options: {
    events: option(
      "--events <types...>",
      "event types to send (add): run.finished, a family such as run.*, or * for every run event; several, or comma-separated",
      repeatable(nonEmpty("an event type")),
    ),
    json: option("--json", "print JSON", flag),
  },
  helpAfter:
    "\nEach delivery is a CloudEvent (application/cloudevents+json), signed as Standard Webhooks do:\n" +
    "verify webhook-signature with the secret `add` prints once. A delivery that fails its last\n" +
    "retry is listed under dead letters.\n",
  async run({ action, target }, options, context) {
    // Mistakes in the arguments are told before the control plane is reached (or started).
    const client = () => connect(context.stateDir);
    if (action === "add") {
      if (target === undefined) throw new UserError("waybill webhooks add needs the URL to send events to");
      const events = options.events.flatMap((given) => given.split(",")).filter((type) => type !== "");
      if (events.length === 0) {
        throw new UserError(
          "waybill webhooks add needs --events: run.finished, a family such as run.*, or *",
        );
      }
      const created = await (await client()).call(addWebhook, { body: { url: target, events } });
      if (options.json) printJson(context, created);
      else {
        context.stdout(
          `subscribed ${created.subscription.id}: ${created.subscription.url} gets ${created.subscription.events.join(", ")}\n` +
            `its signing secret, shown only this once (receivers verify webhook-signature with it):\n${created.secret}\n`,
        );
      }
      return 0;
    }
    if (action === "remove") {
      if (target === undefined)
        throw new UserError("waybill webhooks remove needs the subscription's id (see waybill webhooks)");
      const removed = await (await client()).call(removeWebhook, { params: { id: target } });
      if (options.json) printJson(context, removed);
      else context.stdout(`removed ${removed.removed}\n`);
      return 0;
    }
    if (action === "retry") {
      if (target === undefined)
        throw new UserError("waybill webhooks retry needs a dead letter's id (see waybill webhooks)");
      const { delivery } = await (await client()).call(retryDeadLetter, { params: { id: target }, body: {} });
      if (options.json) printJson(context, { delivery });
      else context.stdout(`${delivery.id} is back in line for delivery\n`);
      return 0;
    }
    if (target !== undefined) throw new UserError(`waybill webhooks list takes no argument, got "${target}"`);
    const view = await (await client()).call(listWebhooks, {});
    if (options.json) printJson(context, view);
    else context.stdout(describe(view.subscriptions, view.deadLetters));
    return 0;
  },
});

function describe(subscriptions: SubscriptionView[], deadLetters: DeliveryView[]): string {
  const listed =
    subscriptions.length === 0
      ? "no webhook subscriptions: add one with waybill webhooks add <url> --events 'run.*'\n"
      : table([
          ["ID", "URL", "EVENTS", "CREATED BY", "CREATED"],
          ...subscriptions.map((s) => [s.id, s.url, s.events.join(","), s.createdBy, s.createdAt]),
        ]);
  const urlOf = new Map(subscriptions.map((s) => [s.id, s.url]));
  const dead =
    deadLetters.length === 0
      ? "no dead letters\n"
      : `\ndead letters (send one again: waybill webhooks retry <delivery>):\n${table([
          ["DELIVERY", "TO", "EVENT", "ATTEMPTS", "LAST ERROR"],
          ...deadLetters.map((d) => [
            d.id,
            urlOf.get(d.subscriptionId) ?? d.subscriptionId,
            `${d.eventType} ${d.eventId}`,
            String(d.attempts),
            d.lastError ?? "",
          ]),
        ])}`;
  return `${listed}${dead}`;
}
