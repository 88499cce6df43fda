// h5wasm as its own bundle, dist/h5wasm.js (scripts/build.mjs). The other bundles load it from
// there on first use instead of inlining it: it is 4-5 MB of JavaScript that every start of the
// CLI or the worker would otherwise compile (~0.2 s here), while only Keras HDF5 files need it.
// An ES module of its own because h5wasm is ESM only.
export * from 'h5wasm';
