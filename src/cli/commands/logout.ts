import { defineCommand } from "../command.js";
import { forgetLogin } from "../login-file.js";

export const logoutCommand = defineCommand({
  name: "logout",
  args: {},
  options: {},
  async run(_args, _options, context) {
    const file = forgetLogin();
    context.stdout(file === undefined ? "not logged in\n" : `forgot the login in ${file}\n`);
    return 0;
  },
});
