// The seccomp filter's verdicts, found by running the generated program through a small
// classic-BPF interpreter (only what seccomp filters may use: loads from seccomp_data,
// conditional jumps against constants, returns), fed with hand-made seccomp_data.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  AUDIT_ARCH,
  CLONE_NEWUSER,
  ENOSYS,
  EPERM,
  SECCOMP_RET_ALLOW,
  SECCOMP_RET_KILL_PROCESS,
  type SeccompArch,
  SYSCALL_NUMBERS,
  seccompFilter,
  seccompRetErrno,
} from "../../src/drivers/local/seccomp.ts";

interface SeccompData {
  nr: number;
  arch: number;
  args?: bigint[];
}

/** struct seccomp_data, little-endian: int nr; u32 arch; u64 instruction_pointer; u64 args[6]. */
function encode(data: SeccompData): Buffer {
  const buffer = Buffer.alloc(64);
  buffer.writeInt32LE(data.nr, 0);
  buffer.writeUInt32LE(data.arch, 4);
  for (const [i, arg] of (data.args ?? []).entries()) buffer.writeBigUInt64LE(BigInt.asUintN(64, arg), 16 + 8 * i);
  return buffer;
}

/** Runs the program and returns its verdict; throws on anything seccomp would reject. */
function run(program: Buffer, data: SeccompData): number {
  assert.equal(program.length % 8, 0);
  const input = encode(data);
  let accumulator = 0;
  for (let pc = 0; pc < program.length / 8; pc++) {
    const code = program.readUInt16LE(pc * 8);
    const jt = program.readUInt8(pc * 8 + 2);
    const jf = program.readUInt8(pc * 8 + 3);
    const k = program.readUInt32LE(pc * 8 + 4);
    const branch = (taken: boolean) => {
      pc += taken ? jt : jf;
    };
    switch (code) {
      case 0x20: // ld [k]
        assert.ok(k % 4 === 0 && k + 4 <= 64, `aligned load inside seccomp_data, got ${k}`);
        accumulator = input.readUInt32LE(k);
        break;
      case 0x15: // jeq #k
        branch(accumulator === k);
        break;
      case 0x35: // jge #k
        branch(accumulator >= k);
        break;
      case 0x45: // jset #k
        branch((accumulator & k) !== 0);
        break;
      case 0x06: // ret #k
        return k;
      default:
        throw new Error(`unexpected opcode 0x${code.toString(16)} at ${pc}`);
    }
  }
  throw new Error("the program ran off its end");
}

const ARCHES: SeccompArch[] = ["x86_64", "aarch64"];
const READ = { x86_64: 0, aarch64: 63 };
const WRITE = { x86_64: 1, aarch64: 64 };
const PTRACE = { x86_64: 101, aarch64: 117 };
const CLONE_NEWNS = 0x00020000n;
const SIGCHLD = 17n;
const KILL = SECCOMP_RET_KILL_PROCESS;
const ALLOW = SECCOMP_RET_ALLOW;

for (const arch of ARCHES) {
  const program = seccompFilter({ arch });
  const verdict = (nr: number, args: bigint[] = []) => run(program, { nr, arch: AUDIT_ARCH[arch], args });
  const nr = SYSCALL_NUMBERS[arch];

  test(`${arch}: ordinary syscalls are allowed`, () => {
    assert.equal(verdict(READ[arch], [0n, 0n, 4096n]), ALLOW);
    assert.equal(verdict(WRITE[arch], [1n, 0n, 12n]), ALLOW);
    assert.equal(verdict(PTRACE[arch]), ALLOW, "debuggers inside the sandbox are legitimate");
  });

  test(`${arch}: clone3 answers ENOSYS so the C library falls back to clone, whose flags the filter can read`, () => {
    assert.equal(verdict(nr.clone3, [0x7ffd0000n, 88n]), seccompRetErrno(ENOSYS));
  });

  test(`${arch}: a new user namespace is refused through unshare and clone, other namespaces and plain forks are not`, () => {
    assert.equal(verdict(nr.unshare, [BigInt(CLONE_NEWUSER)]), seccompRetErrno(EPERM));
    assert.equal(verdict(nr.unshare, [BigInt(CLONE_NEWUSER) | CLONE_NEWNS]), seccompRetErrno(EPERM));
    assert.equal(verdict(nr.unshare, [CLONE_NEWNS]), ALLOW, "a mount namespace without a user namespace fails in the kernel anyway");
    assert.equal(verdict(nr.clone, [BigInt(CLONE_NEWUSER) | SIGCHLD]), seccompRetErrno(EPERM));
    // glibc's fork(): CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID | SIGCHLD.
    assert.equal(verdict(nr.clone, [0x01200000n | SIGCHLD]), ALLOW);
    // A thread: CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | ….
    assert.equal(verdict(nr.clone, [0x003d0f00n]), ALLOW);
    // Only the low word carries flags; junk in the high word changes nothing.
    assert.equal(verdict(nr.unshare, [0xffffffff00000000n | CLONE_NEWNS]), ALLOW);
  });

  test(`${arch}: the listed kernel attack surface and the mount API answer EPERM`, () => {
    for (const name of ["keyctl", "bpf", "userfaultfd", "perf_event_open", "io_uring_setup", "open_by_handle_at", "mount", "fsopen", "setns"] as const) {
      assert.equal(verdict(nr[name]), seccompRetErrno(EPERM), name);
    }
  });

  test(`${arch}: a syscall through another ABI kills the process`, () => {
    const other = arch === "x86_64" ? 0x40000003 /* AUDIT_ARCH_I386 */ : 0x40000028; /* AUDIT_ARCH_ARM */
    assert.equal(run(program, { nr: 1, arch: other }), KILL);
    assert.equal(run(program, { nr: nr.unshare, arch: other, args: [BigInt(CLONE_NEWUSER)] }), KILL);
  });

  test(`${arch}: with nested user namespaces allowed, only the attack surface list is refused`, () => {
    const open = seccompFilter({ arch, allowNestedUserns: true });
    const openVerdict = (n: number, args: bigint[] = []) => run(open, { nr: n, arch: AUDIT_ARCH[arch], args });
    assert.equal(openVerdict(nr.unshare, [BigInt(CLONE_NEWUSER)]), ALLOW);
    assert.equal(openVerdict(nr.clone, [BigInt(CLONE_NEWUSER) | SIGCHLD]), ALLOW);
    assert.equal(openVerdict(nr.clone3, [0n, 88n]), ALLOW);
    assert.equal(openVerdict(nr.mount), ALLOW);
    assert.equal(openVerdict(nr.keyctl), seccompRetErrno(EPERM));
    assert.equal(run(open, { nr: 1, arch: 0x40000003 }), KILL);
  });
}

test("x86_64: the x32 ABI (same AUDIT_ARCH, numbers with bit 30 set) answers ENOSYS, as on a kernel without x32", () => {
  const program = seccompFilter({ arch: "x86_64" });
  const x32 = (nr: number, args: bigint[] = []) => run(program, { nr: 0x40000000 + nr, arch: AUDIT_ARCH.x86_64, args });
  assert.equal(x32(0), seccompRetErrno(ENOSYS));
  // x32's unshare is 272 too: without this rule it would slip past the flags check.
  assert.equal(x32(272, [BigInt(CLONE_NEWUSER)]), seccompRetErrno(ENOSYS));
  assert.equal(run(program, { nr: -1, arch: AUDIT_ARCH.x86_64 }), seccompRetErrno(ENOSYS));
});

test("aarch64 has no x32 rule: high numbers reach the allow verdict like any unknown syscall", () => {
  const program = seccompFilter({ arch: "aarch64" });
  assert.equal(run(program, { nr: 0x40000000, arch: AUDIT_ARCH.aarch64 }), ALLOW);
});
