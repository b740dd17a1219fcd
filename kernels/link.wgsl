// Raw scores to outputs, one invocation per row: identity (regression), sigmoid (binary from
// one logit: [1 - s(z), s(z)]), softmax, or one-vs-rest sigmoids normalized to sum 1.
// The same formulas as `tradeoff_core::ir::apply_link`.

struct Params {
    rows: u32,
    n_scores: u32,
    n_outputs: u32,
    link: u32, // 0 identity, 1 sigmoid, 2 softmax, 3 one-vs-rest sigmoid
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> scores: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

fn sigmoid(z: f32) -> f32 {
    return 1.0 / (1.0 + exp(-z));
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    let r = id.x;
    if (r >= p.rows) {
        return;
    }
    let s = r * p.n_scores;
    let o = r * p.n_outputs;
    switch p.link {
        case 0u: {
            out[o] = scores[s];
        }
        case 1u: {
            let q = sigmoid(scores[s]);
            out[o] = 1.0 - q;
            out[o + 1u] = q;
        }
        case 2u: {
            var m = scores[s];
            for (var k = 1u; k < p.n_scores; k = k + 1u) {
                m = max(m, scores[s + k]);
            }
            var sum = 0.0;
            for (var k = 0u; k < p.n_scores; k = k + 1u) {
                let e = exp(scores[s + k] - m);
                out[o + k] = e;
                sum = sum + e;
            }
            for (var k = 0u; k < p.n_scores; k = k + 1u) {
                out[o + k] = out[o + k] / sum;
            }
        }
        default: {
            var sum = 0.0;
            for (var k = 0u; k < p.n_scores; k = k + 1u) {
                let q = sigmoid(scores[s + k]);
                out[o + k] = q;
                sum = sum + q;
            }
            for (var k = 0u; k < p.n_scores; k = k + 1u) {
                out[o + k] = out[o + k] / sum;
            }
        }
    }
}
