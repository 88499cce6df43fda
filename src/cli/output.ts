import { backendInfo, engineInfo } from '../core/backend';

/** JSON on stdout, always carrying the backend (and the engine, once one was chosen) that computed it. */
export function printJson(value: object): void {
  const b = backendInfo();
  const engine = engineInfo()?.name;
  process.stdout.write(
    `${JSON.stringify({ ...value, backend: b.name, tfjsVersion: b.tfjsVersion, ...(engine ? { engine } : {}) }, null, 2)}\n`,
  );
}

/** Progress and diagnostics go to stderr so stdout stays parseable. */
export function info(message: string): void {
  process.stderr.write(`${message}\n`);
}

/** Something the person should know about that did not stop the command. */
export function warn(message: string): void {
  process.stderr.write(`warning: ${message}\n`);
}

export function table(headers: string[], rows: (string | number)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map(String))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => r[i].length)));
  const right = rows.length > 0 ? rows[0].map((c) => typeof c === 'number') : [];
  const line = (r: string[]) =>
    r
      .map((c, i) => (right[i] ? c.padStart(widths[i]) : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(cells[0]), line(widths.map((w) => '-'.repeat(w))), ...cells.slice(1).map(line)].join('\n');
}

export function percent(x: number, digits = 2): string {
  return `${(x * 100).toFixed(digits)}%`;
}
