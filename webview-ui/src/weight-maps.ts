/**
 * The first layer's units as their incoming weight maps (docs/results-format.md, "Locality and
 * weight maps"): the original's and a picked point's, side by side, with how local each point's
 * kept weights are. Plain canvas 2D, one canvas pixel per weight, scaled up without smoothing.
 */
import { seriesName, WEIGHT_MAP_PRUNED, type AnalysisResults, type Locality, type StrategyRun } from '../../src/core/results/format';
import { el } from './dom';
import { pct, pointLabel } from './data';

/** Pixels between two maps of the grid. */
const GAP = 1;
/** Screen pixels per weight, at most (the grid shrinks to fit its card). */
const ZOOM = 3;
/** Screen pixels the grid's width may grow to when the maps are small. */
const MIN_SHOWN = 240;
/** Colours of positive and negative kept weights; opacity grows with |w| from MIN_ALPHA to 255. */
const POSITIVE = [214, 39, 40];
const NEGATIVE = [31, 119, 180];
const ZERO = [128, 128, 128];
const MIN_ALPHA = 70;

export type BaselineMaps = NonNullable<AnalysisResults['baseline']['weightMaps']>;

/** The int8 values stored as base64 (the results format's weight map bytes). */
export function decodeWeightMaps(data: string): Int8Array {
  const text = atob(data);
  const out = new Int8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = (text.charCodeAt(i) << 24) >> 24;
  return out;
}

/** RGBA of one stored byte: blank (transparent) when pruned, else by sign, stronger for larger |w|. */
export function weightColour(q: number): [number, number, number, number] {
  if (q === WEIGHT_MAP_PRUNED) return [0, 0, 0, 0];
  const [r, g, b] = q > 0 ? POSITIVE : q < 0 ? NEGATIVE : ZERO;
  return [r, g, b, Math.round(MIN_ALPHA + ((255 - MIN_ALPHA) * Math.abs(q)) / 127)];
}

/** Columns of the grid: square-ish, 8 for 64 maps. */
function gridColumns(count: number): number {
  return Math.max(1, Math.ceil(Math.sqrt(count)));
}

/**
 * A canvas holding `maps` (height x width bytes per unit of `layout.units`) as a grid: map m at
 * column m % cols, row floor(m / cols), each map's pixel (y, x) at canvas pixel
 * (col (width + GAP) + x, row (height + GAP) + y).
 */
export function weightMapCanvas(layout: BaselineMaps, maps: Int8Array, label: string): HTMLCanvasElement {
  const { height, width } = layout;
  const count = layout.units.length;
  const cols = gridColumns(count);
  const rows = Math.ceil(count / cols);
  const canvas = el('canvas', { attrs: { role: 'img', 'aria-label': label, 'data-columns': String(cols) } });
  canvas.className = 'weight-maps';
  canvas.width = cols * (width + GAP) - GAP;
  canvas.height = rows * (height + GAP) - GAP;
  canvas.style.width = '100%';
  // Small images (a few pixels a side) are zoomed further, so the grid is not a speck.
  canvas.style.maxWidth = `${canvas.width * Math.max(ZOOM, Math.floor(MIN_SHOWN / canvas.width))}px`;
  canvas.style.imageRendering = 'pixelated';
  const ctx = canvas.getContext('2d');
  if (!ctx) return canvas;
  const image = ctx.createImageData(canvas.width, canvas.height);
  for (let m = 0; m < count; m++) {
    const x0 = (m % cols) * (width + GAP);
    const y0 = Math.floor(m / cols) * (height + GAP);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const q = maps[m * height * width + y * width + x] ?? WEIGHT_MAP_PRUNED;
        image.data.set(weightColour(q), ((y0 + y) * canvas.width + x0 + x) * 4);
      }
    }
  }
  ctx.putImageData(image, 0, 0);
  return canvas;
}

/** One line of what a locality says. */
function localityText(l: Locality): string {
  const px = (v: number | null) => (v === null ? 'n/a' : `${v.toFixed(2)} px`);
  const parts = [
    `median spread ${px(l.medianSpread)} against ${px(l.medianRandomSpread)} for random masks of the same size`,
    `median ratio ${l.medianRatio === null ? 'n/a' : l.medianRatio.toFixed(3)}`,
    `${l.medianLayerRatio === null ? 'n/a' : l.medianLayerRatio.toFixed(3)} against masks drawn as often as the whole layer keeps each pixel`,
    `${l.localShare === null ? 'n/a' : pct(l.localShare)} of ${l.measured.toLocaleString('en-US')} units below ${l.threshold}`,
  ];
  if (l.empty) parts.push(`${l.empty.toLocaleString('en-US')} units without kept weights left out`);
  if (l.degenerate) parts.push(`${l.degenerate.toLocaleString('en-US')} with a single kept weight left out`);
  return parts.join('; ');
}

function mapCard(title: string, layout: BaselineMaps, data: string | undefined, note: string): HTMLElement {
  const body = data
    ? weightMapCanvas(layout, decodeWeightMaps(data), title)
    : el('p', { class: 'muted', text: 'This point has no stored weight maps.' });
  return el('section', { class: 'card card-half weight-map-card' }, [
    el('h3', { text: title }),
    body,
    el('p', { class: 'muted note', text: note }),
  ]);
}

const LOCALITY_HEAD = [
  'series',
  'sparsity',
  'median ratio',
  'vs the layer',
  'share below threshold',
  'median spread',
  'random spread',
  'units left out',
];

/**
 * Every point's locality as a table (a chart here would change the tab's chart list): the
 * original's row first. Ratios below 1 mean more local than random masks of the same size.
 */
function localityTable(r: AnalysisResults): HTMLElement | null {
  const f = (v: number | null, digits = 3) => (v === null ? 'n/a' : v.toFixed(digits));
  const row = (series: string, at: string, l: Locality) => [
    series,
    at,
    f(l.medianRatio),
    f(l.medianLayerRatio),
    l.localShare === null ? 'n/a' : `${pct(l.localShare)} (< ${l.threshold})`,
    `${f(l.medianSpread, 2)} px`,
    `${f(l.medianRandomSpread, 2)} px`,
    String(l.empty + l.degenerate),
  ];
  const rows: string[][] = [];
  if (r.baseline.locality) rows.push(row('original', '0%', r.baseline.locality));
  for (const run of r.runs) run.points.forEach((p, i) => p.locality && rows.push(row(seriesName(run), pointLabel(run, i), p.locality)));
  if (rows.length === 0) return null;
  const numeric = (i: number) => (i >= 2 ? 'num' : '');
  return el('div', { class: 'table-wrap card weight-locality' }, [
    el('h3', { text: 'First-layer locality per point' }),
    el('table', { class: 'layers locality-table' }, [
      el('thead', {}, [
        el(
          'tr',
          {},
          LOCALITY_HEAD.map((h, i) => el('th', { text: h, class: numeric(i) })),
        ),
      ]),
      el(
        'tbody',
        {},
        rows.map((cells) =>
          el(
            'tr',
            {},
            cells.map((c, i) => el('td', { text: c, class: numeric(i) })),
          ),
        ),
      ),
    ]),
    el('p', {
      class: 'muted note',
      text: "median ratio: a unit's kept-weight spread over that of uniformly random masks keeping as many; vs the layer: over masks drawn as often as the whole layer keeps each pixel, so a centre all units share does not count; units left out: no kept weights, or a single one",
    }),
  ]);
}

/** The section under the weight tab's charts: the original's and the picked point's maps, then every point's locality. */
export function weightMapsSection(body: HTMLElement, r: AnalysisResults, picked: { run: StrategyRun; index: number }): void {
  const layout = r.baseline.weightMaps;
  const base = r.baseline.locality;
  if (!layout && !base) return;
  const section = el('section', { class: 'weight-maps-section' });
  const grid = el('div', { class: 'grid' });
  const p = picked.run.points[picked.index];
  const name = `${seriesName(picked.run)} at ${pointLabel(picked.run, picked.index)}`;
  section.append(
    el('h2', { text: `First-layer weight maps${layout ? ` (${layout.layer})` : ''}` }),
    el('p', {
      class: 'muted',
      text: "Each square is one unit's incoming weights laid out as the input image: red positive, blue negative, stronger for larger |w|, blank where pruned. Locality: the |w|-weighted spread of a unit's kept weights' pixel positions over that of random masks keeping as many.",
    }),
    grid,
  );
  body.append(section);
  if (layout) {
    const units = `${layout.units.length} of the original's heaviest units (by sum of |w|), same order in both`;
    grid.append(
      mapCard(`Original: ${layout.layer}`, layout, layout.data, base ? `${units}. ${localityText(base)}` : units),
      mapCard(name, layout, p.weightMaps?.data, p.locality ? localityText(p.locality) : 'no locality recorded'),
    );
  }
  const table = localityTable(r);
  if (table) section.append(table);
}
