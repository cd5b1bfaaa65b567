// Runs an ONNX model with onnxruntime-node on rows read from a file, for
// learn/onnx's tests:
//
//   node run.js MODEL INPUT ROWS COLS OUTPUT
//
// INPUT holds ROWS*COLS little-endian float64 values, row-major. OUTPUT gets
// the first output's values as little-endian float64, and stdout a JSON line
// with that output's ONNX element type and dims.
'use strict';
const fs = require('fs');
const ort = require('onnxruntime-node');

async function main() {
  const [model, input, rows, cols, output] = process.argv.slice(2);
  const buf = fs.readFileSync(input);
  // Copy into a fresh, aligned buffer: a Float64Array needs an 8-byte offset.
  const x = new Float64Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length));
  const session = await ort.InferenceSession.create(model);
  const feeds = { [session.inputNames[0]]: new ort.Tensor('float64', x, [Number(rows), Number(cols)]) };
  const result = await session.run(feeds);
  const y = result[session.outputNames[0]];
  fs.writeFileSync(output, Buffer.from(Float64Array.from(y.data).buffer));
  console.log(JSON.stringify({ type: y.type, dims: y.dims }));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
