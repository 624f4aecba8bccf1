// `outpost doctor`: checks this machine and prints one line per check, with the fix.
import { loadSettings } from "../../config/settings.ts";
import { CHECKS } from "../../doctor.ts";
import { parse } from "../args.ts";
import { printJson } from "../output.ts";

export const doctorHelp = "outpost doctor    check Node, the PostgreSQL binaries, the data dir (and more as Outpost grows)";

export async function doctor(argv: string[]): Promise<number> {
  const { values } = parse(argv, {});
  const settings = loadSettings(process.env, values["data-dir"] ? { dataDir: values["data-dir"] } : {});
  const results = [];
  for (const check of CHECKS) results.push(await check(settings));
  if (values.json) printJson({ ok: results.every((r) => r.ok), checks: results });
  else {
    for (const r of results) {
      console.log(`${r.ok ? "ok  " : "FAIL"}  ${r.name.padEnd(10)} ${r.detail}`);
      if (!r.ok && r.fix) console.log(`      ${"".padEnd(10)} fix: ${r.fix}`);
    }
  }
  return results.every((r) => r.ok) ? 0 : 1;
}
