;; The writer's per-symbol loops as WebAssembly (see kernels.ts for why).
;; Compiled to kernels-wasm.ts by scripts/build-kernels.mjs; each function is
;; the twin of a JavaScript loop that stays as the fallback, and
;; tests/kernels.test.ts holds each to its twin. Every pointer is a byte
;; offset into this module's memory, every array little-endian, as the
;; JavaScript typed arrays over that memory see it.
(module
  (memory (export "memory") 1)

  ;; Names of `n` ASCII names joined in `src` (name k is `lens[k]` bytes): each
  ;; name's bytes and a NUL to `dst`, its start (`base` + its offset in dst) to
  ;; `starts[k]`, its GNU and SysV hashes to `gnu[k]` and `sysv[k]`. Returns
  ;; -1, or the first name holding a NUL (it and those after it are not
  ;; written). names.ts: NameColumnBuilder.pushJoined.
  (func (export "names")
    (param $src i32) (param $lens i32) (param $n i32) (param $dst i32)
    (param $starts i32) (param $gnu i32) (param $sysv i32) (param $base i32)
    (result i32)
    (local $k i32) (local $end i32) (local $c i32) (local $h i32)
    (local $e i32) (local $g i32) (local $p i32) (local $k4 i32)
    (local.set $p (local.get $dst))
    (block $done
      (loop $name
        (br_if $done (i32.ge_u (local.get $k) (local.get $n)))
        (local.set $k4 (i32.shl (local.get $k) (i32.const 2)))
        (local.set $end (i32.add (local.get $src) (i32.load (i32.add (local.get $lens) (local.get $k4)))))
        (i32.store (i32.add (local.get $starts) (local.get $k4))
          (i32.add (local.get $base) (i32.sub (local.get $p) (local.get $dst))))
        (local.set $h (i32.const 5381))
        (local.set $e (i32.const 0))
        (block $nameDone
          (loop $char
            (br_if $nameDone (i32.ge_u (local.get $src) (local.get $end)))
            (local.set $c (i32.load8_u (local.get $src)))
            (if (i32.eqz (local.get $c)) (then (return (local.get $k))))
            (i32.store8 (local.get $p) (local.get $c))
            (local.set $p (i32.add (local.get $p) (i32.const 1)))
            (local.set $src (i32.add (local.get $src) (i32.const 1)))
            (local.set $h (i32.add (i32.mul (local.get $h) (i32.const 33)) (local.get $c)))
            (local.set $e (i32.add (i32.shl (local.get $e) (i32.const 4)) (local.get $c)))
            (local.set $g (i32.and (local.get $e) (i32.const 0xf0000000)))
            (local.set $e (i32.and
              (i32.xor (local.get $e) (i32.shr_u (local.get $g) (i32.const 24)))
              (i32.xor (local.get $g) (i32.const -1))))
            (br $char)))
        (i32.store8 (local.get $p) (i32.const 0))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (i32.store (i32.add (local.get $gnu) (local.get $k4)) (local.get $h))
        (i32.store (i32.add (local.get $sysv) (local.get $k4)) (local.get $e))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $name)))
    (i32.const -1))

  ;; How many bytes of [from, to) at `src` are 0: eight at a time (a byte's
  ;; high bit set in y exactly when the byte is 0), then one at a time.
  ;; names.ts: nameColumnOfBuffer (each NUL ends a name).
  (func (export "nulCount") (param $src i32) (param $from i32) (param $to i32) (result i32)
    (local $count i32) (local $x i64) (local $y i64)
    (block $words
      (loop $word
        (br_if $words (i32.gt_u (i32.add (local.get $from) (i32.const 8)) (local.get $to)))
        (local.set $x (i64.load (i32.add (local.get $src) (local.get $from))))
        (local.set $y (i64.add (i64.and (local.get $x) (i64.const 0x7f7f7f7f7f7f7f7f)) (i64.const 0x7f7f7f7f7f7f7f7f)))
        (local.set $y (i64.xor (i64.or (i64.or (local.get $y) (local.get $x)) (i64.const 0x7f7f7f7f7f7f7f7f)) (i64.const -1)))
        (local.set $count (i32.add (local.get $count) (i32.wrap_i64 (i64.popcnt (local.get $y)))))
        (local.set $from (i32.add (local.get $from) (i32.const 8)))
        (br $word)))
    (block $bytes
      (loop $byte
        (br_if $bytes (i32.ge_u (local.get $from) (local.get $to)))
        (if (i32.eqz (i32.load8_u (i32.add (local.get $src) (local.get $from))))
          (then (local.set $count (i32.add (local.get $count) (i32.const 1)))))
        (local.set $from (i32.add (local.get $from) (i32.const 1)))
        (br $byte)))
    (local.get $count))

  ;; Bytes [from, to) at `src`, NUL-terminated names back to back: each name's
  ;; start (from `src`) to `starts[k]` (then `starts[count]` = `to`), its GNU
  ;; and SysV hashes to `gnu[k]` and `sysv[k]`. Returns the count, or -1 for an
  ;; empty name (the caller's JavaScript loop finds which one). The caller has
  ;; checked that byte to - 1 is a NUL. names.ts: nameColumnOfBuffer.
  (func (export "scanNames")
    (param $src i32) (param $from i32) (param $to i32) (param $starts i32) (param $gnu i32) (param $sysv i32)
    (result i32)
    (local $p i32) (local $c i32) (local $h i32) (local $e i32) (local $g i32)
    (local $k4 i32) (local $first i32)
    (local.set $p (local.get $from))
    (local.set $first (local.get $from))
    (local.set $h (i32.const 5381))
    (block $done
      (loop $byte
        (br_if $done (i32.ge_u (local.get $p) (local.get $to)))
        (local.set $c (i32.load8_u (i32.add (local.get $src) (local.get $p))))
        (if (i32.eqz (local.get $c))
          (then
            (if (i32.eq (local.get $p) (local.get $first)) (then (return (i32.const -1))))
            (i32.store (i32.add (local.get $starts) (local.get $k4)) (local.get $first))
            (i32.store (i32.add (local.get $gnu) (local.get $k4)) (local.get $h))
            (i32.store (i32.add (local.get $sysv) (local.get $k4)) (local.get $e))
            (local.set $k4 (i32.add (local.get $k4) (i32.const 4)))
            (local.set $p (i32.add (local.get $p) (i32.const 1)))
            (local.set $first (local.get $p))
            (local.set $h (i32.const 5381))
            (local.set $e (i32.const 0))
            (br $byte)))
        (local.set $h (i32.add (i32.mul (local.get $h) (i32.const 33)) (local.get $c)))
        (local.set $e (i32.add (i32.shl (local.get $e) (i32.const 4)) (local.get $c)))
        (local.set $g (i32.and (local.get $e) (i32.const 0xf0000000)))
        (local.set $e (i32.and
          (i32.xor (local.get $e) (i32.shr_u (local.get $g) (i32.const 24)))
          (i32.xor (local.get $g) (i32.const -1))))
        (local.set $p (i32.add (local.get $p) (i32.const 1)))
        (br $byte)))
    (i32.store (i32.add (local.get $starts) (local.get $k4)) (local.get $to))
    (i32.shr_u (local.get $k4) (i32.const 2)))

  ;; Counting sort of the `m` symbols in `exported` by GNU bucket (stable) into
  ;; `order`, each one's hash (from `hashes`, by symbol) into `sorted`, in
  ;; three steps that the caller may call over ranges of `exported` in order:
  ;; gnuCount counts them into `counts` (nbuckets + 1 words, zeroed first),
  ;; gnuPrefix makes counts[b] the first place of bucket b, gnuScatter places
  ;; them. writer.ts: gnuBucketOrder.
  (func (export "gnuCount")
    (param $hashes i32) (param $exported i32) (param $m i32) (param $nbuckets i32) (param $counts i32)
    (local $k i32) (local $i i32) (local $h i32) (local $cell i32)
    (block $done
      (loop $count
        (br_if $done (i32.ge_u (local.get $k) (local.get $m)))
        (local.set $i (i32.load (i32.add (local.get $exported) (i32.shl (local.get $k) (i32.const 2)))))
        (local.set $h (i32.load (i32.add (local.get $hashes) (i32.shl (local.get $i) (i32.const 2)))))
        (local.set $cell (i32.add (local.get $counts) (i32.shl (i32.add (i32.rem_u (local.get $h) (local.get $nbuckets)) (i32.const 1)) (i32.const 2))))
        (i32.store (local.get $cell) (i32.add (i32.load (local.get $cell)) (i32.const 1)))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $count))))

  (func (export "gnuPrefix") (param $counts i32) (param $nbuckets i32)
    (local $k i32) (local $cell i32) (local $sum i32)
    (block $done
      (loop $sum
        (br_if $done (i32.gt_u (local.get $k) (local.get $nbuckets)))
        (local.set $cell (i32.add (local.get $counts) (i32.shl (local.get $k) (i32.const 2))))
        (local.set $sum (i32.add (local.get $sum) (i32.load (local.get $cell))))
        (i32.store (local.get $cell) (local.get $sum))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $sum))))

  (func (export "gnuScatter")
    (param $hashes i32) (param $exported i32) (param $m i32) (param $nbuckets i32)
    (param $counts i32) (param $order i32) (param $sorted i32)
    (local $k i32) (local $i i32) (local $h i32) (local $at i32) (local $cell i32)
    (block $done
      (loop $scatter
        (br_if $done (i32.ge_u (local.get $k) (local.get $m)))
        (local.set $i (i32.load (i32.add (local.get $exported) (i32.shl (local.get $k) (i32.const 2)))))
        (local.set $h (i32.load (i32.add (local.get $hashes) (i32.shl (local.get $i) (i32.const 2)))))
        (local.set $cell (i32.add (local.get $counts) (i32.shl (i32.rem_u (local.get $h) (local.get $nbuckets)) (i32.const 2))))
        (local.set $at (i32.load (local.get $cell)))
        (i32.store (local.get $cell) (i32.add (local.get $at) (i32.const 1)))
        (i32.store (i32.add (local.get $order) (i32.shl (local.get $at) (i32.const 2))) (local.get $i))
        (i32.store (i32.add (local.get $sorted) (i32.shl (local.get $at) (i32.const 2))) (local.get $h))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $scatter))))

  ;; The GNU table for `count` symbols from `first` with these hashes (sorted by
  ;; bucket): bloom words (pairs of 32-bit halves), buckets and chain words,
  ;; over zeroed memory, for symbols [from, to) of them (ranges in order).
  ;; writer.ts: fillGnuHash.
  (func (export "fillGnu")
    (param $hashes i32) (param $from i32) (param $to i32) (param $count i32) (param $first i32) (param $bloom i32)
    (param $bloomWords i32) (param $buckets i32) (param $nbuckets i32) (param $chain i32)
    (local $k i32) (local $h i32) (local $word i32) (local $bit i32) (local $b i32)
    (local $cell i32) (local $next i32)
    (local.set $k (local.get $from))
    (block $done
      (loop $each
        (br_if $done (i32.ge_u (local.get $k) (local.get $to)))
        (local.set $h (i32.load (i32.add (local.get $hashes) (i32.shl (local.get $k) (i32.const 2)))))
        ;; word = ((h / 64) % bloomWords) * 2 halves, each 4 bytes
        (local.set $word (i32.add (local.get $bloom)
          (i32.shl (i32.rem_u (i32.shr_u (local.get $h) (i32.const 6)) (local.get $bloomWords)) (i32.const 3))))
        (local.set $bit (i32.and (local.get $h) (i32.const 63)))
        (local.set $cell (i32.add (local.get $word) (i32.shl (i32.shr_u (local.get $bit) (i32.const 5)) (i32.const 2))))
        (i32.store (local.get $cell) (i32.or (i32.load (local.get $cell)) (i32.shl (i32.const 1) (local.get $bit))))
        (local.set $bit (i32.and (i32.shr_u (local.get $h) (i32.const 26)) (i32.const 63)))
        (local.set $cell (i32.add (local.get $word) (i32.shl (i32.shr_u (local.get $bit) (i32.const 5)) (i32.const 2))))
        (i32.store (local.get $cell) (i32.or (i32.load (local.get $cell)) (i32.shl (i32.const 1) (local.get $bit))))
        (local.set $b (i32.rem_u (local.get $h) (local.get $nbuckets)))
        (local.set $cell (i32.add (local.get $buckets) (i32.shl (local.get $b) (i32.const 2))))
        (if (i32.eqz (i32.load (local.get $cell)))
          (then (i32.store (local.get $cell) (i32.add (local.get $k) (local.get $first)))))
        (local.set $next (i32.add (local.get $k) (i32.const 1)))
        (i32.store (i32.add (local.get $chain) (i32.shl (local.get $k) (i32.const 2)))
          (if (result i32)
            (if (result i32) (i32.eq (local.get $next) (local.get $count))
              (then (i32.const 1))
              (else (i32.ne (i32.rem_u (i32.load (i32.add (local.get $hashes) (i32.shl (local.get $next) (i32.const 2)))) (local.get $nbuckets)) (local.get $b))))
            (then (i32.or (local.get $h) (i32.const 1)))
            (else (i32.and (local.get $h) (i32.const -2)))))
        (local.set $k (local.get $next))
        (br $each))))

  ;; SysV chains: symbols first, first + 1, ... (`order`'s, by their hashes in
  ;; `sysv`, by symbol) each at the head of its bucket's chain. `chains` is
  ;; indexed by symbol table index. writer.ts: chainSysv.
  (func (export "chainSysv")
    (param $sysv i32) (param $order i32) (param $m i32) (param $first i32)
    (param $buckets i32) (param $nbucket i32) (param $chains i32)
    (local $k i32) (local $sym i32) (local $cell i32)
    (block $done
      (loop $each
        (br_if $done (i32.ge_u (local.get $k) (local.get $m)))
        (local.set $sym (i32.add (local.get $k) (local.get $first)))
        (local.set $cell (i32.add (local.get $buckets)
          (i32.shl (i32.rem_u
            (i32.load (i32.add (local.get $sysv) (i32.shl (i32.load (i32.add (local.get $order) (i32.shl (local.get $k) (i32.const 2)))) (i32.const 2))))
            (local.get $nbucket)) (i32.const 2))))
        (i32.store (i32.add (local.get $chains) (i32.shl (local.get $sym) (i32.const 2))) (i32.load (local.get $cell)))
        (i32.store (local.get $cell) (local.get $sym))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $each))))

  ;; Elf64_Sym entries of order[0, m) to `table` (24 bytes each): st_name
  ;; `nameBase` + nameOffsets[k], st_info, st_other, st_shndx and the section's
  ;; address from the 4-entry tables by section code, st_value that address
  ;; plus the symbol's offset, st_size. writer.ts: writeSymbolEntries.
  (func (export "symbolEntries")
    (param $table i32) (param $order i32) (param $m i32) (param $nameOffsets i32) (param $nameBase i32)
    (param $section i32) (param $offset i32) (param $size i32) (param $info i32) (param $other i32)
    (param $shndx i32) (param $addr i32)
    (local $k i32) (local $i i32) (local $code i32) (local $at i32)
    (local.set $at (local.get $table))
    (block $done
      (loop $each
        (br_if $done (i32.ge_u (local.get $k) (local.get $m)))
        (local.set $i (i32.load (i32.add (local.get $order) (i32.shl (local.get $k) (i32.const 2)))))
        (local.set $code (i32.load8_u (i32.add (local.get $section) (local.get $i))))
        (i32.store (local.get $at)
          (i32.add (local.get $nameBase) (i32.load (i32.add (local.get $nameOffsets) (i32.shl (local.get $k) (i32.const 2))))))
        (i32.store8 offset=4 (local.get $at) (i32.load8_u (i32.add (local.get $info) (local.get $i))))
        (i32.store8 offset=5 (local.get $at) (i32.load8_u (i32.add (local.get $other) (local.get $i))))
        (i32.store16 offset=6 (local.get $at) (i32.load (i32.add (local.get $shndx) (i32.shl (local.get $code) (i32.const 2)))))
        (i64.store offset=8 (local.get $at)
          (i64.trunc_sat_f64_u (f64.add
            (f64.load (i32.add (local.get $addr) (i32.shl (local.get $code) (i32.const 3))))
            (f64.load (i32.add (local.get $offset) (i32.shl (local.get $i) (i32.const 3)))))))
        (i64.store offset=16 (local.get $at)
          (i64.trunc_sat_f64_u (f64.load (i32.add (local.get $size) (i32.shl (local.get $i) (i32.const 3))))))
        (local.set $at (i32.add (local.get $at) (i32.const 24)))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $each))))

  ;; The first name of [from, to) (in order) equal to an earlier one: returns
  ;; its index and stores the earlier one's at `twin`, or returns -1; -2 when a
  ;; name's probe passes `limit` slots. Open addressing on the GNU hashes in
  ;; `table` (mask + 1 words, -1 where empty: the caller fills it before the
  ;; first range and keeps it between ranges).
  ;; names.ts: findDuplicateName.
  (func (export "firstDuplicate")
    (param $bytes i32) (param $starts i32) (param $gnu i32) (param $from i32) (param $to i32)
    (param $table i32) (param $mask i32) (param $twin i32) (param $limit i32) (result i32)
    (local $i i32) (local $h i32) (local $at i32) (local $j i32) (local $cell i32)
    (local $a i32) (local $b i32) (local $len i32) (local $q i32) (local $walked i32)
    (local.set $i (local.get $from))
    (block $done
      (loop $each
        (br_if $done (i32.ge_u (local.get $i) (local.get $to)))
        (local.set $h (i32.load (i32.add (local.get $gnu) (i32.shl (local.get $i) (i32.const 2)))))
        ;; names.ts: firstSlot (Fibonacci hashing; `h & mask` clusters on short names).
        (local.set $at (i32.shr_u (i32.mul (local.get $h) (i32.const 0x9e3779b1)) (i32.clz (local.get $mask))))
        (local.set $walked (i32.const 0))
        (block $placed
          (loop $probe
            ;; names.ts: PROBE_LIMIT (names made to share a GNU hash; the caller rekeys them).
            (if (i32.gt_u (local.get $walked) (local.get $limit)) (then (return (i32.const -2))))
            (local.set $walked (i32.add (local.get $walked) (i32.const 1)))
            (local.set $cell (i32.add (local.get $table) (i32.shl (local.get $at) (i32.const 2))))
            (local.set $j (i32.load (local.get $cell)))
            (if (i32.lt_s (local.get $j) (i32.const 0))
              (then (i32.store (local.get $cell) (local.get $i)) (br $placed)))
            (if (i32.eq (i32.load (i32.add (local.get $gnu) (i32.shl (local.get $j) (i32.const 2)))) (local.get $h))
              (then
                (local.set $a (i32.load (i32.add (local.get $starts) (i32.shl (local.get $i) (i32.const 2)))))
                (local.set $b (i32.load (i32.add (local.get $starts) (i32.shl (local.get $j) (i32.const 2)))))
                (local.set $len (i32.sub (i32.load (i32.add (local.get $starts) (i32.shl (i32.add (local.get $i) (i32.const 1)) (i32.const 2)))) (local.get $a)))
                (if (i32.eq (local.get $len)
                      (i32.sub (i32.load (i32.add (local.get $starts) (i32.shl (i32.add (local.get $j) (i32.const 1)) (i32.const 2)))) (local.get $b)))
                  (then
                    (local.set $q (i32.const 0))
                    (block $differ
                      (loop $compare
                        (if (i32.ge_u (local.get $q) (local.get $len))
                          (then
                            (i32.store (local.get $twin) (local.get $j))
                            (return (local.get $i))))
                        (br_if $differ (i32.ne
                          (i32.load8_u (i32.add (local.get $bytes) (i32.add (local.get $a) (local.get $q))))
                          (i32.load8_u (i32.add (local.get $bytes) (i32.add (local.get $b) (local.get $q))))))
                        (local.set $q (i32.add (local.get $q) (i32.const 1)))
                        (br $compare)))))))
            (local.set $at (i32.and (i32.add (local.get $at) (i32.const 1)) (local.get $mask)))
            (br $probe)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $each)))
    (i32.const -1))

  ;; String tables (strtab.ts). A string is `length[i]` bytes at `addr[i]`.

  ;; addr[i] = bytes + bases[src[i]] + begin[i] for each of `n` strings
  ;; (`src` 16-bit source numbers, `bases` each source's place in `bytes`).
  (func (export "stringAddrs")
    (param $bytes i32) (param $bases i32) (param $src i32) (param $begin i32) (param $n i32) (param $addr i32)
    (local $i i32) (local $i4 i32)
    (block $done
      (loop $each
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $i4 (i32.shl (local.get $i) (i32.const 2)))
        (i32.store (i32.add (local.get $addr) (local.get $i4))
          (i32.add (i32.add (local.get $bytes)
              (i32.load (i32.add (local.get $bases) (i32.shl (i32.load16_u (i32.add (local.get $src) (i32.shl (local.get $i) (i32.const 1)))) (i32.const 2)))))
            (i32.load (i32.add (local.get $begin) (local.get $i4)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $each))))

  ;; order[i] = i for i < n.
  (func (export "identity") (param $order i32) (param $n i32)
    (local $i i32)
    (block $done
      (loop $each
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (i32.store (i32.add (local.get $order) (i32.shl (local.get $i) (i32.const 2))) (local.get $i))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $each))))

  ;; The 64-bit sort key of order[r] for r in [from, to) to keys[r]: five
  ;; bytes from `depth` bytes before the end, last first (0 past the start),
  ;; then the id in the low 24 bits. Returns whether a string is longer than
  ;; depth + 5. strtab.ts: sortKeys.
  (func (export "sortKeys")
    (param $order i32) (param $from i32) (param $to i32) (param $depth i32)
    (param $addr i32) (param $length i32) (param $keys i32) (result i32)
    (local $r i32) (local $i i32) (local $last i32) (local $left i32) (local $longer i32)
    (local $key i64) (local $b i32)
    (local.set $r (local.get $from))
    (block $done
      (loop $each
        (br_if $done (i32.ge_u (local.get $r) (local.get $to)))
        (local.set $i (i32.load (i32.add (local.get $order) (i32.shl (local.get $r) (i32.const 2)))))
        (local.set $left (i32.sub (i32.load (i32.add (local.get $length) (i32.shl (local.get $i) (i32.const 2)))) (local.get $depth)))
        ;; last = the byte `depth` before the string's last one
        (local.set $last (i32.sub (i32.add (i32.load (i32.add (local.get $addr) (i32.shl (local.get $i) (i32.const 2)))) (local.get $left)) (i32.const 1)))
        (local.set $key (i64.const 0))
        (local.set $b (i32.const 0))
        (block $bytesDone
          (loop $byte
            (br_if $bytesDone (i32.ge_u (local.get $b) (i32.const 5)))
            (local.set $key (i64.or (i64.shl (local.get $key) (i64.const 8))
              (if (result i64) (i32.gt_s (local.get $left) (local.get $b))
                (then (i64.load8_u (i32.sub (local.get $last) (local.get $b))))
                (else (i64.const 0)))))
            (local.set $b (i32.add (local.get $b) (i32.const 1)))
            (br $byte)))
        (i64.store (i32.add (local.get $keys) (i32.shl (local.get $r) (i32.const 3)))
          (i64.or (i64.shl (local.get $key) (i64.const 24)) (i64.extend_i32_u (local.get $i))))
        (if (i32.gt_s (local.get $left) (i32.const 5)) (then (local.set $longer (i32.const 1))))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $each)))
    (local.get $longer))

  ;; order[r] = the id in keys[r] for r in [from, to). strtab.ts: sortedIds.
  (func (export "sortedIds") (param $order i32) (param $from i32) (param $to i32) (param $keys i32)
    (local $r i32)
    (local.set $r (local.get $from))
    (block $done
      (loop $each
        (br_if $done (i32.ge_u (local.get $r) (local.get $to)))
        (i32.store (i32.add (local.get $order) (i32.shl (local.get $r) (i32.const 2)))
          (i32.and (i32.load (i32.add (local.get $keys) (i32.shl (local.get $r) (i32.const 3)))) (i32.const 0xffffff)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $each))))

  ;; Each run of two or more keys in [from, to) that agree on their five bytes,
  ;; as [start, end) pairs to `runs`; returns how many. strtab.ts: pushRuns.
  (func (export "keyRuns") (param $keys i32) (param $from i32) (param $to i32) (param $runs i32) (result i32)
    (local $r i32) (local $start i32) (local $count i32) (local $startBytes i64)
    (local.set $start (local.get $from))
    (local.set $startBytes (i64.shr_u (i64.load (i32.add (local.get $keys) (i32.shl (local.get $from) (i32.const 3)))) (i64.const 24)))
    (local.set $r (i32.add (local.get $from) (i32.const 1)))
    (block $done
      (loop $each
        (br_if $done (i32.gt_u (local.get $r) (local.get $to)))
        (block $boundary
          (br_if $boundary (i32.ge_u (local.get $r) (local.get $to)))
          (br_if $boundary (i64.ne (local.get $startBytes)
            (i64.shr_u (i64.load (i32.add (local.get $keys) (i32.shl (local.get $r) (i32.const 3)))) (i64.const 24))))
          (local.set $r (i32.add (local.get $r) (i32.const 1)))
          (br $each))
        (if (i32.gt_u (i32.sub (local.get $r) (local.get $start)) (i32.const 1))
          (then
            (i32.store (i32.add (local.get $runs) (i32.shl (local.get $count) (i32.const 3))) (local.get $start))
            (i32.store offset=4 (i32.add (local.get $runs) (i32.shl (local.get $count) (i32.const 3))) (local.get $r))
            (local.set $count (i32.add (local.get $count) (i32.const 1)))))
        (local.set $start (local.get $r))
        (if (i32.lt_u (local.get $r) (local.get $to))
          (then (local.set $startBytes (i64.shr_u (i64.load (i32.add (local.get $keys) (i32.shl (local.get $r) (i32.const 3)))) (i64.const 24)))))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $each)))
    (local.get $count))

  ;; Offsets of the strings placed in descending reversed order (`order`
  ;; ascending), a string that ends the one placed last sharing its bytes;
  ;; returns the table's size. strtab.ts: shareSuffixes.
  (func (export "shareSuffixes")
    (param $order i32) (param $n i32) (param $addr i32) (param $length i32) (param $offsets i32) (result i32)
    (local $size i32) (local $havePrev i32) (local $prevOffset i32) (local $prevLength i32) (local $prevEnd i32)
    (local $r i32) (local $i i32) (local $len i32) (local $start i32) (local $k i32)
    (local.set $size (i32.const 1))
    (local.set $r (local.get $n))
    (block $done
      (loop $each
        (br_if $done (i32.eqz (local.get $r)))
        (local.set $r (i32.sub (local.get $r) (i32.const 1)))
        (local.set $i (i32.load (i32.add (local.get $order) (i32.shl (local.get $r) (i32.const 2)))))
        (local.set $len (i32.load (i32.add (local.get $length) (i32.shl (local.get $i) (i32.const 2)))))
        (br_if $each (i32.eqz (local.get $len)))
        (local.set $start (i32.load (i32.add (local.get $addr) (i32.shl (local.get $i) (i32.const 2)))))
        (block $own
          (br_if $own (i32.eqz (local.get $havePrev)))
          (br_if $own (i32.lt_u (local.get $prevLength) (local.get $len)))
          (local.set $k (local.get $len))
          (block $differ
            (loop $compare
              (br_if $differ (i32.eqz (local.get $k)))
              (local.set $k (i32.sub (local.get $k) (i32.const 1)))
              (br_if $differ (i32.ne
                (i32.load8_u (i32.add (i32.sub (local.get $prevEnd) (local.get $len)) (local.get $k)))
                (i32.load8_u (i32.add (local.get $start) (local.get $k)))))
              (br_if $compare (i32.ne (local.get $k) (i32.const 0)))
              ;; every byte matched: this string ends the previous one
              (i32.store (i32.add (local.get $offsets) (i32.shl (local.get $i) (i32.const 2)))
                (i32.sub (i32.add (local.get $prevOffset) (local.get $prevLength)) (local.get $len)))
              (br $each))))
        (i32.store (i32.add (local.get $offsets) (i32.shl (local.get $i) (i32.const 2))) (local.get $size))
        (local.set $havePrev (i32.const 1))
        (local.set $prevOffset (local.get $size))
        (local.set $prevLength (local.get $len))
        (local.set $prevEnd (i32.add (local.get $start) (local.get $len)))
        (local.set $size (i32.add (local.get $size) (i32.add (local.get $len) (i32.const 1))))
        (br $each)))
    (local.get $size))

  ;; Each of `n` strings' bytes to `out` + offsets[i] (the table; its
  ;; terminators are the zeros already there). strtab.ts: StringTableBuilder.write.
  ;; The bytes go 8 at a time, then one at a time, never past a string's end:
  ;; memory.copy is a call out of the module (Liftoff and TurboFan alike), some
  ;; 20 ns for a name of a dozen bytes.
  (func (export "gatherStrings") (param $addr i32) (param $length i32) (param $offsets i32) (param $n i32) (param $out i32)
    (local $i i32) (local $i4 i32) (local $len i32) (local $from i32) (local $to i32) (local $end i32)
    (block $done
      (loop $each
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $i4 (i32.shl (local.get $i) (i32.const 2)))
        (local.set $len (i32.load (i32.add (local.get $length) (local.get $i4))))
        (local.set $to (i32.add (local.get $out) (i32.load (i32.add (local.get $offsets) (local.get $i4)))))
        (local.set $from (i32.load (i32.add (local.get $addr) (local.get $i4))))
        (local.set $end (i32.add (local.get $from) (local.get $len)))
        (block $words
          (loop $word
            (br_if $words (i32.gt_u (i32.add (local.get $from) (i32.const 8)) (local.get $end)))
            (i64.store (local.get $to) (i64.load (local.get $from)))
            (local.set $from (i32.add (local.get $from) (i32.const 8)))
            (local.set $to (i32.add (local.get $to) (i32.const 8)))
            (br $word)))
        (block $bytes
          (loop $byte
            (br_if $bytes (i32.ge_u (local.get $from) (local.get $end)))
            (i32.store8 (local.get $to) (i32.load8_u (local.get $from)))
            (local.set $from (i32.add (local.get $from) (i32.const 1)))
            (local.set $to (i32.add (local.get $to) (i32.const 1)))
            (br $byte)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $each))))

  ;; The planner's small passes over every symbol (writer.ts, strtab.ts).

  ;; The exported (not STB_LOCAL) symbols' indexes of the first `n` to the
  ;; front of `split`, the locals' to the back (last first); returns how many
  ;; are exported. writer.ts: splitExported.
  (func (export "splitExported") (param $info i32) (param $n i32) (param $split i32) (result i32)
    (local $i i32) (local $dyn i32) (local $locals i32)
    (local.set $locals (local.get $n))
    (block $done
      (loop $each
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (if (i32.shr_u (i32.load8_u (i32.add (local.get $info) (local.get $i))) (i32.const 4))
          (then
            (i32.store (i32.add (local.get $split) (i32.shl (local.get $dyn) (i32.const 2))) (local.get $i))
            (local.set $dyn (i32.add (local.get $dyn) (i32.const 1))))
          (else
            (local.set $locals (i32.sub (local.get $locals) (i32.const 1)))
            (i32.store (i32.add (local.get $split) (i32.shl (local.get $locals) (i32.const 2))) (local.get $i))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $each)))
    (local.get $dyn))

  ;; index[i] = -1 for i < n, then index[order[k]] = first + k for k < m.
  ;; writer.ts: numberInOrder.
  (func (export "numberInOrder") (param $order i32) (param $m i32) (param $index i32) (param $n i32) (param $first i32)
    (local $k i32)
    (memory.fill (local.get $index) (i32.const 0xff) (i32.shl (local.get $n) (i32.const 2)))
    (block $done
      (loop $each
        (br_if $done (i32.ge_u (local.get $k) (local.get $m)))
        (i32.store (i32.add (local.get $index) (i32.shl (i32.load (i32.add (local.get $order) (i32.shl (local.get $k) (i32.const 2)))) (i32.const 2)))
          (i32.add (local.get $first) (local.get $k)))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $each))))

  ;; used[code] = 1 for each of the `n` section codes. writer.ts: markUsed.
  (func (export "markUsed") (param $codes i32) (param $n i32) (param $used i32)
    (local $i i32)
    (block $done
      (loop $each
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (i32.store8 (i32.add (local.get $used) (i32.load8_u (i32.add (local.get $codes) (local.get $i)))) (i32.const 1))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $each))))

  ;; The first symbol whose bytes do not lie inside its section (its offset
  ;; and size not both at least 0, or its end past sectionSizes[code]), or -1.
  ;; writer.ts: firstOutside.
  (func (export "firstOutside") (param $codes i32) (param $n i32) (param $offsets i32) (param $sizes i32) (param $sectionSizes i32) (result i32)
    (local $i i32) (local $o f64) (local $z f64)
    (block $done
      (loop $each
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $o (f64.load (i32.add (local.get $offsets) (i32.shl (local.get $i) (i32.const 3)))))
        (local.set $z (f64.load (i32.add (local.get $sizes) (i32.shl (local.get $i) (i32.const 3)))))
        (if (i32.eqz (i32.and (i32.and (f64.ge (local.get $o) (f64.const 0)) (f64.ge (local.get $z) (f64.const 0)))
              (f64.le (f64.add (local.get $o) (local.get $z))
                (f64.load (i32.add (local.get $sectionSizes) (i32.shl (i32.load8_u (i32.add (local.get $codes) (local.get $i))) (i32.const 3)))))))
          (then (return (local.get $i))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $each)))
    (i32.const -1))

  ;; For k < m, string first + k is name order[k] of a column (starts in
  ;; `start`) of source `source`: its src, begin and length. strtab.ts:
  ;; StringTableBuilder.addColumn.
  (func (export "columnStrings")
    (param $order i32) (param $m i32) (param $start i32) (param $source i32)
    (param $src i32) (param $begin i32) (param $length i32)
    (local $k i32) (local $a i32) (local $at i32)
    (block $done
      (loop $each
        (br_if $done (i32.ge_u (local.get $k) (local.get $m)))
        (local.set $at (i32.add (local.get $start) (i32.shl (i32.load (i32.add (local.get $order) (i32.shl (local.get $k) (i32.const 2)))) (i32.const 2))))
        (local.set $a (i32.load (local.get $at)))
        (i32.store16 (i32.add (local.get $src) (i32.shl (local.get $k) (i32.const 1))) (local.get $source))
        (i32.store (i32.add (local.get $begin) (i32.shl (local.get $k) (i32.const 2))) (local.get $a))
        (i32.store (i32.add (local.get $length) (i32.shl (local.get $k) (i32.const 2)))
          (i32.sub (i32.sub (i32.load offset=4 (local.get $at)) (local.get $a)) (i32.const 1)))
        (local.set $k (i32.add (local.get $k) (i32.const 1)))
        (br $each)))))
