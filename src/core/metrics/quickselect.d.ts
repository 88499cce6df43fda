// quickselect 2.x ships no types (3.x does, but is an ES module only, which this CommonJS build cannot require).
declare module 'quickselect' {
  /**
   * Reorders arr[left..right] so that arr[k] holds the value a full sort would put there, smaller
   * ones before it and larger ones after (Floyd-Rivest selection, in place).
   */
  function quickselect<T>(
    arr: ArrayLike<T> & { [i: number]: T },
    k: number,
    left?: number,
    right?: number,
    compare?: (a: T, b: T) => number,
  ): void;
  export = quickselect;
}
