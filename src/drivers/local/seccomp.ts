// The seccomp filter every sandbox runs under (pure: options → the classic-BPF program
// bwrap's `--seccomp FD` reads: an array of struct sock_filter {u16 code; u8 jt; u8 jf;
// u32 k}, 8 bytes each, in the host's byte order — little-endian on both architectures
// supported here). Written by hand, not with libseccomp, so the control plane needs no
// native module; test/unit/seccomp-filter.test.ts runs it through a small interpreter.
//
// What it does, in order:
//   1. seccomp_data.arch must be the host's (x86_64 or aarch64), else KILL_PROCESS: a
//      syscall through another ABI (i386's int 0x80, arm32 compat) would be looked up in
//      another table, and every rule below would miss it.
//   2. x86_64 only: numbers with the x32 bit (≥ 0x40000000) get ENOSYS, what a kernel
//      built without x32 answers; x32 shares AUDIT_ARCH_X86_64, so (1) cannot catch it.
//   3. no nested user namespaces (unless allowNestedUserns):
//      - clone3 → ENOSYS: its flags sit in a struct in memory, which BPF cannot read. On
//        ENOSYS glibc (and Go, Rust's std) fall back to clone, whose flags it can read;
//      - clone and unshare with CLONE_NEWUSER in their flags (the first argument of both
//        on x86_64 and aarch64; only its low 32 bits carry flags) → EPERM. Other
//        namespaces stay allowed: without a user namespace they need capabilities the
//        sandbox does not have, so the kernel refuses them itself;
//      - the mount API and namespace switching → EPERM: mount, umount2, pivot_root,
//        open_tree, move_mount, fsopen, fsconfig, fsmount, fspick, mount_setattr, setns.
//        Without capabilities they fail anyway; blocking them keeps their parsers out of
//        reach. Nested sandboxes (rootless containers, bwrap) need them, so they go
//        with the user namespace rules.
//   4. always EPERM, syscalls a sandbox never needs that are frequent kernel attack surface:
//      - keyctl, add_key, request_key: the kernel keyring is not namespaced per sandbox
//        and has had a long run of bugs;
//      - bpf: eBPF verifier bugs are a classic privilege escalation (unprivileged BPF
//        is often disabled by sysctl, not everywhere);
//      - userfaultfd: used to freeze the kernel mid-copy and win races in exploits;
//      - perf_event_open: large, bug-prone, and leaks kernel addresses and timing;
//      - io_uring_setup, io_uring_enter, io_uring_register: the source of most recent
//        kernel exploits; libuv, Tokio and others fall back to threads when it fails;
//      - kexec_load, kexec_file_load, reboot, init_module, finit_module, delete_module,
//        acct, swapon, swapoff: administer the host, never a sandbox's business (they
//        need capabilities too; refusing them early is cheaper than trusting checks);
//      - open_by_handle_at: opens files by handle, bypassing the mount tree (the
//        "shocker" container escape).
// Everything else is allowed. Deliberately allowed: ptrace (debuggers and strace inside
// the sandbox are legitimate; the kernel limits it to the sandbox's own uid, and seccomp
// re-checks a syscall a tracer rewrites), personality (used by setarch, valgrind, gdb).
// Syscall numbers: x86_64 from arch/x86/entry/syscalls/syscall_64.tbl, aarch64 from the
// generic table (include/uapi/asm-generic/unistd.h); checked against the kernel headers.

export type SeccompArch = "x86_64" | "aarch64";

/** seccomp_data.arch values (AUDIT_ARCH_*). */
export const AUDIT_ARCH: Record<SeccompArch, number> = { x86_64: 0xc000003e, aarch64: 0xc00000b7 };
export const X32_SYSCALL_BIT = 0x40000000;
export const CLONE_NEWUSER = 0x10000000;
export const EPERM = 1;
export const ENOSYS = 38;

/** Filter verdicts (SECCOMP_RET_*). */
export const SECCOMP_RET_KILL_PROCESS = 0x80000000;
export const SECCOMP_RET_ALLOW = 0x7fff0000;
export const seccompRetErrno = (errno: number) => 0x00050000 | (errno & 0xffff);

const NAMESPACE_TOOLS = [
  "mount",
  "umount2",
  "pivot_root",
  "open_tree",
  "move_mount",
  "fsopen",
  "fsconfig",
  "fsmount",
  "fspick",
  "mount_setattr",
  "setns",
] as const;

const ALWAYS_DENIED = [
  "keyctl",
  "add_key",
  "request_key",
  "bpf",
  "userfaultfd",
  "perf_event_open",
  "io_uring_setup",
  "io_uring_enter",
  "io_uring_register",
  "kexec_load",
  "kexec_file_load",
  "reboot",
  "init_module",
  "finit_module",
  "delete_module",
  "acct",
  "swapon",
  "swapoff",
  "open_by_handle_at",
] as const;

export type FilteredSyscall = "clone" | "clone3" | "unshare" | (typeof NAMESPACE_TOOLS)[number] | (typeof ALWAYS_DENIED)[number];

/** The numbers of the syscalls the filter names, per architecture. */
export const SYSCALL_NUMBERS: Record<SeccompArch, Record<FilteredSyscall, number>> = {
  x86_64: {
    clone: 56,
    clone3: 435,
    unshare: 272,
    mount: 165,
    umount2: 166,
    pivot_root: 155,
    open_tree: 428,
    move_mount: 429,
    fsopen: 430,
    fsconfig: 431,
    fsmount: 432,
    fspick: 433,
    mount_setattr: 442,
    setns: 308,
    keyctl: 250,
    add_key: 248,
    request_key: 249,
    bpf: 321,
    userfaultfd: 323,
    perf_event_open: 298,
    io_uring_setup: 425,
    io_uring_enter: 426,
    io_uring_register: 427,
    kexec_load: 246,
    kexec_file_load: 320,
    reboot: 169,
    init_module: 175,
    finit_module: 313,
    delete_module: 176,
    acct: 163,
    swapon: 167,
    swapoff: 168,
    open_by_handle_at: 304,
  },
  aarch64: {
    clone: 220,
    clone3: 435,
    unshare: 97,
    mount: 40,
    umount2: 39,
    pivot_root: 41,
    open_tree: 428,
    move_mount: 429,
    fsopen: 430,
    fsconfig: 431,
    fsmount: 432,
    fspick: 433,
    mount_setattr: 442,
    setns: 268,
    keyctl: 219,
    add_key: 217,
    request_key: 218,
    bpf: 280,
    userfaultfd: 282,
    perf_event_open: 241,
    io_uring_setup: 425,
    io_uring_enter: 426,
    io_uring_register: 427,
    kexec_load: 104,
    kexec_file_load: 294,
    reboot: 142,
    init_module: 105,
    finit_module: 273,
    delete_module: 106,
    acct: 89,
    swapon: 224,
    swapoff: 225,
    open_by_handle_at: 265,
  },
};

/** The filter's architecture for a Node `process.arch`, or undefined if none is written. */
export function seccompArchFor(nodeArch: string): SeccompArch | undefined {
  if (nodeArch === "x64") return "x86_64";
  if (nodeArch === "arm64") return "aarch64";
  return undefined;
}

export interface SeccompOptions {
  /** Default: the architecture this process runs on. */
  arch?: SeccompArch;
  /** Leave user namespaces, the mount API and setns to the sandbox (see header, 3.). */
  allowNestedUserns?: boolean;
}

// offsetof(struct seccomp_data, …); args[i] is a u64, its low word first (little-endian).
const DATA_NR = 0;
const DATA_ARCH = 4;
const argLowWord = (index: number) => 16 + 8 * index;

// Classic BPF opcodes (linux/bpf_common.h).
const LD_W_ABS = 0x20; // BPF_LD | BPF_W | BPF_ABS
const JEQ_K = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
const JGE_K = 0x35; // BPF_JMP | BPF_JGE | BPF_K
const JSET_K = 0x45; // BPF_JMP | BPF_JSET | BPF_K
const RET_K = 0x06; // BPF_RET | BPF_K

/** A jump names its targets by label ("next" = the following instruction); labels are
 *  resolved to the forward offsets BPF wants once the whole program is laid out. */
interface Step {
  label?: string;
  code: number;
  k: number;
  jt?: string;
  jf?: string;
}

const load = (offset: number): Step => ({ code: LD_W_ABS, k: offset });
const jump = (code: number, k: number, jt: string, jf = "next"): Step => ({ code, k, jt, jf });
const ret = (label: string, k: number): Step => ({ label, code: RET_K, k });

export function seccompFilter(options: SeccompOptions = {}): Buffer {
  const arch = options.arch ?? seccompArchFor(process.arch);
  if (!arch) throw new Error(`no seccomp filter for architecture ${process.arch}`);
  const nr = SYSCALL_NUMBERS[arch];
  const steps: Step[] = [load(DATA_ARCH), jump(JEQ_K, AUDIT_ARCH[arch], "next", "kill"), load(DATA_NR)];
  if (arch === "x86_64") steps.push(jump(JGE_K, X32_SYSCALL_BIT, "enosys"));
  const denied: readonly FilteredSyscall[] = options.allowNestedUserns ? ALWAYS_DENIED : [...NAMESPACE_TOOLS, ...ALWAYS_DENIED];
  if (!options.allowNestedUserns) {
    steps.push(jump(JEQ_K, nr.clone3, "enosys"), jump(JEQ_K, nr.clone, "flags"), jump(JEQ_K, nr.unshare, "flags"));
  }
  for (const name of denied) steps.push(jump(JEQ_K, nr[name], "eperm"));
  steps.push(ret("allow", SECCOMP_RET_ALLOW));
  if (!options.allowNestedUserns) {
    // Reached from clone and unshare only (BPF jumps forward, so this sits after "allow").
    steps.push({ ...load(argLowWord(0)), label: "flags" }, jump(JSET_K, CLONE_NEWUSER, "eperm"), ret("allow-flags", SECCOMP_RET_ALLOW));
  }
  steps.push(ret("eperm", seccompRetErrno(EPERM)), ret("enosys", seccompRetErrno(ENOSYS)), ret("kill", SECCOMP_RET_KILL_PROCESS));
  return assemble(steps);
}

function assemble(steps: Step[]): Buffer {
  const at = new Map<string, number>();
  steps.forEach((step, index) => {
    if (step.label) at.set(step.label, index);
  });
  const offset = (from: number, label: string | undefined): number => {
    if (label === undefined || label === "next") return 0;
    const target = at.get(label);
    if (target === undefined) throw new Error(`seccomp: no label ${label}`);
    const distance = target - from - 1;
    // jt/jf are u8 and can only point forward.
    if (distance < 0 || distance > 255) throw new Error(`seccomp: ${label} is out of a jump's reach`);
    return distance;
  };
  const program = Buffer.alloc(steps.length * 8);
  steps.forEach((step, index) => {
    program.writeUInt16LE(step.code, index * 8);
    program.writeUInt8(offset(index, step.jt), index * 8 + 2);
    program.writeUInt8(offset(index, step.jf), index * 8 + 3);
    program.writeUInt32LE(step.k >>> 0, index * 8 + 4);
  });
  return program;
}
