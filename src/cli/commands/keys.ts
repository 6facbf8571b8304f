import { join } from "node:path";
import { Argument } from "commander";
import type { CliCommand } from "../command.js";
import { UserError } from "../../errors.js";
import { generateKeyPair, isKeyType, keyTypes } from "../../evidence/attestation/keys.js";

export const keysCommand: CliCommand = {
  name: "keys",
  configure: (command) =>
    command
      .addArgument(new Argument("<action>", "what to do").choices(["generate"]))
      .option("--type <type>", `key type: ${keyTypes.join(" or ")}`, "ed25519")
      .option("--out <dir>", "folder for the key files (default: <state>/keys)"),
  async run(args, options, context) {
    const action = args[0];
    if (action !== "generate")
      throw new UserError(`unknown keys action "${action ?? ""}" (expected: generate)`);
    const type = options.type ?? "ed25519";
    if (!isKeyType(type))
      throw new UserError(`--type must be ${keyTypes.join(" or ")}, not "${String(type)}"`);
    const outDir = typeof options.out === "string" ? options.out : join(context.stateDir, "keys");
    // Only the paths are printed: the private key never reaches a terminal or a CI log.
    const files = generateKeyPair(type, outDir);
    context.stdout(
      [
        `keyid:       ${files.keyid}`,
        `private key: ${files.privateKeyPath} (keep it secret; sign with --key)`,
        `public key:  ${files.publicKeyPath} (share it; list it in the trust file)`,
        "",
      ].join("\n"),
    );
    return 0;
  },
};
