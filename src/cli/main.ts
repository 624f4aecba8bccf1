// The `outpost` command: `outpost <noun> <verb>`. Exit codes: 0 success, 1 an API or
// start-up error (message on stderr), 2 bad usage.
import { StartupError } from "../domain/errors.ts";
import { UsageError } from "./args.ts";
import { ApiError } from "./client.ts";
import { doctor, doctorHelp } from "./commands/doctor.ts";
import { events, eventsHelp } from "./commands/events.ts";
import { exec, execHelp } from "./commands/exec.ts";
import { loginLink, loginLinkHelp } from "./commands/login-link.ts";
import { processCommand, processHelp } from "./commands/process.ts";
import { project, projectHelp } from "./commands/project.ts";
import { sandbox, sandboxHelp } from "./commands/sandbox.ts";
import { serve, serveHelp } from "./commands/serve.ts";

type Command = (argv: string[]) => Promise<number>;

const COMMANDS: Record<string, { run: Command; help: string }> = {
  serve: { run: serve, help: serveHelp },
  project: { run: project, help: projectHelp },
  sandbox: { run: sandbox, help: sandboxHelp },
  exec: { run: exec, help: execHelp },
  process: { run: processCommand, help: processHelp },
  events: { run: events, help: eventsHelp },
  "login-link": { run: loginLink, help: loginLinkHelp },
  doctor: { run: doctor, help: doctorHelp },
};

const HELP = `Usage: outpost <command> [options]

${Object.values(COMMANDS)
  .map((c) => c.help)
  .join("\n\n")}

Global options: --url URL (or OUTPOST_URL), --token TOKEN (or OUTPOST_TOKEN), --data-dir DIR
(or OUTPOST_DATA_DIR; the URL and admin token are read from there), --json (the API's JSON).`;

/** Global flags may come before the command (`outpost --json project list`): the command
 *  is the first word that is neither such a flag nor the value of one. */
function splitCommand(argv: string[]): { name: string | undefined; rest: string[] } {
  const takesValue = new Set(["--url", "--token", "--data-dir"]);
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i] ?? "";
    if (word === "--") break;
    if (!word.startsWith("-")) return { name: word, rest: [...argv.slice(0, i), ...argv.slice(i + 1)] };
    if (takesValue.has(word)) i++;
  }
  return { name: argv.find((w) => w === "--help" || w === "-h"), rest: [] };
}

export async function main(argv: string[]): Promise<number> {
  const { name, rest } = splitCommand(argv);
  if (!name || name === "--help" || name === "-h" || name === "help") {
    if (name) console.log(HELP);
    else console.error(HELP);
    return name ? 0 : 2;
  }
  const command = COMMANDS[name];
  if (!command) {
    console.error(`outpost: unknown command '${name}'\n\n${HELP}`);
    return 2;
  }
  const beforeCommand = rest.includes("--") ? rest.slice(0, rest.indexOf("--")) : rest;
  if (beforeCommand.includes("--help") || beforeCommand.includes("-h")) {
    console.log(command.help);
    return 0;
  }
  try {
    return await command.run(rest);
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`outpost: ${error.message}\n\n${command.help}`);
      return 2;
    }
    if (error instanceof ApiError) {
      console.error(`outpost: ${error.message} (${error.code}${error.requestId ? `, request ${error.requestId}` : ""})`);
      return 1;
    }
    if (error instanceof StartupError) {
      console.error(`outpost: ${error.message}\n  fix: ${error.fix}`);
      return 1;
    }
    console.error(`outpost: unexpected error: ${(error as Error).stack ?? error}`);
    return 1;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    console.error(`outpost: ${(error as Error).message}`);
    process.exitCode = 1;
  },
);
