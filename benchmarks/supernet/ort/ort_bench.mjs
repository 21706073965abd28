// ONNX Runtime (onnxruntime-node) timings of the static sub-networks written by export_onnx.py.
// Batch 1 (or --batch N: the reference input repeated N times), graphOptimizationLevel 'all',
// sequential execution, intraOpNumThreads 1 and 2.
// Per (net, threads): session creation (ORT's equivalent of switching to a sub-network it has not
// loaded: parse + graph optimisation + weight prepacking), first run, then warm-up and >= 40 timed
// runs; the output is checked against the PyTorch reference logits first. Medians, printed as JSON,
// with the process RSS before any session and with each session alive (after its runs).
//
//   node ort_bench.mjs --models DIR [--nets max224,mid192,min128] [--threads 1,2] [--runs 40]
//                      [--warmup 10] [--batch 1] [--json FILE]
// onnxruntime-node is resolved from NODE_PATH or the current directory's node_modules; it is not a
// dependency of dynn (see run.sh for how the benchmark installs it into a scratch directory).
import { createRequire } from "node:module";
import fs from "node:fs";
import path from "node:path";

const args = { models: null, nets: "max224,mid192,min128", threads: "1,2", runs: 40, warmup: 10, batch: 1, json: null };
for (let i = 2; i < process.argv.length; ++i) {
  const a = process.argv[i];
  const key = a.replace(/^--/, "");
  if (a === "--help" || a === "-h") {
    console.log("usage: node ort_bench.mjs --models DIR [--nets a,b] [--threads 1,2] [--runs N] [--warmup N] [--batch N] [--json FILE]");
    process.exit(0);
  }
  if (!(key in args) || i + 1 >= process.argv.length) {
    console.error(`unknown argument or missing value: ${a}`);
    process.exit(2);
  }
  args[key] = process.argv[++i];
}
if (!args.models) {
  console.error("--models DIR is required (the output directory of export_onnx.py)");
  process.exit(2);
}
const runs = Math.max(1, parseInt(args.runs, 10));
const warmup = Math.max(0, parseInt(args.warmup, 10));
const batch = Math.max(1, parseInt(args.batch, 10));

// Resolve onnxruntime-node the way `require` would from NODE_PATH or the working directory.
const req = createRequire(path.join(process.cwd(), "noop.js"));
let ort, ortVersion;
try {
  ort = req("onnxruntime-node");
  ortVersion = req("onnxruntime-node/package.json").version;
} catch (e) {
  console.error(`onnxruntime-node not found (set NODE_PATH to its node_modules): ${e.message}`);
  process.exit(3);
}

const now = () => Number(process.hrtime.bigint()) / 1e6;  // ms
const median = (v) => { const s = [...v].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
const pct = (v, p) => { const s = [...v].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(p * s.length))]; };

function readF32(file) {
  const b = fs.readFileSync(file);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

const RES = { max224: 224, mid192: 192, min128: 128 };
const rssMb = () => process.memoryUsage.rss() / 1e6;
const rssBase = rssMb();  // node + ORT library, no session yet
const results = [];
for (const name of args.nets.split(",").filter(Boolean)) {
  const file = path.join(args.models, `${name}.onnx`);
  if (!fs.existsSync(file)) {
    console.error(`model not found: ${file} (run export_onnx.py first)`);
    process.exit(4);
  }
  const model = fs.readFileSync(file);  // creation timed from memory, like dynn's prepare from a loaded supernet
  const xIn = readF32(path.join(args.models, `${name}_input.f32`));
  const yRef = readF32(path.join(args.models, `${name}_logits.f32`));
  const r = RES[name] ?? Math.round(Math.sqrt(xIn.length / 3));
  const xs = new Float32Array(xIn.length * batch);
  for (let b = 0; b < batch; ++b) xs.set(xIn, b * xIn.length);
  const input = new ort.Tensor("float32", xs, [batch, 3, r, r]);
  for (const nt of args.threads.split(",").map((s) => parseInt(s, 10))) {
    const opts = { graphOptimizationLevel: "all", intraOpNumThreads: nt, interOpNumThreads: 1, executionMode: "sequential" };
    const creates = [];
    const rssBefore = rssMb();
    let session = null;
    for (let i = 0; i < 3; ++i) {  // first creation cold, then warm; keep the last session
      if (session) await session.release();
      const t0 = now();
      session = await ort.InferenceSession.create(model, opts);
      creates.push(now() - t0);
    }
    const feeds = { [session.inputNames[0]]: input };
    let t0 = now();
    const first = await session.run(feeds);
    const firstRun = now() - t0;
    const y = first[session.outputNames[0]].data;
    let maxDiff = 0, maxRef = 0;
    if (y.length !== yRef.length * batch) {
      console.error(`${name}: ${y.length} logits for batch ${batch}, expected ${yRef.length * batch} (re-export with export_onnx.py: dynamic batch)`);
      process.exit(5);
    }
    for (let i = 0; i < y.length; ++i) {  // every image of the batch is the reference input
      maxDiff = Math.max(maxDiff, Math.abs(y[i] - yRef[i % yRef.length]));
      maxRef = Math.max(maxRef, Math.abs(yRef[i % yRef.length]));
    }
    const relErr = maxDiff / maxRef;
    if (!(relErr <= 5e-4)) {
      console.error(`${name}: ONNX Runtime output differs from the PyTorch reference (rel ${relErr})`);
      process.exit(5);
    }
    for (let i = 0; i < warmup; ++i) await session.run(feeds);
    const t = [];
    for (let i = 0; i < runs; ++i) {
      t0 = now();
      await session.run(feeds);
      t.push(now() - t0);
    }
    const rssWith = rssMb();
    await session.release();
    const rec = { name, intra: nt, batch, median_ms: median(t), p90_ms: pct(t, 0.9), runs: t.length,
                  create_cold_ms: creates[0], create_warm_ms: median(creates.slice(1)), first_run_ms: firstRun,
                  rel_err: relErr, rss_before_mb: rssBefore, rss_with_session_mb: rssWith };
    results.push(rec);
    console.error(`${name} intra=${nt}: median ${rec.median_ms.toFixed(2)} ms (p90 ${rec.p90_ms.toFixed(2)}), ` +
                  `create ${rec.create_cold_ms.toFixed(1)} / ${rec.create_warm_ms.toFixed(1)} ms, rel err ${relErr.toExponential(1)}`);
  }
}
const out = JSON.stringify({ onnxruntime_node: ortVersion, graph_optimization: "all", rss_base_mb: rssBase, nets: results });
if (args.json) fs.writeFileSync(args.json, out + "\n");
console.log(out);
