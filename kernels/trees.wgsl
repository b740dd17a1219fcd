// Tree ensembles from flat node arrays, one invocation per row: every tree is walked from its
// root (a node with left == 0 is a leaf; otherwise go left when x[feature] < threshold), then
// the leaves are aggregated: vote fractions (classification), the mean (regression), or
// base + sum per score (boosting; the link kernel runs next).
//
// nodes: every tree's nodes, tree t starting at trees[2t] (child indices are relative to it),
// adding to score trees[2t + 1]. extra: the boosting base scores (n_cols of them), then, when
// standardize != 0, mean[n_features] and scale[n_features] from std_offset.

struct Node {
    feature: u32,
    threshold: f32,
    left: u32,
    right: u32,
    value: f32,
}

struct Params {
    rows: u32,
    n_features: u32,
    n_trees: u32,
    n_cols: u32,
    mode: u32, // 0 vote, 1 mean, 2 sum
    standardize: u32,
    std_offset: u32,
    pad0: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> nodes: array<Node>;
@group(0) @binding(3) var<storage, read> trees: array<u32>;
@group(0) @binding(4) var<storage, read> extra: array<f32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;

fn feature(r: u32, f: u32) -> f32 {
    var v = x[r * p.n_features + f];
    if (p.standardize != 0u) {
        v = (v - extra[p.std_offset + f]) / extra[p.std_offset + p.n_features + f];
    }
    return v;
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
    let r = id.x;
    if (r >= p.rows) {
        return;
    }
    let base = r * p.n_cols;
    for (var c = 0u; c < p.n_cols; c = c + 1u) {
        if (p.mode == 2u) {
            out[base + c] = extra[c];
        } else {
            out[base + c] = 0.0;
        }
    }
    var mean_acc = 0.0;
    for (var t = 0u; t < p.n_trees; t = t + 1u) {
        let start = trees[2u * t];
        var i = 0u;
        loop {
            let n = nodes[start + i];
            if (n.left == 0u) {
                break;
            }
            if (feature(r, n.feature) < n.threshold) {
                i = n.left;
            } else {
                i = n.right;
            }
        }
        let leaf = nodes[start + i].value;
        switch p.mode {
            case 0u: {
                out[base + u32(leaf)] = out[base + u32(leaf)] + 1.0;
            }
            case 1u: {
                mean_acc = mean_acc + leaf;
            }
            default: {
                let o = base + trees[2u * t + 1u];
                out[o] = out[o] + leaf;
            }
        }
    }
    if (p.mode == 0u) {
        for (var c = 0u; c < p.n_cols; c = c + 1u) {
            out[base + c] = out[base + c] / f32(p.n_trees);
        }
    } else if (p.mode == 1u) {
        out[base] = mean_acc / f32(p.n_trees);
    }
}
