#!/usr/bin/env node
// Neural super-resolution of PNG frames, for filmmark's robustness benchmark.
//
//   node upscale.mjs --scale 2|4 --model NAME IN_DIR OUT_DIR
//
// Every *.png in IN_DIR is upscaled by the model and written under the same
// name to OUT_DIR.  The models are the UpscalerJS ESRGAN-family networks whose
// weights ship inside the npm packages (@upscalerjs/esrgan-slim, ...); nothing
// is downloaded at run time.  See README.md.
//
// Options:
//   --scale N        2 or 4 (3 and 8 also exist in the packages)         [2]
//   --model NAME     slim | medium | thick | default (or a package name)  [slim]
//   --backend B      ort  : onnxruntime-node native CPU (default, fast);
//                            the Keras weights are converted in memory.
//                    tfjs : @tensorflow/tfjs + WASM backend (reference,
//                            single-threaded, ~10x slower).
//   --tile N         max tile side in input pixels                        [512]
//   --pad N          tile overlap margin in input pixels; default = the
//                    model's receptive field (exact, seamless) capped at 32
//   --threads N      ORT intra-op threads                       [all cores]
//   --limit N        only process the first N frames (sorted by name)
//   --selftest       compare ORT and tfjs outputs on a random tile and exit
//   --list           list the models and their weight files and exit
//   --quiet          no per-frame lines
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { kerasToOnnx } from './keras2onnx.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const NODE_MODULES = path.join(HERE, 'node_modules');

const MODELS = {
  slim: '@upscalerjs/esrgan-slim',
  medium: '@upscalerjs/esrgan-medium',
  thick: '@upscalerjs/esrgan-thick',
  default: '@upscalerjs/default-model',
};

function usage(msg) {
  if (msg) process.stderr.write(`upscale.mjs: ${msg}\n`);
  process.stderr.write('usage: node upscale.mjs --scale 2|4 --model slim|medium|thick|default ' +
    '[--backend ort|tfjs] [--tile N] [--pad N] [--threads N] [--limit N] IN_DIR OUT_DIR\n' +
    '       node upscale.mjs --list | --selftest [--model M --scale S]\n');
  process.exit(2);
}

function parseArgs(argv) {
  const o = { scale: 2, model: 'slim', backend: 'ort', tile: 512, pad: null, threads: os.cpus().length,
    limit: Infinity, selftest: false, list: false, quiet: false, pos: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => { if (i + 1 >= argv.length) usage(`${a} needs a value`); return argv[++i]; };
    const num = () => { const v = Number(val()); if (!Number.isInteger(v) || v < 0) usage(`${a}: bad number`); return v; };
    switch (a) {
      case '--scale': o.scale = num(); break;
      case '--model': o.model = val(); break;
      case '--backend': o.backend = val(); break;
      case '--tile': o.tile = num(); break;
      case '--pad': o.pad = num(); break;
      case '--threads': o.threads = Math.max(1, num()); break;
      case '--limit': o.limit = num(); break;
      case '--selftest': o.selftest = true; break;
      case '--list': o.list = true; break;
      case '--quiet': o.quiet = true; break;
      case '-h': case '--help': usage();
      default:
        if (a.startsWith('--')) usage(`unknown option ${a}`);
        o.pos.push(a);
    }
  }
  if (!['ort', 'tfjs'].includes(o.backend)) usage(`unknown backend ${o.backend}`);
  return o;
}

// ---- model resolution --------------------------------------------------------
// Uses the package's own CommonJS model definition (scale, architecture,
// input/output range, path of model.json inside the package).
function resolveModel(name, scale) {
  const pkg = MODELS[name] || name;
  const pkgDir = path.join(NODE_MODULES, pkg);
  if (!fs.existsSync(path.join(pkgDir, 'package.json'))) {
    throw new Error(`model package ${pkg} is not installed in ${NODE_MODULES}; run bench/ai/setup.sh`);
  }
  const pj = JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8'));
  let def;
  if (pj.exports && pj.exports[`./${scale}x`]) def = require(`${pkg}/${scale}x`);
  else {
    def = require(pkg);
    if (def.scale !== scale) throw new Error(`${pkg} only provides x${def.scale}, not x${scale}`);
  }
  const modelJson = path.join(pkgDir, def._internals.path);
  if (!fs.existsSync(modelJson)) throw new Error(`missing ${modelJson}`);
  return { pkg, version: pj.version, license: pj.license, def, modelJson,
    inMax: def.inputRange[1], outMax: def.outputRange[1] };
}

// ---- backends ------------------------------------------------------------------
// Each backend exposes run(chw Float32Array, h, w) -> Float32Array (3, h*s, w*s).
async function ortBackend(m, threads) {
  const ort = require('onnxruntime-node');
  const { bytes, inputName, outputName, receptiveField } = kerasToOnnx(m.modelJson);
  const sess = await ort.InferenceSession.create(bytes, {
    intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: 'all', executionProviders: ['cpu'],
    // no busy-waiting worker threads: kinder to a shared 2-core machine
    extra: { session: { intra_op: { allow_spinning: process.env.UPSCALE_SPIN ?? '0' } } },
  });
  return {
    name: `onnxruntime-node ${require('onnxruntime-node/package.json').version} (cpu, ${threads} threads)`,
    receptiveField,
    async run(chw, h, w) {
      const r = await sess.run({ [inputName]: new ort.Tensor('float32', chw, [1, 3, h, w]) });
      return r[outputName].data;
    },
  };
}

async function tfjsBackend(m) {
  const tf = require('@tensorflow/tfjs');
  require('@tensorflow/tfjs-backend-wasm');
  // the WASM binaries ship inside @tensorflow/tfjs-backend-wasm/dist
  await tf.setBackend('wasm');
  await tf.ready();
  if (m.def.setup) await m.def.setup(tf); // registers MultiplyBeta / PixelShuffle for RRDN
  const j = JSON.parse(fs.readFileSync(m.modelJson, 'utf8'));
  const dir = path.dirname(m.modelJson);
  const bufs = [], specs = [];
  for (const g of j.weightsManifest) {
    for (const p of g.paths) bufs.push(fs.readFileSync(path.join(dir, p)));
    specs.push(...g.weights);
  }
  const w = Buffer.concat(bufs);
  const model = await tf.loadLayersModel(tf.io.fromMemory({
    modelTopology: j.modelTopology, weightSpecs: specs,
    weightData: w.buffer.slice(w.byteOffset, w.byteOffset + w.byteLength),
  }));
  const { receptiveField } = kerasToOnnx(m.modelJson);
  return {
    name: `@tensorflow/tfjs ${require('@tensorflow/tfjs/package.json').version} (${tf.getBackend()})`,
    receptiveField,
    async run(chw, h, w) {
      const n = h * w;
      const hwc = new Float32Array(n * 3);
      for (let p = 0; p < n; p++) for (let c = 0; c < 3; c++) hwc[p * 3 + c] = chw[c * n + p];
      const y = tf.tidy(() => model.predict(tf.tensor4d(hwc, [1, h, w, 3])));
      const d = await y.data();
      y.dispose();
      const [, oh, ow] = y.shape;
      const on = oh * ow;
      const out = new Float32Array(on * 3);
      for (let p = 0; p < on; p++) for (let c = 0; c < 3; c++) out[c * on + p] = d[p * 3 + c];
      return out;
    },
  };
}

// ---- tiling --------------------------------------------------------------------
// Split [0, L) into n near-equal cores of length <= tile - 2*pad; every tile
// window has the same size win (so ORT sees one shape), is shifted to stay
// inside the image, and keeps >= pad context on each side of its core except
// at the image border, where the model's own zero padding applies just as for
// a whole-image run.  With pad >= receptive field the result is identical to
// running the network on the whole frame.
function axisPlan(L, tile, pad) {
  if (L <= tile) return { win: L, tiles: [{ cs: 0, ce: L, ws: 0 }] };
  const core = Math.max(1, tile - 2 * pad);
  const n = Math.ceil(L / core);
  const len = Math.ceil(L / n);
  const win = Math.min(L, len + 2 * pad);
  const tiles = [];
  for (let cs = 0; cs < L; cs += len) {
    const ce = Math.min(L, cs + len);
    const ws = Math.min(Math.max(cs - pad, 0), L - win);
    tiles.push({ cs, ce, ws });
  }
  return { win, tiles };
}

async function upscaleImage(rgba, W, H, s, backend, m, tile, pad) {
  const px = axisPlan(W, tile, pad), py = axisPlan(H, tile, pad);
  const OW = W * s, OH = H * s;
  const out = Buffer.alloc(OW * OH * 4);
  const inScale = m.inMax / 255, outScale = 255 / m.outMax;
  const ww = px.win, wh = py.win, wn = ww * wh;
  const chw = new Float32Array(3 * wn);
  for (const ty of py.tiles) {
    for (const tx of px.tiles) {
      for (let y = 0; y < wh; y++) {
        const row = ((ty.ws + y) * W + tx.ws) * 4;
        for (let x = 0; x < ww; x++) {
          const i = row + x * 4, p = y * ww + x;
          chw[p] = rgba[i] * inScale;
          chw[wn + p] = rgba[i + 1] * inScale;
          chw[2 * wn + p] = rgba[i + 2] * inScale;
        }
      }
      const tr = Date.now();
      const y3 = await backend.run(chw, wh, ww);
      if (process.env.UPSCALE_DEBUG) process.stderr.write(`  tile ${tx.ws},${ty.ws} run ${Date.now() - tr} ms\n`);
      const ow = ww * s, on = ow * wh * s;
      for (let oy = ty.cs * s; oy < ty.ce * s; oy++) {
        const sy = oy - ty.ws * s;
        for (let ox = tx.cs * s; ox < tx.ce * s; ox++) {
          const sp = sy * ow + (ox - tx.ws * s);
          const o = (oy * OW + ox) * 4;
          for (let c = 0; c < 3; c++) {
            const v = Math.round(y3[c * on + sp] * outScale);
            out[o + c] = v < 0 ? 0 : v > 255 ? 255 : v;
          }
          out[o + 3] = 255;
        }
      }
    }
  }
  return { data: out, width: OW, height: OH, tiles: px.tiles.length * py.tiles.length, win: [ww, wh] };
}

// ---- main ------------------------------------------------------------------------
async function main() {
  const o = parseArgs(process.argv.slice(2));
  if (o.list) {
    for (const [short, pkg] of Object.entries(MODELS)) {
      for (const s of [2, 3, 4, 8]) {
        try {
          const m = resolveModel(short, s);
          const dir = path.dirname(m.modelJson);
          const bytes = fs.readdirSync(dir).filter((f) => f.endsWith('.bin'))
            .reduce((a, f) => a + fs.statSync(path.join(dir, f)).size, 0);
          console.log(`${short.padEnd(8)} x${s}  ${pkg}@${m.version} (${m.license})  ${m.def.meta.architecture} ` +
            `C${m.def.meta.C} D${m.def.meta.D} G${m.def.meta.G} G0${m.def.meta.G0}  ` +
            `${(bytes / 1e6).toFixed(1)} MB  ${path.relative(HERE, m.modelJson)}`);
        } catch { /* scale not provided by this package */ }
      }
    }
    return;
  }
  if (![2, 3, 4, 8].includes(o.scale)) usage('--scale must be 2 or 4 (3, 8 also available)');
  const m = resolveModel(o.model, o.scale);

  if (o.selftest) {
    const a = await ortBackend(m, o.threads), b = await tfjsBackend(m);
    const h = 40, w = 56, chw = new Float32Array(3 * h * w).map(() => Math.random() * m.inMax);
    const ya = await a.run(chw, h, w), yb = await b.run(chw, h, w);
    let md = 0, mx = 0;
    for (let i = 0; i < ya.length; i++) { md = Math.max(md, Math.abs(ya[i] - yb[i])); mx = Math.max(mx, Math.abs(yb[i])); }
    const rel = md / mx;
    console.log(`selftest ${m.pkg} x${o.scale}: ${a.name} vs ${b.name}: max|diff| ${md.toExponential(2)} ` +
      `(max|y| ${mx.toFixed(3)}, rel ${rel.toExponential(2)}) ${rel < 1e-4 ? 'OK' : 'MISMATCH'}`);
    process.exit(rel < 1e-4 ? 0 : 1);
  }

  if (o.pos.length !== 2) usage('need IN_DIR and OUT_DIR');
  const [inDir, outDir] = o.pos;
  const { PNG } = require('pngjs');
  const files = fs.readdirSync(inDir).filter((f) => f.toLowerCase().endsWith('.png')).sort().slice(0, o.limit);
  if (!files.length) usage(`no .png files in ${inDir}`);
  fs.mkdirSync(outDir, { recursive: true });

  const t0 = Date.now();
  const backend = o.backend === 'ort' ? await ortBackend(m, o.threads) : await tfjsBackend(m);
  const pad = o.pad ?? Math.min(backend.receptiveField, 32);
  const tile = Math.max(o.tile, 2 * pad + 16);
  process.stderr.write(`model ${m.pkg}@${m.version} x${o.scale} (${m.def.meta.architecture}, ` +
    `receptive field ${backend.receptiveField} px), backend ${backend.name}, tile<=${tile} pad ${pad}, ` +
    `load ${((Date.now() - t0) / 1000).toFixed(2)} s\n`);

  let tInfer = 0, tIo = 0;
  const tAll = Date.now(), cpu0 = process.cpuUsage();
  for (const [k, f] of files.entries()) {
    const t1 = Date.now();
    const png = PNG.sync.read(fs.readFileSync(path.join(inDir, f)));
    const t2 = Date.now();
    const r = await upscaleImage(png.data, png.width, png.height, o.scale, backend, m, tile, pad);
    const t3 = Date.now();
    const outPng = new PNG({ width: r.width, height: r.height });
    outPng.data = r.data;
    fs.writeFileSync(path.join(outDir, f),
      PNG.sync.write(outPng, { colorType: 2, inputHasAlpha: true, deflateLevel: 1 }));
    const t4 = Date.now();
    tInfer += t3 - t2; tIo += (t2 - t1) + (t4 - t3);
    if (!o.quiet) {
      process.stderr.write(`[${k + 1}/${files.length}] ${f} ${png.width}x${png.height} -> ${r.width}x${r.height} ` +
        `${r.tiles} tile(s) ${r.win[0]}x${r.win[1]}: net ${((t3 - t2) / 1000).toFixed(2)} s, ` +
        `png ${((t2 - t1 + t4 - t3) / 1000).toFixed(2)} s\n`);
    }
  }
  const n = files.length, all = (Date.now() - tAll) / 1000;
  const cpu = process.cpuUsage(cpu0), cpuS = (cpu.user + cpu.system) / 1e6;
  process.stderr.write(`done: ${n} frame(s) in ${all.toFixed(1)} s = ${(all / n).toFixed(2)} s/frame ` +
    `(network ${(tInfer / 1000 / n).toFixed(2)} s/frame, png i/o ${(tIo / 1000 / n).toFixed(2)} s/frame; ` +
    `cpu ${(cpuS / n).toFixed(2)} s/frame)\n`);
}

main().catch((e) => {
  process.stderr.write(`upscale.mjs: ${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
});
