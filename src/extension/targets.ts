/** The part of vscode.Uri that argument handling needs (so it is testable without vscode). */
export interface UriLike {
  scheme: string;
  fsPath: string;
}

export function isUriLike(v: unknown): v is UriLike {
  return typeof v === 'object' && v !== null && typeof (v as UriLike).scheme === 'string' && typeof (v as UriLike).fsPath === 'string';
}

/**
 * The model files a command was invoked on. VS Code passes (clickedUri, selectedUris) from the
 * explorer, (uri, context) from an editor title, nothing from the palette. A multi-selection
 * wins over the clicked file; non-file URIs and duplicates are dropped, order kept.
 */
export function targetsFromArgs(args: readonly unknown[]): string[] {
  const [first, second] = args;
  let uris: UriLike[] = [];
  if (Array.isArray(second) && second.length > 0 && second.every(isUriLike)) uris = second;
  else if (isUriLike(first)) uris = [first];
  else if (Array.isArray(first) && first.every(isUriLike)) uris = first;
  const paths: string[] = [];
  for (const u of uris) if (u.scheme === 'file' && !paths.includes(u.fsPath)) paths.push(u.fsPath);
  return paths;
}

/** Parses "1000, 500,200" into [1000, 500, 200]; undefined when it is not a list of positive integers. */
export function parseLayerSizes(text: string): number[] | undefined {
  const parts = text.split(/[\s,x]+/).filter(Boolean);
  if (parts.length === 0) return undefined;
  const sizes = parts.map(Number);
  return sizes.every((n) => Number.isInteger(n) && n > 0 && n <= 1_000_000) ? sizes : undefined;
}

/** Parses "50", "50%" or "0.5" into 0.5; undefined outside [0, 1). */
export function parseSparsity(text: string): number | undefined {
  const t = text.trim();
  const percent = t.endsWith('%');
  const n = Number(percent ? t.slice(0, -1) : t);
  if (t === '' || !Number.isFinite(n)) return undefined;
  const share = percent || n > 1 ? n / 100 : n;
  return share >= 0 && share < 1 ? share : undefined;
}
