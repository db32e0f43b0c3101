// The `dlbind` command: argument parsing (commander, bundled into the published
// CLI so that koffi stays the only run-time dependency) and error reporting.
// Each subcommand's code is imported when it runs: `build` never loads the reader,
// `inspect` never loads the writer, and neither loads koffi.
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { describeError } from './errors.js';
import { printable } from './format.js';
import { INSPECT_FLAGS } from './inspect-flags.js';

export interface Io {
  out(text: string): void;
  err(text: string): void;
}

const processIo: Io = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
};

/** The package version; src/cli and dist/cli both sit two levels below package.json. */
export function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** Commander's name for an option's value: `--dyn-syms` is `dynSyms`. */
function camelCase(flag: string): string {
  return flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

function makeProgram(commander: typeof import('commander'), io: Io): Command {
  const program = new commander.Command('dlbind');
  program
    .description('Write ELF64 shared objects, read them, and turn them into live JIT libraries that libc and gdb can see.')
    .version(packageVersion(), '-V, --version', 'print the version')
    .option('--debug', 'print stack traces for errors')
    .helpOption('-h, --help', 'print help')
    .addHelpCommand(false)
    .showHelpAfterError('(run dlbind --help for usage)')
    .exitOverride()
    .configureOutput({ writeOut: io.out, writeErr: io.err, outputError: (text, write) => write(`dlbind: ${text}`) });
  program.addHelpText(
    'after',
    `
Examples:
  dlbind demo                        a live JIT library, end to end
  dlbind build spec.json -o libx.so  a shared object from a JSON spec
  dlbind inspect libx.so             headers, segments, sections, symbols`,
  );

  program
    .command('demo')
    .description('JIT-compile two functions into a live library, call them through libc, save the library and link a C program to it')
    .option('--keep', 'keep the temporary directory with the saved library and the C program')
    .action(async (options: { keep?: boolean }) => {
      const { runDemo } = await import('./demo.js');
      runDemo({ keep: options.keep === true, print: (line) => io.out(`${line}\n`) });
    });

  program
    .command('build')
    .description('build a shared object from a JSON spec')
    .argument('<spec>', "a JSON file: the buildSharedObject spec ('-' reads it from standard input)")
    .requiredOption('-o, --output <file>', 'the shared object to write')
    .addHelpText(
      'after',
      `
The spec is SharedObjectSpec as JSON. A symbol's "bytes" may be a hex string
("b8 2a 00 00 00 c3"), an array of numbers, {"hex": "..."}, {"base64": "..."},
or {"file": "code.bin"} (relative to the spec). Keys starting with "$" or "//"
are ignored. Example:

  {
    "soname": "libanswer.so",
    "symbols": [
      { "name": "answer", "section": "text", "bytes": "b8 2a 00 00 00 c3" },
      { "name": "table", "section": "rodata", "bytes": { "base64": "AQIDBA==" } },
      { "name": "counter", "section": "bss", "size": 8 }
    ]
  }

Calling out: "imports": ["printf@GLIBC_2.2.5", "fflush"] with "needed":
["libc.so.6"], and "references": [{ "symbol": "f", "offset": 11, "target":
"printf" }] (a rel32 to printf's PLT stub; "via": "got" for its GOT slot).
Also "relr", "buildId", "runpath", "bindNow", "flags", "flags1"; a symbol's
"version" (see the README, "Imports and calling out").`,
    )
    .action(async (spec: string, options: { output: string }) => {
      const { runBuild } = await import('./build.js');
      io.out(`${runBuild(spec, options.output)}\n`);
    });

  const inspect = program
    .command('inspect')
    .description('summarise an ELF64 file: header, segments, sections, dynamic entries, symbols, relocations, versions, notes')
    .argument('<file>', 'an ELF64 little-endian file')
    .option('--json', 'print JSON (64-bit values as hex strings)');
  for (const [flag, description] of Object.entries(INSPECT_FLAGS)) inspect.option(`--${flag}`, description);
  inspect.addHelpText('after', '\nEach selection flag prints only its part, several print theirs, none prints every part.');
  inspect.action(async (path: string, options: Record<string, boolean | undefined>) => {
    const { runInspect } = await import('./inspect-command.js');
    const only = Object.keys(INSPECT_FLAGS).filter((flag) => options[camelCase(flag)] === true);
    io.out(`${runInspect(path, only, options.json === true)}\n`);
  });
  program
    .command('core')
    .description('name the JIT frames of a crashed process: extract its live libraries from the core file, with the gdb commands that load them')
    .argument('<corefile>', 'a core file (kernel core dump or gdb gcore)')
    .option('-o, --output <dir>', 'where to write the library images and dlbind.gdb (default <corefile>.dlbind)')
    .action(async (path: string, options: { output?: string }) => {
      const { runCore } = await import('./core.js');
      io.out(`${runCore(path, options.output).lines.join('\n')}\n`);
    });
  return program;
}

/**
 * `build SPEC -o OUT` (or `--output`, before or after SPEC): the command's usual form, which
 * commander would parse to the same two values, so it runs without loading commander (its
 * module and the program's definition took about a third of a short build's time over
 * `node -e 0`). Anything else (another option, a value that starts with '-' but SPEC's '-' for
 * standard input, help) goes through commander.
 */
function plainBuild(argv: readonly string[]): { spec: string; output: string } | undefined {
  if (argv.length !== 4 || argv[0] !== 'build') return undefined;
  const [, a, b, c] = argv as [string, string, string, string];
  const isOutput = (x: string) => x === '-o' || x === '--output';
  const operand = (x: string) => x !== '' && !x.startsWith('-');
  if (isOutput(b) && (operand(a) || a === '-') && operand(c)) return { spec: a, output: c };
  if (isOutput(a) && operand(b) && (operand(c) || c === '-')) return { spec: c, output: b };
  return undefined;
}

/** Runs the command line and returns the exit code. Errors print one line on stderr (with --debug, the stack too). */
export async function run(argv: readonly string[], io: Io = processIo): Promise<number> {
  const debug = argv.includes('--debug');
  let commander: typeof import('commander') | undefined;
  try {
    const build = plainBuild(argv);
    if (build !== undefined) {
      const { runBuild } = await import('./build.js');
      io.out(`${runBuild(build.spec, build.output)}\n`);
      return 0;
    }
    commander = await import('commander');
    await makeProgram(commander, io).parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    if (commander !== undefined && err instanceof commander.CommanderError) return err.exitCode;
    const { message, expected } = describeError(err);
    io.err(`dlbind: ${printable(message)}\n`);
    if (debug) {
      // The error a CliError rewords is the one worth a stack.
      for (let e: unknown = err; e !== undefined; e = e instanceof Error ? e.cause : undefined) {
        io.err(`${e instanceof Error ? e.stack : String(e)}\n`);
      }
    } else if (!expected) io.err('(this looks like a bug in dlbind; run again with --debug for the stack trace)\n');
    return 1;
  }
}
