import { createToken, listTokens, revokeToken, type TokenView } from "../../api/tokens.js";
import { roles } from "../../api/contract.js";
import { UserError } from "../../errors.js";
import { argument, defineCommand, option } from "../command.js";
import { connect } from "../client.js";
import { printJson } from "../json-output.js";
import { flag, oneOf, text } from "../options.js";
import { table } from "../views.js";

export const tokensCommand = defineCommand({
  name: "tokens",
  args: {
    action: argument(oneOf(["list", "create", "revoke"]).default("list")),
    name: argument(text.optional(), "the token's name (create), or its id or name (revoke)"),
  },
  options: {
    role: option("--role <role>", `the token's role: ${roles.join(", ")}`, oneOf(roles).optional()),
    json: option("--json", "print JSON", flag),
  },
  async run({ action, name }, { role, json }, context) {
    if (action !== "list" && name === undefined) {
      throw new UserError(
        `waybill tokens ${action} needs a token's name${action === "revoke" ? " or id" : ""}`,
      );
    }
    const client = await connect(context.stateDir);
    if (action === "create") {
      if (role === undefined) throw new UserError(`say the token's role: --role ${roles.join("|")}`);
      const made = await client.call(createToken, { body: { name: name ?? "", role } });
      if (json) printJson(context, made);
      else {
        context.stdout(`${made.token}\n`);
        context.stderr(
          `made token ${made.id} "${made.name}" (${made.role}). It is shown only now: hand it over as ` +
            `WAYBILL_TOKEN, or use it with waybill login <url> --token-stdin. Revoke it with waybill tokens revoke ${made.name}\n`,
        );
      }
      return 0;
    }
    if (action === "revoke") {
      const revoked = await client.call(revokeToken, { params: { token: name ?? "" } });
      if (json) printJson(context, revoked);
      else context.stdout(`revoked token ${revoked.id} "${revoked.name}" (${revoked.role})\n`);
      return 0;
    }
    const { tokens } = await client.call(listTokens, {});
    if (json) printJson(context, { tokens });
    else context.stdout(tokensTable(tokens));
    return 0;
  },
});

function tokensTable(tokens: TokenView[]): string {
  if (tokens.length === 0) return "no tokens made yet: waybill tokens create <name> --role <role>\n";
  const rows = [["ID", "NAME", "ROLE", "MADE", "BY", "REVOKED"]];
  for (const token of tokens) {
    rows.push([
      token.id,
      token.name,
      token.role,
      token.createdAt,
      token.createdBy,
      token.revokedAt === null ? "-" : `${token.revokedAt} by ${token.revokedBy ?? "?"}`,
    ]);
  }
  return table(rows);
}
