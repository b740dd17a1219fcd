//! Held-out metrics, and the primary metric that ranks candidates.
//!
//! Classification: accuracy (primary), balanced accuracy, macro-F1, log-loss, ROC AUC
//! (binary; one-vs-rest macro average for multiclass). Regression: R² (primary), RMSE, MAE.
//! The primary metrics are "higher is better" and scale-free, so one tolerance works for any
//! dataset.

use std::collections::BTreeMap;

use crate::data::Task;
use tradeoff_ir::ir::argmax;

/// Probabilities are clipped to `[EPS, 1 - EPS]` for log-loss, as scikit-learn does.
const EPS: f64 = 1e-15;

/// Name of the metric that ranks candidates for a task.
pub fn primary_metric(task: Task) -> &'static str {
    match task {
        Task::Regression => "r2",
        _ => "accuracy",
    }
}

/// All metrics of a task, from predictions (`n_rows * n_outputs`) and the true target.
/// Values that are undefined (AUC with one class present) are left out.
pub fn score(task: Task, n_outputs: usize, pred: &[f32], y: &[f32]) -> BTreeMap<String, f64> {
    let mut m = BTreeMap::new();
    if task == Task::Regression {
        let n = y.len() as f64;
        let mean = y.iter().map(|v| *v as f64).sum::<f64>() / n;
        let (mut se, mut ae, mut tot) = (0.0, 0.0, 0.0);
        for (p, t) in pred.iter().zip(y) {
            let e = *p as f64 - *t as f64;
            se += e * e;
            ae += e.abs();
            tot += (*t as f64 - mean).powi(2);
        }
        m.insert("rmse".into(), (se / n).sqrt());
        m.insert("mae".into(), ae / n);
        if tot > 0.0 {
            m.insert("r2".into(), 1.0 - se / tot);
        }
        return m;
    }
    let k = n_outputs;
    let n = y.len();
    let labels: Vec<usize> = pred.chunks(k).map(argmax).collect();
    let truth: Vec<usize> = y.iter().map(|v| *v as usize).collect();
    let mut tp = vec![0usize; k];
    let mut predicted = vec![0usize; k];
    let mut actual = vec![0usize; k];
    let mut logloss = 0.0;
    for i in 0..n {
        predicted[labels[i]] += 1;
        actual[truth[i]] += 1;
        if labels[i] == truth[i] {
            tp[truth[i]] += 1;
        }
        let p = (pred[i * k + truth[i]] as f64).clamp(EPS, 1.0 - EPS);
        logloss -= p.ln();
    }
    m.insert(
        "accuracy".into(),
        tp.iter().sum::<usize>() as f64 / n as f64,
    );
    let present: Vec<usize> = (0..k).filter(|&c| actual[c] > 0).collect();
    let recall = |c: usize| tp[c] as f64 / actual[c] as f64;
    m.insert(
        "balanced_accuracy".into(),
        present.iter().map(|&c| recall(c)).sum::<f64>() / present.len() as f64,
    );
    // Macro-F1 over classes present in the truth or the predictions (scikit-learn's labels).
    let f1_classes: Vec<usize> = (0..k).filter(|&c| actual[c] + predicted[c] > 0).collect();
    let f1: f64 = f1_classes
        .iter()
        .map(|&c| 2.0 * tp[c] as f64 / (actual[c] + predicted[c]) as f64)
        .sum::<f64>()
        / f1_classes.len() as f64;
    m.insert("macro_f1".into(), f1);
    m.insert("log_loss".into(), logloss / n as f64);
    let scores_of = |c: usize| -> Vec<f32> { (0..n).map(|i| pred[i * k + c]).collect() };
    if k == 2 {
        let pos: Vec<bool> = truth.iter().map(|&t| t == 1).collect();
        if let Some(auc) = roc_auc(&scores_of(1), &pos) {
            m.insert("roc_auc".into(), auc);
        }
    } else {
        let aucs: Vec<f64> = present
            .iter()
            .filter_map(|&c| {
                let pos: Vec<bool> = truth.iter().map(|&t| t == c).collect();
                roc_auc(&scores_of(c), &pos)
            })
            .collect();
        if aucs.len() == present.len() && !aucs.is_empty() {
            m.insert(
                "roc_auc".into(),
                aucs.iter().sum::<f64>() / aucs.len() as f64,
            );
        }
    }
    m
}

/// Area under the ROC curve by the rank statistic, ties counted half. `None` if only one
/// class is present.
pub fn roc_auc(scores: &[f32], positive: &[bool]) -> Option<f64> {
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let n_pos = positive.iter().filter(|p| **p).count();
    let n_neg = positive.len() - n_pos;
    if n_pos == 0 || n_neg == 0 {
        return None;
    }
    // Average ranks over ties.
    let mut rank_sum_pos = 0.0;
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && scores[idx[j + 1]] == scores[idx[i]] {
            j += 1;
        }
        let avg_rank = (i + j) as f64 / 2.0 + 1.0;
        for &r in &idx[i..=j] {
            if positive[r] {
                rank_sum_pos += avg_rank;
            }
        }
        i = j + 1;
    }
    let u = rank_sum_pos - (n_pos * (n_pos + 1)) as f64 / 2.0;
    Some(u / (n_pos as f64 * n_neg as f64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_matches_hand_computed_value() {
        // scikit-learn: roc_auc_score([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) == 0.75
        let auc = roc_auc(&[0.1, 0.4, 0.35, 0.8], &[false, false, true, true]).unwrap();
        assert!((auc - 0.75).abs() < 1e-12);
        assert_eq!(roc_auc(&[0.1, 0.2], &[true, true]), None);
    }

    #[test]
    fn classification_metrics() {
        // truth 0,0,1,2 ; predicted 0,1,1,2
        let pred = [
            0.8, 0.1, 0.1, 0.3, 0.6, 0.1, 0.2, 0.7, 0.1, 0.1, 0.1, 0.8f32,
        ];
        let m = score(Task::Multiclass, 3, &pred, &[0.0, 0.0, 1.0, 2.0]);
        assert_eq!(m["accuracy"], 0.75);
        // recalls: 0.5, 1, 1
        assert!((m["balanced_accuracy"] - 2.5 / 3.0).abs() < 1e-12);
        // f1: class0 2*1/(2+1)=0.667, class1 2*1/(1+2)=0.667, class2 1
        assert!((m["macro_f1"] - (2.0 / 3.0 + 2.0 / 3.0 + 1.0) / 3.0).abs() < 1e-12);
        let ll =
            -(0.8f64.ln() + (0.3f32 as f64).ln() + (0.7f32 as f64).ln() + (0.8f32 as f64).ln())
                / 4.0;
        assert!((m["log_loss"] - ll).abs() < 1e-6);
    }

    #[test]
    fn regression_metrics() {
        let m = score(Task::Regression, 1, &[1.0, 2.0, 4.0], &[1.0, 3.0, 5.0]);
        assert!((m["mae"] - 2.0 / 3.0).abs() < 1e-12);
        assert!((m["rmse"] - (2.0f64 / 3.0).sqrt()).abs() < 1e-12);
        // ss_tot = (1-3)^2 + 0 + (5-3)^2 = 8, ss_res = 2
        assert!((m["r2"] - 0.75).abs() < 1e-12);
    }
}
