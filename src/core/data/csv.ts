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
      throw new DataError(
        file,
        `has no column named "${option}"${header ? names : ' (the file has no header row; give the label column as a 0-based index)'}`,
      );
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
  const table = new CsvTableBuilder(file, options);
  try {
    parse(text, {
      delimiter,
      skip_empty_lines: true,
      trim: true,
      relax_column_count: true,
      bom: true,
      on_record: (record: string[], context) => {
        table.record(record, context.lines);
        return null;
      },
    });
  } catch (e) {
    if (e instanceof DataError) throw e;
    throw new DataError(file, `cannot parse CSV: ${(e as Error).message}`);
  }
  return table.finish();
}

/**
 * A table filled record by record. The first record is held back until the second shows whether
 * it is a header; the first data row fixes the columns and the label column.
 */
class CsvTableBuilder {
  private first: string[] | undefined;
  private firstLine = 0;
  private header: string[] | null = null;
  private columns = 0;
  private labelIndex = -1;
  private features = 0;
  private x = new Float32Array(1024);
  private n = 0;
  private readonly labels: string[] = [];
  private started = false;

  constructor(
    private readonly file: string,
    private readonly options: CsvOptions,
  ) {}

  /** One parsed record, on line `line` of the text. */
  record(record: string[], line: number): void {
    if (this.first === undefined && !this.started) {
      this.first = record;
      this.firstLine = line;
      return;
    }
    if (this.first !== undefined) {
      const first = this.first;
      const numbers = record.map(isNumber);
      const isHeader = this.options.header ?? first.some((cell, i) => !isNumber(cell) && numbers[i]);
      this.first = undefined;
      if (isHeader) this.header = first.map((c) => c.trim());
      else this.addRow(first, this.firstLine);
    }
    this.addRow(record, line);
  }

  /** The table, once every record is in; a file of one row is a header only when none of its cells is a number. */
  finish(): CsvTable {
    const first = this.first;
    if (first !== undefined) {
      // a single row
      const isHeader = this.options.header ?? !first.some(isNumber);
      if (isHeader) {
        this.header = first.map((c) => c.trim());
        this.start(this.header.length);
      } else {
        this.addRow(first, this.firstLine);
      }
    }
    if (!this.started) throw new DataError(this.file, 'is empty');
    const { x, n, features, labelIndex } = this;
    return {
      file: this.file,
      header: this.header,
      x: x.length === n * features ? x : x.slice(0, n * features),
      n,
      features,
      labelIndex,
      labels: labelIndex >= 0 ? this.labels : null,
    };
  }

  private start(cols: number): void {
    const { file, header } = this;
    this.columns = cols;
    this.labelIndex = resolveLabelColumn(file, header, cols, this.options.labelColumn);
    this.features = this.labelIndex >= 0 ? cols - 1 : cols;
    if (this.features === 0) {
      throw new DataError(
        file,
        `has no feature columns (only the label column ${header ? `"${header[this.labelIndex]}"` : this.labelIndex})`,
      );
    }
    this.started = true;
  }

  private addRow(record: string[], line: number): void {
    if (!this.started) this.start(record.length);
    const { file, header, columns, labelIndex, features, n } = this;
    if (record.length !== columns) {
      throw new DataError(file, `line ${line} has ${record.length} columns, expected ${columns}`);
    }
    if ((n + 1) * features > this.x.length) {
      const bigger = new Float32Array(Math.max(this.x.length * 2, (n + 1) * features));
      bigger.set(this.x);
      this.x = bigger;
    }
    const x = this.x;
    let k = n * features;
    for (let c = 0; c < columns; c++) {
      const cell = record[c];
      if (c === labelIndex) {
        if (cell.trim() === '') throw new DataError(file, `line ${line}: the label cell is empty`);
        this.labels.push(cell.trim());
        continue;
      }
      if (!isNumber(cell)) {
        const col = header ? `"${header[c]}"` : `${c}`;
        throw new DataError(file, `line ${line}, column ${col}: ${cell.trim() === '' ? 'empty cell' : `"${cell}" is not a number`}`);
      }
      x[k++] = Number(cell);
    }
    this.n = n + 1;
  }
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
    throw new DataError(
      t.file,
      `label column ${col} holds ${nonInteger} (data row ${row + 1}); labels must be class indices or class names, not continuous values`,
    );
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
