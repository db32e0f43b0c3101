# dlbind's gdb extension: `dlbind-symbols` names the JIT frames of a process
# whose live dlbind libraries gdb cannot open, above all in a core file, where
# gdb says "Can't open file /memfd:NAME (deleted)" and prints `??`.
#
#   source $(npm root)/dlbind/gdb/dlbind.py     (or put that line in ~/.gdbinit)
#   dlbind-symbols [DIR]
#
# It walks ld.so's link map in the process's memory, finds each library's
# writable shared alias (a second mapping of the same file at offset 0; the
# kernel dumps it in full, since an unlinked memfd counts as shared anonymous
# memory), writes the image found there to DIR (default: a new temporary
# directory) and loads it with `add-symbol-file FILE -o BASE`. The same as
# `dlbind core <corefile>` does from the command line.
import os
import re
import struct
import tempfile

import gdb

_ELF_MAGIC = b"\x7fELF"
_AT_PHDR = 3
_AT_PHNUM = 5
_PT_DYNAMIC = 2
_PT_PHDR = 6
_DT_DEBUG = 21


def _read(addr, length):
    try:
        return bytes(gdb.selected_inferior().read_memory(addr, length))
    except gdb.MemoryError:
        return None


def _read_sparse(addr, length, chunk=1 << 16):
    """Like _read, but a chunk a core left out (MADV_DONTDUMP on unused capacity) reads as zeros."""
    out = bytearray(length)
    for at in range(0, length, chunk):
        piece = _read(addr + at, min(chunk, length - at))
        if piece is not None:
            out[at : at + len(piece)] = piece
    return bytes(out)


def _u64(data, offset):
    return struct.unpack_from("<Q", data, offset)[0]


def _mappings():
    """(start, end, offset, name) of each mapped file, from `info proc mappings` (NT_FILE in a core)."""
    out = gdb.execute("info proc mappings", to_string=True)
    rows = []
    for line in out.splitlines():
        m = re.match(r"\s*(0x[0-9a-f]+)\s+(0x[0-9a-f]+)\s+0x[0-9a-f]+\s+(0x[0-9a-f]+)\s+(?:[rwxps-]{4}\s+)?(\S.*)?$", line)
        if m and m.group(4):
            rows.append((int(m.group(1), 16), int(m.group(2), 16), int(m.group(3), 16), m.group(4).strip()))
    return rows


def _auxv():
    values = {}
    for line in gdb.execute("info auxv", to_string=True).splitlines():
        m = re.match(r"\s*(\d+)\s+\S+\s+.*?(0x[0-9a-f]+|\d+)\s*$", line)
        if m:
            values[int(m.group(1))] = int(m.group(2), 0)
    return values


def _r_debug():
    """The address of ld.so's r_debug, through the executable's DT_DEBUG (also with no symbols for ld.so)."""
    aux = _auxv()
    phdr, phnum = aux.get(_AT_PHDR), aux.get(_AT_PHNUM)
    if phdr is not None and phnum is not None:
        table = _read(phdr, phnum * 56)
        if table is not None:
            bias, dynamic = 0, None
            for i in range(phnum):
                p_type = struct.unpack_from("<I", table, i * 56)[0]
                if p_type == _PT_PHDR:
                    bias = phdr - _u64(table, i * 56 + 16)
                elif p_type == _PT_DYNAMIC:
                    dynamic = (_u64(table, i * 56 + 16), _u64(table, i * 56 + 40))
            if dynamic is not None:
                dyn = _read(dynamic[0] + bias, dynamic[1])
                for o in range(0, len(dyn or b"") - 15, 16):
                    tag = _u64(dyn, o)
                    if tag == 0:
                        break
                    if tag == _DT_DEBUG and _u64(dyn, o + 8) != 0:
                        return _u64(dyn, o + 8)
    try:
        return int(gdb.parse_and_eval("(unsigned long) &_r_debug"))
    except gdb.error:
        return None


def _link_map():
    r_debug = _r_debug()
    if r_debug is None:
        raise gdb.GdbError("dlbind-symbols: cannot find ld.so's r_debug (no DT_DEBUG, no _r_debug symbol)")
    head = _read(r_debug + 8, 8)
    maps, seen = [], set()
    node = _u64(head, 0) if head else 0
    while node and node not in seen and len(maps) < 65536:
        seen.add(node)
        lm = _read(node, 32)
        if lm is None:
            break
        name_ptr = _u64(lm, 8)
        name = b""
        if name_ptr:
            raw = _read(name_ptr, 4096 - (name_ptr & 0xFFF)) or b""
            name = raw.split(b"\0", 1)[0]
        maps.append((_u64(lm, 0), name.decode("utf-8", "replace")))
        node = _u64(lm, 24)
    return maps


def _image_size(head):
    if len(head) < 64 or head[:4] != _ELF_MAGIC or struct.unpack_from("<H", head, 16)[0] != 3:
        return None
    phoff, shoff = _u64(head, 32), _u64(head, 40)
    phnum, shnum = struct.unpack_from("<H", head, 56)[0], struct.unpack_from("<H", head, 60)[0]
    size = max(shoff + shnum * 64, phoff + phnum * 56)
    if phoff + phnum * 56 > len(head):
        return None
    for i in range(phnum):
        o = phoff + i * 56
        size = max(size, _u64(head, o + 8) + _u64(head, o + 32))
    return size


def _is_core():
    return "core dump" in gdb.execute("info target", to_string=True).lower()


class DlbindSymbols(gdb.Command):
    """Load the symbols of dlbind's live JIT libraries from the process's memory.
Usage: dlbind-symbols [DIR]
In a core file (or whenever gdb cannot open a library's file) each library's
image is read from its writable shared alias, written to DIR (default: a new
temporary directory) and loaded with add-symbol-file at its load base."""

    def __init__(self):
        super().__init__("dlbind-symbols", gdb.COMMAND_FILES)

    def invoke(self, argument, from_tty):
        # add-symbol-file asks for confirmation, which a batch run would answer no.
        confirm = gdb.parameter("confirm")
        gdb.execute("set confirm off")
        try:
            self._load(argument)
        finally:
            gdb.execute("set confirm %s" % ("on" if confirm else "off"))

    def _load(self, argument):
        args = gdb.string_to_argv(argument)
        directory = args[0] if args else tempfile.mkdtemp(prefix="dlbind-gdb-")
        os.makedirs(directory, exist_ok=True)
        core = _is_core()
        mappings = _mappings()
        loaded = 0
        for base, name in _link_map():
            first = [m for m in mappings if m[2] == 0 and base <= m[0] <= base + 0xFFF]
            if not first:
                continue
            own = first[0]
            if not core and name and os.access(name, os.R_OK):
                continue  # gdb reads the live file itself
            for start, end, offset, file_name in mappings:
                if file_name != own[3] or offset != 0 or start == own[0]:
                    continue
                head = _read(start, min(65536, end - start))
                size = _image_size(head) if head else None
                # madvise splits the alias into mappings of consecutive file ranges.
                grown = True
                while grown:
                    grown = False
                    for s2, e2, o2, n2 in mappings:
                        if n2 == file_name and s2 == end and o2 == end - start:
                            end, grown = e2, True
                if size is None or size > end - start:
                    continue
                image = _read(start, size) if not core else _read_sparse(start, size)
                if image is None:
                    continue
                page = _read(own[0], 4096)
                if page is not None and image[:4096] != page[: len(image[:4096])]:
                    continue  # another library with the same name
                label = re.sub(r"[^A-Za-z0-9._+-]", "_", re.sub(r"^/memfd:|\s*\(deleted\)$", "", file_name).split("/")[-1]) or "library.so"
                path = os.path.join(directory, "%s@%x" % (label, base))
                with open(path, "wb") as f:
                    # Holes where the image is zero: a zygote is mostly reserved room.
                    for at in range(0, len(image), 65536):
                        chunk = image[at : at + 65536]
                        if chunk.count(0) != len(chunk):
                            f.seek(at)
                            f.write(chunk)
                    f.truncate(len(image))
                gdb.execute("add-symbol-file %s -o %#x" % (path, base), from_tty=False, to_string=True)
                print("dlbind: %s (%s) at %#x: symbols from %s" % (name or file_name, file_name, base, path))
                loaded += 1
                break
        if loaded == 0:
            print("dlbind: no live dlbind library to load")


DlbindSymbols()
