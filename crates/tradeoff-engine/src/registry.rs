//! The one list of execution targets and the one list of candidates. The CLI, `devices`,
//! the tests and the benchmarks read them here; a new target is its crate plus one entry in
//! [`TARGETS`], a new candidate its trainer plus one entry in [`CANDIDATES`].

use tradeoff_burn::{BurnDevice, BurnTarget};
use tradeoff_data::protocol::Trainer;
use tradeoff_ir::target::{CpuTarget, Target};

/// An execution target users name in `--targets`.
pub struct TargetEntry {
    /// The stable id (`--targets`, records, bench ids).
    pub id: &'static str,
    /// Runs through a GPU API (wgpu): measured by default only on a hardware GPU adapter (a
    /// software adapter's timings are CPU timings), and what `--require-gpu` checks.
    pub gpu_api: bool,
    make: fn() -> Box<dyn Target>,
    /// `Err(reason)` when its device cannot be initialized here (no adapter).
    available: fn() -> Result<(), String>,
}

impl TargetEntry {
    /// A new instance of the target.
    pub fn make(&self) -> Box<dyn Target> {
        (self.make)()
    }

    /// Whether its device can be initialized on this machine, or why not.
    pub fn available(&self) -> Result<(), String> {
        (self.available)()
    }
}

fn here() -> Result<(), String> {
    Ok(())
}

/// Every target of this build, in the order tables list them.
pub const TARGETS: [TargetEntry; 5] = [
    TargetEntry {
        id: "cpu",
        gpu_api: false,
        make: || Box::new(CpuTarget),
        available: here,
    },
    TargetEntry {
        id: "burn-flex",
        gpu_api: false,
        make: || Box::new(BurnTarget::new(BurnDevice::Flex)),
        available: here,
    },
    TargetEntry {
        id: "candle-cpu",
        gpu_api: false,
        make: || Box::new(tradeoff_candle::CandleCpu),
        available: here,
    },
    TargetEntry {
        id: "burn-wgpu",
        gpu_api: true,
        make: || Box::new(BurnTarget::new(BurnDevice::Wgpu)),
        available: || tradeoff_burn::device(BurnDevice::Wgpu).map(|_| ()),
    },
    TargetEntry {
        id: "wgsl",
        gpu_api: true,
        make: || Box::new(tradeoff_wgpu::WgslTarget::default()),
        available: || tradeoff_wgpu::gpu().map(|_| ()),
    },
];

/// The target entry of an id.
pub fn target(id: &str) -> Option<&'static TargetEntry> {
    TARGETS.iter().find(|t| t.id == id)
}

/// The ids of every target, for messages.
pub fn target_ids() -> Vec<&'static str> {
    TARGETS.iter().map(|t| t.id).collect()
}

/// Where a candidate belongs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// In the ladder `run` and `curve` measure by default.
    Ladder,
    /// Learns incrementally: measured by `stream` against a batch counterpart; in `run` only
    /// when named.
    Online,
}

/// The device an MLP candidate trains on (`--train-on`).
pub use tradeoff_burn::BurnDevice as TrainOn;

/// A candidate users name in `--candidates`.
pub struct CandidateEntry {
    /// The stable id (`--candidates`, records).
    pub id: &'static str,
    /// The family records carry: `linear`, `tree`, `forest`, `boosted_trees`, `mlp`.
    pub family: &'static str,
    /// Place in the ladder of simplicity (lower is simpler): tables and the recommendation
    /// order candidates by it. An imported model takes its family's ([`family_rank`]).
    pub rank: u32,
    pub role: Role,
    make: fn(TrainOn) -> Box<dyn Trainer>,
}

impl CandidateEntry {
    /// Its trainer; MLPs train on `train_on`, the others on the CPU whatever it says.
    pub fn trainer(&self, train_on: TrainOn) -> Box<dyn Trainer> {
        (self.make)(train_on)
    }
}

fn mlp(id: &str, on: TrainOn) -> Box<dyn Trainer> {
    tradeoff_burn::trainer(id, on).expect("every registered MLP has its sizes in tradeoff-burn")
}

/// Every candidate, simplest first.
pub const CANDIDATES: [CandidateEntry; 10] = [
    CandidateEntry {
        id: "linear",
        family: "linear",
        rank: 0,
        role: Role::Ladder,
        make: |_| Box::new(tradeoff_linfa::Linear),
    },
    CandidateEntry {
        id: "logistic",
        family: "linear",
        rank: 0,
        role: Role::Ladder,
        make: |_| Box::new(tradeoff_linfa::Logistic),
    },
    CandidateEntry {
        id: "tree",
        family: "tree",
        rank: 1,
        role: Role::Ladder,
        make: |_| Box::new(tradeoff_linfa::SingleTree),
    },
    CandidateEntry {
        id: "forest",
        family: "forest",
        rank: 2,
        role: Role::Ladder,
        make: |_| Box::new(tradeoff_linfa::Forest),
    },
    CandidateEntry {
        id: "gbm",
        family: "boosted_trees",
        rank: 3,
        role: Role::Ladder,
        make: |_| Box::new(tradeoff_linfa::Gbm),
    },
    CandidateEntry {
        id: "mlp-s",
        family: "mlp",
        rank: 10,
        role: Role::Ladder,
        make: |on| mlp("mlp-s", on),
    },
    CandidateEntry {
        id: "mlp-m",
        family: "mlp",
        rank: 11,
        role: Role::Ladder,
        make: |on| mlp("mlp-m", on),
    },
    CandidateEntry {
        id: "mlp-l",
        family: "mlp",
        rank: 12,
        role: Role::Ladder,
        make: |on| mlp("mlp-l", on),
    },
    // Placed by their base model: a linear model.
    CandidateEntry {
        id: "linear-sgd",
        family: "linear",
        rank: 0,
        role: Role::Online,
        make: |_| Box::new(tradeoff_linfa::LinearSgd),
    },
    CandidateEntry {
        id: "logistic-sgd",
        family: "linear",
        rank: 0,
        role: Role::Online,
        make: |_| Box::new(tradeoff_linfa::LogisticSgd),
    },
];

/// The candidate entry of an id.
pub fn candidate(id: &str) -> Option<&'static CandidateEntry> {
    CANDIDATES.iter().find(|c| c.id == id)
}

/// The ids of the candidates in a role, simplest first.
pub fn candidate_ids(role: Role) -> Vec<&'static str> {
    CANDIDATES
        .iter()
        .filter(|c| c.role == role)
        .map(|c| c.id)
        .collect()
}

/// The ladder rank of a family: its simplest registered candidate's. A model that is not
/// trained here (an imported one) is placed by it.
pub fn family_rank(family: &str) -> Option<u32> {
    CANDIDATES
        .iter()
        .filter(|c| c.family == family)
        .map(|c| c.rank)
        .min()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tradeoff_data::data::Task;

    #[test]
    fn entries_agree_with_what_they_build() {
        for (i, t) in TARGETS.iter().enumerate() {
            assert_eq!(t.make().id(), t.id, "target entry {i}");
            assert_eq!(target(t.id).map(|e| e.id), Some(t.id));
        }
        let mut last = 0;
        for c in &CANDIDATES {
            let trainer = c.trainer(TrainOn::Flex);
            assert_eq!(trainer.id(), c.id);
            assert_eq!(trainer.family(), c.family, "{}", c.id);
            if c.role == Role::Ladder {
                assert!(
                    c.rank >= last,
                    "{}: the ladder is listed simplest first",
                    c.id
                );
                last = c.rank;
            }
            let online = tradeoff_linfa::online(c.id).is_some();
            assert_eq!(online, c.role == Role::Online, "{}", c.id);
            // Some task is supported.
            assert!([Task::Regression, Task::Binary, Task::Multiclass]
                .iter()
                .any(|&t| trainer.supports(t).is_ok()));
        }
        assert_eq!(family_rank("mlp"), Some(10));
        assert_eq!(family_rank("boosted_trees"), Some(3));
        assert_eq!(family_rank("svm"), None);
    }
}
