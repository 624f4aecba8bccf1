// A project's SSH deploy key as the API shows it: the public half only (the private half
// never leaves the host), with the repository host keys pinned for the project.
import { z } from "zod";

export const deployKey = z
  .object({
    publicKey: z
      .string()
      .describe("OpenSSH public key line (`ssh-ed25519 AAAA… outpost-<project>`): add it to the repository's deploy keys, with write access to push."),
    fingerprint: z.string().describe("`SHA256:…`, as `ssh-keygen -l` and GitHub show it."),
    createdAt: z.string().describe("When this key was made (a rotation makes a new one)."),
    knownHosts: z
      .string()
      .nullable()
      .describe(
        "The repository host's keys pinned for the project's sandboxes (known_hosts lines), scanned from the host when the key is made; null: none pinned.",
      ),
    warning: z.string().optional().describe("Something to act on, e.g. the host keys could not be scanned."),
  })
  .meta({ id: "DeployKey" });
