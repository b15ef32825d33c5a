/** Every command of the CLI, in the order `edgeflow --help` lists them. */
import type { Command } from "./command.ts";
import { deployCommand, registerCommand } from "./commands/define.ts";
import { importTrexCommand, importYamlCommand } from "./commands/import.ts";
import { runCommand } from "./commands/run.ts";
import { runsCancelCommand, runsListCommand, runsShowCommand } from "./commands/runs.ts";
import { runsLogsCommand, runsRetryCommand } from "./commands/run_ops.ts";
import { flowsArchiveCommand, flowsListCommand, flowsShowCommand } from "./commands/flows.ts";
import {
  deploymentsListCommand,
  deploymentsShowCommand,
  pauseCommand,
  resumeCommand,
} from "./commands/deployments.ts";
import {
  keysCreateCommand,
  keysListCommand,
  keysRevokeCommand,
  poolsCreateCommand,
  poolsListCommand,
  workersListCommand,
} from "./commands/admin.ts";
import { workerStartCommand } from "./commands/worker.ts";
import {
  schedulesPauseCommand,
  schedulesPreviewCommand,
  schedulesResumeCommand,
} from "./commands/schedules.ts";
import {
  webhooksCreateCommand,
  webhooksDeliveriesCommand,
  webhooksListCommand,
  webhooksRedeliverCommand,
  webhooksShowCommand,
} from "./commands/webhooks.ts";

/** The command table `main` dispatches on. */
export const COMMANDS: readonly Command[] = [
  registerCommand,
  deployCommand,
  importTrexCommand,
  importYamlCommand,
  runCommand,
  runsListCommand,
  runsShowCommand,
  runsCancelCommand,
  runsLogsCommand,
  runsRetryCommand,
  flowsListCommand,
  flowsShowCommand,
  flowsArchiveCommand,
  deploymentsListCommand,
  deploymentsShowCommand,
  pauseCommand,
  resumeCommand,
  schedulesPauseCommand,
  schedulesResumeCommand,
  schedulesPreviewCommand,
  webhooksCreateCommand,
  webhooksListCommand,
  webhooksShowCommand,
  webhooksDeliveriesCommand,
  webhooksRedeliverCommand,
  poolsListCommand,
  poolsCreateCommand,
  workersListCommand,
  keysListCommand,
  keysCreateCommand,
  keysRevokeCommand,
  workerStartCommand,
];
