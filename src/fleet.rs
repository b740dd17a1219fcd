//! `tradeoff fleet plan`: one suite on many instance types, through SkyPilot or Kubernetes.
//!
//! The plan is files, not a launcher: for each instance type of the price catalog, a SkyPilot
//! task (`skypilot/<instance>.yaml`) and a Kubernetes Job (`k8s/<instance>.yaml`) filled from
//! the templates in `deploy/`, and `launch.sh`, which launches the SkyPilot tasks in parallel,
//! brings every instance's results back and merges them. The engines do the provisioning;
//! `tradeoff merge` of the collected directories gives the cross-hardware table. What a fleet
//! run will cost is estimated from the catalog's prices and, where given, the duration of an
//! earlier run of the suite (`--previous`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Result;
use tradeoff_ir::Error;
use tradeoff_report::cost::{self, Price};

use crate::cli::FleetPlanArgs;

const SKYPILOT: &str = include_str!("../deploy/skypilot/tradeoff.yaml");
const KUBERNETES: &str = include_str!("../deploy/k8s/job.yaml");

/// Assumed time to build tradeoff on a fresh instance (`setup:` in the SkyPilot task): a cold
/// release build takes about 17 minutes on 2 vCPUs. Said wherever it is used.
const BUILD_HOURS: f64 = 0.3;

/// A template's text after its leading comment block (which documents the placeholders and
/// would otherwise be filled too), with every `{{name}}` replaced; a placeholder without a
/// value is an error naming it.
fn fill(template: &str, from: &str, values: &BTreeMap<&str, String>) -> Result<String, Error> {
    let body: String = template
        .lines()
        .skip_while(|l| l.starts_with('#'))
        .map(|l| format!("{l}\n"))
        .collect();
    let mut out = format!(
        "# Written by `tradeoff fleet plan` from {from} (see it for what each field does).\n"
    );
    let mut rest = body.as_str();
    while let Some(at) = rest.find("{{") {
        out.push_str(&rest[..at]);
        let end = rest[at..]
            .find("}}")
            .map(|e| at + e)
            .ok_or_else(|| Error::Data {
                what: from.into(),
                detail: "a {{ without its }}".into(),
            })?;
        let name = &rest[at + 2..end];
        let value = values.get(name).ok_or_else(|| Error::Data {
            what: from.into(),
            detail: format!("placeholder {{{{{name}}}}} has no value"),
        })?;
        out.push_str(value);
        rest = &rest[end + 2..];
    }
    out.push_str(rest);
    // A placeholder line left empty (no accelerators, no bucket, no GPU limit) is dropped,
    // and blank lines come one at a time.
    let mut text = String::new();
    let mut blank = false;
    for l in out.lines() {
        if l.trim().is_empty() {
            if !l.is_empty() || blank {
                continue;
            }
            blank = true;
        } else {
            blank = false;
        }
        text.push_str(l);
        text.push('\n');
    }
    Ok(text)
}

/// The DNS-1123 form of an instance name: `tradeoff-` and the name, lowercase, with anything
/// else than a letter, digit or dash as a dash.
fn cluster_name(instance: &str) -> String {
    let slug: String = instance
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    format!("tradeoff-{}", slug.trim_matches('-'))
        .chars()
        .take(63)
        .collect()
}

/// How long earlier runs took, from their manifests: (instance or machine, seconds).
fn previous_durations(dirs: &[PathBuf]) -> Result<Vec<(String, f64)>, Error> {
    let mut out = Vec::new();
    for d in dirs {
        let path = if d.is_dir() {
            d.join("manifest.json")
        } else {
            d.clone()
        };
        let text = std::fs::read_to_string(&path).map_err(|e| Error::read(&path, e))?;
        let m: serde_json::Value = serde_json::from_str(&text).map_err(|e| Error::Data {
            what: path.display().to_string(),
            detail: format!("not a manifest: {e}"),
        })?;
        let (Some(start), Some(end)) =
            (m["started_unix_s"].as_u64(), m["finished_unix_s"].as_u64())
        else {
            return Err(Error::Data {
                what: path.display().to_string(),
                detail: "the run has no finished_unix_s (unfinished, or written before schema version 7): its duration is unknown".into(),
            });
        };
        let who =
            crate::common::manifest_instance(&m).unwrap_or_else(|| path.display().to_string());
        out.push((who, end.saturating_sub(start) as f64));
    }
    Ok(out)
}

pub fn plan(args: FleetPlanArgs) -> Result<u8> {
    let (file, catalog) = crate::pricing::catalog(args.prices.as_deref())?;
    let mut prices: Vec<&Price> = Vec::new();
    for name in &args.instances {
        let p = catalog
            .find(name, &file)
            .map_err(|e| Error::option("--instances", name.as_str(), e.to_string()))?;
        if prices.iter().any(|q| q.name == p.name) {
            return Err(Error::option("--instances", name.as_str(), "is given twice").into());
        }
        prices.push(p);
    }
    // The checkout SkyPilot syncs, and the suite inside it.
    let workdir = args
        .workdir
        .clone()
        .unwrap_or_else(|| PathBuf::from("."))
        .canonicalize()
        .map_err(|e| Error::read(args.workdir.as_deref().unwrap_or(Path::new(".")), e))?;
    let suite = args
        .suite
        .canonicalize()
        .map_err(|e| Error::read(&args.suite, e))?;
    let suite_rel = suite.strip_prefix(&workdir).map_err(|_| {
        Error::option(
            "--suite",
            args.suite.display().to_string(),
            format!(
                "is not inside the checkout {} (--workdir), which is what SkyPilot copies to each instance and the image holds",
                workdir.display()
            ),
        )
    })?;
    if !workdir.join("Cargo.toml").exists() {
        return Err(Error::option(
            "--workdir",
            workdir.display().to_string(),
            "has no Cargo.toml: give the tradeoff checkout the instances build from",
        )
        .into());
    }
    let suite_rel = suite_rel.display().to_string();
    let out = &args.out;
    for sub in ["skypilot", "k8s"] {
        let d = out.join(sub);
        if d.exists() && !args.force {
            return Err(Error::option(
                "--out",
                out.display().to_string(),
                "already holds a plan; give a new directory, or --force to replace it",
            )
            .into());
        }
        std::fs::create_dir_all(&d).map_err(|e| Error::write(&d, e))?;
    }
    let results = match &args.bucket {
        Some(_) => "/tradeoff-results",
        None => "~/tradeoff-results",
    };
    let mut written = Vec::new();
    for p in &prices {
        let gpu = p.gpus > 0;
        let accelerators = if gpu {
            let model = p
                .gpu
                .strip_prefix("NVIDIA ")
                .unwrap_or(&p.gpu)
                .replace(' ', "-");
            format!("accelerators: {model}:{}", p.gpus)
        } else {
            String::new()
        };
        let targets = if gpu {
            args.gpu_targets.clone()
        } else {
            String::new()
        };
        let mut values: BTreeMap<&str, String> = BTreeMap::new();
        values.insert("instance", p.name.clone());
        values.insert("infra", p.provider.clone());
        values.insert("accelerators_line", accelerators);
        values.insert("workdir", workdir.display().to_string());
        values.insert("suite", suite_rel.clone());
        values.insert("targets", targets.clone());
        values.insert("require_gpu", gpu.to_string());
        values.insert("results", results.into());
        values.insert(
            "file_mounts",
            match &args.bucket {
                Some(b) => format!(
                    "file_mounts:\n  /tradeoff-results:\n    name: {b}\n    mode: MOUNT_CACHED"
                ),
                None => String::new(),
            },
        );
        let sky = fill(SKYPILOT, "deploy/skypilot/tradeoff.yaml", &values)?;
        // Kubernetes: the suite inside the image; requests a little below the node's size so
        // the pod fits beside the kubelet and daemonsets.
        let mut values: BTreeMap<&str, String> = BTreeMap::new();
        values.insert("job_name", cluster_name(&p.name));
        values.insert("namespace", args.namespace.clone());
        values.insert("instance", p.name.clone());
        values.insert("image", args.image.clone());
        values.insert("suite", format!("/opt/tradeoff/{suite_rel}"));
        values.insert("targets", targets);
        values.insert("require_gpu", gpu.to_string());
        values.insert(
            "cpu",
            format!("{}m", (p.vcpus * 1000).saturating_sub(500).max(500)),
        );
        values.insert(
            "memory",
            format!("{}Gi", ((p.memory_gib * 0.75) as u64).max(1)),
        );
        values.insert(
            "gpu_limits",
            if gpu {
                format!("nvidia.com/gpu: \"{}\"", p.gpus)
            } else {
                String::new()
            },
        );
        values.insert("pvc", args.pvc.clone());
        values.insert("deadline_s", args.deadline_s.to_string());
        let k8s = fill(KUBERNETES, "deploy/k8s/job.yaml", &values)?;
        for (dir, text) in [("skypilot", &sky), ("k8s", &k8s)] {
            let path = out.join(dir).join(format!("{}.yaml", p.name));
            std::fs::write(&path, text).map_err(|e| Error::write(&path, e))?;
            written.push(path);
        }
    }
    let launch = out.join("launch.sh");
    std::fs::write(
        &launch,
        launch_script(&prices, results, args.bucket.as_deref()),
    )
    .map_err(|e| Error::write(&launch, e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&launch, std::fs::Permissions::from_mode(0o755));
    }
    say!(
        "plan      {} instance types, {} files in {}",
        prices.len(),
        written.len() + 1,
        out.display()
    );
    for w in &written {
        say!("  {}", w.display());
    }
    say!("  {}", launch.display());

    // What the fleet run costs: each instance's price for the build (assumed) and the run
    // (an earlier run's duration, where given).
    let previous = previous_durations(&args.previous)?;
    let run_hours = (!previous.is_empty()).then(|| {
        let mut s: Vec<f64> = previous.iter().map(|(_, s)| *s).collect();
        s.sort_by(f64::total_cmp);
        s[s.len() / 2] / 3600.0
    });
    say!();
    say!("estimate  what the fleet run costs at the catalog's on-demand prices");
    say_raw!(
        "{:<14} {:>5} {:<18} {:>10} {:>10} {:>10}  price recorded\n",
        "instance",
        "vcpus",
        "gpu",
        "usd/hour",
        "hours",
        "usd"
    );
    let today = crate::pricing::today();
    let mut total = 0.0;
    for p in &prices {
        let hours = BUILD_HOURS + run_hours.unwrap_or(0.0);
        let usd = hours * p.usd_per_hour;
        total += usd;
        let stale = cost::staleness(p, today).map_or(String::new(), |_| " (stale)".into());
        say_raw!(
            "{:<14} {:>5} {:<18} {:>10.4} {:>10.2} {:>10.2}  {}{stale}\n",
            p.name,
            p.vcpus,
            if p.gpu.is_empty() { "-" } else { &p.gpu },
            p.usd_per_hour,
            hours,
            usd,
            p.date
        );
    }
    say!("total     ${total:.2}");
    say!(
        "  assumes {BUILD_HOURS} h of building tradeoff on each instance (a cold release build is about 17 min on 2 vCPUs){}",
        match (run_hours, previous.len()) {
            (Some(h), n) => format!(
                ", and {:.2} h of run: the median duration of {n} earlier run{} (--previous){}",
                h,
                if n == 1 { "" } else { "s" },
                if n == 1 { format!(", {}", previous[0].0) } else { String::new() }
            ),
            _ => "; the run itself is not counted: pass --previous DIR (an earlier run of this suite) to estimate it".into(),
        }
    );
    say!("  a machine of another type runs at another speed; spot prices differ from these");
    say!();
    say!(
        "next      bash {} (SkyPilot: `sky check` first), or kubectl apply -f {}",
        launch.display(),
        out.join("k8s").display()
    );
    Ok(0)
}

/// `launch.sh`: the SkyPilot tasks launched in parallel, each instance's results brought back
/// to `results/<instance>/` whether its run finished or not, the clusters taken down and the
/// results merged, an instance without results listed by the merge.
fn launch_script(prices: &[&Price], results: &str, bucket: Option<&str>) -> String {
    let names: Vec<&str> = prices.iter().map(|p| p.name.as_str()).collect();
    let clusters: Vec<String> = names.iter().map(|n| cluster_name(n)).collect();
    let pairs: Vec<String> = names
        .iter()
        .zip(&clusters)
        .map(|(n, c)| format!("[{n}]={c}"))
        .collect();
    let fetch = match bucket {
        Some(b) => format!(
            "  echo \"results are in bucket {b}: copy them to results/ (aws s3 sync s3://{b}/ results/ or gsutil -m rsync -r gs://{b} results), then:\"\n  echo \"  $tradeoff merge results/* --out merged\"\n  exit 0\n"
        ),
        None => String::new(),
    };
    format!(
        r#"#!/usr/bin/env bash
# Written by `tradeoff fleet plan`: launches this plan's SkyPilot tasks in parallel, waits for
# them, brings each instance's results back to results/<instance>/ (finished or not), takes
# the clusters down and merges. Logs go to logs/<instance>.log.
#   bash launch.sh             sky launch, results back by rsync
#   MODE=jobs bash launch.sh   sky jobs launch --use-spot: managed, relaunched and resumed when
#                              reclaimed (plan with --bucket: the cluster goes when the job ends)
#   KEEP=1 bash launch.sh      leave the clusters up (sky down -y tradeoff-... later)
set -uo pipefail
cd "$(dirname "$0")"
declare -A cluster=({pairs})
instances=({names})
tradeoff=${{TRADEOFF:-tradeoff}}
mkdir -p logs results
for i in "${{instances[@]}}"; do mkdir -p "results/$i"; done

if [ "${{MODE:-launch}}" = jobs ]; then
  for i in "${{instances[@]}}"; do
    sky jobs launch -y -d --use-spot -n "${{cluster[$i]}}" "skypilot/$i.yaml" > "logs/$i.log" 2>&1 &
  done
  wait
  echo "launched; watch with: sky jobs queue"
{fetch}  echo "when they are done, copy each instance's directory to results/<instance>/ and run:"
  echo "  $tradeoff merge results/* --out merged"
  exit 0
fi

declare -A pid
for i in "${{instances[@]}}"; do
  sky launch -y -c "${{cluster[$i]}}" "skypilot/$i.yaml" > "logs/$i.log" 2>&1 &
  pid[$i]=$!
done
for i in "${{instances[@]}}"; do
  wait "${{pid[$i]}}" || echo "$i: sky launch exited $? (see logs/$i.log)" >&2
  rsync -Pavz "${{cluster[$i]}}:{results}/$i/" "results/$i/" >> "logs/$i.log" 2>&1 \
    || echo "$i: no results to fetch (see logs/$i.log)" >&2
done
[ -n "${{KEEP:-}}" ] || sky down -y "${{cluster[@]}}"
# Every planned instance's directory: one without results is listed by the merge, not lost.
"$tradeoff" merge results/* --out merged --force
"#,
        pairs = pairs.join(" "),
        names = names.join(" "),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_fill_every_placeholder_and_refuse_an_unknown_one() {
        let mut v = BTreeMap::new();
        v.insert("a", "1".to_string());
        let got = fill("# doc {{b}}\nx: {{a}}\n  {{a}}\n", "t", &v).unwrap();
        assert!(got.ends_with("x: 1\n  1\n"), "{got}");
        assert!(!got.contains("doc"), "the comment block is dropped: {got}");
        let e = fill("x: {{b}}\n", "t", &v).unwrap_err().to_string();
        assert!(e.contains("placeholder {{b}} has no value"), "{e}");
        // An empty value's line goes.
        v.insert("gone", String::new());
        assert_eq!(
            fill("x: 1\n  {{gone}}\ny: 2\n", "t", &v)
                .unwrap()
                .lines()
                .count(),
            3
        );
    }

    #[test]
    fn cluster_names_are_dns_labels() {
        assert_eq!(cluster_name("c7i.xlarge"), "tradeoff-c7i-xlarge");
        assert_eq!(cluster_name("n2-standard-4"), "tradeoff-n2-standard-4");
        assert_eq!(
            cluster_name("Standard_NC4as_T4_v3"),
            "tradeoff-standard-nc4as-t4-v3"
        );
    }
}
