import type { CliCommand } from "../command.js";
import { advisoriesCommand } from "./advisories.js";
import { approveCommand } from "./approve.js";
import { attestCommand } from "./attest.js";
import { downCommand } from "./down.js";
import { evaluateCommand } from "./evaluate.js";
import { evidenceCommand } from "./evidence.js";
import { initCommand } from "./init.js";
import { judgeCommand } from "./judge.js";
import { keysCommand } from "./keys.js";
import { loadtestCommand } from "./loadtest.js";
import { logsCommand } from "./logs.js";
import { policyCommand } from "./policy.js";
import { recallCommand } from "./recall.js";
import { rejectCommand } from "./reject.js";
import { renderCommand } from "./render.js";
import { rollbackCommand } from "./rollback.js";
import { runCommand } from "./run.js";
import { runsCommand } from "./runs.js";
import { sbomCommand } from "./sbom.js";
import { serveCommand } from "./serve.js";
import { shipCommand } from "./ship.js";
import { signatureCommand } from "./signature.js";
import { statusCommand } from "./status.js";
import { upgradeCheckCommand } from "./upgrade-check.js";
import { validateCommand } from "./validate.js";
import { verifyCommand } from "./verify.js";
import { vulnsCommand } from "./vulns.js";

export const commands: CliCommand[] = [
  initCommand,
  validateCommand,
  serveCommand,
  shipCommand,
  statusCommand,
  runsCommand,
  runCommand,
  approveCommand,
  rejectCommand,
  rollbackCommand,
  policyCommand,
  logsCommand,
  downCommand,
  loadtestCommand,
  evaluateCommand,
  judgeCommand,
  signatureCommand,
  keysCommand,
  attestCommand,
  verifyCommand,
  sbomCommand,
  vulnsCommand,
  advisoriesCommand,
  evidenceCommand,
  recallCommand,
  renderCommand,
  upgradeCheckCommand,
];
