// The program that examples/gdb-session.gdb debugs: it JIT-compiles a function
// after the library was loaded, and calls it. gdb, started before the function
// existed, stops at a breakpoint on it and names it.
//
//   gdb -batch -x examples/gdb-session.gdb --args node --import tsx examples/gdb-target.ts
import { dlcreate, dlfunc } from 'dlbind';

// int jit_square(int x) { return x * x; }
const code =
  process.arch === 'arm64'
    ? new Uint8Array(Uint32Array.of(0x1b007c00, 0xd65f03c0).buffer) // mul w0, w0, w0; ret
    : Uint8Array.of(0x0f, 0xaf, 0xff, 0x89, 0xf8, 0xc3); // imul edi, edi; mov eax, edi; ret

// debug: 'auto' (the default) tells a debugger about new symbols only while one is attached.
const lib = dlcreate('libgdbexample.so', { debug: 'auto' });
const addr = lib.addFunction('jit_square', code);
// Binds are announced to gdb at the end of this event-loop turn; flush() does it now,
// before the call below runs into the breakpoint gdb has waiting for jit_square.
lib.flush();
const square = dlfunc(addr, 'int jit_square(int x)');
console.log(`jit_square(7) = ${square(7)}`);
lib.delete();
