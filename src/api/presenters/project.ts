// A project as the API shows it. The service has already decided whether env values are
// there (only on ?reveal=true); this picks the public fields and formats the dates.
import { agentSettings } from "../../domain/agents/settings.ts";
import { gitSettings } from "../../domain/git/settings.ts";
import type { Project } from "../../schemas/projects.ts";
import type { ProjectWithEnv } from "../../services/projects.ts";

export function presentProject(project: ProjectWithEnv): Project {
  return {
    id: project.id,
    name: project.name,
    repoUrl: project.repoUrl,
    defaultBranch: project.defaultBranch,
    instructions: project.instructions,
    env: project.env,
    egress: project.egress,
    database: project.database,
    tokenBudget: project.tokenBudget,
    agent: agentSettings(project.agent),
    git: presentGit(project.git),
    idleTimeoutSeconds: project.idleTimeoutSeconds,
    environment: project.environment,
    createdAt: project.createdAt.toISOString(),
    updatedAt: project.updatedAt.toISOString(),
  };
}

function presentGit(stored: ProjectWithEnv["git"]): Project["git"] {
  const git = gitSettings(stored);
  return { identity: git.identity, tokenVariable: git.tokenVariable, knownHosts: git.knownHosts ?? null };
}
