import { ModelFormatError } from '../../errors';
import { naturalCompare } from '../safetensors/safetensors';
import { LABEL } from './container';
import { PyDict, type PyValue, describe, printable } from './pickle';
import { type NamedTensor, shapeText, where } from './tensors';
import { FLOAT_DTYPES, TorchTensor } from './torch-globals';
import { chainOrders, chains } from '../chain-order';

/**
 * Finding the state dict in what torch.save pickled, and telling its Linear and BatchNorm1d
 * layers apart. A state dict is a dict of tensors named `<module path>.<parameter>`; a checkpoint
 * dict holds one under `state_dict` (PyTorch Lightning, whose keys start with `model.`),
 * `model_state_dict` or `model`, next to entries (optimizer state, epoch, history) that are
 * listed but not read.
 */

/** Keys of a checkpoint dict that hold the model's state dict, in the order they are tried. */
const STATE_DICT_KEYS = ['state_dict', 'model_state_dict', 'model', 'net', 'network', 'module'];

export interface FoundStateDict {
  tensors: NamedTensor[];
  /** The dict the tensors came from (its attributes hold `_metadata`). */
  dict: PyDict;
  /** Where it was: "" at the top level, else the checkpoint key. */
  key: string;
  /** The other entries of the file's top-level dict (checkpoint entries, or non-tensor values of a state dict). */
  others: string[];
}

function tensorsOf(d: PyDict): NamedTensor[] {
  const out: NamedTensor[] = [];
  for (const [k, v] of d.entries) if (typeof k === 'string' && v instanceof TorchTensor) out.push({ key: k, tensor: v });
  return out;
}

const keyText = (k: PyValue) => (typeof k === 'string' ? printable(k, 60) : describe(k));

/** The state dict of the pickled object: the object itself when it holds tensors, else a checkpoint entry. */
export function findStateDict(file: string, root: PyValue): FoundStateDict {
  if (!(root instanceof PyDict)) {
    const hint = root instanceof TorchTensor ? ' (a single tensor)' : '';
    throw new ModelFormatError(
      file,
      LABEL,
      `holds ${describe(root)}${hint}, not a state dict (a dict of tensors, from torch.save(model.state_dict(), path))`,
    );
  }
  const top = tensorsOf(root);
  if (top.length > 0) {
    const others = root.entries.filter(([, v]) => !(v instanceof TorchTensor)).map(([k]) => keyText(k));
    return { tensors: top, dict: root, key: '', others };
  }
  const candidates = STATE_DICT_KEYS.map((k) => [k, root.get(k)] as const).filter(
    ([, v]) => v instanceof PyDict && tensorsOf(v).length > 0,
  );
  let chosen = candidates[0];
  if (!chosen) {
    // A checkpoint under another name: the one entry that is a dict of tensors.
    const dicts = root.entries.filter(([k, v]) => typeof k === 'string' && v instanceof PyDict && tensorsOf(v).length > 0);
    if (dicts.length === 1) chosen = [dicts[0][0] as string, dicts[0][1]];
  }
  if (!chosen) {
    const keys = root.entries.slice(0, 20).map(([k]) => keyText(k));
    throw new ModelFormatError(
      file,
      LABEL,
      `holds no tensors: a dict of ${root.size} entries (${keys.join(', ')}${root.size > 20 ? ', ...' : ''}) with no state dict under ${STATE_DICT_KEYS.map((k) => `"${k}"`).join(', ')}`,
    );
  }
  const [key, dict] = chosen as [string, PyDict];
  const others = root.entries.filter(([k]) => k !== key).map(([k]) => keyText(k));
  return { tensors: tensorsOf(dict), dict, key, others };
}

// ---- grouping into layers ----

const ROLES = ['weight', 'bias', 'running_mean', 'running_var', 'num_batches_tracked', 'weight_orig', 'weight_mask'] as const;
type Role = (typeof ROLES)[number];
const KEY = new RegExp(`^(?:(.*)\\.)?(${ROLES.join('|')})$`);
const EMBEDDING_NAME = /(^|[._])(w?embed\w*|wte|wpe|tok_embeddings|word_embeddings|position_embeddings|lookup)([._]|$)/i;
/** Weights are held dense as float32 in memory; a Linear weight of more values than this is refused before it is read. */
export const MAX_TENSOR_VALUES = 2 ** 28;

export interface LinearGroup {
  prefix: string;
  /** Position of its first tensor in the state dict. */
  first: number;
  weight: NamedTensor;
  /** torch.nn.utils.prune's reparametrisation: weight = weight_orig * weight_mask. */
  mask?: NamedTensor;
  bias?: NamedTensor;
  units: number;
  inputSize: number;
}

export interface NormGroup {
  prefix: string;
  first: number;
  mean: NamedTensor;
  variance: NamedTensor;
  weight?: NamedTensor;
  bias?: NamedTensor;
  features: number;
}

type Fail = (t: NamedTensor, problem: string) => ModelFormatError;

function kernelKind(ndim: number): string {
  if (ndim === 4) return ' (a Conv2d kernel?)';
  if (ndim === 3) return ' (a Conv1d kernel?)';
  if (ndim === 5) return ' (a Conv3d kernel?)';
  return '';
}

/** Checks each tensor on its own, in the file's order, so the first that is not of an MLP is the one named. */
function checkTensor(fail: Fail, t: NamedTensor): { prefix: string; role: Role } {
  const m = KEY.exec(t.key);
  if (!m) {
    throw fail(
      t,
      'is not a parameter of a Linear or BatchNorm1d layer: not an MLP (only state dicts of Linear layers, with optional BatchNorm1d, are read)',
    );
  }
  const role = m[2] as Role;
  const nd = t.tensor.shape.length;
  if ((role === 'weight' || role === 'weight_orig' || role === 'weight_mask') && nd !== 2 && nd !== 1) {
    throw fail(t, `is a ${nd}-D weight${kernelKind(nd)}: not an MLP (only Linear layers, whose weights are 2-D [out, in], are read)`);
  }
  if (role !== 'num_batches_tracked' && role !== 'weight_mask' && !FLOAT_DTYPES.includes(t.tensor.dtype.name)) {
    throw fail(t, `has dtype ${t.tensor.dtype.name}; layer parameters must be ${FLOAT_DTYPES.join(', ')}`);
  }
  return { prefix: m[1] ?? '', role };
}

type Parts = Partial<Record<Role, NamedTensor>> & { first: number };

function groupTensors(fail: Fail, tensors: NamedTensor[]): Map<string, Parts> {
  const groups = new Map<string, Parts>();
  tensors.forEach((t, i) => {
    const { prefix, role } = checkTensor(fail, t);
    const g = groups.get(prefix) ?? { first: i };
    g[role] = t;
    groups.set(prefix, g);
  });
  return groups;
}

function sameLength(fail: Fail, n: number, ...ts: (NamedTensor | undefined)[]): void {
  for (const t of ts) {
    if (t && (t.tensor.shape.length !== 1 || t.tensor.shape[0] !== n))
      throw fail(t, `should be 1-D of ${n} values, as the layer's other buffers`);
  }
}

function normGroup(fail: Fail, prefix: string, g: Parts): NormGroup {
  const mean = g.running_mean;
  const variance = g.running_var;
  if (!mean || !variance) throw fail((mean ?? variance)!, 'is one of running_mean and running_var without the other');
  const features = mean.tensor.shape[0] ?? 0;
  sameLength(fail, features, mean, variance, g.weight, g.bias);
  if (g.weight_orig) throw fail(g.weight_orig, 'is a pruning reparametrisation of a BatchNorm layer, which is not read');
  return { prefix, first: g.first, mean, variance, weight: g.weight, bias: g.bias, features };
}

function linearGroup(fail: Fail, prefix: string, g: Parts): LinearGroup {
  const weight = g.weight_orig ?? g.weight;
  if (!weight) throw fail((g.bias ?? g.weight_mask)!, `has no matching "${printable(prefix ? `${prefix}.` : '')}weight"`);
  if (weight.tensor.shape.length === 1) {
    throw fail(weight, 'is a 1-D weight without running statistics (a LayerNorm scale?): not an MLP of Linear and BatchNorm1d layers');
  }
  if (EMBEDDING_NAME.test(prefix))
    throw fail(weight, 'looks like an embedding table, not a Linear layer; only MLPs of Linear layers are read');
  const [units, inputSize] = weight.tensor.shape;
  if (units === 0) throw fail(weight, 'has 0 outputs: a Linear layer of 0 units computes nothing');
  if (inputSize === 0) throw fail(weight, 'takes 0 inputs: a Linear layer needs at least one input');
  if (units * inputSize > MAX_TENSOR_VALUES) {
    throw fail(
      weight,
      `holds ${units * inputSize} values; PruneScope holds weights in memory as float32 and stops at ${MAX_TENSOR_VALUES}`,
    );
  }
  const mask = g.weight_orig ? g.weight_mask : undefined;
  if (g.weight_orig && !mask) throw fail(weight, 'is a pruning reparametrisation (weight_orig) without its weight_mask');
  if (mask && shapeText(mask.tensor.shape) !== shapeText(weight.tensor.shape))
    throw fail(mask, `should have the shape of ${where(weight)}`);
  if (g.bias && (g.bias.tensor.shape.length !== 1 || g.bias.tensor.shape[0] !== units)) {
    throw fail(
      g.bias,
      `should be 1-D of ${units} values, as "${printable(weight.key)}" ${shapeText(weight.tensor.shape)} has ${units} outputs`,
    );
  }
  return { prefix, first: g.first, weight, mask, bias: g.bias, units, inputSize };
}

/** Splits the state dict into Linear and BatchNorm1d layers (num_batches_tracked is dropped), in the file's order. */
export function groupLayers(file: string, tensors: NamedTensor[]): { linears: LinearGroup[]; norms: NormGroup[] } {
  const fail: Fail = (t, problem) => new ModelFormatError(file, LABEL, problem, where(t));
  const linears: LinearGroup[] = [];
  const norms: NormGroup[] = [];
  for (const [prefix, g] of groupTensors(fail, tensors)) {
    if (g.running_mean || g.running_var) norms.push(normGroup(fail, prefix, g));
    else if (g.weight || g.weight_orig || g.bias || g.weight_mask) linears.push(linearGroup(fail, prefix, g));
  }
  if (linears.length === 0)
    throw new ModelFormatError(file, LABEL, `holds no Linear layer (a 2-D "weight"); its ${tensors.length} tensors are not an MLP`);
  return { linears, norms };
}

// ---- order ----

/**
 * The order of the Linear layers: by name in natural order (`layers.10` after `layers.9`), else
 * the order of the state dict (the order the modules were registered), else the one order in
 * which their shapes chain.
 */
export function orderLinears(file: string, linears: LinearGroup[], notes: string[]): LinearGroup[] {
  const byName = [...linears].sort((a, b) => naturalCompare(a.prefix, b.prefix));
  if (chains(byName)) return byName;
  if (chains(linears)) {
    notes.push(
      `layer order taken from the state dict's order, since the names do not sort into a chain: ${linears.map((l) => l.prefix).join(' -> ')}`,
    );
    return linears;
  }
  if (linears.length <= 10) {
    const orders = chainOrders(linears);
    if (orders.length === 1) {
      notes.push(
        `layer order taken from the shapes, since the names do not sort into a chain: ${orders[0].map((l) => l.prefix).join(' -> ')}`,
      );
      return orders[0];
    }
  }
  const i = byName.findIndex((l, k) => k > 0 && l.inputSize !== byName[k - 1].units);
  const prev = byName[i - 1];
  throw new ModelFormatError(
    file,
    LABEL,
    `takes ${byName[i].inputSize} inputs but the layer before it by name, ${where(prev.weight)}, gives ${prev.units}; the tensors do not form an MLP`,
    where(byName[i].weight),
  );
}
