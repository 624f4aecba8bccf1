// The registry of every error code a user can see, wherever it shows up: the API's error
// body, a stream's `error` event, a sandbox's `error` (driver failures), the CLI. Each code
// has its HTTP status, a one-line hint saying what to do (the message says what happened;
// the hint never repeats it), and whether sending the same request again can succeed
// without anyone changing anything. Pure data and one pure function, no dependencies, so
// every layer can import it.
//
// Adding a code is one entry here; the compiler then knows it everywhere (ErrorCode, the
// OpenAPI enum, the supervisor mapping). Codes other parts raise under their own names
// (the supervisor's, the drivers') are registered under those same names, and tests check
// that none is missing.

/** The statuses an error may answer with; a typo is a compile error. */
export type ErrorStatus = 400 | 401 | 403 | 404 | 405 | 408 | 409 | 413 | 415 | 416 | 422 | 429 | 431 | 500 | 501 | 502 | 503 | 504;

export interface ErrorSpec {
  status: ErrorStatus;
  /** One line, imperative: what the user should do next. */
  hint: string;
  /** True only when retrying the very same request can succeed (a dependency was down, a deadline passed). */
  retryable: boolean;
}

const RESTART = "`outpost sandbox restart <sandbox>`";

export const ERRORS = {
  // 400: the request itself is malformed
  VALIDATION_FAILED: { status: 400, hint: "Fix the request (details.issues names each bad field); the API reference is at /docs.", retryable: false },
  INVALID_JSON: { status: 400, hint: "Send a valid JSON body with Content-Type: application/json.", retryable: false },
  INVALID_CURSOR: { status: 400, hint: "Pass the previous page's nextCursor unchanged, or leave cursor out to start from the first page.", retryable: false },
  INVALID_REQUEST: { status: 400, hint: "Send a well-formed HTTP/1.1 request; a proxy in between may be altering it.", retryable: false },
  BAD_URL: { status: 400, hint: "Percent-encode each path segment correctly (encodeURIComponent), e.g. %20 for a space.", retryable: false },
  INVALID_ARCHIVE: { status: 400, hint: "Send an uncompressed tar archive, e.g. `tar -cf - -C <folder> .`.", retryable: false },
  // 401/403: who is asking
  UNAUTHENTICATED: { status: 401, hint: "With the CLI pass --token or set OUTPOST_TOKEN; in a browser, sign in with `outpost login-link`.", retryable: false },
  PREVIEW_UNAUTHENTICATED: {
    status: 401,
    hint: "Open the preview from Outpost (GET /api/v1/sandboxes/<id>/previews/<port>/open), or send a bearer token to /preview/<sandbox>/<port>/.",
    retryable: false,
  },
  FORBIDDEN: { status: 403, hint: "Call the API with a bearer token instead of a browser session cookie.", retryable: false },
  PATH_OUTSIDE_SANDBOX: {
    status: 403,
    hint: "Use a path under /workspace or /home/outpost without '..'; symlinks that lead elsewhere are never followed.",
    retryable: false,
  },
  FILE_PERMISSION_DENIED: {
    status: 403,
    hint: "Change the file's permissions in the sandbox (`outpost exec <sandbox> -- chmod …`), or use another path.",
    retryable: false,
  },
  // 404: missing, or not yours (never say which)
  PULL_REQUEST_NOT_FOUND: { status: 404, hint: "Open one first: `outpost pr <sandbox>` (or POST …/git/pull-request).", retryable: false },
  GIT_REF_NOT_FOUND: { status: 404, hint: "List what exists with `outpost git branches <sandbox>` or `outpost git log <sandbox>`.", retryable: false },
  CHECKPOINT_NOT_FOUND: { status: 404, hint: "List the sandbox's checkpoints with `outpost git checkpoints <sandbox>`.", retryable: false },
  NOT_FOUND: { status: 404, hint: "Check the id or name: it may have been deleted, or belong to another user.", retryable: false },
  ROUTE_NOT_FOUND: { status: 404, hint: "Check the method and path against the API reference at /docs.", retryable: false },
  PROJECT_NOT_FOUND: { status: 404, hint: "Use an id or name that `outpost project list` shows.", retryable: false },
  SANDBOX_NOT_FOUND: { status: 404, hint: "Use an id or name that `outpost sandbox list --all` shows.", retryable: false },
  PROCESS_NOT_FOUND: { status: 404, hint: "Use a process id that `outpost process list <sandbox>` shows.", retryable: false },
  USER_NOT_FOUND: { status: 404, hint: "Use a user id or name that `outpost user list` shows (an admin can run it).", retryable: false },
  DEPLOY_KEY_NOT_FOUND: {
    status: 404,
    hint: "Create one with `outpost project deploy-key <project>` (POST /api/v1/projects/<id>/git/deploy-key).",
    retryable: false,
  },
  VARIABLE_NOT_FOUND: { status: 404, hint: "Use a name that `outpost secret list <project>` shows.", retryable: false },
  MEMBER_NOT_FOUND: { status: 404, hint: "Use a user id that `outpost project member list <project>` shows.", retryable: false },
  PATH_NOT_FOUND: {
    status: 404,
    hint: "List the folder (GET /api/v1/sandboxes/<id>/files?path=…) to check the name; pass parents=true to create missing folders.",
    retryable: false,
  },
  TERMINAL_NOT_FOUND: {
    status: 404,
    hint: "Use a terminal id that `outpost shell <sandbox> --list` shows, or open a new one (`outpost shell <sandbox>`).",
    retryable: false,
  },
  PREVIEW_NOT_FOUND: {
    status: 404,
    hint: "A preview is <port>-<sandbox>.<preview domain> (port 1-65535, a sandbox name `outpost sandbox list` shows), or /preview/<sandbox>/<port>/.",
    retryable: false,
  },
  CONVERSATION_NOT_FOUND: {
    status: 404,
    hint: "Use a conversation id that `outpost runs <project>` or GET /api/v1/sandboxes/<id>/conversations shows.",
    retryable: false,
  },
  RUN_NOT_FOUND: { status: 404, hint: "Use a run id that `outpost runs <project>` shows.", retryable: false },
  APPROVAL_NOT_FOUND: { status: 404, hint: "Use an approval id from the run's `approval` events (GET /api/v1/runs/<id>).", retryable: false },
  PREVIEW_SHARE_NOT_FOUND: { status: 404, hint: "Use a share id that GET /api/v1/sandboxes/<id>/previews/<port>/share lists.", retryable: false },
  ENVIRONMENT_NOT_FOUND: {
    status: 404,
    hint: "List the environments with `outpost environment list`; names are exact.",
    retryable: false,
  },
  ENVIRONMENT_EXISTS: { status: 409, hint: "Choose another name, or change the existing environment (PATCH).", retryable: false },
  ENVIRONMENT_IN_USE: {
    status: 409,
    hint: "Move the projects that use it to another environment first (outpost project update --environment).",
    retryable: false,
  },
  ENVIRONMENT_NEEDS_ROOT: {
    status: 409,
    hint: "Run Outpost as root for images and root inside sandboxes; without root, sandboxes use the host's /usr (image: host).",
    retryable: false,
  },
  IMAGE_SOURCE_NOT_FOUND: {
    status: 422,
    hint: "Put the OCI layout or archive under the image import folder (details.importDir) and name its path there.",
    retryable: false,
  },
  IMAGE_BUILD_FAILED: {
    status: 422,
    hint: "Read the build log (outpost environment logs <name>), fix the image or the script, then build again.",
    retryable: false,
  },
  DATABASE_NOT_FOUND: {
    status: 404,
    hint: "Create the project's database with `outpost db <project> create` (POST …/database); kept ones are listed at GET /api/v1/databases.",
    retryable: false,
  },
  // 405/408: the HTTP exchange, before any route
  METHOD_NOT_ALLOWED: { status: 405, hint: "Use one of the methods the API reference at /docs lists for this path.", retryable: false },
  REQUEST_TIMEOUT: { status: 408, hint: "Send the request's headers promptly; check the network or proxy between you and Outpost.", retryable: true },
  // 409: conflicts with the current state
  GITHUB_TOKEN_MISSING: {
    status: 409,
    hint: "Set a token that may open pull requests: `outpost secret set <project> GITHUB_TOKEN --kind credential`.",
    retryable: false,
  },
  GITHUB_REPOSITORY_UNKNOWN: {
    status: 409,
    hint: "Set the project's repository to a GitHub one: `outpost project update <project> --repo https://github.com/OWNER/REPO.git`.",
    retryable: false,
  },
  PULL_REQUEST_HEAD_INVALID: {
    status: 409,
    hint: "Commit on a branch of its own first (POST …/git/branches {name, switch: true}), or name the conversation whose branch it is.",
    retryable: false,
  },
  NOT_A_GIT_REPOSITORY: {
    status: 409,
    hint: "The workspace has no git repository: restart the sandbox (it runs `git init` or clones the project's repository).",
    retryable: false,
  },
  NOTHING_TO_COMMIT: { status: 409, hint: "Change a file first, or check `outpost git status <sandbox>`.", retryable: false },
  GIT_BRANCH_EXISTS: { status: 409, hint: "Pick another name, or switch to it with `outpost git switch <sandbox> BRANCH`.", retryable: false },
  PROJECT_NAME_TAKEN: { status: 409, hint: "Pick another name, or use the existing project.", retryable: false },
  PROJECT_NAME_AMBIGUOUS: { status: 409, hint: "Use the project's id instead of its name: details.ids lists the candidates.", retryable: false },
  PROJECT_LAST_OWNER: {
    status: 409,
    hint: "Make another member owner first (`outpost project member add <project> <user id> --role owner`), or delete the project.",
    retryable: false,
  },
  USER_NAME_TAKEN: { status: 409, hint: "Pick another name, or use the existing user (`outpost user list`).", retryable: false },
  VARIABLE_KIND_CONFLICT: {
    status: 409,
    hint: "Change a secret or credential with `outpost secret set <project> NAME --kind <kind>`, or unset it first.",
    retryable: false,
  },
  PROJECT_HAS_SANDBOXES: { status: 409, hint: "Delete the project's sandboxes first (`outpost sandbox list --project <project>`).", retryable: false },
  DATABASE_CHOICE_REQUIRED: {
    status: 409,
    hint: "Say what happens to its database: ?database=keep (listed at GET /api/v1/databases) or ?database=drop (its data is lost).",
    retryable: false,
  },
  DATABASE_MISSING: {
    status: 409,
    hint: "The database is gone from its server: recreate it empty with `outpost db <project> create` (POST …/database), or restore it there.",
    retryable: false,
  },
  DATABASE_NOT_READY: {
    status: 409,
    hint: "Wait until `outpost db <project> info` shows it ready, or make it again with `outpost db <project> create`.",
    retryable: false,
  },
  DATABASE_EXISTS: {
    status: 409,
    hint: "The project has a database already: delete it first (`outpost db <project> delete`), or attach to another project.",
    retryable: false,
  },
  SANDBOX_WRONG_PHASE: {
    status: 409,
    hint: "Wait until `outpost sandbox get <sandbox>` shows it running, or start it with `outpost sandbox start`.",
    retryable: false,
  },
  TERMINAL_LIMIT_REACHED: {
    status: 409,
    hint: "Close a terminal first (`exit` in it, or `outpost shell <sandbox> --kill <terminal>`); `outpost shell <sandbox> --list` lists them.",
    retryable: false,
  },
  RUN_FINISHED: { status: 409, hint: "The run is over: send a new message to the conversation to continue it.", retryable: false },
  APPROVAL_ALREADY_DECIDED: { status: 409, hint: "Someone answered this request already; the run's events show the decision.", retryable: false },
  CONVERSATION_SANDBOX_GONE: {
    status: 409,
    hint: "Its sandbox was deleted: the history stays readable; start a new conversation in another sandbox of the project.",
    retryable: false,
  },
  PROCESS_NOT_RUNNING: { status: 409, hint: "The process has already exited: read how with `outpost process get`, or start it again.", retryable: false },
  STDIN_CLOSED: { status: 409, hint: "The process takes no more input (its stdin was closed or never piped): start a new one to send more.", retryable: false },
  NOT_A_DIRECTORY: { status: 409, hint: "Name a folder: the path, or a part of it, is a file.", retryable: false },
  NOT_A_FILE: { status: 409, hint: "Name a regular file; a folder is listed with GET …/files or downloaded with GET …/files/archive.", retryable: false },
  PATH_EXISTS: { status: 409, hint: "Pick another name, or pass overwrite=true to replace what is there.", retryable: false },
  DIRECTORY_NOT_EMPTY: { status: 409, hint: "Pass recursive=true to delete the folder with everything in it.", retryable: false },
  // 413/415/431: size and media type
  PAYLOAD_TOO_LARGE: { status: 413, hint: "Keep the request body under 1 MiB; split large input over several requests.", retryable: false },
  CHECKPOINT_TOO_LARGE: {
    status: 413,
    hint: "Add large generated files to .gitignore (checkpoints skip ignored files), then take one again.",
    retryable: false,
  },
  FILE_TOO_LARGE: { status: 413, hint: "Free space in the sandbox (delete files it no longer needs), then send it again.", retryable: false },
  RANGE_NOT_SATISFIABLE: { status: 416, hint: "Ask for a range that starts before the end of the file (its size is in GET …/files?path=…).", retryable: false },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, hint: "Send the body as JSON with Content-Type: application/json.", retryable: false },
  HEADERS_TOO_LARGE: { status: 431, hint: "Keep all headers together under 16 KiB: drop large cookies or custom headers.", retryable: false },
  // 422: valid JSON that cannot be acted on
  GIT_FAILED: { status: 422, hint: "Read git's message above: it says what to change (a conflict, a rejected push, a missing remote).", retryable: false },
  UNPROCESSABLE: { status: 422, hint: "Change what the message names; the same request will be refused again.", retryable: false },
  CONFIRMATION_MISMATCH: {
    status: 422,
    hint: "Pass the exact name the message asks for as `confirm`: it guards against acting on the wrong one.",
    retryable: false,
  },
  DATABASE_QUERY_FAILED: {
    status: 422,
    hint: "Fix the SQL as PostgreSQL's message says; the query box runs one read-only statement, 5 s at most.",
    retryable: false,
  },
  DATABASE_RESTORE_FAILED: {
    status: 422,
    hint: "Fix the SQL at the line psql names (or load a plain pg_dump); nothing of a failed restore is kept.",
    retryable: false,
  },
  IDEMPOTENCY_KEY_REUSED: {
    status: 422,
    hint: "Send a new Idempotency-Key for a new request; a key names one request for 24 hours.",
    retryable: false,
  },
  COMMAND_NOT_FOUND: {
    status: 422,
    hint: "Check the command's spelling and the sandbox's PATH, or install the command in the sandbox first.",
    retryable: false,
  },
  ROOT_UNAVAILABLE: {
    status: 409,
    hint: "Root is only inside sandboxes with an image: give the project an environment (outpost environment create), then restart it.",
    retryable: false,
  },
  IMAGE_INVALID: {
    status: 422,
    hint: "Export the image again (e.g. `skopeo copy docker://… oci-archive:image.tar`); the message names the entry or blob refused.",
    retryable: false,
  },
  COMMAND_NOT_EXECUTABLE: { status: 422, hint: "Make the file executable (chmod +x) or run it through its interpreter (e.g. sh script.sh).", retryable: false },
  CWD_NOT_FOUND: {
    status: 422,
    hint: "Create the folder first, or pass a cwd that exists in the sandbox (relative paths start at the workspace).",
    retryable: false,
  },
  MOVE_ACROSS_FILESYSTEMS: {
    status: 422,
    hint: "Copy it instead (download and upload it, or `cp -a` through `outpost exec`), then delete the original.",
    retryable: false,
  },
  AGENT_NOT_SUPPORTED: { status: 422, hint: "Pick one of the agents GET /api/v1/agents lists (custom needs a command).", retryable: false },
  AGENT_NEEDS_CREDENTIAL: {
    status: 422,
    hint: "Add the agent's model key as a credential, e.g. `outpost secret set <project> ANTHROPIC_API_KEY --kind credential`.",
    retryable: false,
  },
  AGENT_CANNOT_ASK: {
    status: 422,
    hint: "Use claude-code for approvals, or set the project's permission mode to bypass (`outpost project update <project> --permission-mode bypass`).",
    retryable: false,
  },
  SANDBOX_TOO_OLD_FOR_AGENTS: {
    status: 422,
    hint: "Restart the sandbox (`outpost sandbox restart <sandbox>`) so it gets the agent runtime; files are kept.",
    retryable: false,
  },
  // 429
  RATE_LIMITED: { status: 429, hint: "Slow down, then send the request again.", retryable: true },
  // 500: our fault, or the host's
  INTERNAL: { status: 500, hint: "The server log has the details (under the requestId, if there is one); report it if it keeps happening.", retryable: false },
  SECRET_DECRYPT_FAILED: {
    status: 500,
    hint: "Start Outpost with the data dir whose secret.key stored the value, or set the variable again.",
    retryable: false,
  },
  INVALID_SANDBOX_SPEC: {
    status: 500,
    hint: "Check the server's sandbox settings (uid range, sandboxes root, limits) that the message names.",
    retryable: false,
  },
  SANDBOX_START_FAILED: {
    status: 500,
    hint: "Read the failed stage's message and the server log, then `outpost sandbox start <sandbox>` to try again.",
    retryable: false,
  },
  SANDBOX_STOP_FAILED: {
    status: 500,
    hint: "Send the verb again; if it keeps failing, the server log and the host's kernel log (dmesg) say why.",
    retryable: false,
  },
  AGENT_INSTALL_FAILED: { status: 503, hint: "Check that this host reaches the npm registry (`npm ping`), then send the message again.", retryable: true },
  DATABASE_PROVISION_FAILED: {
    status: 500,
    hint: "Read the server's message above, fix what it names, then try again (`outpost db <project> create`).",
    retryable: false,
  },
  DATABASE_DUMP_FAILED: { status: 500, hint: "Read pg_dump's message above; check the project databases' server (its log says why).", retryable: false },
  // 501
  DATABASE_DUMP_UNAVAILABLE: {
    status: 501,
    hint: "Install PostgreSQL client tools as new as the server on the Outpost host: apt-get install -y postgresql-client-15.",
    retryable: false,
  },
  PTY_UNAVAILABLE: {
    status: 501,
    hint: "Run the command without a terminal, or run `npm run build` on the server host and restart the sandbox.",
    retryable: false,
  },
  // 502/504: the sandbox's supervisor misbehaved or did not answer in time (that sandbox only)
  GITHUB_API_FAILED: { status: 502, hint: "Check the token's access to the repository and GitHub's status; the message is GitHub's own.", retryable: false },
  CHECKPOINT_REJECTED: {
    status: 502,
    hint: "The sandbox sent git objects that fail git's checks; run `git fsck` in the sandbox, or restart it.",
    retryable: false,
  },
  GIT_OUTPUT_TOO_LARGE: { status: 502, hint: "Ask for less: a path, a smaller range of commits, or the unified diff of one file.", retryable: false },
  SUPERVISOR_BAD_RESPONSE: { status: 502, hint: `Send the request again; if it keeps failing, restart the sandbox (${RESTART}).`, retryable: false },
  PORT_NOT_LISTENING: { status: 502, hint: "Start the server inside the sandbox, or check which port it listens on.", retryable: false },
  PREVIEW_APP_BAD_RESPONSE: {
    status: 502,
    hint: "Check what listens on that port in the sandbox: it must speak HTTP/1.1, with response headers under 16 KiB.",
    retryable: false,
  },
  PREVIEW_APP_TIMEOUT: { status: 504, hint: "Check that the app in the sandbox is not stuck (its logs), then reload the page.", retryable: true },
  SUPERVISOR_TIMEOUT: { status: 504, hint: `Send the request again; if it keeps timing out, restart the sandbox (${RESTART}).`, retryable: true },
  SANDBOX_WAKE_TIMEOUT: {
    status: 504,
    hint: "It is still starting after its idle stop: retry shortly; `outpost sandbox get <sandbox>` shows its stages.",
    retryable: true,
  },
  SUPERVISOR_NOT_READY: {
    status: 504,
    hint: "The host may be overloaded: check its load, then `outpost sandbox start <sandbox>` to try again.",
    retryable: true,
  },
  // 503: a dependency is down or missing on this host
  SANDBOX_CAPACITY_REACHED: {
    status: 503,
    hint: "Stop or delete a running sandbox (it starts by itself once there is room), or raise OUTPOST_MAX_SANDBOXES / OUTPOST_MAX_SANDBOX_MEMORY_MB.",
    retryable: true,
  },
  DATABASE_UNAVAILABLE: { status: 503, hint: "Retry shortly; if it persists, check that PostgreSQL runs (`outpost doctor`).", retryable: true },
  DATABASES_DISABLED: {
    status: 503,
    hint: "Start Outpost with OUTPOST_DATABASE_PROVISIONER=managed, or =server with OUTPOST_DATABASE_ADMIN_URL.",
    retryable: false,
  },
  DATABASE_SERVER_UNAVAILABLE: {
    status: 503,
    hint: "Retry shortly; if it persists, check the project databases' PostgreSQL server (the server log says why it failed).",
    retryable: true,
  },
  NOT_READY: { status: 503, hint: "Retry shortly: Outpost is still starting (GET /readyz says what it waits for).", retryable: true },
  SANDBOX_RUNTIME_UNAVAILABLE: { status: 503, hint: "Run `outpost doctor` on the server host and apply the fix it prints.", retryable: false },
  SUPERVISOR_UNAVAILABLE: { status: 503, hint: `Retry shortly; if it persists, restart the sandbox (${RESTART}).`, retryable: true },
  SUPERVISOR_PROTOCOL_MISMATCH: { status: 503, hint: `Restart the sandbox so it runs this Outpost version's supervisor (${RESTART}).`, retryable: false },
  PREVIEW_BUSY: { status: 503, hint: "Close some of this sandbox's preview connections (tabs, streams, sockets), then retry.", retryable: true },
  SHUTTING_DOWN: { status: 503, hint: "The sandbox is stopping or restarting: retry once `outpost sandbox get <sandbox>` shows it running.", retryable: true },
  BWRAP_MISSING: { status: 503, hint: "On the server host: apt-get install -y bubblewrap", retryable: false },
  BWRAP_FAILED: {
    status: 503,
    hint: "Run `outpost doctor` on the server host: bubblewrap must be 0.8 or newer, on a host that allows namespaces.",
    retryable: false,
  },
  USERNS_DENIED: { status: 503, hint: "Allow unprivileged user namespaces on the server host (`outpost doctor` prints the setting).", retryable: false },
  CGROUP_SETUP_FAILED: {
    status: 503,
    hint: "Check that Outpost can write its cgroup on the server host (`outpost doctor`), then start the sandbox again.",
    retryable: false,
  },
  SANDBOX_PATH_UNREACHABLE: {
    status: 503,
    hint: "Let sandbox uids pass the folders above the data dir (chmod o+x), or move OUTPOST_DATA_DIR under /var/lib.",
    retryable: false,
  },
  HOST_UIDS_EXHAUSTED: { status: 503, hint: "Delete sandboxes you no longer need: each one holds a host uid until it is deleted.", retryable: false },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERRORS;

export const isErrorCode = (code: unknown): code is ErrorCode => typeof code === "string" && Object.hasOwn(ERRORS, code);

/** Stored and shown messages are bounded: a driver's log tail or a rogue supervisor's text can be long. */
export const MAX_DESCRIBED_MESSAGE_CHARS = 4000;

export interface DescribedError {
  code: ErrorCode;
  message: string;
  hint: string;
  retryable: boolean;
}

/**
 * Any thrown thing as a registered code, a bounded message, a hint and whether to retry.
 * A code that is not registered (ENOENT, a pg SQLSTATE, junk) becomes `fallback`: INTERNAL
 * by default, SANDBOX_START_FAILED where the context knows better. A `fix` on the error
 * (OutpostError, StartupError) is more specific than the registry's hint and wins.
 */
export function describeError(error: unknown, fallback: ErrorCode = "INTERNAL"): DescribedError {
  const fields = typeof error === "object" && error !== null ? (error as { code?: unknown; fix?: unknown }) : {};
  const code = isErrorCode(fields.code) ? fields.code : fallback;
  const spec: ErrorSpec = ERRORS[code];
  const fix = typeof fields.fix === "string" && fields.fix.trim() ? oneLine(fields.fix) : undefined;
  return { code, message: boundMessage(messageOf(error)), hint: fix ?? spec.hint, retryable: spec.retryable };
}

function messageOf(error: unknown): string {
  try {
    const message = typeof error === "object" && error !== null && "message" in error ? (error as { message: unknown }).message : error;
    const text = typeof message === "string" ? message : String(message);
    return text.trim() ? text : "(no message)";
  } catch {
    // An object without a usable toString (Object.create(null), a throwing getter).
    return "(an error that cannot be shown as text)";
  }
}

function boundMessage(message: string): string {
  if (message.length <= MAX_DESCRIBED_MESSAGE_CHARS) return message;
  let end = MAX_DESCRIBED_MESSAGE_CHARS - 1;
  // Never cut a character in half: a lone surrogate is not valid text.
  if (/[\uD800-\uDBFF]/.test(message.charAt(end - 1))) end--;
  return `${message.slice(0, end)}…`;
}

const oneLine = (text: string): string => text.replace(/\s*\n\s*/g, " ").trim();
