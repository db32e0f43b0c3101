// Running the real tools that dlbind claims to interoperate with.
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface RunResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export function run(
  cmd: string,
  args: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {},
): RunResult {
  const [file, argv] = onTarget(cmd, args);
  const r = spawnSync(file, argv, {
    cwd: options.cwd,
    env: options.env ?? process.env,
    input: options.input,
    encoding: 'utf8',
    maxBuffer: 1 << 30,
    // A program run through the emulator runs several times slower: it gets five times as long.
    timeout: (options.timeoutMs ?? 120_000) * (file === cmd ? 1 : 5),
  });
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(`${cmd} is not installed`);
  return { status: r.status, signal: r.signal, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

/**
 * The arm64 suite (`npm run test:aarch64`) runs Node under qemu-user, which the kernel cannot
 * start by itself (no binfmt_misc here): DLBIND_EMULATOR names the emulator, and a program of
 * this process's own architecture (this Node, a C program built for it) is run through it.
 * Host tools (gcc, readelf) are x86_64 and run as they are.
 */
export function onTarget(cmd: string, args: readonly string[]): [string, string[]] {
  const emulator = process.env.DLBIND_EMULATOR?.trim().split(/\s+/);
  if (emulator === undefined || emulator[0] === '' || !isTargetElf(cmd)) return [cmd, [...args]];
  return [emulator[0]!, [...emulator.slice(1), cmd, ...args]];
}

function isTargetElf(cmd: string): boolean {
  if (cmd !== process.execPath && !cmd.includes('/')) return false;
  const head = Buffer.alloc(20);
  try {
    const fd = openSync(cmd, 'r');
    try {
      readSync(fd, head, 0, 20, 0);
    } finally {
      closeSync(fd);
    }
  } catch {
    return false;
  }
  // e_machine of an ELF file: EM_AARCH64 (183) or EM_X86_64 (62).
  const machine = head.readUInt16LE(18);
  return head.readUInt32BE(0) === 0x7f454c46 && machine === (process.arch === 'arm64' ? 183 : 62);
}

let cc: string | undefined;
/**
 * The C compiler for this process's architecture: gcc, or under the arm64 suite on an x86_64
 * host, aarch64-linux-gnu-gcc (its programs then run through the emulator, see onTarget).
 */
export function targetCC(): string {
  if (cc === undefined) {
    const hostMachine = () => spawnSync('gcc', ['-dumpmachine'], { encoding: 'utf8' }).stdout?.trim() ?? '';
    cc = process.arch === 'arm64' && !hostMachine().startsWith('aarch64') ? 'aarch64-linux-gnu-gcc' : 'gcc';
  }
  return cc;
}

/** Runs a command and throws with its output if it fails. */
export function mustRun(cmd: string, args: readonly string[], options: Parameters<typeof run>[2] = {}): RunResult {
  const r = run(cmd, args, options);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.signal ?? r.status}):\n${r.stdout}\n${r.stderr}`);
  return r;
}

const availability = new Map<string, boolean>();
/** Whether a tool is on PATH. Tests that need a missing tool print why they skip. */
export function have(tool: string): boolean {
  let ok = availability.get(tool);
  if (ok === undefined) {
    ok = spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' }).status === 0;
    availability.set(tool, ok);
  }
  return ok;
}

export function skipBecause(what: string, reason: string): void {
  console.log(`  skip: ${what}: ${reason}`);
}

/** A fresh temporary directory, removed when the process exits. */
/** This process's open descriptors and what each links to (a memfd as /memfd:<name> (deleted), an unlinked file with " (deleted)"). */
export function openDescriptors(): { fd: number; link: string }[] {
  const out: { fd: number; link: string }[] = [];
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      out.push({ fd: Number(fd), link: readlinkSync(`/proc/self/fd/${fd}`) });
    } catch {
      // readdir's own descriptor, closed meanwhile
    }
  }
  return out;
}

export function tempDir(prefix = 'dlbind-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Compiles C source with gcc (targetCC) into `out` and returns its path. */
export function compileC(dir: string, name: string, source: string, args: readonly string[], out: string): string {
  const src = join(dir, `${name}.c`);
  writeFileSync(src, source);
  mustRun(targetCC(), ['-O1', '-Wall', '-o', out, src, ...args], { cwd: dir });
  return out;
}

/** Whether a test that runs x86_64 code can run here with `tools` installed; prints why it skips otherwise. */
export function canRunX86(what: string, ...tools: string[]): boolean {
  if (process.arch !== 'x64' || process.platform !== 'linux') {
    skipBecause(what, `runs x86_64 code, this is ${process.platform}/${process.arch}`);
    return false;
  }
  const missing = tools.filter((t) => !have(t));
  if (missing.length > 0) skipBecause(what, `${missing.join(', ')} not installed`);
  return missing.length === 0;
}
