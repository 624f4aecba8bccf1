import type { Project, Sandbox } from "../api/client.ts";

/**
 * What every sandbox tab gets (pages/SandboxPage.tsx). A tab stays mounted once opened, so a
 * terminal keeps its connection while another tab shows; `active` says whether it is shown
 * (e.g. to fit a terminal to its box or to pause a file watch).
 */
export interface SandboxTabProps {
  sandbox: Sandbox;
  /** Undefined while the project loads. */
  project: Project | undefined;
  /** The signed-in user may run commands, write files and open previews (editor or owner). */
  canEdit: boolean;
  active: boolean;
}
