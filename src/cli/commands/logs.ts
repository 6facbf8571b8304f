import type { CliCommand } from "../command.js";
import { connect } from "../client.js";

export const logsCommand: CliCommand = {
  name: "logs",
  configure: (command) =>
    command
      .argument("<service>")
      .argument("<stage>")
      .option("--stderr", "show stderr instead of stdout")
      .option("--tail <bytes>", "how much of the end to show", "65536"),
  async run(args, options, context) {
    const [service = "", stage = ""] = args;
    const client = await connect(context.stateDir);
    const params = new URLSearchParams({
      stream: options.stderr === true ? "stderr" : "stdout",
      tail: String(options.tail ?? "65536"),
    });
    context.stdout(
      await client.text(
        `/v1/services/${encodeURIComponent(service)}/stages/${encodeURIComponent(stage)}/logs?${params}`,
      ),
    );
    return 0;
  },
};
