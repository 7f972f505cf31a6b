// Nesting-depth bounds for untrusted structured input, checked WITHOUT recursion.
//
// JSON.parse itself copes with any depth, but almost everything done with the result afterwards
// recurses: JSON.stringify, structuredClone, zod, the FHIR validator, the CBOR encoder. A body
// nested 5,000 levels deep therefore parses fine and then throws "Maximum call stack size
// exceeded" somewhere far from the edge (issue 16, item 8). The DAG-CBOR decoder recurses
// while decoding, so deep CBOR fails the same way. These scanners walk the raw bytes (or an
// already built value) with an explicit stack and report the depth, stopping as soon as it
// passes the bound, so the check costs one linear pass and never recurses itself.

/**
 * The deepest nesting of objects and arrays in JSON text given as UTF-8 bytes: `{}` and `[]`
 * are depth 1, a scalar document depth 0. Stops and returns as soon as the depth exceeds
 * `stopAbove`. Brackets inside strings do not count. The bytes need not be valid JSON (the
 * parser judges that afterwards); for invalid input the result is an upper bound on what a
 * parser could build before failing. UTF-8 multi-byte sequences never contain ASCII bytes, so
 * scanning bytes is exact.
 */
export function jsonNestingDepth(bytes: Uint8Array, stopAbove = Number.POSITIVE_INFINITY): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (inString) {
      if (b === 0x5c)
        i++; // backslash: the next byte is escaped (\" does not end the string)
      else if (b === 0x22) inString = false;
      continue;
    }
    if (b === 0x22) inString = true;
    else if (b === 0x7b || b === 0x5b) {
      depth++;
      if (depth > deepest) {
        deepest = depth;
        if (deepest > stopAbove) return deepest;
      }
    } else if ((b === 0x7d || b === 0x5d) && depth > 0) depth--;
  }
  return deepest;
}

/**
 * The deepest nesting of plain objects and arrays in a value (as built by JSON.parse or handed
 * over in process): a scalar is 0, `{}`/`[]` 1. Iterative; stops as soon as the depth exceeds
 * `stopAbove`, so it also terminates on a cyclic value (reported as too deep).
 */
export function valueNestingDepth(value: unknown, stopAbove = Number.POSITIVE_INFINITY): number {
  if (!isContainer(value)) return 0;
  let deepest = 0;
  const stack: Array<{ readonly node: object; readonly depth: number }> = [{ node: value, depth: 1 }];
  while (stack.length > 0) {
    const { node, depth } = stack.pop()!;
    if (depth > deepest) {
      deepest = depth;
      if (deepest > stopAbove) return deepest;
    }
    const children: unknown[] = Array.isArray(node) ? node : Object.values(node);
    for (const child of children) if (isContainer(child)) stack.push({ node: child, depth: depth + 1 });
  }
  return deepest;
}

/** Arrays and plain objects nest; bytes (Uint8Array) and other class instances are leaves. */
function isContainer(v: unknown): v is object {
  if (typeof v !== 'object' || v === null) return false;
  if (Array.isArray(v)) return true;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

/**
 * The deepest nesting of arrays, maps and tags in one CBOR data item (RFC 8949), from its
 * encoded bytes: an array, map or tag is one level, a scalar or byte/text string 0. Stops as soon
 * as the depth exceeds `stopAbove`. Only item heads are read and string contents are skipped,
 * so the cost is linear in the number of items. It does not validate: malformed, truncated or
 * indefinite-length input ends the scan with the depth seen so far, and the decoder then rejects
 * it with its own message.
 */
export function cborNestingDepth(bytes: Uint8Array, stopAbove = Number.POSITIVE_INFINITY): number {
  // Items still to read in each open container (a map of n pairs holds 2n items, a tag 1).
  const open: number[] = [];
  let deepest = 0;
  let i = 0;
  while (i < bytes.length) {
    const head = bytes[i++]!;
    const major = head >> 5;
    const info = head & 0x1f;
    let argument: number;
    if (info < 24) argument = info;
    else if (info === 24) argument = bytes[i] ?? 0;
    else if (info === 25) argument = ((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0);
    else if (info === 26) argument = (bytes[i] ?? 0) * 0x1000000 + (((bytes[i + 1] ?? 0) << 16) | ((bytes[i + 2] ?? 0) << 8) | (bytes[i + 3] ?? 0));
    else if (info === 27) {
      // 64-bit: beyond 2^53 the value is imprecise, but any such length runs past the input anyway.
      let v = 0;
      for (let k = 0; k < 8; k++) v = v * 256 + (bytes[i + k] ?? 0);
      argument = v;
    } else return deepest; // indefinite length or reserved: not DAG-CBOR, the decoder refuses it
    i += info < 24 ? 0 : info === 24 ? 1 : info === 25 ? 2 : info === 26 ? 4 : 8;
    // This item is one of its parent's.
    if (open.length > 0) open[open.length - 1]! -= 1;
    let children = 0;
    if (major === 2 || major === 3)
      i += argument; // byte / text string: skip its content
    else if (major === 4) children = argument;
    else if (major === 5) children = 2 * argument;
    else if (major === 6) children = 1;
    if (children > 0) {
      open.push(children);
      if (open.length > deepest) {
        deepest = open.length;
        if (deepest > stopAbove) return deepest;
      }
    } else if (major === 4 || major === 5) {
      deepest = Math.max(deepest, open.length + 1); // an empty array or map is still a level
      if (deepest > stopAbove) return deepest;
    }
    // Close every container whose last item this was.
    while (open.length > 0 && open[open.length - 1] === 0) open.pop();
    if (open.length === 0) break; // one complete top-level item: trailing bytes are the decoder's concern
  }
  return deepest;
}
