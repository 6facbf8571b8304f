import { readFileSync } from "node:fs";
import { whoami } from "../../api/system.js";
import { UserError } from "../../errors.js";
import { ApiClient } from "../client.js";
import { argument, defineCommand, option } from "../command.js";
import { saveLogin } from "../login-file.js";
import { flag, fromText } from "../options.js";

const controlPlaneUrl = fromText("expected the control plane's http:// or https:// URL", (text) => {
  try {
    const url = new URL(text);
    return url.protocol === "http:" || url.protocol === "https:"
      ? url.toString().replace(/\/$/, "")
      : undefined;
  } catch {
    return undefined;
  }
});

export const loginCommand = defineCommand({
  name: "login",
  args: { url: argument(controlPlaneUrl, "the shared control plane, e.g. https://waybill.example.com") },
  options: {
    tokenStdin: option("--token-stdin", "read the token from standard input (else from WAYBILL_TOKEN)", flag),
  },
  async run({ url }, { tokenStdin }, context) {
    const token = (tokenStdin ? readFileSync(0, "utf8") : (process.env.WAYBILL_TOKEN ?? "")).trim();
    if (token === "") {
      throw new UserError(
        "give your token on standard input (waybill login <url> --token-stdin) or as WAYBILL_TOKEN; an admin makes one with waybill tokens create <name> --role <role>",
      );
    }
    let me: { name: string; role: string };
    try {
      me = await new ApiClient(url, token).call(whoami, {});
    } catch (error) {
      if (error instanceof UserError) throw new UserError(`${url} refused the token: ${error.message}`);
      throw new UserError(`cannot reach ${url}: ${(error as Error).message}`);
    }
    const file = saveLogin({ url, token });
    context.stdout(
      `logged in to ${url} as ${me.name} (${me.role}); saved in ${file}. Commands now use it unless --state or WAYBILL_STATE names a local state; waybill logout forgets it.\n`,
    );
    return 0;
  },
});
