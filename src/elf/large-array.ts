// Large typed arrays that do not set off V8's full garbage collections.
//
// V8 counts the bytes of every ArrayBuffer it allocates as "external memory", and each 64 MiB
// of it since the last mark-compact starts a full marking of the whole heap. The writer's
// columns and section buffers for a million symbols come to about 100 MiB: two or three
// mark-compacts in one build, each walking every object the caller holds (a million spec
// objects: 100 to 170 ms each, about a third of the build). SharedArrayBuffer bytes are not
// counted, so the arrays below are made over one.
//
// Memory V8 does not count is memory V8 will not collect for its own sake: garbage of this
// kind waits for a collection something else sets off. So the bytes of these arrays not yet
// collected are capped (a FinalizationRegistry hands them back once an array is collected);
// past the cap, arrays are ordinary ones again, which V8 counts and collects. A process that
// builds in a loop without ever yielding to the event loop keeps at most the cap of them.

/** A typed array constructor of the kinds the writer and loader use. */
export interface TypedArrayKind<T> {
  new (length: number): T;
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): T;
  readonly BYTES_PER_ELEMENT: number;
}

/** Arrays smaller than this are ordinary: young ones are collected cheaply, and V8 counts little of them. */
export const LARGE_ARRAY_MIN_BYTES = 64 * 1024;

/** At most this many bytes of large arrays not yet collected are hidden from V8's count. */
export const LARGE_ARRAY_UNCOUNTED_CAP = 512 * 1024 * 1024;

let uncounted = 0;
const shared = typeof SharedArrayBuffer === 'function' ? SharedArrayBuffer : undefined;
const collected =
  typeof FinalizationRegistry === 'function'
    ? new FinalizationRegistry<number>((bytes) => {
        uncounted -= bytes;
      })
    : undefined;

/**
 * A zero-filled typed array of `length` elements. From LARGE_ARRAY_MIN_BYTES on it sits on a
 * SharedArrayBuffer (while fewer than LARGE_ARRAY_UNCOUNTED_CAP bytes of such arrays wait to be
 * collected), so that making it does not set off a full garbage collection; it is used like any
 * other typed array, and is never handed to a caller as a result.
 */
export function largeArray<T extends object>(kind: TypedArrayKind<T>, length: number): T {
  const bytes = length * kind.BYTES_PER_ELEMENT;
  if (bytes < LARGE_ARRAY_MIN_BYTES || shared === undefined || collected === undefined || uncounted + bytes > LARGE_ARRAY_UNCOUNTED_CAP) {
    return new kind(length);
  }
  const array = new kind(new shared(bytes), 0, length);
  uncounted += bytes;
  collected.register(array, bytes);
  return array;
}

/** Bytes of large arrays made over a SharedArrayBuffer and not yet known to be collected. */
export function largeArrayUncountedBytes(): number {
  return uncounted;
}
