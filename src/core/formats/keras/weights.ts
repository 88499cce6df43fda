/**
 * Where a Keras file keeps each layer's arrays, in the two layouts Keras writes.
 *
 * The Keras 3 layout (model.weights.h5 in a .keras zip, `.weights.h5`, and tf.keras 2.13-2.15's
 * .keras): `layers/<name>/vars/0, 1, ...`, where <name> is not the layer's name but its class in
 * snake case, numbered per class in the order of the model's layers (dense, dense_1,
 * batch_normalization, ...), as keras/src/saving/saving_lib.py `_save_container_state` does; a
 * nested model adds its own `layers/`. tf.keras 2.13 wrote `_layer_checkpoint_dependencies` in place
 * of `layers`. Variables are numbered in creation order: Dense kernel, bias; BatchNormalization
 * gamma, beta, moving_mean, moving_variance (gamma and beta only when scale and center are set).
 *
 * The legacy layout (Keras 2 `model.save('x.h5')` and `save_weights`, Keras 3's legacy h5 writer):
 * a group (`model_weights`, or the root of a weights-only file) whose `layer_names` attribute lists
 * one group per layer, each with a `weight_names` attribute naming its datasets relative to it
 * (`dense_4/kernel:0`, `sequential/dense/kernel`, `kernel`). Long lists are split into
 * `layer_names0`, `layer_names1`, ... Keras loads these by position; names are used here when they
 * say which array is which, positions otherwise.
 */
import { ModelFormatError } from '../../errors';
import { H5Reader, type H5Array, type H5AttrValue, type SnapshotOptions } from './h5';
import { where, type KerasLayer, type Src } from './topology';

/** How a weights file lays out its arrays: Keras 3's vars groups, or legacy layer groups under `root`. */
export type Layout = { kind: 'vars' } | { kind: 'legacy'; root: string };

/** The layout of a Keras HDF5 file, from its structure; undefined when it holds no Keras weights. */
export function detectLayout(r: H5Reader): Layout | undefined {
  if (r.kind('/model_weights') === 'group') return { kind: 'legacy', root: '/model_weights' };
  if (r.attrNames('/').some((n) => /^layer_names\d*$/.test(n))) return { kind: 'legacy', root: '/' };
  if (VARS_ROOTS.some((p) => r.kind(p) === 'group')) return { kind: 'vars' };
  return undefined;
}

const VARS_ROOTS = ['/layers', '/_layer_checkpoint_dependencies', '/vars'];

/**
 * What to read of a Keras HDF5 file: optimizer state is not walked, and only the datasets of the
 * model's weights are read (an unrelated HDF5 file named .h5 has none read at all).
 */
export const KERAS_SNAPSHOT: SnapshotOptions = {
  skip: ['/optimizer_weights', '/optimizer'],
  valuesUnder: (structure) => {
    const layout = detectLayout(new H5Reader(structure));
    if (!layout) return [];
    return layout.kind === 'vars' ? VARS_ROOTS : [layout.root];
  },
};

/** The arrays of each layer that has weights, by role ('kernel', 'bias', 'gamma', ...). */
export interface WeightSource {
  /** `roles`: what the layer holds, in Keras's creation order. */
  arrays(l: KerasLayer, roles: string[]): Map<string, H5Array>;
}

/** Snake case of a class name, as keras.src.utils.naming.to_snake_case writes it. */
export function toSnakeCase(name: string): string {
  const cleaned = name.replace(/[^A-Za-z0-9_]+/g, '');
  return cleaned
    .replace(/(.)([A-Z][a-z]+)/g, '$1_$2')
    .replace(/([a-z])([A-Z])/g, '$1_$2')
    .toLowerCase();
}

/**
 * The paths Keras 3 gives the layers of one container (a model's `layers`), in order: the class
 * name in snake case, then `_1`, `_2`, ... for the following layers of the same class.
 */
export function containerPaths(prefix: string, classNames: string[]): string[] {
  const used = new Map<string, number>();
  return classNames.map((cls) => {
    const base = toSnakeCase(cls);
    const n = used.get(base);
    used.set(base, n === undefined ? 0 : n + 1);
    return `${prefix}/${n === undefined ? base : `${base}_${n + 1}`}`;
  });
}

function listed(r: H5Reader, path: string): string {
  if (r.kind(path) !== 'group') return `there is no group ${path}`;
  const keys = r.keys(path);
  return `${path} holds ${keys.length ? keys.slice(0, 8).join(', ') + (keys.length > 8 ? ', ...' : '') : 'nothing'}`;
}

/** Keras 3 layout: each layer's variables at `<its path>/vars/<i>`. */
export class VarsWeights implements WeightSource {
  constructor(
    private readonly src: Src,
    private readonly r: H5Reader,
    /** Each layer's path in the file, e.g. '/layers/dense_1'. */
    private readonly paths: Map<KerasLayer, string>,
  ) {}

  arrays(l: KerasLayer, roles: string[]): Map<string, H5Array> {
    const path = this.paths.get(l);
    if (path === undefined) throw new ModelFormatError(this.src.file, this.src.label, 'no place for its weights is known', where(l));
    const group = this.varsGroup(path);
    if (!group) {
      throw new ModelFormatError(
        this.src.file,
        this.src.label,
        `its weights should be at ${path}/vars, but ${listed(this.r, path.slice(0, path.lastIndexOf('/')) || '/')}`,
        where(l),
      );
    }
    const names = this.r.keys(group).filter((k) => /^\d+$/.test(k));
    names.sort((a, b) => Number(a) - Number(b));
    if (names.length !== roles.length || names.some((k, i) => Number(k) !== i)) {
      throw new ModelFormatError(
        this.src.file,
        this.src.label,
        `${group} holds ${names.length} variable(s) (${names.join(', ') || 'none'}); expected ${roles.length}: ${roles.join(', ')}`,
        where(l),
      );
    }
    return new Map(roles.map((role, i) => [role, this.r.floats(`${group}/${i}`)]));
  }

  /** The vars group, with Keras's fallback for files tf.keras 2.13 wrote. */
  private varsGroup(path: string): string | undefined {
    if (this.r.kind(`${path}/vars`) === 'group') return `${path}/vars`;
    const old = path.replaceAll('layers', '_layer_checkpoint_dependencies');
    if (this.r.kind(`${old}/vars`) === 'group') return `${old}/vars`;
    return undefined;
  }
}

/** A list of strings from an attribute (fixed- or variable-length strings; an empty list is stored as an empty float array). */
export function stringList(value: H5AttrValue | undefined): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.every((v) => typeof v === 'string') ? value : undefined;
  if (typeof value === 'object' && 'length' in value && value.length === 0) return [];
  return undefined;
}

/** An attribute Keras may have split into `<name>0`, `<name>1`, ... (legacy_h5_format.load_attributes_from_hdf5_group). */
export function chunkedStrings(r: H5Reader, path: string, name: string): string[] | undefined {
  const whole = r.attr(path, name);
  if (whole !== undefined) return stringList(whole);
  const names = new Set(r.attrNames(path));
  if (!names.has(`${name}0`)) return undefined;
  const out: string[] = [];
  for (let i = 0; names.has(`${name}${i}`); i++) {
    const part = stringList(r.attr(path, `${name}${i}`));
    if (!part) return undefined;
    out.push(...part);
  }
  return out;
}

/** The role a legacy weight name gives: 'dense_4/kernel:0' -> 'kernel'. */
function roleOf(weightName: string): string {
  const last = weightName.split('/').pop() ?? weightName;
  return last.replace(/:\d+$/, '');
}

/** Legacy layout: a layer group per weighted layer, paired with the model's layers by name or else by position. */
export class LegacyWeights implements WeightSource {
  private readonly groupOf = new Map<KerasLayer, string>();

  constructor(
    private readonly src: Src,
    private readonly r: H5Reader,
    /** The group holding layer_names ('/model_weights', or '/' for weights-only files). */
    private readonly root: string,
    weighted: KerasLayer[],
  ) {
    this.pair(weighted);
  }

  private groupPath(name: string): string {
    return this.root === '/' ? `/${name}` : `${this.root}/${name}`;
  }

  private weightNames(group: string): string[] {
    if (this.r.kind(group) !== 'group') return [];
    return chunkedStrings(this.r, group, 'weight_names') ?? [];
  }

  private pair(weighted: KerasLayer[]): void {
    const layerNames = chunkedStrings(this.r, this.root, 'layer_names');
    if (!layerNames) {
      throw new ModelFormatError(this.src.file, this.src.label, `${this.root} has no layer_names attribute listing the layers' weights`);
    }
    const saved = layerNames.filter((n) => this.weightNames(this.groupPath(n)).length > 0);
    const byName = new Set(saved);
    if (weighted.every((l) => byName.has(l.name))) {
      for (const l of weighted) this.groupOf.set(l, this.groupPath(l.name));
      return;
    }
    if (saved.length !== weighted.length) {
      throw new ModelFormatError(
        this.src.file,
        this.src.label,
        `the file holds weights for ${saved.length} layer(s) (${saved.join(', ') || 'none'}) but the model has ${weighted.length} layer(s) with weights (${weighted.map((l) => l.name).join(', ')})`,
        this.root,
      );
    }
    // Keras itself pairs them by position (legacy_h5_format.load_weights_from_hdf5_group).
    weighted.forEach((l, i) => this.groupOf.set(l, this.groupPath(saved[i])));
  }

  arrays(l: KerasLayer, roles: string[]): Map<string, H5Array> {
    const group = this.groupOf.get(l);
    if (group === undefined) throw new ModelFormatError(this.src.file, this.src.label, 'the file holds no weights for it', where(l));
    const names = this.weightNames(group);
    if (names.length !== roles.length) {
      throw new ModelFormatError(
        this.src.file,
        this.src.label,
        `${group} lists ${names.length} weight(s) (${names.join(', ')}); expected ${roles.length}: ${roles.join(', ')}`,
        where(l),
      );
    }
    const named = names.map(roleOf);
    const byName = roles.every((role) => named.filter((n) => n === role).length === 1);
    const out = new Map<string, H5Array>();
    roles.forEach((role, i) => {
      const name = byName ? names[named.indexOf(role)] : names[i];
      const path = `${group}/${name}`;
      if (this.r.kind(path) !== 'dataset') {
        throw new ModelFormatError(this.src.file, this.src.label, `weight_names lists '${name}' but ${path} is not a dataset`, where(l));
      }
      out.set(role, this.r.floats(path));
    });
    return out;
  }
}
