/**
 * The inspector: a model's summary as tables, its weight-magnitude histograms, the training curves
 * of a history.json beside it, with buttons for the commands. Strings go in as text.
 */
import type { Chart } from 'chart.js';
import {
  parseToInspector,
  type FromInspectorMessage,
  type InspectorActivations,
  type InspectorCommand,
  type ToInspectorMessage,
} from '../../src/shared/inspector-protocol';
import type { JobResult } from '../../src/shared/jobs';
import { applyTheme, type ChartSink } from './charts';
import { button, el } from './dom';
import { pct } from './data';
import { histogramSection, historySection, type HistogramView } from './inspector-charts';
import { readTheme } from './theme';
import { receive, type VsCodeApi } from './vscode-api';

type InspectResult = JobResult<'inspect'>;
type ShowModel = Extract<ToInspectorMessage, { type: 'showModel' }>;

export interface InspectorHost {
  command(c: InspectorCommand): void;
  exportPng(name: string, dataUrl: string): void;
}

/** Runs the inspector page: shows what the extension sends, asks it to run the buttons' commands. */
export function startInspector(root: HTMLElement, api: VsCodeApi<FromInspectorMessage>): void {
  const host: InspectorHost = {
    command: (command) => api.postMessage({ type: 'command', command }),
    exportPng: (name, dataUrl) => api.postMessage({ type: 'exportPng', name, dataUrl }),
  };
  let shown: ShowModel | undefined;
  let view: HistogramView = { bins: 'linear', logCounts: false };
  let charts: ChartSink['charts'] = [];
  const destroy = () => {
    for (const c of charts.splice(0)) c.chart.destroy();
  };
  const draw = () => {
    destroy();
    if (!shown) return;
    charts = renderInspector(root, shown, host, view, (next) => {
      view = next;
      draw();
    });
  };
  // Browser tests (test/browser) read the Chart.js instances on screen, as for the results panel.
  (window as Window & { prunescopeCharts?: () => { name: string; chart: Chart }[] }).prunescopeCharts = () => [...charts];
  receive(parseToInspector, {
    showModel: (msg) => {
      shown = msg;
      draw();
    },
    modelError: (msg) => {
      shown = undefined;
      destroy();
      renderInspectorError(root, msg.file, msg.message);
    },
    loading: (msg) => {
      // A reload keeps the model on screen until the new one arrives.
      if (!shown) renderLoading(root, msg.message);
    },
    // CSS follows VS Code's variables by itself; the charts read their colours once, so they are drawn again.
    theme: () => draw(),
  });
  api.postMessage({ type: 'ready' });
}

const num = (v: number) => (v === 0 ? '0' : Math.abs(v) >= 1e4 || Math.abs(v) < 1e-3 ? v.toExponential(2) : v.toPrecision(4));

function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(2)} MB`;
}

function commandBar(host: InspectorHost): HTMLElement {
  const b = (label: string, c: InspectorCommand, title: string) => button(label, () => host.command(c), { title });
  return el('div', { class: 'toolbar' }, [
    b('Run Pruning Analysis…', 'analyze', 'Prune with several strategies and sparsities and chart what happens'),
    b('Prune Model…', 'prune', 'Write a pruned copy beside this file'),
    b('Compare Checkpoints…', 'compare', 'Compare this model layer by layer with another'),
    b('Evaluate', 'evaluate', 'Accuracy and loss on the dataset in prunescope.dataset'),
  ]);
}

type Summary = InspectResult['summary'];

function modelFacts(file: string, model: InspectResult): [string, string][] {
  const s = model.summary;
  return [
    ['file', s.path ?? file],
    ['format', s.format + (s.producer ? ` (producer: ${s.producer})` : '')],
    ['input', `${s.inputSize.toLocaleString('en-US')} values [${s.inputShape.join(', ')}]`],
    ['output', `${s.outputSize} units`],
    ['parameters', `${s.parameters.toLocaleString('en-US')} (sparsity ${pct(s.sparsity)})`],
    ['size on disk', `${bytes(model.bytes)} in ${model.files.length} file${model.files.length === 1 ? '' : 's'}`],
  ];
}

// prettier-ignore
const LAYER_HEAD = ['#', 'layer', 'in', 'units', 'activation', 'parameters', 'sparsity', 'zero weights', 'w mean', 'w std', 'w min', 'w max', 'mean |w|', 'bias mean', 'bias std'];
/** Numbers are right-aligned: every column from the third except the activation's. */
const numeric = (i: number) => (i >= 2 && i !== 4 ? 'num' : undefined);

function layerRow(l: Summary['layers'][number]): HTMLElement {
  const meter = el('meter', { attrs: { min: '0', max: '1', value: String(l.sparsity) }, title: pct(l.sparsity) });
  // prettier-ignore
  const cells: (string | HTMLElement)[] = [
    String(l.index + 1), l.name, l.inputSize.toLocaleString('en-US'), l.units.toLocaleString('en-US'),
    l.activation + (l.dropout ? ` + dropout ${l.dropout}` : ''), l.parameters.toLocaleString('en-US'),
    el('span', { class: 'sparsity' }, [meter, ` ${pct(l.sparsity)}`]), l.zeroWeights.toLocaleString('en-US'),
    num(l.weights.mean), num(l.weights.std), num(l.weights.min), num(l.weights.max), num(l.weights.meanAbs),
    l.bias ? num(l.bias.mean) : '—', l.bias ? num(l.bias.std) : '—',
  ];
  return el(
    'tr',
    {},
    cells.map((c, i) => el('td', { class: numeric(i) }, [c])),
  );
}

function layerTable(s: Summary): HTMLElement {
  return el('div', { class: 'table-wrap' }, [
    el('table', { class: 'layers' }, [
      el('thead', {}, [
        el(
          'tr',
          {},
          LAYER_HEAD.map((h, i) => el('th', { text: h, class: numeric(i) })),
        ),
      ]),
      el('tbody', {}, s.layers.map(layerRow)),
    ]),
  ]);
}

/** A heading and a list, or nothing when the list is empty (or, with `min`, too short). */
function listSection(title: string, cls: string, items: string[], min = 1): HTMLElement[] {
  if (items.length < min) return [];
  return [
    el('h2', { text: title }),
    el(
      'ul',
      { class: cls },
      items.map((n) => el('li', { text: n })),
    ),
  ];
}

function activationsSection(a: InspectorActivations, host: InspectorHost): HTMLElement[] {
  const text =
    a.source === 'settings'
      ? `A ${a.format} file stores no activations: this one is read with ${a.hidden} after each hidden layer and ${a.output} after the output layer (settings prunescope.stateDictActivation and prunescope.stateDictOutputActivation).`
      : `This ${a.format} file records its activations (PruneScope wrote them into it), so they are read from the file; the settings (${a.hidden} hidden, ${a.output} output) apply to state dicts without them.`;
  return [
    el('h2', { text: 'Activations' }),
    el('div', { class: 'activations' }, [
      el('p', { class: 'note', text }),
      button('Choose Activations…', () => host.command('chooseActivations'), {
        title: 'Pick the activations state dicts are read with (kept in the workspace settings)',
      }),
    ]),
  ];
}

/**
 * Draws the model, its histograms and its training curves; returns the charts drawn (the caller
 * destroys them before drawing again). `changeView` redraws the histograms another way.
 */
export function renderInspector(
  root: HTMLElement,
  msg: ShowModel,
  host: InspectorHost,
  view: HistogramView,
  changeView: (next: HistogramView) => void,
): ChartSink['charts'] {
  const { file, model } = msg;
  const s = model.summary;
  const facts = modelFacts(file, model);
  const theme = readTheme();
  applyTheme(theme);
  // eslint-disable-next-line @typescript-eslint/unbound-method -- exportPng is a plain function of the host object, not a method using this
  const sink: ChartSink = { theme, charts: [], exportPng: host.exportPng };
  root.replaceChildren(
    el('header', { class: 'results-header' }, [
      el('div', { class: 'title-row' }, [el('h1', { text: s.name || file }), commandBar(host)]),
      el(
        'dl',
        { class: 'facts' },
        facts.flatMap(([k, v]) => [el('dt', { text: k }), el('dd', { text: v })]),
      ),
    ]),
    ...(msg.activations ? activationsSection(msg.activations, host) : []),
    el('h2', { text: 'Layers' }),
    layerTable(s),
  );
  if (model.histograms?.length) histogramSection(root, sink, s, model.histograms, view, changeView);
  if (msg.history) historySection(root, sink, msg.history);
  root.append(...listSection('Notes', 'notes', s.notes), ...listSection('Files', 'files', model.files, 2));
  return sink.charts;
}

export function renderInspectorError(root: HTMLElement, file: string, message: string): void {
  root.replaceChildren(
    el('div', { class: 'error-box', attrs: { role: 'alert' } }, [
      el('h1', { text: 'This model cannot be read' }),
      el('p', { class: 'muted', text: file }),
      el('pre', { class: 'message', text: message }),
      el('p', {
        text: 'PruneScope reads multi-layer perceptrons (dense layers with element-wise activations) from TensorFlow.js LayersModel/GraphModel, ONNX, safetensors, PyTorch (torch.save state dicts) and Keras (.keras, .h5) files.',
      }),
    ]),
  );
}

export function renderLoading(root: HTMLElement, message: string): void {
  root.replaceChildren(el('p', { class: 'muted loading', text: message }));
}
