/**
 * TensorFlow.js as the core uses it: tfjs-core with its cpu backend registered, so code that runs
 * before initBackend (or without it: tests, library callers) has a backend, as with the
 * `@tensorflow/tfjs` union package. The union also loads tfjs-layers, tfjs-converter, tfjs-data and
 * the WebGL backend, none of which the core needs: ~200 ms of every command's start here.
 */
import '@tensorflow/tfjs-backend-cpu';

export * from '@tensorflow/tfjs-core';
