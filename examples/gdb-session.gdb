# gdb -batch -x examples/gdb-session.gdb --args node --import tsx examples/gdb-target.ts
set pagination off
set confirm off
set debuginfod enabled off
set print thread-events off
set print inferior-events off
# jit_square does not exist yet when gdb starts: keep the breakpoint pending.
set breakpoint pending on
break jit_square
run
# Stopped at the breakpoint, inside code that was written after the library was loaded.
echo \n--- info symbol $pc\n
info symbol $pc
echo --- x/3i $pc\n
x/3i $pc
echo --- info sharedlibrary /proc/\n
info sharedlibrary /proc/
echo --- continue\n
continue
