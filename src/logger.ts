// Structured JSON logs (pino). Credentials never reach a log line: auth headers, cookies
// and login codes in URLs are redacted here, once, for every logger in the process.
import pino, { type Logger } from "pino";

const SECRET_QUERY = /([?&](?:code|token)=)[^&]*/gi;

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: "outpost" },
      redact: { paths: ["req.headers.authorization", "req.headers.cookie", 'res.headers["set-cookie"]', "*.password", "*.token"], censor: "[redacted]" },
      serializers: {
        req: (req: { method: string; url: string; ip?: string }) => ({ method: req.method, url: req.url.replace(SECRET_QUERY, "$1[redacted]"), ip: req.ip }),
        err: pino.stdSerializers.err,
      },
    },
    destination,
  );
}
