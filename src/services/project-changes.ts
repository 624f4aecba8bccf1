// "A project's settings changed": told by the services that change them (after their
// transaction commits), heard by what keeps a copy (the egress context cache), so a policy
// or credential change applies to the very next connection in this process. Other replicas
// hear of changes through the events stream's NOTIFY (see startup/egress.ts).
import { EventEmitter } from "node:events";

export class ProjectChanges {
  readonly #emitter = new EventEmitter();

  constructor() {
    this.#emitter.setMaxListeners(0);
  }

  changed(projectId: string): void {
    this.#emitter.emit("changed", projectId);
  }

  subscribe(listener: (projectId: string) => void): () => void {
    this.#emitter.on("changed", listener);
    return () => this.#emitter.off("changed", listener);
  }
}
