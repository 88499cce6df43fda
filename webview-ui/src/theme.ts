/** Chart colours from VS Code's theme variables, so charts follow light, dark and high contrast themes. */
export interface ThemeColours {
  kind: 'light' | 'dark' | 'high-contrast' | 'high-contrast-light';
  foreground: string;
  muted: string;
  grid: string;
  background: string;
  /** Series colours, one per strategy or layer (cycled). */
  palette: string[];
  /** Heatmap ends: value 0 and value 1. */
  heatLow: string;
  heatHigh: string;
  /** Cells whose value is undefined. */
  heatNull: string;
  fontFamily: string;
  fontSize: number;
}

const FALLBACK_PALETTE = ['#3794ff', '#f14c4c', '#cca700', '#89d185', '#b180d7', '#d18616'];

/** Reads the theme from CSS variables on `root` (the body in a webview). */
export function readTheme(root: HTMLElement = document.body): ThemeColours {
  const style = getComputedStyle(root);
  const v = (name: string, fallback: string) => style.getPropertyValue(name).trim() || fallback;
  const cls = root.classList;
  const kind: ThemeColours['kind'] = cls.contains('vscode-high-contrast-light')
    ? 'high-contrast-light'
    : cls.contains('vscode-high-contrast')
      ? 'high-contrast'
      : cls.contains('vscode-light')
        ? 'light'
        : 'dark';
  const dark = kind === 'dark' || kind === 'high-contrast';
  const foreground = v('--vscode-charts-foreground', v('--vscode-foreground', dark ? '#cccccc' : '#333333'));
  // VS Code names six chart colours; an analysis of every registered strategy draws fifteen
  // series, so nine more (teal, magenta, brown, lime, sky, salmon, indigo, sand, rose) follow,
  // chosen to read on this theme's background. Past them, dashes tell series apart.
  const extra = dark
    ? ['#4ec9b0', '#f472d0', '#c8a07a', '#a6e22e', '#9cdcfe', '#ff9e80', '#8c8cff', '#e6c07b', '#d16d9e']
    : ['#0f7b6c', '#b5179e', '#8a5a2b', '#5f8a00', '#0097a7', '#e8590c', '#283593', '#7a6a00', '#a0446b'];
  const palette = [
    ...['blue', 'red', 'yellow', 'green', 'purple', 'orange'].map((c, i) => v(`--vscode-charts-${c}`, FALLBACK_PALETTE[i])),
    ...extra,
  ];
  return {
    kind,
    foreground,
    muted: v('--vscode-descriptionForeground', foreground),
    grid: v('--vscode-charts-lines', dark ? 'rgba(128,128,128,0.35)' : 'rgba(0,0,0,0.15)'),
    background: v('--vscode-editor-background', dark ? '#1e1e1e' : '#ffffff'),
    palette,
    heatLow: v('--vscode-editor-background', dark ? '#1e1e1e' : '#ffffff'),
    heatHigh: palette[0],
    heatNull: v('--vscode-disabledForeground', '#808080'),
    fontFamily: v('--vscode-font-family', 'system-ui, sans-serif'),
    fontSize: Number.parseFloat(v('--vscode-font-size', '13')) || 13,
  };
}

/** [r, g, b, a] of any CSS colour, through a canvas (it normalises names, hex and rgb()). */
export function parseColour(colour: string): [number, number, number, number] {
  const ctx = document.createElement('canvas').getContext('2d');
  if (!ctx) return [128, 128, 128, 1];
  ctx.fillStyle = '#808080';
  ctx.fillStyle = colour;
  const s = String(ctx.fillStyle);
  if (s.startsWith('#')) {
    const n = Number.parseInt(s.slice(1), 16);
    return [(n >> 16) & 255, (n >> 8) & 255, n & 255, 1];
  }
  const m = s.match(/[\d.]+/g)?.map(Number) ?? [128, 128, 128, 1];
  return [m[0], m[1], m[2], m[3] ?? 1];
}

/** Colour at t in [0, 1] between two colours. */
export function mix(a: string, b: string, t: number): string {
  const ca = parseColour(a);
  const cb = parseColour(b);
  const k = Math.min(1, Math.max(0, t));
  const c = ca.map((x, i) => x + (cb[i] - x) * k);
  return `rgba(${Math.round(c[0])}, ${Math.round(c[1])}, ${Math.round(c[2])}, ${c[3].toFixed(3)})`;
}

export function withAlpha(colour: string, alpha: number): string {
  const [r, g, b] = parseColour(colour);
  return `rgba(${r}, ${g}, ${b}, ${alpha})`;
}

/** WCAG relative luminance of a CSS colour. */
function luminance(colour: string): number {
  const [r, g, b] = parseColour(colour).map((c) => {
    const x = c / 255;
    return x <= 0.03928 ? x / 12.92 : ((x + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}

/** Of two text colours, the one that reads better on `background` (higher contrast ratio). */
export function readableOn(background: string, a: string, b: string): string {
  const lb = luminance(background);
  const ratio = (c: string) => {
    const l = luminance(c);
    return (Math.max(l, lb) + 0.05) / (Math.min(l, lb) + 0.05);
  };
  return ratio(a) >= ratio(b) ? a : b;
}
