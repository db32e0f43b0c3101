// libc's loader through koffi, as the anchors use it, and the names every figure binds.
import { RTLD_LOCAL, RTLD_NOW, getLibc } from './dlbind.js';

/** dlopen(path, RTLD_NOW | RTLD_LOCAL), throwing dlerror() when it fails. */
export function dlopenOrThrow(path: string): bigint {
  const c = getLibc();
  const h = c.dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (h === 0n) throw new Error(`dlopen(${path}) failed: ${c.dlerror()}`);
  return h;
}

export function dlcloseAll(handles: readonly bigint[]): void {
  const c = getLibc();
  for (const h of handles) if (c.dlclose(h) !== 0) throw new Error(`dlclose failed: ${c.dlerror()}`);
}

/** The names the figures bind: jit_obj_0, jit_obj_1, ... */
export function symbolNames(count: number, prefix = 'jit_obj_'): string[] {
  return Array.from({ length: count }, (_, i) => `${prefix}${i}`);
}

/** The function names of figures 5 and 6: jit_fn_0, jit_fn_1, ... */
export function functionName(i: number): string {
  return `jit_fn_${i}`;
}
