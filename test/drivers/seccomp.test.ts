// The shape of the seccomp program bwrap is handed (what the kernel's checker would
// reject) and the sanity of the syscall tables; the verdicts themselves are in
// test/unit/seccomp-filter.test.ts, the kernel's enforcement in seccomp-enforced.test.ts.
import assert from "node:assert/strict";
import { test } from "node:test";
import { AUDIT_ARCH, type SeccompArch, SYSCALL_NUMBERS, seccompArchFor, seccompFilter } from "../../src/drivers/local/seccomp.ts";

const BPF_MAXINSNS = 4096;
const RET_K = 0x06;
const isJump = (code: number) => (code & 0x07) === 0x05;

for (const arch of ["x86_64", "aarch64"] as SeccompArch[]) {
  for (const allowNestedUserns of [false, true]) {
    test(`${arch}${allowNestedUserns ? " (nested userns allowed)" : ""}: the program is well-formed classic BPF`, () => {
      const program = seccompFilter({ arch, allowNestedUserns });
      assert.equal(program.length % 8, 0, "8 bytes per struct sock_filter");
      const count = program.length / 8;
      assert.ok(count > 0 && count <= BPF_MAXINSNS);
      // It starts by checking the architecture.
      assert.equal(program.readUInt16LE(0), 0x20);
      assert.equal(program.readUInt32LE(4), 4, "ld seccomp_data.arch");
      assert.equal(program.readUInt32LE(12), AUDIT_ARCH[arch]);
      for (let pc = 0; pc < count; pc++) {
        const code = program.readUInt16LE(pc * 8);
        const jt = program.readUInt8(pc * 8 + 2);
        const jf = program.readUInt8(pc * 8 + 3);
        if (isJump(code)) assert.ok(pc + 1 + Math.max(jt, jf) < count, `jump at ${pc} lands inside the program`);
        else assert.deepEqual([jt, jf], [0, 0], `no jump offsets on a non-jump at ${pc}`);
      }
      assert.equal(program.readUInt16LE((count - 1) * 8), RET_K, "the last instruction returns");
    });
  }
}

test("the filter's architecture follows Node's process.arch", () => {
  assert.equal(seccompArchFor("x64"), "x86_64");
  assert.equal(seccompArchFor("arm64"), "aarch64");
  assert.equal(seccompArchFor("ia32"), undefined);
  assert.equal(seccompArchFor("riscv64"), undefined);
  // This machine is one of the two (the suite runs on x86_64 and aarch64 only).
  assert.deepEqual(seccompFilter(), seccompFilter({ arch: seccompArchFor(process.arch) }));
});

test("the syscall tables name the same syscalls, with no number used twice, and agree where the numbering is shared", () => {
  const x86 = SYSCALL_NUMBERS.x86_64;
  const arm = SYSCALL_NUMBERS.aarch64;
  assert.deepEqual(Object.keys(x86).sort(), Object.keys(arm).sort());
  for (const table of [x86, arm]) assert.equal(new Set(Object.values(table)).size, Object.keys(table).length, "a typo would give two names one number");
  // Since Linux 5.1 (number 424) every architecture numbers new syscalls alike.
  for (const [name, number] of Object.entries(x86)) {
    if (number >= 424) assert.equal(arm[name as keyof typeof arm], number, name);
  }
});
