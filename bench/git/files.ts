// The bench repository's files: `count` small text files shaped like a source tree
// (pkg-NN/mod-NNN/…, about a hundred per folder), each different, most a few hundred bytes
// and a few some kilobytes, like real code. Deterministic (a seeded generator), so every
// run clones the same repository; streamed, never all in memory.

/** mulberry32: a tiny seeded PRNG, plenty for shaping test data. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = ["value", "result", "index", "count", "items", "config", "handler", "request", "buffer", "state", "next", "error", "options", "cache", "node"];
const EXTENSIONS = ["ts", "js", "json", "md", "css", "py"];
const PER_FOLDER = 100;
const FOLDERS_PER_PACKAGE = 50;

function line(next: () => number, n: number): string {
  const word = () => WORDS[Math.floor(next() * WORDS.length)]!;
  const indent = "  ".repeat(Math.floor(next() * 3));
  return `${indent}const ${word()}${n} = ${word()}(${Math.floor(next() * 1e6)}, "${word()}");\n`;
}

/** [path, content] for file 0…count-1. */
export function* benchFiles(count: number): Generator<[string, string]> {
  const next = random(18);
  for (let i = 0; i < count; i++) {
    const folder = Math.floor(i / PER_FOLDER);
    const pkg = String(Math.floor(folder / FOLDERS_PER_PACKAGE)).padStart(2, "0");
    const mod = String(folder % FOLDERS_PER_PACKAGE).padStart(3, "0");
    const ext = EXTENSIONS[i % EXTENSIONS.length];
    // Line counts skewed small: 1–10 mostly, up to ~120 for one file in twenty.
    const lines = next() < 0.05 ? 20 + Math.floor(next() * 100) : 1 + Math.floor(next() * 10);
    let content = `// file ${i}\n`;
    for (let n = 0; n < lines; n++) content += line(next, n);
    yield [`pkg-${pkg}/mod-${mod}/file-${i}.${ext}`, content];
  }
}
