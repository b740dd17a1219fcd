// Linear and logistic models (up to 16 scores): c = x · w + bias over a batch, standardizing x
// as it is read ((x - mean) / scale). Built for memory bandwidth: a model this small does a
// few FLOPs per input byte, so the time is the time to read x once.
//
// LANES invocations share a row (LANES = the feature count rounded up to a power of two, at
// most 32), so consecutive invocations read consecutive floats of consecutive rows: every
// load instruction of a subgroup is one contiguous span. Each invocation takes STEPS rows
// (256 / LANES rows apart), STEPS independent loads in flight per feature (the weights and the
// standardization read once for all STEPS rows), then writes its partial sums
// to workgroup memory; after one barrier each (row, score) sum is finished by one invocation
// in lane order. A workgroup covers STEPS * 256 / LANES consecutive rows. The pipeline skips
// workgroup-memory zeroing: every slot read after the barrier was written before it.
//
// The constants are set per model when the pipeline is built (so loops over steps and
// scores have constant bounds and the accumulators stay in registers); STEPS <= 8 and
// STEPS * SCORES <= 16.
// x: rows x inputs, w: inputs x SCORES (row-major), bias: SCORES, c: rows x SCORES.
// norm: mean[inputs] then scale[inputs] when STANDARDIZE (else unused).

override LANES: u32 = 32u;
override STEPS: u32 = 8u;
override SCORES: u32 = 1u;
override STANDARDIZE: bool = false;

struct Params {
    rows: u32,
    inputs: u32,
    // Workgroups along x of a two-dimensional dispatch (batches beyond one dimension's limit).
    groups_x: u32,
    pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read> norm: array<f32>;
@group(0) @binding(5) var<storage, read_write> c: array<f32>;

const WG: u32 = 256u;
// Partial sums: slot j = step * SCORES + score, then lane-major within a slot.
var<workgroup> part: array<f32, 4096>;

@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) g: vec3<u32>) {
    let lane = li % LANES;
    let slot = li / LANES;
    let per_step = WG / LANES;
    let first = (g.y * p.groups_x + g.x) * per_step * STEPS;
    var acc: array<f32, 16>;
    // Rows past the batch read the last row (no branch around the loads, so the STEPS loads
    // of one feature issue together); their sums are never written.
    let last = p.rows - 1u;
    for (var k = lane; k < p.inputs; k = k + LANES) {
        var mean = 0.0;
        var scale = 1.0;
        if (STANDARDIZE) {
            mean = norm[k];
            scale = norm[p.inputs + k];
        }
        var v: array<f32, 8>;
        for (var s = 0u; s < STEPS; s = s + 1u) {
            v[s] = x[min(first + s * per_step + slot, last) * p.inputs + k];
        }
        for (var s = 0u; s < STEPS; s = s + 1u) {
            var z = v[s];
            if (STANDARDIZE) {
                z = (z - mean) / scale;
            }
            for (var o = 0u; o < SCORES; o = o + 1u) {
                acc[s * SCORES + o] = acc[s * SCORES + o] + z * w[k * SCORES + o];
            }
        }
    }
    for (var j = 0u; j < STEPS * SCORES; j = j + 1u) {
        part[j * WG + lane * per_step + slot] = acc[j];
    }
    workgroupBarrier();
    // One invocation per (row, score): consecutive invocations, consecutive outputs.
    for (var q = li; q < STEPS * per_step * SCORES; q = q + WG) {
        let o = q % SCORES;
        let r = q / SCORES;
        let row = first + r;
        if (row < p.rows) {
            let j = (r / per_step) * SCORES + o;
            let at = j * WG + r % per_step;
            var sum = 0.0;
            for (var l = 0u; l < LANES; l = l + 1u) {
                sum = sum + part[at + l * per_step];
            }
            c[row * SCORES + o] = bias[o] + sum;
        }
    }
}
