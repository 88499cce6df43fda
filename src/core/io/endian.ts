/**
 * Whether this machine stores numbers little-endian, as ONNX raw data is: then its bytes can be
 * viewed as typed arrays without swapping, and the low 32 bits of a 64-bit value are its first
 * word. Checked once, here, for every reader, writer and metric that asks.
 */
export const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
