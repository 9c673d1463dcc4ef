// Minimal converter: UpscalerJS (idealo ISR) Keras layers-model JSON + weights
// -> ONNX ModelProto bytes (NCHW, float32, dynamic H/W), so that the very same
// weights shipped in the npm packages can run on onnxruntime-node's native CPU
// kernels (multi-threaded) instead of the single-threaded tfjs WASM backend.
// Supports exactly the layer types these models use: InputLayer, Conv2D,
// Activation(relu|linear), Add, Concatenate, UpSampling2D(nearest),
// MultiplyBeta (x*0.2) and PixelShuffle{N}x (tf.depthToSpace == ONNX DCR).
import fs from 'fs';
import path from 'path';

// ---- tiny protobuf writer -------------------------------------------------
function varint(n) {
  const out = [];
  let v = BigInt(n);
  if (v < 0n) v += 1n << 64n;
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v) b |= 0x80;
    out.push(b);
  } while (v);
  return Buffer.from(out);
}
const key = (field, wt) => varint((field << 3) | wt);
const fInt = (field, n) => Buffer.concat([key(field, 0), varint(n)]);
const fBytes = (field, buf) => {
  const b = Buffer.isBuffer(buf) ? buf : Buffer.from(buf);
  return Buffer.concat([key(field, 2), varint(b.length), b]);
};
const fStr = (field, s) => fBytes(field, Buffer.from(s, 'utf8'));
const fFloat = (field, x) => {
  const b = Buffer.alloc(4);
  b.writeFloatLE(x);
  return Buffer.concat([key(field, 5), b]);
};

// AttributeProto types
const AT_FLOAT = 1, AT_INT = 2, AT_STRING = 3, AT_INTS = 7;
function attr(name, value) {
  const parts = [fStr(1, name)];
  if (typeof value === 'string') parts.push(fBytes(4, Buffer.from(value)), fInt(20, AT_STRING));
  else if (Array.isArray(value)) { for (const v of value) parts.push(fInt(8, v)); parts.push(fInt(20, AT_INTS)); }
  else if (Number.isInteger(value) && !(value instanceof Float32Array)) parts.push(fInt(3, value), fInt(20, AT_INT));
  else parts.push(fFloat(2, value), fInt(20, AT_FLOAT));
  return Buffer.concat(parts);
}
function node(op, inputs, outputs, name, attrs = {}) {
  const parts = [];
  for (const i of inputs) parts.push(fStr(1, i));
  for (const o of outputs) parts.push(fStr(2, o));
  parts.push(fStr(3, name), fStr(4, op));
  for (const [k, v] of Object.entries(attrs)) parts.push(fBytes(5, attr(k, v)));
  return Buffer.concat(parts);
}
const FLOAT = 1, INT64 = 7;
function tensor(name, dims, dataType, raw) {
  const parts = [];
  for (const d of dims) parts.push(fInt(1, d));
  parts.push(fInt(2, dataType), fStr(8, name), fBytes(9, raw));
  return Buffer.concat(parts);
}
function valueInfo(name, dims) {
  const dimMsgs = dims.map((d) => fBytes(1, typeof d === 'string' ? fStr(2, d) : fInt(1, d)));
  const shape = Buffer.concat(dimMsgs);
  const tensorType = Buffer.concat([fInt(1, FLOAT), fBytes(2, shape)]);
  return Buffer.concat([fStr(1, name), fBytes(2, fBytes(1, tensorType))]);
}

// ---- weights ---------------------------------------------------------------
export function readLayersModel(modelJsonPath) {
  const j = JSON.parse(fs.readFileSync(modelJsonPath, 'utf8'));
  const dir = path.dirname(modelJsonPath);
  const weights = new Map();
  for (const group of j.weightsManifest) {
    const buf = Buffer.concat(group.paths.map((p) => fs.readFileSync(path.join(dir, p))));
    let off = 0;
    for (const w of group.weights) {
      if (w.dtype !== 'float32' || w.quantization) throw new Error(`unsupported weight ${w.name} ${w.dtype}`);
      const n = w.shape.reduce((a, b) => a * b, 1);
      const arr = new Float32Array(n);
      for (let i = 0; i < n; i++) arr[i] = buf.readFloatLE(off + 4 * i);
      off += 4 * n;
      weights.set(w.name, { shape: w.shape, data: arr });
    }
  }
  return { json: j, weights };
}

// ---- conversion ------------------------------------------------------------
export function kerasToOnnx(modelJsonPath) {
  const { json, weights } = readLayersModel(modelJsonPath);
  const cfg = json.modelTopology.model_config.config;
  const nodes = [], inits = [];
  const out = (l) => l.name;
  let inputName = null;
  // receptive-field radius (in input pixels) and resolution factor per tensor
  const rf = new Map(), res = new Map();
  const getW = (layer, suffix) => {
    const cands = [...weights.keys()].filter((k) => k === `${layer}/${suffix}` || k.endsWith(`/${layer}/${suffix}`));
    if (cands.length !== 1) throw new Error(`weight ${layer}/${suffix}: ${cands.length} matches`);
    return weights.get(cands[0]);
  };
  for (const l of cfg.layers) {
    const c = l.config;
    const ins = (l.inbound_nodes[0] || []).map((x) => x[0]);
    const r0 = Math.max(0, ...ins.map((i) => rf.get(i) ?? 0));
    const s0 = ins.length ? res.get(ins[0]) ?? 1 : 1;
    rf.set(l.name, r0);
    res.set(l.name, s0);
    switch (l.class_name) {
      case 'InputLayer':
        inputName = l.name;
        break;
      case 'Conv2D': {
        const [kh, kw] = c.kernel_size;
        if (c.strides.some((s) => s !== 1) || c.dilation_rate.some((d) => d !== 1)) throw new Error('stride/dilation');
        if (c.padding === 'same' && (kh % 2 === 0 || kw % 2 === 0)) throw new Error('even kernel');
        const k = getW(l.name, 'kernel'); // [kh,kw,cin,cout]
        const [, , cin, cout] = k.shape;
        const t = new Float32Array(k.data.length); // -> [cout,cin,kh,kw]
        for (let y = 0; y < kh; y++) for (let x = 0; x < kw; x++) for (let i = 0; i < cin; i++) for (let o = 0; o < cout; o++)
          t[((o * cin + i) * kh + y) * kw + x] = k.data[((y * kw + x) * cin + i) * cout + o];
        inits.push(tensor(`${l.name}/W`, [cout, cin, kh, kw], FLOAT, Buffer.from(t.buffer)));
        const inputs = [ins[0], `${l.name}/W`];
        if (c.use_bias) {
          inits.push(tensor(`${l.name}/B`, [cout], FLOAT, Buffer.from(getW(l.name, 'bias').data.buffer)));
          inputs.push(`${l.name}/B`);
        }
        const ph = c.padding === 'same' ? (kh - 1) / 2 : 0, pw = c.padding === 'same' ? (kw - 1) / 2 : 0;
        rf.set(l.name, r0 + Math.max(kh - 1, kw - 1) / 2 / s0);
        let o = out(l);
        const act = c.activation;
        if (act !== 'linear') o = `${l.name}/pre`;
        nodes.push(node('Conv', inputs, [o], l.name, { kernel_shape: [kh, kw], pads: [ph, pw, ph, pw], strides: [1, 1] }));
        if (act === 'relu') nodes.push(node('Relu', [o], [out(l)], `${l.name}/relu`));
        else if (act !== 'linear') throw new Error(`activation ${act}`);
        break;
      }
      case 'Activation':
        if (c.activation === 'relu') nodes.push(node('Relu', ins, [out(l)], l.name));
        else if (c.activation === 'linear') nodes.push(node('Identity', ins, [out(l)], l.name));
        else throw new Error(`activation ${c.activation}`);
        break;
      case 'Add':
        if (ins.length === 2) nodes.push(node('Add', ins, [out(l)], l.name));
        else nodes.push(node('Sum', ins, [out(l)], l.name));
        break;
      case 'Concatenate':
        if (c.axis !== 3 && c.axis !== -1) throw new Error('concat axis');
        nodes.push(node('Concat', ins, [out(l)], l.name, { axis: 1 }));
        break;
      case 'UpSampling2D': {
        if (c.interpolation && c.interpolation !== 'nearest') throw new Error('upsampling interp');
        const [sh, sw] = c.size;
        res.set(l.name, s0 * sh);
        inits.push(tensor(`${l.name}/scales`, [4], FLOAT, Buffer.from(new Float32Array([1, 1, sh, sw]).buffer)));
        nodes.push(node('Resize', [ins[0], '', `${l.name}/scales`], [out(l)], l.name,
          { mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' }));
        break;
      }
      case 'MultiplyBeta':
        inits.push(tensor(`${l.name}/beta`, [], FLOAT, Buffer.from(new Float32Array([0.2]).buffer)));
        nodes.push(node('Mul', [ins[0], `${l.name}/beta`], [out(l)], l.name));
        break;
      default: {
        const m = /^PixelShuffle(\d+)x$/.exec(l.class_name);
        if (!m) throw new Error(`unsupported layer ${l.class_name}`);
        res.set(l.name, s0 * +m[1]);
        nodes.push(node('DepthToSpace', ins, [out(l)], l.name, { blocksize: +m[1], mode: 'DCR' }));
      }
    }
  }
  const outputName = cfg.output_layers[0][0];
  const graph = Buffer.concat([
    ...nodes.map((n) => fBytes(1, n)),
    fStr(2, cfg.name || 'upscaler'),
    ...inits.map((t) => fBytes(5, t)),
    fBytes(11, valueInfo(inputName, [1, 3, 'H', 'W'])),
    fBytes(12, valueInfo(outputName, [1, 3, 'OH', 'OW'])),
  ]);
  const opset = Buffer.concat([fStr(1, ''), fInt(2, 13)]);
  const model = Buffer.concat([fInt(1, 7), fStr(2, 'filmmark-keras2onnx'), fBytes(7, graph), fBytes(8, opset)]);
  return { bytes: model, inputName, outputName, receptiveField: Math.ceil(rf.get(outputName)) };
}
