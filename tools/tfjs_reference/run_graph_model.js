#!/usr/bin/env node
// Run a TF.js graph model (model.json + weight shards, read from local files) in real TF.js,
// pure-JS 'cpu' backend, float32, on inputs read from a raw binary file, and write its outputs.
//
// usage: node run_graph_model.js MODEL_JSON INPUT_BIN OUT_DIR [OUTPUT_NAME ...]
//   INPUT_BIN   raw little-endian float32, with a sidecar INPUT_BIN.json: {"shape": [n, h, w, c]}
//   OUT_DIR     gets one raw float32 file per output (<name with / as __>.f32) and
//               outputs.json: {tfjs_version, backend, model, input, outputs: {name: {file, shape}}}
//   OUTPUT_NAME node names to fetch (default: the model's signature outputs)
'use strict';

const fs = require('fs');
const path = require('path');
const tf = require('@tensorflow/tfjs');

function loadArtifacts(modelJson) {
  const doc = JSON.parse(fs.readFileSync(modelJson, 'utf8'));
  const dir = path.dirname(modelJson);
  const weightSpecs = [];
  const shards = [];
  for (const group of doc.weightsManifest) {
    weightSpecs.push(...group.weights);
    for (const p of group.paths) shards.push(fs.readFileSync(path.join(dir, p)));
  }
  const all = Buffer.concat(shards);
  // a standalone ArrayBuffer holding exactly the shard bytes, in manifest order
  const weightData = all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength);
  return {
    modelTopology: doc.modelTopology,
    weightSpecs,
    weightData,
    format: doc.format,
    generatedBy: doc.generatedBy,
    convertedBy: doc.convertedBy,
    signature: doc.signature,
    userDefinedMetadata: doc.userDefinedMetadata,
  };
}

function readInput(inputBin) {
  const { shape } = JSON.parse(fs.readFileSync(inputBin + '.json', 'utf8'));
  const buf = fs.readFileSync(inputBin);
  const count = shape.reduce((a, b) => a * b, 1);
  if (buf.byteLength !== count * 4) {
    throw new Error(`${inputBin}: ${buf.byteLength} bytes, but shape ${shape} needs ${count * 4}`);
  }
  const values = new Float32Array(count);
  for (let i = 0; i < count; i++) values[i] = buf.readFloatLE(i * 4);
  return tf.tensor(values, shape, 'float32');
}

async function main() {
  const [modelJson, inputBin, outDir, ...names] = process.argv.slice(2);
  if (!modelJson || !inputBin || !outDir) {
    console.error('usage: node run_graph_model.js MODEL_JSON INPUT_BIN OUT_DIR [OUTPUT_NAME ...]');
    process.exit(2);
  }
  await tf.setBackend('cpu');
  await tf.ready();
  if (tf.getBackend() !== 'cpu') throw new Error(`backend is ${tf.getBackend()}, expected cpu`);

  const model = await tf.loadGraphModel(tf.io.fromMemory(loadArtifacts(modelJson)));
  const outputs = names.length ? names : model.outputs.map((o) => o.name.split(':')[0]);
  const x = readInput(inputBin);
  let ys = model.execute(x, outputs);
  if (!Array.isArray(ys)) ys = [ys];

  fs.mkdirSync(outDir, { recursive: true });
  const meta = {
    tfjs_version: tf.version.tfjs,
    versions: tf.version,
    backend: tf.getBackend(),
    node_version: process.version,
    model: path.basename(modelJson),
    input: { name: model.inputs[0].name, shape: x.shape },
    outputs: {},
  };
  for (let i = 0; i < outputs.length; i++) {
    const y = ys[i];
    if (y.dtype !== 'float32') throw new Error(`${outputs[i]}: dtype ${y.dtype}, expected float32`);
    const data = y.dataSync();
    const out = Buffer.alloc(data.length * 4);
    for (let j = 0; j < data.length; j++) out.writeFloatLE(data[j], j * 4);
    const file = outputs[i].replace(/\//g, '__') + '.f32';
    fs.writeFileSync(path.join(outDir, file), out);
    meta.outputs[outputs[i]] = { file, shape: y.shape };
  }
  fs.writeFileSync(path.join(outDir, 'outputs.json'), JSON.stringify(meta, null, 2) + '\n');
  console.log(`tfjs ${meta.tfjs_version}, backend ${meta.backend}: wrote ${outputs.join(', ')} to ${outDir}`);
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : String(e));
  process.exit(1);
});
