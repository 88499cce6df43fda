/**
 * What the inspector shows beside the model's summary, worked out in the extension host: the
 * training curves of a history.json next to the model, and the activations a state dict is read
 * with. No vscode import, so node tests check it.
 */
import type { Activation } from '../core/model/mlp';
import type { HistoryRead } from '../core/train/history-file';
import type { InspectorActivations, InspectorHistory } from '../shared/inspector-protocol';
import type { JobResult } from '../shared/jobs';

type Summary = JobResult<'inspect'>['summary'];

/** Formats that store weights only; their activations come from the reader options. */
const STATE_DICT_FORMATS: Record<string, string> = { safetensors: 'safetensors', pytorch: 'PyTorch state dict' };

/**
 * The readers' note when a state dict holds no recorded activations (safetensors.ts, pytorch.ts);
 * a PruneScope-written file records them and has no such note. inspector-data.test.ts reads both
 * kinds of file, so a change of wording fails there.
 */
const ASSUMED_NOTE = /stores no activations/;

export interface ReadActivations {
  activation: Activation;
  outputActivation: Activation;
}

/** For a state dict, where its activations come from and the settings' values; undefined for other formats. */
export function activationsView(summary: Summary, read: ReadActivations): InspectorActivations | undefined {
  const format = STATE_DICT_FORMATS[summary.format];
  if (!format) return undefined;
  const fromSettings = summary.notes.some((n) => ASSUMED_NOTE.test(n));
  return { format, source: fromSettings ? 'settings' : 'file', hidden: read.activation, output: read.outputActivation };
}

/** The history as the inspector shows it; undefined when the model's folder has none. */
export function historyView(read: HistoryRead, summary: Summary | undefined): InspectorHistory | undefined {
  if (read.state === 'none') return undefined;
  if (read.state === 'error') return { state: 'error', file: read.file, message: read.message };
  const { curves } = read;
  const recorded = curves.sizes;
  const sizes = summary ? [summary.inputSize, ...summary.layers.map((l) => l.units)] : undefined;
  // A pruned or re-exported copy beside the trained model shares its folder, not its training run.
  const note =
    recorded && sizes && recorded.join('-') !== sizes.join('-')
      ? `history.json records the training of a ${recorded.join('-')} model; this one is ${sizes.join('-')}`
      : undefined;
  return { state: 'ok', file: read.file, epochs: curves.epochs, bestEpoch: curves.bestEpoch, ...(note ? { note } : {}) };
}
