// What a sandbox is told about its way out (pure): the loopback ports the supervisor
// bridges to the host (egress proxy, model gateway), and the environment every process in
// the sandbox starts with so that common tools use them. Documented in docs/api.md
// ("Egress"); what does not follow these variables is listed there too.

export const PROXY_PORT = 3128;
export const GATEWAY_PORT = 3129;

/** Paths inside the sandbox, in the control plane's read-only folder (/run/outpost). */
export const NETWORK_PATHS = {
  proxySocket: "/run/outpost/egress.sock",
  gatewaySocket: "/run/outpost/gateway.sock",
  /** The project's PostgreSQL database (bridged to 127.0.0.1:5432 inside). */
  databaseSocket: "/run/outpost/database.sock",
  /** The system's CA bundle plus the installation CA (for intercepted credential hosts). */
  caBundle: "/run/outpost/ca-bundle.pem",
  /** The installation CA alone (NODE_EXTRA_CA_CERTS adds to Node's own roots). */
  ca: "/run/outpost/ca.pem",
  /** `ProxyCommand` helper for ssh (git over ssh://). */
  sshProxy: "/opt/outpost/bin/outpost-ssh-proxy",
} as const;

export function sandboxNetworkEnv(): Record<string, string> {
  const proxy = `http://127.0.0.1:${PROXY_PORT}`;
  const gateway = `http://127.0.0.1:${GATEWAY_PORT}`;
  // Only the sandbox's own loopback bypasses the proxy; host.outpost.internal goes through it.
  const noProxy = "localhost,127.0.0.1,::1";
  return {
    HTTP_PROXY: proxy,
    HTTPS_PROXY: proxy,
    http_proxy: proxy,
    https_proxy: proxy,
    NO_PROXY: noProxy,
    no_proxy: noProxy,
    // Node ≥ 22.21 / 24.5: fetch and http(s) honour the variables above with this set. It
    // makes every node process warn that the agent is experimental, on stderr, which agents
    // read as a failure: that one warning is turned off (Node ≥ 20.11 knows the flag).
    NODE_USE_ENV_PROXY: "1",
    NODE_OPTIONS: "--disable-warning=UNDICI-EHPA",
    npm_config_proxy: proxy,
    npm_config_https_proxy: proxy,
    // Trust: the system bundle plus the installation CA, for every TLS stack we know of.
    SSL_CERT_FILE: NETWORK_PATHS.caBundle,
    CURL_CA_BUNDLE: NETWORK_PATHS.caBundle,
    REQUESTS_CA_BUNDLE: NETWORK_PATHS.caBundle,
    GIT_SSL_CAINFO: NETWORK_PATHS.caBundle,
    NODE_EXTRA_CA_CERTS: NETWORK_PATHS.ca,
    npm_config_cafile: NETWORK_PATHS.caBundle,
    PIP_CERT: NETWORK_PATHS.caBundle,
    // ssh (git over ssh://) has no proxy variable: a ProxyCommand that CONNECTs through the proxy.
    GIT_SSH_COMMAND: `ssh -o ProxyCommand="${NETWORK_PATHS.sshProxy} %h %p"`,
    // The model gateway: clients that take a base URL send their calls there.
    ANTHROPIC_BASE_URL: `${gateway}/anthropic`,
    OPENAI_BASE_URL: `${gateway}/openai/v1`,
  };
}
