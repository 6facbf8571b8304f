import { argument, defineCommand, option } from "../command.js";
import { connect } from "../client.js";
import { flag, text, wholeNumber } from "../options.js";

export const logsCommand = defineCommand({
  name: "logs",
  args: { service: argument(text), stage: argument(text) },
  options: {
    stderr: option("--stderr", "show stderr instead of stdout", flag),
    tail: option(
      "--tail <bytes>",
      "how much of the end to show",
      wholeNumber({ min: 1, max: 10_000_000, of: "bytes" }).prefault("65536"),
    ),
  },
  async run({ service, stage }, options, context) {
    const client = await connect(context.stateDir);
    const params = new URLSearchParams({
      stream: options.stderr ? "stderr" : "stdout",
      tail: String(options.tail),
    });
    context.stdout(
      await client.text(
        `/v1/services/${encodeURIComponent(service)}/stages/${encodeURIComponent(stage)}/logs?${params}`,
      ),
    );
    return 0;
  },
});
