import { join } from "node:path";
import { argument, defineCommand, option } from "../command.js";
import { oneOf, text } from "../options.js";
import { generateKeyPair, keyTypes } from "../../evidence/attestation/keys.js";

export const keysCommand = defineCommand({
  name: "keys",
  args: { action: argument(oneOf(["generate"]), "what to do") },
  options: {
    type: option(
      "--type <type>",
      `key type: ${keyTypes.join(" or ")}`,
      oneOf(keyTypes, { listedInHelp: false }).prefault("ed25519"),
    ),
    out: option("--out <dir>", "folder for the key files (default: <state>/keys)", text.optional()),
  },
  async run(_args, options, context) {
    // Only the paths are printed: the private key never reaches a terminal or a CI log.
    const files = generateKeyPair(options.type, options.out ?? join(context.stateDir, "keys"));
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
});
