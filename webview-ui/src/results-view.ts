/**
 * The results panel: a header saying what was computed where, tabs, and charts. Everything it
 * shows comes from a validated Results object; every string goes in as text.
 */
import type { Chart } from 'chart.js';
import {
  seriesName,
  type AnalysisResults,
  type ComparisonResults,
  type ComparisonSide,
  type LayerGeometry,
  type Results,
} from '../../src/core/results/format';
import { X_AXES, type ResultTab, type UiState } from '../../src/shared/results-panel-protocol';
import { applyTheme, barChart, chartCard, heatLegend, heatmapChart, lineCard, spreadSeries, type ChartSink } from './charts';
import {
  accuracyDropPoints,
  binLabels,
  dropAxis,
  finiteRange,
  geometryLayers,
  geometrySeries,
  layerLabels,
  layerSimilaritySeries,
  pct,
  pickPoint,
  meanMagnitudeKS,
  pointLabel,
  seriesBySparsity,
  smallestWithinText,
  sparsityRange,
  X_AXIS_TEXT,
} from './data';
import { compareSummarySection, similarityTitle } from './compare-summary';
import { button, el, select } from './dom';
import { LATENCY_NOTE, latencyRunsNote, metricNote } from './metric-notes';
// The Study view draws itself on a study report page (body[data-view="study"]).
import './study-view';
import type { ThemeColours } from './theme';
import { weightMapsSection } from './weight-maps';

/** Where the Compare tab's request for another metric stands (results end it by replacing the view). */
export interface CompareStatus {
  metric: string;
  state: 'computing' | 'failed' | 'cancelled';
  message?: string;
}

export interface ResultsViewModel {
  title: string;
  results: Results;
  metrics: string[];
  ui: UiState;
  /** A metric asked for on the Compare tab and not shown yet. */
  compare?: CompareStatus;
}

export interface ResultsHost {
  /** The person changed tab or picker. */
  onUi(ui: UiState): void;
  exportPng(name: string, dataUrl: string): void;
  exportData(format: 'csv' | 'json'): void;
  /** The person picked a metric on the Compare tab (the one on screen too: that ends any "computing"). */
  compareMetric(metric: string): void;
}

export interface RenderedView {
  /** Charts on screen, for "export all". */
  charts(): { name: string; chart: Chart }[];
  /** Shows where a requested metric stands on the Compare tab (kept across tab switches). */
  showCompareStatus(status: CompareStatus | undefined): void;
  dispose(): void;
}

const ANALYSIS_TABS: { id: ResultTab; label: string }[] = [
  { id: 'accuracy', label: 'Accuracy & loss' },
  { id: 'similarity-heatmap', label: 'Similarity heatmap' },
  { id: 'apoz', label: 'APoZ & geometry' },
  { id: 'weights', label: 'Weight magnitudes' },
  { id: 'layer-similarity', label: 'Layer similarity' },
  { id: 'cost', label: 'Latency & size' },
];

const COMPARE_TABS: { id: ResultTab; label: string }[] = [{ id: 'compare', label: 'Compare' }];

function metricLabel(metric: string): string {
  return metric
    .replace(/-/g, ' ')
    .replace(/\bcka\b/i, 'CKA')
    .replace(/\bcca\b/i, 'CCA');
}

/** What the analysis recorded of compensation, N:M patterns and removed units ("" in files from before them). */
function pruningFacts(s: AnalysisResults['settings']): string {
  const parts: string[] = [];
  if (s.compensation)
    parts.push(
      `compensated runs refit on ${s.compensation.calibration.toLocaleString('en-US')} calibration rows (damping ${s.compensation.damping})`,
    );
  if (s.pattern) parts.push(`pattern ${s.pattern}`);
  if (s.removedUnits) parts.push(`removed units ${s.removedUnits === 'silent' ? 'silent' : 'keep a constant output'}`);
  return parts.map((p) => `, ${p}`).join('');
}

function headerFor(vm: ResultsViewModel, host: ResultsHost): HTMLElement {
  const r = vm.results;
  const created = new Date(r.createdAt);
  const models = r.kind === 'analysis' ? [r.model] : [r.a.model, r.b.model];
  const facts: [string, string][] = [
    ...models.map((m, i): [string, string] => [
      models.length > 1 ? `model ${i === 0 ? 'A' : 'B'}` : 'model',
      `${m.path} (${m.format}${m.producer ? `, ${m.producer}` : ''}; ${m.parameters.toLocaleString('en-US')} parameters)`,
    ]),
    [
      'data',
      `${r.dataset.name} · ${r.dataset.split} split, ${r.dataset.samples.toLocaleString('en-US')} samples · normalization ${r.dataset.normalization} · activations from ${r.dataset.activationSamples.toLocaleString('en-US')} ${r.dataset.activationSplit} samples`,
    ],
    [
      'computed with',
      `${r.backend.engine ? `${r.backend.engine} engine, ` : ''}${r.backend.name} backend (TensorFlow.js ${r.backend.tfjsVersion}), PruneScope ${r.tool.version}, ${Number.isNaN(created.getTime()) ? r.createdAt : created.toLocaleString()}`,
    ],
  ];
  if (r.kind === 'analysis') {
    const s = r.settings;
    const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
    // The gradual schedule spreads its fine-tuning over its pruning steps; the others fine-tune after each round.
    const rounds =
      s.schedule === 'gradual'
        ? `${plural(s.iterations, 'pruning step')}, fine-tuning ${plural(s.finetuneEpochs, 'epoch')} in all`
        : `${plural(s.iterations, 'round')}, fine-tuning ${plural(s.finetuneEpochs, 'epoch')}`;
    facts.push([
      'settings',
      `${s.schedule}, ${rounds}, metric ${metricLabel(s.metric)}, seed ${s.seed}${s.includeOutput ? ', output layer pruned too' : ''}${pruningFacts(s)}`,
    ]);
  }
  return el('header', { class: 'results-header' }, [
    el('div', { class: 'title-row' }, [
      el('h1', { text: vm.title }),
      el('div', { class: 'toolbar' }, [
        button('Export CSV', () => host.exportData('csv'), { title: 'Save the numbers as a CSV table' }),
        button('Export JSON', () => host.exportData('json'), { title: 'Save the results file' }),
      ]),
    ]),
    el(
      'dl',
      { class: 'facts' },
      facts.flatMap(([k, v]) => [el('dt', { text: k }), el('dd', { text: v })]),
    ),
  ]);
}

const TAB_KEYS: Record<string, (at: number, n: number) => number> = {
  ArrowRight: (at, n) => (at + 1) % n,
  ArrowLeft: (at, n) => (at - 1 + n) % n,
  Home: () => 0,
  End: (_, n) => n - 1,
};

/**
 * The tab bar as WAI-ARIA tabs (automatic activation): Left/Right (wrapping), Home and End move
 * the focus and select; only the selected tab is in the Tab order (roving tabindex), so Tab goes
 * from it straight into the panel. Each tab controls the one panel; the selected one labels it.
 */
function tabList(
  tabs: { id: ResultTab; label: string }[],
  panel: HTMLElement,
  pick: (tab: ResultTab) => void,
): { bar: HTMLElement; mark: (tab: ResultTab) => void } {
  const buttons = tabs.map((t) => {
    const b = button(t.label, () => pick(t.id), { attrs: { role: 'tab', id: `results-tab-${t.id}`, 'aria-controls': panel.id } });
    b.dataset.tab = t.id;
    return b;
  });
  const bar = el('nav', { class: 'tabs', attrs: { role: 'tablist', 'aria-label': 'Results views' } }, buttons);
  bar.addEventListener('keydown', (e) => {
    const at = buttons.indexOf(e.target as HTMLButtonElement);
    const move = TAB_KEYS[e.key];
    if (at < 0 || !move || e.altKey || e.ctrlKey || e.metaKey) return;
    e.preventDefault();
    const to = move(at, buttons.length);
    buttons[to].focus();
    if (to !== at) pick(tabs[to].id);
  });
  const mark = (tab: ResultTab) => {
    for (const b of buttons) {
      const on = b.dataset.tab === tab;
      b.setAttribute('aria-selected', String(on));
      b.tabIndex = on ? 0 : -1;
      b.classList.toggle('active', on);
      if (on) panel.setAttribute('aria-labelledby', b.id);
    }
  };
  return { bar, mark };
}

export function renderResults(root: HTMLElement, vm: ResultsViewModel, theme: ThemeColours, host: ResultsHost): RenderedView {
  applyTheme(theme);
  // eslint-disable-next-line @typescript-eslint/unbound-method -- exportPng is a plain function of the host object, not a method using this
  const sink: ChartSink = { theme, charts: [], exportPng: host.exportPng };
  const r = vm.results;
  const tabs = r.kind === 'analysis' ? ANALYSIS_TABS : COMPARE_TABS;
  const ui: UiState = tabs.some((t) => t.id === vm.ui.tab) ? vm.ui : { ...vm.ui, tab: tabs[0].id };

  const body = el('div', { class: 'tab-body', attrs: { role: 'tabpanel', id: 'results-tabpanel', tabindex: '0' } });
  const { bar: tabBar, mark } = tabList(tabs, body, (tab) => setUi({ ...current, tab }));

  const destroyCharts = () => {
    for (const c of sink.charts.splice(0)) c.chart.destroy();
  };
  let compareStatus = vm.compare;
  let showCompareStatus: ((s: CompareStatus | undefined) => void) | undefined;

  const setUi = (next: UiState) => {
    host.onUi(next);
    draw(next);
  };
  const draw = (next: UiState) => {
    current = next;
    destroyCharts();
    body.replaceChildren();
    mark(next.tab);
    const change = (patch: Partial<UiState>) => setUi({ ...next, ...patch });
    showCompareStatus = undefined;
    if (r.kind === 'analysis') drawAnalysisTab(body, sink, r, next, change);
    else showCompareStatus = drawCompareTab(body, sink, r, { metrics: vm.metrics, status: compareStatus }, next, change, host);
  };
  // Pickers' choices live in the UiState, so switching tabs keeps them.
  let current = ui;

  root.replaceChildren(headerFor(vm, host), tabBar, body);
  draw(ui);
  return {
    charts: () => [...sink.charts],
    showCompareStatus: (status) => {
      compareStatus = status;
      showCompareStatus?.(status);
    },
    dispose: () => {
      destroyCharts();
      root.replaceChildren();
    },
  };
}

// ---- analysis tabs ----

function empty(parent: HTMLElement, text: string): void {
  parent.append(el('p', { class: 'muted empty', text }));
}

function pointPickers(parent: HTMLElement, r: AnalysisResults, ui: UiState, change: (p: Partial<UiState>) => void, withPoint = true) {
  const picked = pickPoint(r, ui.strategy, ui.point);
  if (!picked) return undefined;
  const row = el('div', { class: 'pickers' });
  row.append(
    select(
      'Strategy',
      r.runs.map((run) => ({ value: seriesName(run), label: `${seriesName(run)} (${run.kind}, ${run.schedule})` })),
      seriesName(picked.run),
      (strategy) => change({ strategy, point: undefined }),
    ),
  );
  if (withPoint) {
    row.append(
      select(
        'Sparsity',
        picked.run.points.map((_, i) => ({ value: i, label: pointLabel(picked.run, i) })),
        picked.index,
        (point) => change({ strategy: seriesName(picked.run), point }),
      ),
    );
  }
  parent.append(row);
  if (picked.run.notes.length)
    parent.append(
      el(
        'ul',
        { class: 'notes' },
        picked.run.notes.map((n) => el('li', { text: n })),
      ),
    );
  return picked;
}

/** What every analysis tab draws with: where, the results and picker state, and the sparsity range of all points (for reference lines). */
interface AnalysisTab {
  body: HTMLElement;
  grid: HTMLElement;
  sink: ChartSink;
  theme: ThemeColours;
  r: AnalysisResults;
  ui: UiState;
  change: (p: Partial<UiState>) => void;
  from: number;
  to: number;
}

function drawAnalysisTab(body: HTMLElement, sink: ChartSink, r: AnalysisResults, ui: UiState, change: (p: Partial<UiState>) => void): void {
  const theme = sink.theme;
  const grid = el('div', { class: 'grid' });
  if (r.runs.every((run) => run.points.length === 0)) {
    empty(body, 'These results hold no pruned points.');
    return;
  }
  const [from, to] = sparsityRange(r);
  const tab: AnalysisTab = { body, grid, sink, theme, r, ui, change, from, to };
  switch (ui.tab) {
    case 'accuracy':
      return drawAccuracyTab(tab);
    case 'similarity-heatmap':
      return drawSimilarityHeatmapTab(tab);
    case 'apoz':
      return drawApozTab(tab);
    case 'weights':
      return drawWeightsTab(tab);
    case 'layer-similarity':
      return drawLayerSimilarityTab(tab);
    case 'cost':
      return drawCostTab(tab);
    default:
      empty(body, 'This tab is for comparisons.');
  }
}

/** The x-axis picker of the accuracy tab, with a note on what a non-default axis measures. */
function xAxisPicker({ body, r, ui, change }: AnalysisTab): void {
  const axis = ui.xAxis ?? 'requested';
  const options = X_AXES.map((value) => ({ value, label: X_AXIS_TEXT[value].label }));
  const row = el('div', { class: 'pickers' }, [select('X axis', options, axis, (xAxis) => change({ xAxis }))]);
  const base = r.baseline;
  const about: Record<typeof axis, string | null> = {
    requested: null,
    parameters: `1 − parameters left ÷ the original's ${base.parameters.toLocaleString('en-US')} (weights and biases of every layer); removing units also removes the next layer's weights from them`,
    flops: `1 − FLOPs left ÷ the original's ${base.flops.toLocaleString('en-US')} per sample (2 per multiply-add, nonzero weights only)`,
  };
  const note = about[axis];
  if (note) row.append(el('span', { class: 'muted note', text: note }));
  body.append(row);
}

/** Whether the accuracy chart shows the drop below the original, per results: kept across re-renders. */
const dropView = new WeakMap<Results, boolean>();

/** The accuracy/accuracy-drop toggle, beside the x-axis picker; it redraws the tab. */
function dropToggle({ body, r, change }: AnalysisTab): void {
  const box = el('input', { attrs: { type: 'checkbox' } });
  box.checked = dropView.get(r) ?? false;
  box.addEventListener('change', () => {
    dropView.set(r, box.checked);
    change({});
  });
  const label = el(
    'label',
    { class: 'picker drop-toggle', title: "Plot the original's accuracy minus each point's, in percentage points" },
    [box, el('span', { text: 'accuracy drop (points below the original)' })],
  );
  (body.querySelector('.pickers') ?? body).append(label);
}

/** Accuracy, loss and agreement with the original against the picked x axis (by default the share requested). */
function drawAccuracyTab(tab: AnalysisTab): void {
  const { body, grid, sink, r, ui } = tab;
  const axis = ui.xAxis ?? 'requested';
  const { short } = X_AXIS_TEXT[axis];
  const [from, to] = sparsityRange(r, axis);
  xAxisPicker(tab);
  dropToggle(tab);
  body.append(el('p', { class: 'summary accuracy-summary', text: smallestWithinText(r) }), grid);
  if (dropView.get(r)) accuracyDropCard(tab);
  else
    lineCard(grid, sink, `Accuracy vs ${short}`, 'wide', {
      series: seriesBySparsity(r, (p) => p.accuracy, axis),
      xTitle: X_AXIS_TEXT[axis].title,
      yTitle: 'test accuracy',
      xPercent: true,
      yPercent: true,
      references: [{ label: `original (${pct(r.baseline.accuracy)})`, y: r.baseline.accuracy, from, to }],
    });
  lineCard(grid, sink, `Loss vs ${short}`, 'half', {
    series: seriesBySparsity(r, (p) => p.loss, axis),
    xTitle: short,
    yTitle: 'cross-entropy loss',
    xPercent: true,
    references: [{ label: `original (${r.baseline.loss.toFixed(3)})`, y: r.baseline.loss, from, to }],
  });
  lineCard(grid, sink, `Agreement with the original vs ${short}`, 'half', {
    series: seriesBySparsity(r, (p) => p.agreement, axis),
    xTitle: short,
    yTitle: 'same prediction as the original',
    xPercent: true,
    yPercent: true,
    yMax: 1,
  });
}

/** Original accuracy minus each point's, in points, on a y axis fitted to the points (capped at 10, with a note). */
function accuracyDropCard({ grid, sink, r, ui }: AnalysisTab): void {
  const axis = ui.xAxis ?? 'requested';
  const { short, title } = X_AXIS_TEXT[axis];
  const [from, to] = sparsityRange(r, axis);
  const series = seriesBySparsity(r, accuracyDropPoints(r), axis);
  const y = dropAxis(series);
  const points = (v: number) => `${Number(v.toFixed(2))} pt`;
  const clipped = y.clipped
    ? `; ${y.clipped} point${y.clipped === 1 ? '' : 's'} dropping more than ${y.max} points (up to ${points(y.largest)}) lie above the chart`
    : '';
  lineCard(
    grid,
    sink,
    `Accuracy drop vs ${short}`,
    'wide',
    {
      series,
      xTitle: title,
      yTitle: "points below the original's accuracy",
      xPercent: true,
      yFormat: points,
      yMin: y.min,
      yMax: y.max,
      references: [
        { label: `original (${pct(r.baseline.accuracy)})`, y: 0, from, to },
        { label: '1 point below the original', y: 1, from, to },
      ],
    },
    `y axis ${y.min} to ${y.max} points, fitted to the points${clipped}`,
  );
}

/** What a similarity metric measures and how to read its heatmap, as the geometry section says of its chart. */
function metricAbout(metric: string): HTMLElement[] {
  const note = metricNote(metric);
  return note ? [el('p', { class: 'muted metric-about', text: note })] : [];
}

/** The similarity of every original layer to every layer of the picked point. */
function drawSimilarityHeatmapTab({ body, grid, sink, theme, r, ui, change }: AnalysisTab): void {
  const picked = pointPickers(body, r, ui, change);
  if (!picked) return;
  const p = picked.run.points[picked.index];
  const range = finiteRange([p.similarityMatrix]);
  body.append(heatLegend(theme, metricLabel(r.settings.metric), range), ...metricAbout(r.settings.metric), grid);
  chartCard(
    grid,
    sink,
    `${metricLabel(r.settings.metric)}: original × ${seriesName(picked.run)} at ${pointLabel(picked.run, picked.index)}`,
    'square',
    (c) =>
      heatmapChart(c, theme, {
        matrix: p.similarityMatrix,
        rowLabels: layerLabels(r.model.layerNames),
        colLabels: layerLabels(p.layers.map((l) => l.name)),
        rowTitle: 'original',
        colTitle: 'pruned',
        metric: metricLabel(r.settings.metric),
        range,
      }),
    `accuracy ${pct(p.accuracy)} (original ${pct(r.baseline.accuracy)}), actual sparsity ${pct(p.actualSparsity)}`,
  );
}

/** APoZ histograms per layer, the original's against the picked point's, then the original's representational geometry. */
function drawApozTab({ body, grid, sink, theme, r, ui, change }: AnalysisTab): void {
  const picked = pointPickers(body, r, ui, change);
  if (!picked) return;
  const p = picked.run.points[picked.index];
  body.append(grid);
  for (const base of r.baseline.apoz) {
    const pruned = p.layers.find((l) => l.name === base.layer)?.apoz;
    if (!base.applies || !base.histogram) {
      grid.append(
        el('section', { class: 'card card-half' }, [
          el('h3', { text: base.layer }),
          el('p', { class: 'muted', text: `APoZ does not apply: ${base.reason ?? 'no reason given'}` }),
        ]),
      );
      continue;
    }
    const datasets = [
      {
        label: `original${base.mean !== undefined ? ` (mean ${pct(base.mean)})` : ''}`,
        data: base.histogram.counts,
        colour: theme.foreground,
      },
    ];
    if (pruned?.histogram) {
      datasets.push({
        label: `${seriesName(picked.run)} ${pointLabel(picked.run, picked.index)}${pruned.mean !== undefined ? ` (mean ${pct(pruned.mean)})` : ''}`,
        data: pruned.histogram.counts,
        colour: theme.palette[0],
      });
    }
    chartCard(grid, sink, `APoZ of ${base.layer}`, 'half', (c) =>
      barChart(c, theme, {
        labels: binLabels(base.histogram!),
        datasets,
        xTitle: 'share of samples with zero activation',
        yTitle: 'neurons',
      }),
    );
  }
  geometrySection(body, sink, r, [{ name: 'original', geometry: r.baseline.geometry }]);
}

/** Per layer of the picked point, the original weights' magnitudes split into pruned and kept. */
function drawWeightsTab({ body, grid, sink, theme, r, ui, change }: AnalysisTab): void {
  const picked = pointPickers(body, r, ui, change);
  if (!picked) return;
  const p = picked.run.points[picked.index];
  body.append(grid);
  magnitudeKSCard(grid, sink, r);
  for (const layer of p.layers) {
    const h = layer.magnitudes;
    const prunedCount = h.pruned.counts.reduce((a, b) => a + b, 0);
    chartCard(
      grid,
      sink,
      `|w| of ${layer.name}: pruned vs kept`,
      'half',
      (c) =>
        barChart(c, theme, {
          labels: binLabels(h.kept),
          datasets: [
            { label: 'kept', data: h.kept.counts, colour: theme.palette[0] },
            { label: `pruned (${prunedCount.toLocaleString('en-US')})`, data: h.pruned.counts, colour: theme.palette[1] },
          ],
          xTitle: '|w| of the original weight',
          yTitle: 'weights',
          stacked: true,
        }),
      `layer sparsity ${pct(layer.sparsity)}, ${layer.units} units left`,
    );
  }
  weightMapsSection(body, r, picked);
}

/** Per run, how far pruning is from ignoring magnitude: KS of pruned vs kept |w|, averaged over the layers (the tab has no layer picker). */
function magnitudeKSCard(grid: HTMLElement, sink: ChartSink, r: AnalysisTab['r']): void {
  const series = seriesBySparsity(r, meanMagnitudeKS);
  if (!series.some((s) => s.points.length > 0)) return;
  lineCard(
    grid,
    sink,
    'KS distance between pruned and kept |w|',
    'half',
    { series, xTitle: 'sparsity', yTitle: 'KS statistic, mean over layers', xPercent: true, yMin: 0, yMax: 1 },
    '1: every pruned weight smaller than every kept one (magnitude pruning); near 0: the mask ignores magnitude',
  );
}

/** Each layer's similarity to its original layer against sparsity, for the picked strategy. */
function drawLayerSimilarityTab({ body, grid, sink, r, ui, change }: AnalysisTab): void {
  const picked = pointPickers(body, r, ui, change, false);
  if (!picked) return;
  body.append(grid);
  lineCard(grid, sink, `${metricLabel(r.settings.metric)} of each layer to the original: ${seriesName(picked.run)}`, 'wide', {
    series: layerSimilaritySeries(picked.run),
    xTitle: 'sparsity',
    yTitle: `${metricLabel(r.settings.metric)} to the original layer`,
    xPercent: true,
    yMin: 0,
    yMax: 1,
  });
  body.append(layerTrendList(r));
}

/** One line per run saying how its layers' similarity fell (the layer-similarity study's finding), where the results hold it. */
function layerTrendList(r: AnalysisResults): HTMLElement {
  const lines = r.runs.flatMap((run) => (run.layerTrend ? [el('li', { text: `${seriesName(run)}: ${run.layerTrend.summary}` })] : []));
  if (lines.length === 0)
    return el('p', { class: 'muted layer-trends', text: 'These results predate the per-run summary of layer similarity.' });
  return el('ul', { class: 'layer-trends' }, lines);
}

/**
 * Latency medians against sparsity, each with a bar from the fastest to the slowest of its runs
 * where the results record them, and a line under the note saying how many runs there were.
 */
function latencyCard({ grid, sink, r, from, to }: AnalysisTab): void {
  const dense = spreadSeries(
    r,
    (p) => p.latency.denseMsPer100,
    (p) => p.latency.denseSpread,
  ).map((s) => ({ ...s, label: `${s.label} (dense)` }));
  const sparse = spreadSeries(
    r,
    (p) => p.latency.sparseMsPer100,
    (p) => p.latency.sparseSpread,
  )
    .filter((s) => s.points.length > 0)
    .map((s) => ({ ...s, label: `${s.label} (sparse CSR)`, dash: s.dash + 1 }));
  const ort = spreadSeries(
    r,
    (p) => p.latency.onnxruntimeMsPer100 ?? null,
    (p) => p.latency.onnxruntimeSpread,
  )
    .filter((s) => s.points.length > 0)
    .map((s) => ({ ...s, label: `${s.label} (onnxruntime, written .onnx)`, dash: s.dash + 2 }));
  const base = r.baseline.latency;
  const baseRuns = base.denseSpread ? `, runs ${base.denseSpread.minMs.toFixed(2)}–${base.denseSpread.maxMs.toFixed(2)}` : '';
  lineCard(
    grid,
    sink,
    'Latency vs sparsity',
    'half',
    {
      series: [...dense, ...sparse, ...ort],
      xTitle: 'sparsity',
      yTitle: 'ms per 100 samples (log)',
      xPercent: true,
      // Dense and CSR times differ by up to 100x: a linear axis flattens the dense lines.
      logY: true,
      references: [{ label: `original (${base.denseMsPer100.toFixed(2)} ms${baseRuns})`, y: base.denseMsPer100, from, to }],
    },
    LATENCY_NOTE,
  );
  const runs = latencyRunsNote(r.runs.flatMap((run) => run.points.map((p) => p.latency)));
  if (runs) grid.lastElementChild?.append(el('p', { class: 'muted note latency-runs', text: runs }));
}

/** Latency, parameters, stored size and FLOPs against sparsity. */
function drawCostTab(tab: AnalysisTab): void {
  const { body, grid, sink, r, from, to } = tab;
  body.append(grid);
  latencyCard(tab);
  lineCard(grid, sink, 'Parameters vs sparsity', 'half', {
    series: seriesBySparsity(r, (p) => p.parameters),
    xTitle: 'sparsity',
    yTitle: 'parameters (nonzero)',
    xPercent: true,
    yMin: 0,
    references: [{ label: `original (${r.baseline.parameters.toLocaleString('en-US')})`, y: r.baseline.parameters, from, to }],
  });
  storedSizeChart(tab);
  lineCard(grid, sink, 'FLOPs vs sparsity', 'half', {
    series: seriesBySparsity(r, (p) => p.flops),
    xTitle: 'sparsity',
    yTitle: 'FLOPs per sample',
    xPercent: true,
    yMin: 0,
    references: [{ label: 'original', y: r.baseline.flops, from, to }],
  });
}

/** The size written as ONNX against sparsity, when the results record it. */
function storedSizeChart({ grid, sink, r, from, to }: AnalysisTab): void {
  const baseBytes = r.baseline.onnxBytes;
  // MB for models like the demo's, kB for small ones, so the axis reads in whole numbers.
  const [unit, scale] = (baseBytes ?? 0) >= 1e6 ? ['MB', 1e6] : ['kB', 1e3];
  const stored = seriesBySparsity(r, (p) => (p.onnxBytes === undefined ? null : p.onnxBytes / scale)).filter((x) => x.points.length > 0);
  if (stored.length === 0) return;
  lineCard(
    grid,
    sink,
    'Stored size vs sparsity',
    'half',
    {
      series: stored,
      xTitle: 'sparsity',
      yTitle: `${unit} as ONNX`,
      xPercent: true,
      yMin: 0,
      references:
        baseBytes === undefined
          ? []
          : [{ label: `original (${(baseBytes / scale).toFixed(unit === 'MB' ? 2 : 1)} ${unit})`, y: baseBytes / scale, from, to }],
    },
    'weights, biases and the positions of sparse weights, as written to ONNX',
  );
}

// ---- comparison ----

function sideSummary(name: string, side: ComparisonSide): HTMLElement {
  const m = side.model;
  return el('section', { class: 'card card-half side' }, [
    el('h3', { text: `${name}: ${m.path.split(/[\\/]/).pop() ?? m.path}` }),
    el('p', { class: 'muted', text: m.path }),
    el('p', {
      text: `${m.format}${m.producer ? ` (${m.producer})` : ''} · input ${m.inputSize} · layers ${m.layerSizes.join('–')} · ${m.parameters.toLocaleString('en-US')} parameters`,
    }),
  ]);
}

/** The status line of the metric picker: what happened to the metric asked for. */
function compareStatusText(status: CompareStatus | undefined): string {
  if (!status) return '';
  const label = metricLabel(status.metric);
  if (status.state === 'computing') return `computing ${label}…`;
  if (status.state === 'cancelled') return `${label}: cancelled`;
  return `${label} failed${status.message ? `: ${status.message}` : ''}`;
}

/** The Compare tab's three heatmaps, the focused one large, under one colour scale fitted to all three. */
function compareHeatmaps(body: HTMLElement, sink: ChartSink, r: ComparisonResults, focus: 'cross' | 'a' | 'b'): void {
  const theme = sink.theme;
  const range = finiteRange([r.cross, r.a.selfSimilarity, r.b.selfSimilarity]);
  const grid = el('div', { class: 'grid' });
  body.append(heatLegend(theme, metricLabel(r.metric), range), ...metricAbout(r.metric), grid);
  const a = layerLabels(r.a.model.layerNames);
  const b = layerLabels(r.b.model.layerNames);
  const specs = {
    cross: { title: similarityTitle('cross', metricLabel(r.metric)), matrix: r.cross, rows: a, cols: b, rowTitle: 'A', colTitle: 'B' },
    a: { title: similarityTitle('a', metricLabel(r.metric)), matrix: r.a.selfSimilarity, rows: a, cols: a, rowTitle: 'A', colTitle: 'A' },
    b: { title: similarityTitle('b', metricLabel(r.metric)), matrix: r.b.selfSimilarity, rows: b, cols: b, rowTitle: 'B', colTitle: 'B' },
  };
  const order = [focus, ...(['cross', 'a', 'b'] as const).filter((k) => k !== focus)];
  order.forEach((k, i) => {
    const s = specs[k];
    chartCard(grid, sink, s.title, i === 0 ? 'square' : 'half', (c) =>
      heatmapChart(c, theme, {
        matrix: s.matrix,
        rowLabels: s.rows,
        colLabels: s.cols,
        rowTitle: s.rowTitle,
        colTitle: s.colTitle,
        metric: metricLabel(r.metric),
        range,
      }),
    );
  });
}

/** Draws the Compare tab; returns how to update its metric status without redrawing. */
function drawCompareTab(
  body: HTMLElement,
  sink: ChartSink,
  r: ComparisonResults,
  compare: { metrics: string[]; status: CompareStatus | undefined },
  ui: UiState,
  change: (p: Partial<UiState>) => void,
  host: ResultsHost,
): (status: CompareStatus | undefined) => void {
  const options = [...new Set([r.metric, ...compare.metrics])].map((m) => ({ value: m, label: metricLabel(m) }));
  const status = el('span', { class: 'muted compare-status', attrs: { role: 'status' } });
  const picker = select('Metric', options, r.metric, (metric) => host.compareMetric(metric));
  const showStatus = (s: CompareStatus | undefined) => {
    status.textContent = compareStatusText(s);
    // The picker names what is being computed, else what is on screen (its option values are indices).
    const shown = options.findIndex((o) => o.value === (s?.state === 'computing' ? s.metric : r.metric));
    const input = picker.querySelector('select');
    if (input && shown >= 0) input.value = String(shown);
  };
  showStatus(compare.status);
  const views: { value: 'cross' | 'a' | 'b'; label: string }[] = [
    { value: 'cross', label: 'A × B (cross)' },
    { value: 'a', label: 'A × A' },
    { value: 'b', label: 'B × B' },
  ];
  const focus = ui.compareView ?? 'cross';
  body.append(
    compareSummarySection(r),
    el('div', { class: 'pickers' }, [picker, select('Large', views, focus, (compareView) => change({ compareView })), status]),
    el('div', { class: 'grid' }, [sideSummary('A', r.a), sideSummary('B', r.b)]),
  );
  compareHeatmaps(body, sink, r, focus);
  geometrySection(body, sink, r, [
    { name: 'A', geometry: r.a.geometry },
    { name: 'B', geometry: r.b.geometry },
  ]);
  return showStatus;
}

// ---- representational geometry ----

/** The layer picked in the geometry section, per results: kept across theme re-renders. */
const geometryPick = new WeakMap<Results, number>();

/**
 * R^2 between the RDM of a layer's units kept (added in APoZ order, ascending and descending) and
 * the whole layer's RDM, for one hidden layer at a time, of each model given (the original, or A
 * and B). Its layer picker redraws only this section.
 */
function geometrySection(body: HTMLElement, sink: ChartSink, r: Results, sides: { name: string; geometry?: LayerGeometry[] }[]): void {
  const section = el('section', { class: 'geometry' });
  body.append(section);
  const heading = el('h2', { text: 'Representational geometry' });
  const about = el('p', {
    class: 'muted',
    text: "How much of a layer's representational dissimilarity matrix (1 − Pearson correlation between samples) survives when only some of its units are kept, adding units in APoZ order: R² of the partial RDM against the full layer's.",
  });
  if (sides.every((s) => s.geometry === undefined)) {
    section.append(
      heading,
      el('p', {
        class: 'muted empty',
        text: 'These results hold no representational geometry (written before PruneScope recorded it, or skipped with --geometry-samples 0).',
      }),
    );
    return;
  }
  const { labels, first } = geometryLayers(sides);
  if (labels.length === 0) {
    section.append(heading, el('p', { class: 'muted empty', text: 'The model has no hidden layers.' }));
    return;
  }
  const grid = el('div', { class: 'grid' });
  const mine: ChartSink['charts'] = [];
  const draw = (index: number) => {
    geometryPick.set(r, index);
    for (const c of mine.splice(0)) {
      sink.charts.splice(sink.charts.indexOf(c), 1);
      c.chart.destroy();
    }
    grid.replaceChildren();
    const before = sink.charts.length;
    for (const side of sides) geometryCard(grid, sink, side, index, sides.length > 1);
    mine.push(...sink.charts.slice(before));
  };
  const picked = Math.min(geometryPick.get(r) ?? first, labels.length - 1);
  const picker = select(
    'Layer',
    labels.map((label, i) => ({ value: i, label })),
    picked,
    (i) => draw(i),
  );
  section.append(heading, about, el('div', { class: 'pickers' }, [picker]), grid);
  draw(picked);
}

/** One model's geometry chart for hidden layer `index`, or a card saying why there is none; `named` when several models are shown. */
function geometryCard(
  grid: HTMLElement,
  sink: ChartSink,
  side: { name: string; geometry?: LayerGeometry[] },
  index: number,
  named: boolean,
): void {
  const g = side.geometry?.[index];
  const who = named ? `${side.name}: ` : '';
  const title = named ? `${side.name}: representational geometry of ${g?.layer}` : `Representational geometry of ${g?.layer}`;
  if (!g) {
    grid.append(
      el('section', { class: 'card card-half' }, [
        el('h3', { text: `${who}layer ${index + 1}` }),
        el('p', { class: 'muted', text: side.geometry ? 'No hidden layer at this position.' : 'No geometry recorded.' }),
      ]),
    );
    return;
  }
  if (!g.applies) {
    grid.append(
      el('section', { class: 'card card-half' }, [
        el('h3', { text: `${who}${g.layer}` }),
        el('p', { class: 'muted', text: `Geometry does not apply: ${g.reason}` }),
      ]),
    );
    return;
  }
  lineCard(
    grid,
    sink,
    title,
    named ? 'half' : 'wide',
    {
      series: geometrySeries(g),
      xTitle: `units kept (of ${g.units}, added in APoZ order)`,
      yTitle: "R² with the full layer's RDM",
      yMin: 0,
      yMax: 1,
      pointRadius: g.ascending.length > 40 ? 1.5 : 3,
    },
    `${g.samples.toLocaleString('en-US')} samples, a point every ${g.step} unit${g.step === 1 ? '' : 's'}`,
  );
}
