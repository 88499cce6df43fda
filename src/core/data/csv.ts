import { parse } from 'csv-parse/sync';
import { DataError } from '../errors';
import { readFileBytes } from '../io/read';
import { DATA_LIMIT_ENV, formatBytes } from '../io/inflate';
import { gunzipData, isGzip } from './idx';
import { decodeText, MAX_TEXT_BYTES } from './text';

/**
 * CSV tables of numeric features and one label column.
 * - Header: the first row is a header when one of its cells is not a number while the cell
 *   below it is (or, for a one-row file, when none of its cells is a number); `header` forces it.
 * - Label column: `labelColumn` as a header name or a 0-based index (negative counts from the
 *   end; a string of digits is an index when no header cell has that name); else the column
 *   named label/labels/class/target/y (any case); else the last column. `null`: no labels.
 * - Labels are class indices (integers >= 0) or class names; names are numbered in sorted
 *   order over all files read together (see `labelIndices`).
 * - Delimiter: comma, or tab/semicolon when the first line has more of those than commas.
 */

export interface CsvOptions {
  labelColumn?: string | number | null;
  header?: boolean;
}

export interface CsvTable {
  file: string;
  /** Header cells, or null when the file has none. */
  header: string[] | null;
  /** Row-major [n, features] (every column but the label). */
  x: Float32Array;
  n: number;
  features: number;
  /** Label column index in the file, or -1 when unlabelled. */
  labelIndex: number;
  /** Raw label cells, one per row, or null. */
  labels: string[] | null;
}

const LABEL_NAMES = ['label', 'labels', 'class', 'target', 'y'];

const isNumber = (s: string) => s.trim() !== '' && Number.isFinite(Number(s));

function detectDelimiter(text: string): string {
  const nl = text.indexOf('\n');
  const first = nl === -1 ? text : text.slice(0, nl);
  const count = (c: string) => first.split(c).length - 1;
  const best = [',', '\t', ';'].map((d) => ({ d, n: count(d) })).sort((a, b) => b.n - a.n)[0];
  return best.n > 0 ? best.d : ',';
}

function resolveLabelColumn(file: string, header: string[] | null, columns: number, option: string | number | null | undefined): number {
  if (option === null) return -1;
  const names = header ? ` (columns: ${header.join(', ')})` : '';
  if (option === undefined) {
    if (header) {
      const i = header.findIndex((h) => LABEL_NAMES.includes(h.trim().toLowerCase()));
      if (i >= 0) return i;
    }
    return columns - 1;
  }
  let index: number;
  if (typeof option === 'string') {
    const wanted = option.trim();
    if (header) {
      let i = header.findIndex((h) => h.trim() === wanted);
      if (i < 0) i = header.findIndex((h) => h.trim().toLowerCase() === wanted.toLowerCase());
      if (i >= 0) return i;
    }
    if (!/^-?\d+$/.test(wanted)) {
      throw new DataError(file, `has no column named "${option}"${header ? names : ' (the file has no header row; give the label column as a 0-based index)'}`);
    }
    index = Number(wanted);
  } else {
    index = option;
  }
  const i = index < 0 ? columns + index : index;
  if (!Number.isInteger(i) || i < 0 || i >= columns) {
    throw new DataError(file, `label column ${option} is outside the ${columns} columns${names}`);
  }
  return i;
}

/** Parses CSV text. `file` names it in errors. */
export function parseCsv(text: string, file: string, options: CsvOptions = {}): CsvTable {
  const delimiter = detectDelimiter(text);
  let first: string[] | undefined;
  let header: string[] | null = null;
  let columns = 0;
  let labelIndex = -1;
  let features = 0;
  let x = new Float32Array(1024);
  let n = 0;
  const labels: string[] = [];
  let started = false;

  const start = (cols: number) => {
    columns = cols;
    labelIndex = resolveLabelColumn(file, header, columns, options.labelColumn);
    features = labelIndex >= 0 ? columns - 1 : columns;
    if (features === 0) throw new DataError(file, `has no feature columns (only the label column ${header ? `"${header[labelIndex]}"` : labelIndex})`);
    started = true;
  };

  const addRow = (record: string[], line: number) => {
    if (!started) start(record.length);
    if (record.length !== columns) {
      throw new DataError(file, `line ${line} has ${record.length} columns, expected ${columns}`);
    }
    if ((n + 1) * features > x.length) {
      const bigger = new Float32Array(Math.max(x.length * 2, (n + 1) * features));
      bigger.set(x);
      x = bigger;
    }
    let k = n * features;
    for (let c = 0; c < columns; c++) {
      const cell = record[c];
      if (c === labelIndex) {
        if (cell.trim() === '') throw new DataError(file, `line ${line}: the label cell is empty`);
        labels.push(cell.trim());
        continue;
      }
      if (!isNumber(cell)) {
        const col = header ? `"${header[c]}"` : `${c}`;
        throw new DataError(file, `line ${line}, column ${col}: ${cell.trim() === '' ? 'empty cell' : `"${cell}" is not a number`}`);
      }
      x[k++] = Number(cell);
    }
    n++;
  };

  let firstLine = 0;
  try {
    parse(text, {
      delimiter,
      skip_empty_lines: true,
      trim: true,
      relax_column_count: true,
      bom: true,
      on_record: (record: string[], context) => {
        const line = context.lines;
        if (first === undefined && !started) {
          first = record;
          firstLine = line;
          return null;
        }
        if (first !== undefined) {
          const numbers = record.map(isNumber);
          const isHeader = options.header ?? first.some((cell, i) => !isNumber(cell) && numbers[i]);
          const pending = first;
          first = undefined;
          if (isHeader) header = pending.map((c) => c.trim());
          else addRow(pending, firstLine);
        }
        addRow(record, line);
        return null;
      },
    });
  } catch (e) {
    if (e instanceof DataError) throw e;
    throw new DataError(file, `cannot parse CSV: ${(e as Error).message}`);
  }
  if (first !== undefined) {
    // a single row
    const isHeader = options.header ?? !first.some(isNumber);
    if (isHeader) {
      header = first.map((c) => c.trim());
      start(header.length);
    } else {
      addRow(first, firstLine);
    }
  }
  if (!started) throw new DataError(file, 'is empty');
  return {
    file,
    header,
    x: x.length === n * features ? x : x.slice(0, n * features),
    n,
    features,
    labelIndex,
    labels: labelIndex >= 0 ? labels : null,
  };
}

/**
 * Reads a CSV file, gzipped or not (by content), in UTF-8 or (with a byte-order mark) UTF-16; see
 * text.ts. Gzipped text is inflated to at most MAX_TEXT_BYTES (512 MiB, the most one string can
 * hold; the PRUNESCOPE_MAX_DATA_BYTES limit when that is lower) and refused the moment it goes past.
 */
export async function readCsvFile(path: string, options: CsvOptions = {}): Promise<CsvTable> {
  let bytes = await readFileBytes(path);
  if (isGzip(bytes)) {
    bytes = gunzipData(bytes, path, {
      bytes: MAX_TEXT_BYTES,
      why: `${formatBytes(MAX_TEXT_BYTES)}, the most text one CSV file can hold (a string's limit; ${DATA_LIMIT_ENV} can only lower it); save large data as .npy or .npz`,
    });
  }
  return parseCsv(decodeText(bytes, path), path, options);
}

/**
 * Class indices for the label cells of several tables read together (e.g. train.csv and
 * test.csv): integers >= 0 are used as they are; if any label is not such an integer, all
 * distinct labels are numbered in sorted order (numbers numerically, before names).
 */
export function labelIndices(tables: CsvTable[]): (Int32Array | null)[] {
  const all = tables.flatMap((t) => t.labels ?? []);
  const isIndex = (s: string) => /^\d+(\.0*)?$/.test(s) && Number(s) <= 0x7fffffff;
  if (all.every(isIndex)) {
    return tables.map((t) => (t.labels ? Int32Array.from(t.labels, (s) => Number(s)) : null));
  }
  const nonInteger = all.find((s) => isNumber(s) && !Number.isInteger(Number(s)));
  if (nonInteger !== undefined) {
    const t = tables.find((tb) => tb.labels?.includes(nonInteger))!;
    const row = t.labels!.indexOf(nonInteger);
    const col = t.header ? `"${t.header[t.labelIndex]}"` : `${t.labelIndex}`;
    throw new DataError(t.file, `label column ${col} holds ${nonInteger} (data row ${row + 1}); labels must be class indices or class names, not continuous values`);
  }
  const distinct = [...new Set(all)].sort((a, b) => {
    const na = isNumber(a);
    const nb = isNumber(b);
    if (na && nb) return Number(a) - Number(b);
    if (na !== nb) return na ? -1 : 1;
    return a < b ? -1 : a > b ? 1 : 0;
  });
  const index = new Map(distinct.map((s, i) => [s, i]));
  return tables.map((t) => (t.labels ? Int32Array.from(t.labels, (s) => index.get(s)!) : null));
}
