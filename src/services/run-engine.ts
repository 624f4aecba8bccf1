// Drives agent runs: starts the next queued run of a conversation as a background process in
// its sandbox (through the supervisor, as the sandbox user), follows the process's journal,
// turns each stdout line into normalized events with the agent's adapter, and stores them
// with the journal record they came from in the same transaction as the run's cursor. The
// store is the truth for what users see; the journal in the sandbox bridges a control-plane
// restart: on start the engine re-attaches to every run that is not over and reads on from
// its cursor, so a kill -9 loses nothing and repeats nothing.
//
// Side effects on the agent (answers to its questions, closing its stdin, interrupting it)
// happen after the transaction that decided them commits, and are remembered in the store
// (`answered`, `outcome`, `cancel_reason`) so a restart in between sends them again.
import { Readable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import type pg from "pg";
import type { AgentAdapter, AgentOutput, AgentParser } from "../domain/agents/adapter.ts";
import type { RunEventPayload, RunStatus, RunUsage } from "../domain/agents/events.ts";
import { agentAdapter } from "../domain/agents/registry.ts";
import { type AgentSettings, agentSettings, needsApproval } from "../domain/agents/settings.ts";
import { minusUsage, plusUsage, ZERO_USAGE } from "../domain/agents/usage.ts";
import { describeError } from "../domain/error-registry.ts";
import { OutpostError } from "../domain/errors.ts";
import { newId } from "../domain/ids.ts";
import type { Redactor } from "../domain/redaction.ts";
import type { Driver } from "../drivers/driver.ts";
import { withTransaction } from "../store/database.ts";
import { appendEvent } from "../store/events.ts";
import { findProjectById } from "../store/projects.ts";
import * as store from "../store/runs.ts";
import { getSandbox } from "../store/sandboxes.ts";
import type { SupervisorClient } from "../supervisor/client.ts";
import type { LogExitLine, LogRecord } from "../supervisor/protocol.ts";
import type { AgentInstaller } from "./agent-installer.ts";
import { batches } from "./async-batches.ts";
import { redactorFor, redactPayload } from "./redact-output.ts";
import type { SandboxGate } from "./sandbox-wake.ts";
import type { CommandVariables } from "./variables.ts";

/** The capability word of supervisors whose processes take stdin and journal lines. */
const PROCESS_INPUT = "process-input";
const SANDBOX_HOME = "/home/outpost";
const WORKSPACE = "/workspace";
const NODE = "/opt/outpost/bin/node";
/** A line of agent output longer than this is dropped (with an error event), not buffered. */
const MAX_LINE_BYTES = 8 * 1024 * 1024;
const STDERR_TAIL_CHARS = 2000;
/** How often the engine compares what it follows with the runs the store says are going. */
const RESYNC_MS = 10_000;
/** The git work before a turn (branch, checkpoint) gives up after this long; the turn goes ahead. */
const TURN_GIT_DEADLINE_MS = 120_000;
/** Lines stored in one transaction at most. */
const MAX_BATCH = 256;

/** What the adapter made of one stdout line, and the journal record it came from. */
interface ParsedLine {
  outputs: AgentOutput[];
  journalSeq: number;
}

export interface RunEngineOptions {
  pool: pg.Pool;
  driver: Pick<Driver, "connect">;
  /** Turns a supervisor failure into a registered error (SandboxCommands.translate). */
  translate: (error: unknown) => OutpostError;
  projectVariables: (projectId: string) => Promise<CommandVariables>;
  installer: AgentInstaller;
  log: { info: (obj: object, msg: string) => void; warn: (obj: object, msg: string) => void };
  /** After an interrupt, how long before SIGTERM, and again before SIGKILL. */
  stopGraceMs?: number;
  watchdogTickMs?: number;
  /** Called after events were committed (wakes this process's streams without waiting for NOTIFY). */
  onEvents?: () => void;
  /** Git around each turn (services/git/turns.ts): branch, checkpoint, trailers; push after. */
  turns?: TurnHooks;
  /** How long the git work before a turn may take (ms; default 2 minutes). */
  turnGitDeadlineMs?: number;
  /** Idle stop and wake: a run's launch wakes a sandbox stopped for idleness, and holds it busy. */
  gate?: SandboxGate;
}

/** What happens around an agent turn besides the agent itself. Neither may fail the turn. */
export interface TurnHooks {
  /** Before the agent starts: its environment additions and working folder (default /workspace).
   *  `signal` ends it when it takes too long: the turn then goes ahead without it. */
  before(run: store.RunRow, client: SupervisorClient, signal: AbortSignal): Promise<{ env?: Record<string, string>; cwd?: string }>;
  /** After the run's final status is stored. */
  after(run: store.RunRow): Promise<void>;
}

/** A run the engine follows: what it needs between lines. */
interface ActiveRun {
  run: store.RunRow;
  adapter: AgentAdapter;
  parser: AgentParser;
  abort: AbortController;
  /** The last journal record read (stored with the next line's events). */
  journalSeq: number;
  pieces: Buffer[];
  pieceBytes: number;
  openTools: Set<string>;
  lastOutputAt: number;
  stderrTail: string;
  stopping: boolean;
  stopTimers: NodeJS.Timeout[];
  settings?: AgentSettings;
  /** What the conversation's earlier runs reported, for agents whose usage is cumulative. */
  usageBefore?: RunUsage;
  /** The project's secrets, kept out of what is stored (null: it has none). */
  redactor?: Redactor | null;
}

export class RunEngine {
  readonly #active = new Map<string, ActiveRun>();
  /** One launch at a time per conversation: a chain of promises. */
  readonly #kicks = new Map<string, Promise<void>>();
  #watchdog: NodeJS.Timeout | null = null;
  #closed = false;
  #lastResync = Date.now();

  constructor(private readonly options: RunEngineOptions) {}

  /** Re-attaches to runs that are not over and starts queued ones. */
  async start(): Promise<void> {
    const runs = await store.activeRuns(this.options.pool);
    for (const run of runs) {
      if (run.status === "queued") this.kick(run.conversationId);
      else this.#attach(run);
    }
    this.#watchdog = setInterval(() => void this.#watch(), this.options.watchdogTickMs ?? 1000);
    this.#watchdog.unref();
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#watchdog) clearInterval(this.#watchdog);
    for (const active of this.#active.values()) {
      active.abort.abort();
      for (const timer of active.stopTimers) clearTimeout(timer);
    }
    this.#active.clear();
    await Promise.allSettled([...this.#kicks.values()]);
  }

  /** Starts the conversation's next queued run, if none is running. */
  kick(conversationId: string): void {
    if (this.#closed) return;
    const previous = this.#kicks.get(conversationId) ?? Promise.resolve();
    const next = previous
      .then(async () => {
        const run = await store.nextQueuedRun(this.options.pool, conversationId);
        if (run) await this.#launch(run);
      })
      .catch((error: unknown) => this.options.log.warn({ err: (error as Error).message, conversationId }, "could not start the next run"))
      .finally(() => {
        if (this.#kicks.get(conversationId) === next) this.#kicks.delete(conversationId);
      });
    this.#kicks.set(conversationId, next);
  }

  /** Asks a run to end: a queued one ends at once; a running one is interrupted, then signalled. */
  async cancel(runId: string, reason: string, endAs: "cancelled" | "failed" = "cancelled"): Promise<store.RunRow> {
    const { run, endedNow } = await withTransaction(this.options.pool, async (tx) => {
      const run = await store.runById(tx, runId, true);
      if (!run) throw new OutpostError("RUN_NOT_FOUND", `No run '${runId}'.`);
      if (isOver(run.status)) throw new OutpostError("RUN_FINISHED", `Run ${runId} is already ${run.status}.`);
      if (run.status === "queued") {
        await this.#finish(tx, run, endAs, reason, []);
        return { run: { ...run, status: endAs, reason }, endedNow: true };
      }
      if (run.cancelReason === null) await store.updateRun(tx, run.id, { cancelReason: reason, cancelStatus: endAs });
      return { run: { ...run, cancelReason: run.cancelReason ?? reason, cancelStatus: run.cancelStatus ?? endAs }, endedNow: false };
    });
    if (endedNow) return run;
    const active = this.#active.get(runId);
    if (active) {
      active.run = { ...active.run, cancelReason: run.cancelReason, cancelStatus: run.cancelStatus };
      await this.#stop(active);
    }
    return run;
  }

  /** A person's answer to a question the agent asked. */
  async decide(runId: string, approvalId: string, answer: { allow: boolean; message: string | null; userId: string }): Promise<store.ApprovalRow> {
    const decided = await withTransaction(this.options.pool, async (tx) => {
      const run = await store.runById(tx, runId, true);
      if (!run) throw new OutpostError("RUN_NOT_FOUND", `No run '${runId}'.`);
      const approval = await store.approvalById(tx, runId, approvalId, true);
      if (!approval) throw new OutpostError("APPROVAL_NOT_FOUND", `Run ${runId} has no approval '${approvalId}'.`);
      if (approval.decision !== "pending")
        throw new OutpostError("APPROVAL_ALREADY_DECIDED", `Approval ${approvalId} was answered already (${approval.decision}).`);
      if (isOver(run.status)) throw new OutpostError("RUN_FINISHED", `Run ${runId} is already ${run.status}.`);
      const decision = answer.allow ? "allow" : "deny";
      await store.decideApproval(tx, approval.id, { decision, message: answer.message, userId: answer.userId });
      const events: RunEventPayload[] = [approvalEvent({ ...approval, decision, message: answer.message })];
      const stillPending = (await store.approvalsOfRun(tx, runId)).some((a) => a.id !== approval.id && a.decision === "pending");
      if (!stillPending && run.status === "waiting") {
        await store.updateRun(tx, run.id, { status: "running" });
        events.push({ type: "status", status: "running" });
        await this.#globalStatus(tx, run, "running", null);
      }
      await store.appendRunEvents(
        tx,
        run,
        events.map((payload) => ({ payload, journalSeq: null })),
      );
      return { ...approval, decision, message: answer.message } as store.ApprovalRow;
    });
    const active = this.#active.get(runId);
    if (active) {
      if (active.run.status === "waiting") active.run = { ...active.run, status: "running" };
      active.lastOutputAt = Date.now();
      await this.#answer(active, decided);
    }
    return decided;
  }

  // ---- launching ------------------------------------------------------------------------

  /** Holds the sandbox busy until the run is recorded as running; from then on the store
   *  says it is in use (an active run keeps its sandbox from an idle stop until it ends). */
  async #launch(run: store.RunRow): Promise<void> {
    const release = this.options.gate ? await this.options.gate.hold(run.sandboxId) : () => {};
    try {
      await this.#start(run);
    } finally {
      release();
    }
  }

  async #start(run: store.RunRow): Promise<void> {
    const adapter = agentAdapter(run.agent);
    try {
      if (!adapter) throw new OutpostError("AGENT_NOT_SUPPORTED", `Agent '${run.agent}' is not supported here.`);
      const conversation = await store.conversationById(this.options.pool, run.conversationId);
      const project = await findProjectById(this.options.pool, run.projectId);
      const sandbox = await getSandbox(this.options.pool, run.sandboxId);
      if (!conversation || !project || !sandbox) throw new OutpostError("CONVERSATION_NOT_FOUND", "The conversation, its project or its sandbox is gone.");
      // A new message wakes a sandbox stopped for idleness.
      const usable = this.options.gate ? await this.options.gate.awake(sandbox) : sandbox.phase === "running";
      if (!usable) {
        throw new OutpostError("SANDBOX_WRONG_PHASE", `Sandbox ${sandbox.name} is ${sandbox.phase}; the run needs it running.`);
      }
      const link = await this.#call(() => this.options.driver.connect(run.sandboxId));
      if (!link.info.capabilities.includes(PROCESS_INPUT)) {
        throw new OutpostError("SANDBOX_TOO_OLD_FOR_AGENTS", `Sandbox ${sandbox.name} was started by an older Outpost whose supervisor cannot run agents.`);
      }
      const client = link.client;
      // A process for this run may exist already: the control plane died between starting it
      // and recording it. Adopt it rather than start a second agent.
      const name = processName(run.id);
      const existing = (await this.#call(() => client.listProcesses())).items.find((p) => p.name === name);
      if (existing) {
        const started = await this.#markStarted(run, existing.id);
        if (started) this.#attach(started);
        return;
      }
      const variables = await this.options.projectVariables(run.projectId);
      assertCredential(adapter, variables.env);
      const settings = agentSettings(project.agent);
      if (settings.permissionMode === "approve" && !adapter.capabilities.approvals) {
        throw new OutpostError("AGENT_CANNOT_ASK", `The project wants tool calls approved, and ${adapter.name} cannot ask before it runs a tool.`);
      }
      const installed = adapter.install ? await this.options.installer.ensure(adapter) : null;
      if (adapter.instructionsFile && project.instructions) {
        await this.#call(() =>
          client.writeFile(`${SANDBOX_HOME}/${adapter.instructionsFile}`, Readable.from([Buffer.from(project.instructions!)]), {
            parents: true,
            overwrite: true,
          }),
        );
      }
      const turn = await this.#beforeTurn(run, client);
      const launch = adapter.launch({
        prompt: run.prompt,
        sessionId: conversation.sessionId,
        model: run.model,
        permissionMode: settings.permissionMode,
        maxTurns: run.limits.maxTurns,
        command: conversation.command ?? undefined,
        paths: {
          installDir: installed?.installDir ?? "",
          executable: installed?.executable ?? "",
          node: NODE,
          workspace: turn.cwd ?? WORKSPACE,
          home: SANDBOX_HOME,
        },
      });
      const command = installed?.viaNode ? [NODE, ...launch.command] : launch.command;
      const process = await this.#call(() =>
        client.startProcess({
          command,
          env: { ...variables.env, ...turn.env, ...launch.env },
          name,
          stdin: "pipe",
          journal: "lines",
          ...(turn.cwd ? { cwd: turn.cwd } : {}),
        }),
      );
      const started = await this.#markStarted(run, process.id);
      if (!started) {
        // Cancelled while it was being started.
        await client.signalProcess(process.id, "SIGKILL").catch(() => {});
        return;
      }
      // Followed from here on, whatever happens to the input: a quick command may have
      // exited already, and its output and exit must still be read.
      this.#attach(started);
      const input = launch.stdin.map((line) => `${line}\n`).join("");
      if (input || launch.closeStdin) {
        await client.writeProcessInput(process.id, input, { eof: launch.closeStdin }).catch((error: unknown) => {
          const code = (error as { code?: string }).code;
          if (code !== "STDIN_CLOSED" && code !== "PROCESS_NOT_RUNNING") {
            this.options.log.warn({ runId: run.id, err: (error as Error).message }, "could not give the agent its prompt");
          }
        });
      }
    } catch (error) {
      const failure = error instanceof OutpostError ? error : this.options.translate(error);
      this.options.log.warn({ runId: run.id, code: failure.code, err: failure.message }, "run could not start");
      const described = describeError(failure);
      await withTransaction(this.options.pool, async (tx) => {
        const current = await store.runById(tx, run.id, true);
        if (!current || current.status !== "queued") return;
        await this.#finish(tx, current, "failed", failure.message, [{ type: "error", code: described.code, message: described.message, hint: described.hint }]);
      });
      this.kick(run.conversationId);
    }
  }

  /** queued → running with its process; null when the run was cancelled meanwhile. */
  async #markStarted(run: store.RunRow, processId: string): Promise<store.RunRow | null> {
    return withTransaction(this.options.pool, async (tx) => {
      const current = await store.runById(tx, run.id, true);
      if (!current || current.status !== "queued") return null;
      const startedAt = new Date();
      await store.updateRun(tx, run.id, { status: "running", processId, startedAt, lastOutputAt: startedAt });
      await store.appendRunEvents(tx, current, [{ payload: { type: "status", status: "running" }, journalSeq: null }]);
      await this.#globalStatus(tx, current, "running", null);
      return { ...current, status: "running", processId, startedAt };
    });
  }

  // ---- following ------------------------------------------------------------------------

  #attach(run: store.RunRow): void {
    if (this.#active.has(run.id) || this.#closed) return;
    const adapter = agentAdapter(run.agent);
    if (!adapter || !run.processId) {
      void this.#failDetached(run, adapter ? "the run has no agent process" : `agent '${run.agent}' is not supported here`);
      return;
    }
    const active: ActiveRun = {
      run,
      adapter,
      parser: adapter.parser(),
      abort: new AbortController(),
      journalSeq: run.journalSeq,
      pieces: [],
      pieceBytes: 0,
      openTools: new Set(),
      lastOutputAt: Date.now(),
      stderrTail: "",
      stopping: false,
      stopTimers: [],
    };
    this.#active.set(run.id, active);
    void this.#follow(active).finally(() => {
      for (const timer of active.stopTimers) clearTimeout(timer);
      if (this.#active.get(run.id) === active) this.#active.delete(run.id);
    });
  }

  async #follow(active: ActiveRun): Promise<void> {
    const { signal } = active.abort;
    let delayMs = 100;
    let resent = false;
    while (!signal.aborted) {
      try {
        const { client } = await this.options.driver.connect(active.run.sandboxId);
        if (!resent) {
          resent = true;
          await this.#resendSideEffects(active, client);
        }
        const records = await client.processLogs(active.run.processId!, { after: active.journalSeq, follow: true, signal });
        delayMs = 100;
        // What arrived together is stored together: one transaction per batch of lines.
        for await (const batch of batches(records, MAX_BATCH)) {
          const lines: ParsedLine[] = [];
          let cursor = active.journalSeq;
          let exit: LogExitLine | null = null;
          for (const item of batch) {
            if ("seq" in item) {
              cursor = item.seq;
              const line = this.#line(active, item);
              if (line) lines.push(line);
            } else if (item.type === "exit") {
              exit = item;
            }
          }
          if (lines.length > 0) await this.#apply(active, lines, cursor);
          if (exit) return await this.#exited(active, exit);
        }
      } catch (error) {
        if (signal.aborted) return;
        // Read again from the last stored line, with a parser that has not seen the rest.
        active.parser = active.adapter.parser();
        active.pieces = [];
        active.pieceBytes = 0;
        const code = (error as { code?: string }).code;
        if (code === "PROCESS_NOT_FOUND") return await this.#exited(active, null, "the agent's process is gone from the sandbox");
        const sandbox = await getSandbox(this.options.pool, active.run.sandboxId).catch(() => null);
        if (!sandbox || ["stopping", "stopped", "deleting", "deleted", "failed"].includes(sandbox.phase)) {
          return await this.#exited(active, null, `the sandbox is ${sandbox?.phase ?? "gone"}`);
        }
        this.options.log.warn({ runId: active.run.id, err: (error as Error).message }, "following a run failed; trying again");
        await sleep(delayMs, undefined, { signal }).catch(() => {});
        delayMs = Math.min(delayMs * 2, 5000);
      }
    }
  }

  /** What a restart may have cut off after its transaction: answers, the end of stdin, a cancel. */
  async #resendSideEffects(active: ActiveRun, client: SupervisorClient): Promise<void> {
    const run = (await store.runById(this.options.pool, active.run.id)) ?? active.run;
    active.run = run;
    for (const approval of await store.approvalsOfRun(this.options.pool, run.id)) {
      if (approval.decision !== "pending" && !approval.answered) await this.#answer(active, approval, client);
    }
    if (run.outcome !== null) await client.writeProcessInput(run.processId!, "", { eof: true }).catch(() => {});
    if (run.cancelReason !== null) await this.#stop(active);
  }

  /** One journal record: a whole stdout line becomes what the adapter makes of it; other
   * records only count as output (stderr is kept for a failure's reason). */
  #line(active: ActiveRun, record: LogRecord): ParsedLine | null {
    active.lastOutputAt = Date.now();
    if (record.stream !== "stdout") {
      if (record.stream === "stderr") active.stderrTail = (active.stderrTail + Buffer.from(record.data, "base64").toString("utf8")).slice(-STDERR_TAIL_CHARS);
      return null;
    }
    const data = Buffer.from(record.data, "base64");
    if (record.more) {
      if (active.pieceBytes + data.length <= MAX_LINE_BYTES) active.pieces.push(data);
      active.pieceBytes += data.length;
      return null;
    }
    const overlong = active.pieceBytes + data.length > MAX_LINE_BYTES;
    const text = overlong
      ? ""
      : Buffer.concat([...active.pieces, data])
          .toString("utf8")
          .replace(/\r?\n$/, "");
    active.pieces = [];
    active.pieceBytes = 0;
    const outputs: AgentOutput[] = overlong
      ? [
          {
            kind: "event",
            event: { type: "error", code: "AGENT_OUTPUT_TOO_LONG", message: `The agent printed a line over ${MAX_LINE_BYTES} bytes; it was dropped.` },
          },
        ]
      : safeParse(active.parser, text);
    return { outputs, journalSeq: record.seq };
  }

  /** Stores what some lines meant, with the journal cursor past them, then acts on it. */
  async #apply(active: ActiveRun, lines: ParsedLine[], cursor: number): Promise<void> {
    // Read once per run: a settings change applies from the next run.
    active.settings ??= agentSettings((await findProjectById(this.options.pool, active.run.projectId))?.agent);
    const redactor = await this.#redactorOf(active);
    const settings = active.settings;
    const answers: store.ApprovalRow[] = [];
    let closeStdin = false;
    let costOver: string | null = null;
    await withTransaction(this.options.pool, async (tx) => {
      const run = (await store.runById(tx, active.run.id, true)) ?? active.run;
      const events: { payload: RunEventPayload; journalSeq: number }[] = [];
      const fields: Parameters<typeof store.updateRun>[2] = { lastOutputAt: new Date(), journalSeq: cursor };
      let status: RunStatus = run.status;
      for (const { outputs, journalSeq } of lines) {
        const push = (payload: RunEventPayload) => events.push({ payload: redactor ? redactPayload(payload, redactor) : payload, journalSeq });
        for (const output of outputs) {
          if (output.kind === "event" && output.event.type === "usage") {
            const { type: _type, ...reported } = output.event;
            if (active.adapter.usageIsCumulative && !active.usageBefore) active.usageBefore = await this.#usageBefore(tx, run);
            const usage = active.usageBefore ? minusUsage(reported, active.usageBefore) : reported;
            push({ type: "usage", ...usage });
            fields.usage = usage;
            const max = run.limits.maxCostUsd;
            if (max !== null && usage.costUsd !== null && usage.costUsd > max) costOver = `it cost $${usage.costUsd.toFixed(4)}, over its limit of $${max}`;
          } else if (output.kind === "event") {
            push(output.event);
            if (output.event.type === "tool_call") active.openTools.add(output.event.toolCallId);
            if (output.event.type === "tool_result") active.openTools.delete(output.event.toolCallId);
          } else if (output.kind === "session") {
            await store.setConversationSession(tx, run.conversationId, output.sessionId);
          } else if (output.kind === "turn_end") {
            fields.outcome = output.outcome;
            if (output.reason) fields.reason = output.reason;
            closeStdin = true;
          } else if (output.kind === "approval_request") {
            const waits = settings.permissionMode === "approve" && needsApproval(settings.approvalRules, output.tool, output.input);
            const approval = await store.insertApproval(tx, {
              id: newId("approval"),
              runId: run.id,
              requestId: output.requestId,
              tool: output.tool,
              input: output.input,
              toolCallId: output.toolCallId ?? null,
              decision: waits ? "pending" : "allow",
            });
            if (approval.decision === "pending") {
              push(approvalEvent(approval));
              if (status !== "waiting") {
                status = "waiting";
                push({ type: "status", status: "waiting", reason: `approval needed: ${output.tool}` });
                await appendEvent(tx, {
                  type: "run.approval_requested",
                  ownerId: run.createdBy,
                  projectId: run.projectId,
                  data: { runId: run.id, conversationId: run.conversationId, approvalId: approval.id, tool: output.tool, input: output.input },
                });
              }
            } else if (!approval.answered) {
              answers.push(approval);
            }
          }
        }
      }
      if (status !== run.status) {
        fields.status = status;
        await this.#globalStatus(tx, run, status, null);
      }
      await store.updateRun(tx, run.id, fields);
      await store.appendRunEvents(tx, run, events);
      active.run = { ...run, ...fields } as store.RunRow;
    });
    // Only now is the cursor past these lines: a failure before the commit reads them again.
    active.journalSeq = cursor;
    this.options.onEvents?.();
    for (const approval of answers) await this.#answer(active, approval);
    if (closeStdin) await this.#closeStdin(active);
    if (costOver) await this.cancel(active.run.id, `stopped: ${costOver}`, "failed").catch(() => {});
  }

  /** Loaded once per run: a secret added while it runs is redacted from the next run on. */
  async #redactorOf(active: ActiveRun): Promise<Redactor | null> {
    if (active.redactor === undefined) active.redactor = redactorFor((await this.options.projectVariables(active.run.projectId)).secrets);
    return active.redactor;
  }

  async #exited(active: ActiveRun, exit: LogExitLine | null, lost?: string): Promise<void> {
    const how = exit ?? { exitCode: null, signal: null };
    const outputs = lost ? [] : safeEnd(active.parser, how);
    const redactor = await this.#redactorOf(active).catch(() => null);
    await withTransaction(this.options.pool, async (tx) => {
      const run = await store.runById(tx, active.run.id, true);
      if (!run || isOver(run.status)) return;
      const ended = outputs.find((o) => o.kind === "turn_end");
      const outcome = run.outcome ?? (ended?.kind === "turn_end" ? ended.outcome : null);
      let status: RunStatus;
      let reason: string | null;
      if (run.cancelStatus !== null) {
        status = run.cancelStatus;
        reason = run.cancelReason;
      } else if (outcome === "succeeded") {
        status = "succeeded";
        reason = null;
      } else {
        status = "failed";
        reason = lost ?? run.reason ?? (ended?.kind === "turn_end" ? (ended.reason ?? null) : null) ?? "the agent ended without finishing its turn";
        if (outcome === null && active.stderrTail.trim()) reason = `${reason}; its last words: ${active.stderrTail.trim().slice(-500)}`;
      }
      const events = outputs.flatMap((o) => (o.kind === "event" ? [o.event] : []));
      // The reason may quote the agent's stderr, which is the sandbox's output like any other.
      if (redactor && reason) reason = redactor.redactText(reason);
      await this.#finish(tx, run, status, reason, redactor ? events.map((event) => redactPayload(event, redactor)) : events);
    });
    await this.options.turns?.after(active.run).catch((error) => this.options.log.warn({ runId: active.run.id, err: error }, "after the turn: git failed"));
    this.kick(active.run.conversationId);
  }

  /** Git before a turn; a failure is logged and the turn goes ahead in the workspace as it is. */
  async #beforeTurn(run: store.RunRow, client: SupervisorClient): Promise<{ env?: Record<string, string>; cwd?: string }> {
    if (!this.options.turns) return {};
    // A repository that takes long to checkpoint (or a git that hangs) must not hold the turn.
    const deadline = AbortSignal.timeout(this.options.turnGitDeadlineMs ?? TURN_GIT_DEADLINE_MS);
    try {
      return await this.options.turns.before(run, client, deadline);
    } catch (error) {
      this.options.log.warn({ runId: run.id, err: error }, "before the turn: git failed; the agent works on the workspace as it is");
      return {};
    }
  }

  /** Ends a run: its last events, the status event, the row, and the global event. */
  async #finish(tx: pg.PoolClient, run: store.RunRow, status: RunStatus, reason: string | null, events: RunEventPayload[]): Promise<void> {
    await store.updateRun(tx, run.id, { status, reason, endedAt: new Date() });
    const final: RunEventPayload = reason ? { type: "status", status, reason } : { type: "status", status };
    await store.appendRunEvents(
      tx,
      run,
      [...events, final].map((payload) => ({ payload, journalSeq: null })),
    );
    await this.#globalStatus(tx, run, status, reason);
  }

  async #globalStatus(tx: pg.PoolClient, run: store.RunRow, status: RunStatus, reason: string | null): Promise<void> {
    await appendEvent(tx, {
      type: "run.status",
      ownerId: run.createdBy,
      projectId: run.projectId,
      data: { runId: run.id, conversationId: run.conversationId, sandboxId: run.sandboxId, status, ...(reason ? { reason } : {}) },
    });
  }

  async #failDetached(run: store.RunRow, reason: string): Promise<void> {
    await withTransaction(this.options.pool, async (tx) => {
      const current = await store.runById(tx, run.id, true);
      if (current && !isOver(current.status)) await this.#finish(tx, current, "failed", reason, []);
    }).catch(() => {});
  }

  // ---- acting on the agent ----------------------------------------------------------------

  async #answer(active: ActiveRun, approval: store.ApprovalRow, client?: SupervisorClient): Promise<void> {
    if (!active.adapter.answerApproval || approval.decision === "pending") return;
    const line = active.adapter.answerApproval(approval.requestId, {
      allow: approval.decision === "allow",
      input: approval.input,
      message: approval.message ?? undefined,
    });
    try {
      const link = client ?? (await this.options.driver.connect(active.run.sandboxId)).client;
      await link.writeProcessInput(active.run.processId!, `${line}\n`);
      await store.markApprovalAnswered(this.options.pool, approval.id);
    } catch (error) {
      this.options.log.warn({ runId: active.run.id, err: (error as Error).message }, "could not answer the agent");
    }
  }

  async #closeStdin(active: ActiveRun): Promise<void> {
    try {
      const { client } = await this.options.driver.connect(active.run.sandboxId);
      await client.writeProcessInput(active.run.processId!, "", { eof: true });
    } catch {
      // Already closed, or the process is gone: either way it gets no more input.
    }
  }

  /** Interrupt (when the agent has a way), then SIGTERM, then SIGKILL to the process group. */
  async #stop(active: ActiveRun): Promise<void> {
    if (active.stopping) return;
    active.stopping = true;
    const grace = this.options.stopGraceMs ?? 5000;
    const signal = async (sig: "SIGTERM" | "SIGKILL") => {
      try {
        const { client } = await this.options.driver.connect(active.run.sandboxId);
        await client.signalProcess(active.run.processId!, sig);
      } catch {
        // Exited meanwhile.
      }
    };
    let interrupted = false;
    if (active.adapter.interrupt) {
      try {
        const { client } = await this.options.driver.connect(active.run.sandboxId);
        await client.writeProcessInput(active.run.processId!, `${active.adapter.interrupt(`interrupt_${active.run.id}`)}\n`);
        interrupted = true;
      } catch {
        // stdin is closed: go straight to signals.
      }
    }
    if (!interrupted) await signal("SIGTERM");
    const term = setTimeout(() => void signal("SIGTERM"), interrupted ? grace : 0);
    const kill = setTimeout(() => void signal("SIGKILL"), (interrupted ? grace : 0) + grace);
    term.unref();
    kill.unref();
    active.stopTimers.push(term, kill);
  }

  // ---- the watchdog ---------------------------------------------------------------------

  async #watch(): Promise<void> {
    const now = Date.now();
    if (now - this.#lastResync >= RESYNC_MS) {
      this.#lastResync = now;
      await this.#resync().catch((error: unknown) => this.options.log.warn({ err: (error as Error).message }, "run resync failed"));
    }
    for (const active of this.#active.values()) {
      if (active.stopping) continue;
      const { run } = active;
      const started = run.startedAt ? new Date(run.startedAt).getTime() : now;
      if (now - started > run.limits.maxDurationSec * 1000) {
        await this.cancel(run.id, `stopped: it ran longer than its limit of ${run.limits.maxDurationSec} s`, "failed").catch(() => {});
        continue;
      }
      const quietMs = now - active.lastOutputAt;
      if (run.status === "running" && active.openTools.size === 0 && quietMs > run.limits.stallTimeoutSec * 1000) {
        const reason = `stalled: the agent printed nothing for ${run.limits.stallTimeoutSec} s while no tool was running`;
        await withTransaction(this.options.pool, (tx) =>
          store.appendRunEvents(tx, run, [{ payload: { type: "status", status: "stalled", reason }, journalSeq: null }]),
        ).catch(() => {});
        await this.cancel(run.id, reason, "failed").catch(() => {});
      }
    }
  }

  /** The sum of what the conversation's runs before this one reported. */
  async #usageBefore(tx: pg.PoolClient, run: store.RunRow): Promise<RunUsage> {
    const earlier = (await store.runsOfConversation(tx, run.conversationId)).filter((r) => r.id !== run.id && new Date(r.createdAt) <= new Date(run.createdAt));
    return earlier.reduce((sum, r) => (r.usage ? plusUsage(sum, r.usage) : sum), ZERO_USAGE);
  }

  /** Runs the store says are going but nothing follows (a follower that died on an error,
   * a start cut short): followed again; queued ones whose conversation is idle: started. */
  async #resync(): Promise<void> {
    for (const run of await store.activeRuns(this.options.pool)) {
      if (run.status === "queued") {
        if (!this.#kicks.has(run.conversationId)) this.kick(run.conversationId);
      } else if (!this.#active.has(run.id) && !this.#kicks.has(run.conversationId)) {
        this.#attach(run);
      }
    }
  }

  async #call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      throw this.options.translate(error);
    }
  }
}

export function processName(runId: string): string {
  return `agent ${runId}`;
}

export function isOver(status: RunStatus): boolean {
  return status === "succeeded" || status === "failed" || status === "cancelled";
}

function approvalEvent(approval: Pick<store.ApprovalRow, "id" | "tool" | "input" | "toolCallId" | "decision" | "message">): RunEventPayload {
  return {
    type: "approval",
    approvalId: approval.id,
    ...(approval.toolCallId ? { toolCallId: approval.toolCallId } : {}),
    tool: approval.tool,
    input: approval.input,
    decision: approval.decision,
    ...(approval.message ? { message: approval.message } : {}),
  };
}

/** An agent without its model credential would only fail inside the run, less clearly. */
function assertCredential(adapter: AgentAdapter, env: Record<string, string>): void {
  const names = adapter.credentials ?? [];
  if (names.length === 0 || names.some((name) => env[name])) return;
  throw new OutpostError("AGENT_NEEDS_CREDENTIAL", `${adapter.name} needs ${names.join(" or ")}, and the project has none of them.`);
}

/** A parser must never take the engine down: a line it chokes on becomes an error event. */
function safeParse(parser: AgentParser, line: string): AgentOutput[] {
  try {
    return parser.line(line);
  } catch (error) {
    return [
      {
        kind: "event",
        event: { type: "error", code: "AGENT_OUTPUT_UNREADABLE", message: `A line of agent output could not be read: ${(error as Error).message}` },
      },
    ];
  }
}

function safeEnd(parser: AgentParser, exit: { exitCode: number | null; signal: string | null }): AgentOutput[] {
  try {
    return parser.end(exit);
  } catch {
    return [];
  }
}
