// Which supervisor protocols this build speaks. The supervisor offers its list in the
// hello; the control plane picks the highest both speak (link/preface.ts pickProtocol), so
// a newer control plane keeps talking to sandboxes started by an older one as long as it
// still lists their protocol. Protocol 1 (HTTP/1.1 on a socket the supervisor listened on)
// is gone: sandboxes started with it are restarted once at the upgrade (files kept).
export const SUPPORTED_PROTOCOLS: readonly number[] = [2];
/** What this supervisor build offers beyond the protocol's base routes. */
export const SUPERVISOR_CAPABILITIES: readonly string[] = ["frames", "pty", "tunnel", "ports", "terminals", "files", "process-input"];
