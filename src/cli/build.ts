// `dlbind build`: a shared object from a JSON spec, written atomically.
import { statSync } from 'node:fs';
import { buildFromPlan, planSharedObject } from '../elf/builder.js';
import { planSymbolName } from '../elf/columns.js';
import { ElfBuildError } from '../elf/errors.js';
import { writeFileAtomic } from '../elf/file.js';
import type { ObjectLayout, ObjectPlan } from '../elf/writer.js';
import { CliError, describeSystemError } from './errors.js';
import { grouped } from './format.js';
import { loadSpec } from './spec.js';

/** How many names the summary shows before '...'. */
const SHOWN = 8;

/**
 * The names of .dynsym's first `count` slots after the null symbol, from what the writer
 * decided rather than from reading the file back: the imports come first, then the exported
 * symbols in the order the hash table put them (layout.dynsymIndex).
 */
function dynamicSymbolNames(plan: ObjectPlan, layout: ObjectLayout, count: number): string[] {
  const names: string[] = [];
  const imports = plan.links?.imports ?? [];
  for (let k = 0; k < imports.length && names.length < count; k++) names.push(imports[k]!.name);
  const base = imports.length + 1;
  const exported = Math.min(count - names.length, layout.dynsymUsed - base);
  if (exported <= 0) return names;
  const slots = new Array<string>(exported);
  const index = layout.dynsymIndex;
  for (let i = 0; i < index.length; i++) {
    const at = index[i]! - base;
    if (at >= 0 && at < exported) slots[at] = planSymbolName(plan, i);
  }
  for (const name of slots) names.push(name);
  return names;
}

/** Builds `specPath` into `outPath` and returns a one-line summary. */
export function runBuild(specPath: string, outPath: string): string {
  const spec = loadSpec(specPath);
  let plan: ObjectPlan;
  let built: ReturnType<typeof buildFromPlan>;
  try {
    plan = planSharedObject(spec);
    built = buildFromPlan(plan);
  } catch (err) {
    if (err instanceof ElfBuildError) throw new CliError(`${specPath === '-' ? '<stdin>' : specPath}: ${err.message}`, { cause: err });
    throw err;
  }
  const { bytes, layout } = built;
  let isDirectory = false;
  try {
    isDirectory = statSync(outPath).isDirectory();
  } catch {
    // a new file
  }
  if (isDirectory) throw new CliError(`cannot write ${outPath}: it is a directory`);
  try {
    writeFileAtomic(outPath, bytes);
  } catch (err) {
    throw new CliError(`cannot write ${outPath}: ${describeSystemError(err) ?? (err as Error).message}`, { cause: err });
  }
  // Every .dynsym slot in use but the null symbol has a name (the writer refuses empty ones).
  const count = layout.dynsymUsed - 1;
  const names = dynamicSymbolNames(plan, layout, SHOWN + 1);
  const shown = count > SHOWN ? `${names.slice(0, SHOWN).join(', ')}, ...` : names.join(', ');
  return `wrote ${outPath}: ${grouped(bytes.length)} bytes, ${plan.machine}, ${count} dynamic symbol${count === 1 ? '' : 's'}${count > 0 ? ` (${shown})` : ''}`;
}
