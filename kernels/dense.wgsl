// One dense layer over a batch: c = act(a · w + bias), optionally standardizing `a` as it is
// read ((a - mean) / scale). Tiled 16 x 16: each workgroup computes a 16-row x 16-column tile
// of `c`, staging 16 x 16 tiles of `a` and `w` in workgroup memory.
// Linear and logistic models run as one such layer (weights transposed to inputs x scores).
//
// a: rows x inputs, w: inputs x outputs (row-major), bias: outputs, c: rows x outputs.
// norm: mean[inputs] then scale[inputs] when standardize != 0 (else unused).

struct Params {
    rows: u32,
    inputs: u32,
    outputs: u32,
    // 0 identity, 1 ReLU, 2 tanh, 3 logistic (tradeoff_ir::ir::Activation::code).
    activation: u32,
    standardize: u32,
    pad0: u32,
    pad1: u32,
    pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<storage, read> norm: array<f32>;
@group(0) @binding(5) var<storage, read_write> c: array<f32>;

const T: u32 = 16u;
var<workgroup> ta: array<array<f32, 16>, 16>;
var<workgroup> tw: array<array<f32, 16>, 16>;

@compute @workgroup_size(16, 16)
fn main(@builtin(local_invocation_id) l: vec3<u32>, @builtin(workgroup_id) g: vec3<u32>) {
    let row = g.y * T + l.y;
    let col = g.x * T + l.x;
    var acc = 0.0;
    let tiles = (p.inputs + T - 1u) / T;
    for (var t = 0u; t < tiles; t = t + 1u) {
        let ka = t * T + l.x;
        var va = 0.0;
        if (row < p.rows && ka < p.inputs) {
            va = a[row * p.inputs + ka];
            if (p.standardize != 0u) {
                va = (va - norm[ka]) / norm[p.inputs + ka];
            }
        }
        ta[l.y][l.x] = va;
        let kw = t * T + l.y;
        var vw = 0.0;
        if (kw < p.inputs && col < p.outputs) {
            vw = w[kw * p.outputs + col];
        }
        tw[l.y][l.x] = vw;
        workgroupBarrier();
        for (var k = 0u; k < T; k = k + 1u) {
            acc = acc + ta[l.y][k] * tw[k][l.x];
        }
        workgroupBarrier();
    }
    if (row < p.rows && col < p.outputs) {
        var v = bias[col] + acc;
        if (p.activation == 1u) {
            v = max(v, 0.0);
        } else if (p.activation == 2u) {
            v = tanh(v);
        } else if (p.activation == 3u) {
            v = 1.0 / (1.0 + exp(-v));
        }
        c[row * p.outputs + col] = v;
    }
}
