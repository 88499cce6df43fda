/**
 * Seeded mutations of file bytes for the reader fuzzer. Generic byte edits plus edits aimed at the
 * fields readers trust: decimal numbers in JSON/text headers, protobuf varints, binary length and
 * dimension words near the start of a file.
 */

export type Rng = () => number;

export function randInt(rng: Rng, lo: number, hi: number): number {
  return lo + Math.floor(rng() * (hi - lo + 1));
}

function pick<T>(rng: Rng, items: readonly T[]): T {
  return items[Math.floor(rng() * items.length)];
}

/** Values that tend to break size arithmetic: zero, negatives, word boundaries, beyond 2^53. */
const INTERESTING_NUMBERS = [
  '0',
  '-1',
  '1',
  '-2147483648',
  '2147483647',
  '4294967295',
  '4294967296',
  '9007199254740993',
  '1e308',
  '1e400',
  '-1e308',
  '0.5',
  '1e-400',
  '18446744073709551615',
  '65536',
  '100000000',
  'NaN',
  'null',
  '""',
  '[]',
  '{}',
];
const INTERESTING_BIGINTS = [
  0n,
  1n,
  0x7fn,
  0xffn,
  0x7fffn,
  0xffffn,
  0x7fffffffn,
  0xffffffffn,
  0x100000000n,
  0x1fffffffffffffn,
  0xffffffffffffffffn,
];

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function range(rng: Rng, len: number, maxSpan = 256): [number, number] {
  if (len === 0) return [0, 0];
  const start = randInt(rng, 0, len - 1);
  const span = randInt(rng, 1, Math.min(maxSpan, len - start));
  return [start, start + span];
}

function flipBits(rng: Rng, b: Uint8Array): Uint8Array {
  const out = b.slice();
  const n = randInt(rng, 1, 8);
  for (let i = 0; i < n && out.length; i++) out[randInt(rng, 0, out.length - 1)] ^= 1 << randInt(rng, 0, 7);
  return out;
}

function setBytes(rng: Rng, b: Uint8Array): Uint8Array {
  const out = b.slice();
  const n = randInt(rng, 1, 4);
  for (let i = 0; i < n && out.length; i++)
    out[randInt(rng, 0, out.length - 1)] = pick(rng, [0, 1, 0x7f, 0x80, 0xff, randInt(rng, 0, 255)]);
  return out;
}

function cut(rng: Rng, b: Uint8Array): Uint8Array {
  // Cuts near the start hit headers, so they are weighted up.
  const at = rng() < 0.5 ? randInt(rng, 0, Math.min(b.length, 128)) : randInt(rng, 0, b.length);
  return b.slice(0, at);
}

function deleteRange(rng: Rng, b: Uint8Array): Uint8Array {
  const [s, e] = range(rng, b.length);
  return concat(b.subarray(0, s), b.subarray(e));
}

function duplicateRange(rng: Rng, b: Uint8Array): Uint8Array {
  const [s, e] = range(rng, b.length, 64);
  const times = randInt(rng, 1, rng() < 0.1 ? 200 : 4);
  const chunk = b.subarray(s, e);
  return concat(b.subarray(0, e), ...Array.from({ length: times }, () => chunk), b.subarray(e));
}

function insertJunk(rng: Rng, b: Uint8Array): Uint8Array {
  const at = randInt(rng, 0, b.length);
  const junk = new Uint8Array(randInt(rng, 1, 64));
  for (let i = 0; i < junk.length; i++) junk[i] = randInt(rng, 0, 255);
  return concat(b.subarray(0, at), junk, b.subarray(at));
}

function zeroRange(rng: Rng, b: Uint8Array): Uint8Array {
  const out = b.slice();
  const [s, e] = range(rng, b.length, 1024);
  out.fill(0, s, e);
  return out;
}

/** Replaces one decimal number in the text (JSON fields, npy/safetensors headers, CSV cells). */
function changeNumber(rng: Rng, b: Uint8Array): Uint8Array {
  const spans: [number, number][] = [];
  for (let i = 0; i < b.length && spans.length < 4096; i++) {
    const c = b[i];
    if ((c >= 48 && c <= 57) || (c === 45 && b[i + 1] >= 48 && b[i + 1] <= 57)) {
      let j = i + 1;
      while (j < b.length && ((b[j] >= 48 && b[j] <= 57) || b[j] === 46 || b[j] === 101 || b[j] === 69)) j++;
      spans.push([i, j]);
      i = j;
    }
  }
  if (!spans.length) return flipBits(rng, b);
  const [s, e] = pick(rng, spans);
  const value = rng() < 0.8 ? pick(rng, INTERESTING_NUMBERS) : String(randInt(rng, -1000, 100000));
  return concat(b.subarray(0, s), new TextEncoder().encode(value), b.subarray(e));
}

function encodeVarint(v: bigint): Uint8Array {
  const out: number[] = [];
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) byte |= 0x80;
    out.push(byte);
  } while (v > 0n);
  return Uint8Array.from(out);
}

/** Rewrites the varint at a random offset: in protobuf (ONNX) these are lengths, dims and tags. */
function changeVarint(rng: Rng, b: Uint8Array): Uint8Array {
  if (!b.length) return b;
  const at = randInt(rng, 0, b.length - 1);
  let end = at;
  while (end < b.length && end - at < 10 && b[end] & 0x80) end++;
  end = Math.min(end + 1, b.length);
  const v = pick(rng, INTERESTING_BIGINTS) + BigInt(randInt(rng, 0, 1)) * BigInt(randInt(rng, 0, 3));
  return concat(b.subarray(0, at), encodeVarint(v), b.subarray(end));
}

/** Overwrites a 1/2/4/8-byte word near the start (IDX dims, npy header length, safetensors length). */
function changeHeaderWord(rng: Rng, b: Uint8Array): Uint8Array {
  const out = b.slice();
  const width = pick(rng, [1, 2, 4, 8]);
  if (out.length < width) return out;
  const at = randInt(rng, 0, Math.min(out.length - width, 64));
  const little = rng() < 0.5;
  let v = pick(rng, INTERESTING_BIGINTS) & ((1n << BigInt(width * 8)) - 1n);
  for (let i = 0; i < width; i++) {
    out[at + (little ? i : width - 1 - i)] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

type JsonValue = null | boolean | number | string | JsonValue[] | { [k: string]: JsonValue };

const JSON_REPLACEMENTS: (() => JsonValue)[] = [
  () => null,
  () => 0,
  () => -1,
  () => 1e308,
  () => 4294967296,
  () => 2 ** 53,
  () => 0.5,
  () => '',
  () => 'x'.repeat(1000),
  () => [],
  () => ({}),
  () => [1e9, 1e9],
  () => [-1],
  () => true,
  () => ({ dtype: 'F32', shape: [1e9, 1e9], data_offsets: [0, 8] }),
];

/** Replaces, deletes or duplicates one node of a JSON document (keeps it valid JSON). */
function mutateJsonValue(rng: Rng, root: JsonValue): JsonValue {
  const nodes: { parent: JsonValue[] | Record<string, JsonValue>; key: string | number }[] = [];
  const walk = (v: JsonValue): void => {
    if (nodes.length > 20000) return;
    if (Array.isArray(v)) v.forEach((c, i) => (nodes.push({ parent: v, key: i }), walk(c)));
    else if (v && typeof v === 'object') {
      for (const k of Object.keys(v)) {
        nodes.push({ parent: v, key: k });
        walk(v[k]);
      }
    }
  };
  walk(root);
  if (!nodes.length) return pick(rng, JSON_REPLACEMENTS)();
  const { parent, key } = pick(rng, nodes);
  const r = rng();
  if (r < 0.2) {
    if (Array.isArray(parent)) parent.splice(key as number, 1);
    else delete parent[key as string];
  } else if (r < 0.3 && Array.isArray(parent)) {
    parent.splice(key as number, 0, JSON.parse(JSON.stringify(parent[key as number])) as JsonValue);
  } else {
    (parent as Record<string, JsonValue>)[key as string] = pick(rng, JSON_REPLACEMENTS)();
  }
  return root;
}

function tryJson(b: Uint8Array): JsonValue | undefined {
  if (!b.length || (b[0] !== 0x7b && b[0] !== 0x5b)) return undefined;
  try {
    return JSON.parse(new TextDecoder().decode(b)) as JsonValue;
  } catch {
    return undefined;
  }
}

function mutateJson(rng: Rng, b: Uint8Array): Uint8Array {
  const json = tryJson(b);
  if (json === undefined) return changeNumber(rng, b);
  return new TextEncoder().encode(JSON.stringify(mutateJsonValue(rng, json)));
}

/** safetensors: edit the JSON header structurally, fixing the length word or not. */
function mutateSafetensorsHeader(rng: Rng, b: Uint8Array): Uint8Array {
  if (b.length < 8) return b;
  const n = Number(new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0, true));
  if (n <= 0 || 8 + n > b.length) return changeHeaderWord(rng, b);
  const header = mutateJson(rng, b.subarray(8, 8 + n));
  const len = new Uint8Array(8);
  new DataView(len.buffer).setBigUint64(0, BigInt(rng() < 0.8 ? header.length : n), true);
  return concat(len, header, b.subarray(8 + n));
}

export type MutationName =
  'flip' | 'set' | 'cut' | 'delete' | 'duplicate' | 'junk' | 'zero' | 'number' | 'varint' | 'header-word' | 'json' | 'safetensors-header';

const MUTATIONS: Record<MutationName, (rng: Rng, b: Uint8Array) => Uint8Array> = {
  flip: flipBits,
  set: setBytes,
  cut,
  delete: deleteRange,
  duplicate: duplicateRange,
  junk: insertJunk,
  zero: zeroRange,
  number: changeNumber,
  varint: changeVarint,
  'header-word': changeHeaderWord,
  json: mutateJson,
  'safetensors-header': mutateSafetensorsHeader,
};

const GENERIC: MutationName[] = ['flip', 'set', 'cut', 'delete', 'duplicate', 'junk', 'zero', 'header-word', 'number'];

/** Which edits suit which kind of file; the structure-aware ones are weighted up by repetition. */
export const MUTATION_SETS = {
  binary: GENERIC,
  protobuf: [...GENERIC, 'varint', 'varint', 'varint'] as MutationName[],
  json: [...GENERIC, 'json', 'json', 'json', 'number'] as MutationName[],
  safetensors: [...GENERIC, 'safetensors-header', 'safetensors-header', 'number'] as MutationName[],
  text: [...GENERIC, 'number', 'number'] as MutationName[],
} satisfies Record<string, MutationName[]>;

export type MutationSet = keyof typeof MUTATION_SETS;

/** Applies one to three edits from the set; returns the new bytes and the edits' names. */
export function mutate(rng: Rng, bytes: Uint8Array, set: MutationSet): { bytes: Uint8Array; ops: MutationName[] } {
  const ops: MutationName[] = [];
  let out = bytes;
  const n = randInt(rng, 1, 3);
  for (let i = 0; i < n; i++) {
    const name = pick(rng, MUTATION_SETS[set]);
    ops.push(name);
    out = MUTATIONS[name](rng, out);
  }
  return { bytes: out, ops };
}
