/**
 * The external data files an ONNX model names, found without onnx-proto (so the extension host can
 * key cached results by them, see model-files.ts) and without loading the model: the protobuf is
 * walked with positioned reads, skipping over raw_data and everything else not on the path
 * ModelProto.graph (7) -> initializer (5), sparse_initializer (15) -> values (1) / indices (2),
 * node (1) -> attribute (5) -> t (5): the tensors the reader's prescan (graph-base.ts) loads.
 * A tensor is external when data_location (14) is EXTERNAL (1); its file is the value of its
 * external_data (13) entry whose key (1) is "location" (value 2), the first one, as tensor.ts reads it.
 * Anything malformed ends the walk: the reader reports the problem, and the files found so far stand.
 */
import { promises as fs } from 'node:fs';

const WINDOW = 64 * 1024;
const EXTERNAL = 1;

class Malformed extends Error {}

/** Bytes of an open file by position, through one window, so that skipping costs nothing. */
class Source {
  private buf = Buffer.alloc(0);
  private start = 0;

  constructor(
    private readonly handle: fs.FileHandle,
    readonly size: number,
  ) {}

  async byte(at: number): Promise<number> {
    if (at < this.start || at >= this.start + this.buf.length) {
      if (at >= this.size) throw new Malformed();
      const buf = Buffer.alloc(Math.min(WINDOW, this.size - at));
      const { bytesRead } = await this.handle.read(buf, 0, buf.length, at);
      this.buf = buf.subarray(0, bytesRead);
      this.start = at;
      if (bytesRead === 0) throw new Malformed();
    }
    return this.buf[at - this.start];
  }

  async bytes(at: number, length: number): Promise<Buffer> {
    const out = Buffer.alloc(length);
    const { bytesRead } = await this.handle.read(out, 0, length, at);
    if (bytesRead !== length) throw new Malformed();
    return out;
  }
}

/** A field of a message: its number, and for length-delimited fields where the value lies, else the varint. */
interface Field {
  no: number;
  start: number;
  end: number;
  varint: number;
}

async function varint(src: Source, at: number): Promise<{ value: number; next: number }> {
  let value = 0;
  for (let i = 0; i < 10; i++) {
    const b = await src.byte(at + i);
    // Past 2^53 the value is wrong but only lengths and small enums are used, and those are checked.
    value += (b & 0x7f) * 2 ** (7 * i);
    if (!(b & 0x80)) return { value, next: at + i + 1 };
  }
  throw new Malformed();
}

/** Past the end of group `no` (deprecated, but protobuf parsers skip it in unknown fields, and so the reader's). */
async function skipGroup(src: Source, at: number, no: number): Promise<number> {
  const open = [no];
  while (open.length > 0) {
    const tag = await varint(src, at);
    const [n, wire] = [Math.floor(tag.value / 8), tag.value % 8];
    at = tag.next;
    if (wire === 0) at = (await varint(src, at)).next;
    else if (wire === 1 || wire === 5) at += wire === 1 ? 8 : 4;
    else if (wire === 2) {
      const len = await varint(src, at);
      at = len.next + len.value;
    } else if (wire === 3) open.push(n);
    else if (wire === 4 && open.pop() === n) continue;
    else throw new Malformed();
  }
  return at;
}

/** The fields of the message in [start, end) whose numbers are in `wanted`, in order. */
async function fields(src: Source, start: number, end: number, wanted: Set<number>): Promise<Field[]> {
  const out: Field[] = [];
  let at = start;
  while (at < end) {
    const tag = await varint(src, at);
    const [no, wire] = [Math.floor(tag.value / 8), tag.value % 8];
    at = tag.next;
    if (wire === 0) {
      const v = await varint(src, at);
      if (wanted.has(no)) out.push({ no, start: at, end: v.next, varint: v.value });
      at = v.next;
    } else if (wire === 2) {
      const len = await varint(src, at);
      if (len.next + len.value > end) throw new Malformed();
      if (wanted.has(no)) out.push({ no, start: len.next, end: len.next + len.value, varint: 0 });
      at = len.next + len.value;
    } else if (wire === 1 || wire === 5) {
      at += wire === 1 ? 8 : 4;
    } else if (wire === 3) {
      at = await skipGroup(src, at, no);
    } else {
      throw new Malformed();
    }
  }
  if (at !== end) throw new Malformed();
  return out;
}

/** The location of a TensorProto in [start, end) stored externally, else undefined. */
async function externalLocation(src: Source, f: Field): Promise<string | undefined> {
  const parts = await fields(src, f.start, f.end, new Set([13, 14]));
  if (!parts.some((p) => p.no === 14 && p.varint === EXTERNAL)) return undefined;
  for (const entry of parts.filter((p) => p.no === 13)) {
    const kv = await fields(src, entry.start, entry.end, new Set([1, 2]));
    const text = async (no: number) => {
      const g = kv.filter((x) => x.no === no).pop();
      return g ? (await src.bytes(g.start, g.end - g.start)).toString('utf8') : '';
    };
    if ((await text(1)) === 'location') return text(2);
  }
  return undefined;
}

/** The tensors the reader's prescan looks at, in its order: initializers, sparse parts, node attributes. */
async function graphTensors(src: Source, graph: Field): Promise<Field[]> {
  const parts = await fields(src, graph.start, graph.end, new Set([1, 5, 15]));
  const out = parts.filter((p) => p.no === 5);
  for (const s of parts.filter((p) => p.no === 15)) out.push(...(await fields(src, s.start, s.end, new Set([1, 2]))));
  for (const node of parts.filter((p) => p.no === 1)) {
    for (const attr of await fields(src, node.start, node.end, new Set([5]))) {
      out.push(...(await fields(src, attr.start, attr.end, new Set([5]))));
    }
  }
  return out;
}

/** The external data locations an ONNX file names, each once, in the order its reader opens them (not checked: see model-files.ts). */
export async function onnxExternalLocations(file: string): Promise<string[]> {
  const handle = await fs.open(file, 'r');
  const locations: string[] = [];
  try {
    const src = new Source(handle, (await handle.stat()).size);
    for (const graph of await fields(src, 0, src.size, new Set([7]))) {
      for (const t of await graphTensors(src, graph)) {
        const location = await externalLocation(src, t);
        if (location && !locations.includes(location)) locations.push(location);
      }
    }
  } catch (e) {
    if (!(e instanceof Malformed)) throw e;
  } finally {
    await handle.close();
  }
  return locations;
}
