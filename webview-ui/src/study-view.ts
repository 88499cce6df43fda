/**
 * The Study view: what `prunescope study` found, one chart per factor (the accuracy gap between
 * the two strategies against sparsity, a line per value of the factor) and the grid of models.
 * The study report (src/report/study-page.ts) is a page with body[data-view="study"] holding the
 * results as JSON in #prunescope-study; this module draws it there, validated first. The editor's
 * Study panel (study-panel.ts) draws with `renderStudy` from messages instead.
 */
import type { Chart } from 'chart.js';
import { studyResultsSchema, type StudyResults } from '../../src/core/results/format';
import { applyTheme, lineCard, type ChartSink } from './charts';
import type { Series } from './data';
import { el } from './dom';
import { readTheme, type ThemeColours } from './theme';

const FACTOR_TEXT: Record<StudyResults['summary'][number]['factor'], { title: string; value: (v: number) => string }> = {
  dropout: { title: 'Dropout', value: (v) => `dropout ${v}` },
  width: { title: 'Width', value: (v) => `${v} units per layer` },
  depth: { title: 'Depth', value: (v) => `${v} hidden layer${v === 1 ? '' : 's'}` },
};

const signedPoints = (v: number) => `${v > 0 ? '+' : ''}${(Math.round(v * 1000) / 10).toFixed(1)} pt`;

/** Per factor: one series per value that ran, its gaps at every sparsity where both strategies have a point. */
export function studySeries(summary: StudyResults['summary'][number]): Series[] {
  return summary.values.map((v, i) => ({
    label: FACTOR_TEXT[summary.factor].value(v.value),
    colour: i,
    dash: 0,
    points: v.gaps.flatMap((g) => (g.gap === null ? [] : [{ x: g.sparsity, y: g.gap }])),
  }));
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function studyFacts(r: StudyResults): [string, string][] {
  const s = r.settings;
  const base = `${s.base.depth} x ${s.base.width} units, dropout ${s.base.dropout}`;
  const skipped = r.skipped.length ? `; skipped ${r.skipped.map((m) => `${m.id} (${m.reason})`).join('; ')}` : '';
  return [
    ['compared', `${s.strategies[0]} minus ${s.strategies[1]}: test accuracy after the last round at each sparsity`],
    ['base model', base],
    [
      'data',
      `${r.dataset.name}: trained on ${s.trainSamples.toLocaleString('en-US')} rows, validated on ${s.validationSamples.toLocaleString('en-US')}, tested on ${r.dataset.samples.toLocaleString('en-US')} ${r.dataset.split} rows`,
    ],
    [
      'settings',
      `${s.schedule}, ${plural(s.iterations, 'round')}, fine-tuning ${plural(s.finetuneEpochs, 'epoch')} a round, baselines up to ${plural(s.epochs, 'epoch')}, seed ${s.seed}`,
    ],
    [
      'time',
      `${Math.round(r.seconds)} s for ${plural(r.models.length, 'model')} (estimated ${Math.round(r.plan.estimatedSeconds)} s from an epoch of ${r.plan.epochSeconds.toFixed(1)} s; budget ${Math.round(s.budgetSeconds)} s)${skipped}`,
    ],
  ];
}

function modelTable(r: StudyResults): HTMLElement {
  const pct = (v: number) => `${(v * 100).toFixed(2)}%`;
  const head = ['model', 'layers', 'dropout', 'stands for', 'epochs (best)', 'validation', 'test', 'seconds'];
  const rows = r.models.map((m) => [
    m.id,
    [m.analysis.model.inputSize, ...m.analysis.model.layerSizes].join('-'),
    String(m.dropout),
    m.factors.map((f) => `${f.factor} ${f.value}`).join(', ') || '-',
    `${m.training.epochs} (${m.training.bestEpoch})`,
    pct(m.training.validationAccuracy),
    pct(m.analysis.baseline.accuracy),
    String(Math.round(m.seconds)),
  ]);
  return el('table', { class: 'study-models' }, [
    el('thead', {}, [
      el(
        'tr',
        {},
        head.map((h) => el('th', { text: h })),
      ),
    ]),
    el(
      'tbody',
      {},
      rows.map((row) =>
        el(
          'tr',
          {},
          row.map((c) => el('td', { text: c })),
        ),
      ),
    ),
  ]);
}

/** Draws a study into `root`; the charts go into `sink`. */
export function renderStudy(root: HTMLElement, r: StudyResults, sink: ChartSink): void {
  applyTheme(sink.theme);
  const [a, b] = r.settings.strategies;
  const header = el('header', { class: 'results-header' }, [
    el('h1', { text: `PruneScope study: ${a} against ${b}` }),
    el(
      'dl',
      { class: 'facts' },
      studyFacts(r).flatMap(([k, v]) => [el('dt', { text: k }), el('dd', { text: v })]),
    ),
  ]);
  const grid = el('div', { class: 'grid' });
  const xs = r.settings.sparsities;
  for (const summary of r.summary) {
    const text = FACTOR_TEXT[summary.factor];
    lineCard(
      grid,
      sink,
      `${text.title}: accuracy gap (${a} − ${b}) vs sparsity`,
      'half',
      {
        series: studySeries(summary),
        xTitle: 'sparsity requested',
        yTitle: `accuracy gap, ${a} − ${b}`,
        xPercent: true,
        yFormat: signedPoints,
        references: [{ label: 'no gap', y: 0, from: Math.min(0, ...xs), to: Math.max(...xs) }],
      },
      summary.values.length ? `above 0: ${a} kept more accuracy than ${b}` : `no model of this factor ran`,
    );
  }
  root.replaceChildren(header, grid, el('h2', { text: 'Models' }), modelTable(r));
}

type StudyWindow = Window & { prunescopeCharts?: () => { name: string; chart: Chart }[] };

/** The study report page: its embedded results, validated, drawn in #root. */
function startStudyPage(): void {
  const root = document.getElementById('root') ?? document.body;
  const holder = document.getElementById('prunescope-study');
  const parsed = studyResultsSchema.safeParse(JSON.parse(holder?.textContent ?? 'null'));
  if (!parsed.success) {
    root.replaceChildren(el('p', { class: 'error', text: `not a PruneScope study: ${parsed.error.issues[0]?.message ?? 'no data'}` }));
    return;
  }
  const theme: ThemeColours = readTheme();
  const sink: ChartSink = { theme, charts: [], exportPng: (name, url) => download(`${name.replace(/[^A-Za-z0-9._-]+/g, '_')}.png`, url) };
  renderStudy(root, parsed.data, sink);
  // The browser tests and "export" read the charts on screen as they do the results panel's.
  (window as StudyWindow).prunescopeCharts = () => sink.charts;
}

function download(name: string, href: string): void {
  const a = el('a', { attrs: { href, download: name } });
  document.body.append(a);
  a.click();
  a.remove();
}

// After main.ts has set up the page (it runs once the modules it imports, this one among them, have loaded).
if (typeof document !== 'undefined' && document.body?.dataset.view === 'study') setTimeout(startStudyPage, 0);
