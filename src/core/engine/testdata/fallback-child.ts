// Child process of engines.test.ts: run with PRUNESCOPE_ONNXRUNTIME_MODULE naming a module that
// is not installed, it resolves the dense engine and computes a linear CKA that asks for
// onnxruntime, and prints what ran as JSON (the fallback note goes to stderr by itself).
import { linearCKAMatrix } from '../../metrics/cka';
import { resolveDenseEngine } from '../resolve';

const engine = resolveDenseEngine('auto');
// x = [1,2,3,4], y = [1,2,3,5], each row repeated 50 times (CKA unchanged by repetition).
const rows = 200;
const x = new Float32Array(rows);
const y = new Float32Array(rows);
for (let r = 0; r < rows; r++) {
  x[r] = [1, 2, 3, 4][r % 4];
  y[r] = [1, 2, 3, 5][r % 4];
}
const r = linearCKAMatrix([{ rows, cols: 1, data: x }], [{ rows, cols: 1, data: y }], { engine: 'onnxruntime' });
process.stdout.write(JSON.stringify({ engine: engine.name, note: engine.note, ckaEngine: r.engine, value: r.values[0][0] }));
