// The `outpost` command: `outpost <noun> <verb>`. Exit codes: 0 success, 1 an API or
// start-up error (message on stderr), 2 bad usage.
// Each command is imported only when it runs (a chunk of its own in dist/): the server's
// modules cost ~0.5 s to load, which `outpost exec` or `outpost --version` must not pay.
// So this file imports nothing but small, dependency-free modules.
import { StartupError } from "../domain/errors.ts";
import { VERSION } from "../version.ts";
import { UsageError } from "./args.ts";
import { ApiError } from "./client.ts";

type Command = (argv: string[]) => Promise<number>;
type LoadCommand = () => Promise<{ run: Command; help: string }>;

const COMMANDS: Record<string, LoadCommand> = {
  serve: async () => {
    const { serve, serveHelp } = await import("./commands/serve.ts");
    return { run: serve, help: serveHelp };
  },
  project: async () => {
    const { project, projectHelp } = await import("./commands/project.ts");
    return { run: project, help: projectHelp };
  },
  environment: async () => {
    const { environment, environmentHelp } = await import("./commands/environment.ts");
    return { run: environment, help: environmentHelp };
  },
  secret: async () => {
    const { secret, secretHelp } = await import("./commands/secret.ts");
    return { run: secret, help: secretHelp };
  },
  egress: async () => {
    const { egress, egressHelp } = await import("./commands/egress.ts");
    return { run: egress, help: egressHelp };
  },
  usage: async () => {
    const { usage, usageHelp } = await import("./commands/usage.ts");
    return { run: usage, help: usageHelp };
  },
  sandbox: async () => {
    const { sandbox, sandboxHelp } = await import("./commands/sandbox.ts");
    return { run: sandbox, help: sandboxHelp };
  },
  exec: async () => {
    const { exec, execHelp } = await import("./commands/exec.ts");
    return { run: exec, help: execHelp };
  },
  cp: async () => {
    const { cp, cpHelp } = await import("./commands/cp.ts");
    return { run: cp, help: cpHelp };
  },
  shell: async () => {
    const { shell, shellHelp } = await import("./commands/shell.ts");
    return { run: shell, help: shellHelp };
  },
  process: async () => {
    const { processCommand, processHelp } = await import("./commands/process.ts");
    return { run: processCommand, help: processHelp };
  },
  events: async () => {
    const { events, eventsHelp } = await import("./commands/events.ts");
    return { run: events, help: eventsHelp };
  },
  chat: async () => {
    const { chat, chatHelp } = await import("./commands/chat.ts");
    return { run: chat, help: chatHelp };
  },
  runs: async () => {
    const { runs, runsHelp } = await import("./commands/runs.ts");
    return { run: runs, help: runsHelp };
  },
  run: async () => {
    const { run, runHelp } = await import("./commands/runs.ts");
    return { run, help: runHelp };
  },
  approve: async () => {
    const { approve, approveHelp } = await import("./commands/approve.ts");
    return { run: approve, help: approveHelp };
  },
  pr: async () => {
    const { pr, prHelp } = await import("./commands/pr.ts");
    return { run: pr, help: prHelp };
  },
  git: async () => {
    const { git, gitHelp } = await import("./commands/git.ts");
    return { run: git, help: gitHelp };
  },
  db: async () => {
    const { db, dbHelp } = await import("./commands/db.ts");
    return { run: db, help: dbHelp };
  },
  user: async () => {
    const { user, userHelp } = await import("./commands/user.ts");
    return { run: user, help: userHelp };
  },
  "login-link": async () => {
    const { loginLink, loginLinkHelp } = await import("./commands/login-link.ts");
    return { run: loginLink, help: loginLinkHelp };
  },
  doctor: async () => {
    const { doctor, doctorHelp } = await import("./commands/doctor.ts");
    return { run: doctor, help: doctorHelp };
  },
};

/** The full help needs every command's text, so it is the one path that loads them all. */
async function help(): Promise<string> {
  const commands = await Promise.all(Object.values(COMMANDS).map((load) => load()));
  return `Usage: outpost <command> [options]

${commands.map((c) => c.help).join("\n\n")}

Global options: --url URL (or OUTPOST_URL), --token TOKEN (or OUTPOST_TOKEN), --data-dir DIR
(or OUTPOST_DATA_DIR; the URL and admin token are read from there), --json (the API's JSON).
outpost --version prints the version.`;
}

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
  if (argv[0] === "--version" || argv[0] === "version") {
    console.log(VERSION);
    return 0;
  }
  const { name, rest } = splitCommand(argv);
  if (!name || name === "--help" || name === "-h" || name === "help") {
    if (name) console.log(await help());
    else console.error(await help());
    return name ? 0 : 2;
  }
  const load = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!load) {
    console.error(`outpost: unknown command '${name}'\n\n${await help()}`);
    return 2;
  }
  const command = await load();
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
      if (error.hint) console.error(`  hint: ${error.hint}`);
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

/**
 * Exits as soon as the command is done. Left to exit by itself, the process first waits
 * for background work of the runtime's own: after Node 20's fetch, 0.2–0.5 s compiling its
 * HTTP parser (WebAssembly) on helper threads. Output is flushed first, since writes to a
 * pipe are asynchronous on some platforms (macOS).
 */
async function exit(code: number): Promise<never> {
  await Promise.all([process.stdout, process.stderr].map((stream) => new Promise((resolve) => stream.write("", resolve))));
  process.exit(code);
}

main(process.argv.slice(2)).then(exit, (error) => {
  console.error(`outpost: ${(error as Error).message}`);
  return exit(1);
});
