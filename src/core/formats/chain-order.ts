/**
 * Ordering the dense layers of a state dict (safetensors, PyTorch) whose names do not say the
 * order: the orders in which their shapes chain, each layer's outputs feeding the next's inputs.
 */
export interface Chainable {
  inputSize: number;
  units: number;
}

/** True when each layer takes what the one before it gives. */
export function chains(layers: readonly Chainable[]): boolean {
  return layers.every((l, i) => i === 0 || l.inputSize === layers[i - 1].units);
}

/** All orders in which the layers' shapes chain, stopping at two (enough to tell unique). */
export function chainOrders<T extends Chainable>(layers: readonly T[]): T[][] {
  const found: T[][] = [];
  const used = new Array<boolean>(layers.length).fill(false);
  const path: T[] = [];
  const walk = () => {
    if (found.length >= 2) return;
    if (path.length === layers.length) {
      found.push([...path]);
      return;
    }
    layers.forEach((l, i) => {
      if (used[i] || (path.length > 0 && path[path.length - 1].units !== l.inputSize)) return;
      used[i] = true;
      path.push(l);
      walk();
      path.pop();
      used[i] = false;
    });
  };
  walk();
  return found;
}
