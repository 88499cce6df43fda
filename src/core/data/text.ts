import { constants as bufferConstants } from 'node:buffer';
import { DataError } from '../errors';
import { formatBytes } from '../io/inflate';

/**
 * Decoding the text of data files (CSV). A byte-order mark decides the encoding: UTF-8's
 * (EF BB BF) is skipped, UTF-16 LE (FF FE) and BE (FE FF) are decoded, UTF-32 is refused by
 * name. Without a mark the text is UTF-8; NUL bytes in it (UTF-16/32 without a mark, or a
 * binary file) are refused rather than parsed into nonsense.
 */

/** Longest string V8 can make (about 512 Mi UTF-16 code units). */
export const MAX_TEXT_CHARS = bufferConstants.MAX_STRING_LENGTH;

/** Most bytes of decompressed text read for one file: more could not become one string anyway. */
export const MAX_TEXT_BYTES = MAX_TEXT_CHARS;

function tooLarge(file: string, what: string): DataError {
  return new DataError(
    file,
    `${what} is too large to read as text (at most ${MAX_TEXT_CHARS.toLocaleString('en-US')} characters fit in one string); save large data as .npy or .npz`,
  );
}

export function decodeText(bytes: Uint8Array, file: string): string {
  const b = bytes;
  if (b.length >= 4 && b[0] === 0xff && b[1] === 0xfe && b[2] === 0 && b[3] === 0) {
    throw new DataError(file, 'is UTF-32LE text (byte-order mark FF FE 00 00), which cannot be read; save it as UTF-8');
  }
  if (b.length >= 4 && b[0] === 0 && b[1] === 0 && b[2] === 0xfe && b[3] === 0xff) {
    throw new DataError(file, 'is UTF-32BE text (byte-order mark 00 00 FE FF), which cannot be read; save it as UTF-8');
  }
  let text: string;
  let encoding: string;
  if (b.length >= 2 && ((b[0] === 0xff && b[1] === 0xfe) || (b[0] === 0xfe && b[1] === 0xff))) {
    const le = b[0] === 0xff;
    encoding = le ? 'UTF-16LE' : 'UTF-16BE';
    const body = b.subarray(2);
    if (body.length % 2 !== 0)
      throw new DataError(file, `is ${encoding} text (by its byte-order mark) but has an odd number of bytes (truncated?)`);
    if (body.length / 2 > MAX_TEXT_CHARS) throw tooLarge(file, `${encoding} text of ${formatBytes(body.length)}`);
    const buf = Buffer.from(body); // a copy: swap16 works in place
    if (!le) buf.swap16();
    text = buf.toString('utf16le');
  } else {
    encoding = 'UTF-8';
    const body = b.length >= 3 && b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf ? b.subarray(3) : b;
    // UTF-8 takes one to three bytes per UTF-16 code unit: beyond three times the limit it cannot fit.
    if (body.length > 3 * MAX_TEXT_CHARS) throw tooLarge(file, `text of ${formatBytes(body.length)}`);
    const nul = body.indexOf(0);
    if (nul >= 0) {
      const hint =
        nul % 2 === 1
          ? ' (it looks like UTF-16LE without a byte-order mark; save it as UTF-8, or as UTF-16 with a byte-order mark)'
          : nul === 0
            ? ' (it looks like UTF-16BE without a byte-order mark; save it as UTF-8, or as UTF-16 with a byte-order mark)'
            : ' (binary data, or UTF-16/UTF-32 text without a byte-order mark? save it as UTF-8 text)';
      throw new DataError(file, `is not UTF-8 text: it holds a NUL byte at offset ${nul + (body === b ? 0 : 3)}${hint}`);
    }
    try {
      text = Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf-8');
    } catch {
      throw tooLarge(file, `text of ${formatBytes(body.length)}`);
    }
  }
  if (encoding !== 'UTF-8' && text.includes('\0')) {
    throw new DataError(file, `is ${encoding} text (by its byte-order mark) but holds a NUL character (damaged, or not that encoding?)`);
  }
  return text;
}
