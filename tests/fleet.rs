//! `fleet plan` and merging a fleet's collected directories.

use crate::util::{assert_fails, dir, stderr, stdout, tradeoff, write, QUICK};

fn repo() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn fleet_plan_writes_a_task_and_a_job_per_instance_and_prices_them() {
    let d = dir("fleet-plan");
    let repo = repo();
    let suite = repo.join("suites/fleet-smoke.toml");
    let (suite, workdir) = (suite.to_str().unwrap(), repo.to_str().unwrap());
    let plan = |extra: &[&str]| {
        let mut args = vec![
            "fleet",
            "plan",
            "--suite",
            suite,
            "--workdir",
            workdir,
            "--instances",
        ];
        args.extend(extra);
        tradeoff(&d, &args)
    };
    let o = plan(&["c7i.large,g5.xlarge", "--out", "p"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let read = |f: &str| std::fs::read_to_string(d.join("p").join(f)).unwrap();
    let (cpu, gpu) = (
        read("skypilot/c7i.large.yaml"),
        read("skypilot/g5.xlarge.yaml"),
    );
    for text in [
        &cpu,
        &gpu,
        &read("k8s/c7i.large.yaml"),
        &read("k8s/g5.xlarge.yaml"),
    ] {
        assert!(!text.contains("{{"), "a placeholder left: {text}");
    }
    assert!(gpu.contains("accelerators: A10G:1") && gpu.contains("REQUIRE_GPU: \"true\""));
    assert!(gpu.contains("TARGETS: \"cpu,burn-wgpu,wgsl\""), "{gpu}");
    assert!(!cpu.contains("accelerators") && cpu.contains("REQUIRE_GPU: \"false\""));
    assert!(cpu.contains("SUITE: suites/fleet-smoke.toml"), "{cpu}");
    let job = read("k8s/g5.xlarge.yaml");
    assert!(job.contains("nvidia.com/gpu: \"1\"") && job.contains("name: tradeoff-g5-xlarge"));
    let launch = read("launch.sh");
    assert!(
        launch.contains("sky launch") && launch.contains("merge results/*"),
        "{launch}"
    );
    // The estimate prices every instance from the catalog and says what it assumes.
    let out = stdout(&o);
    assert!(out.contains("1.0060") && out.contains("0.0892"), "{out}");
    assert!(out.contains("run itself is not counted"), "{out}");

    // An earlier run's duration estimates the run; the plan is not overwritten unasked.
    std::fs::create_dir_all(d.join("prev")).unwrap();
    let m = write(
        &d,
        "prev/manifest.json",
        r#"{"command": "run", "started_unix_s": 1000, "finished_unix_s": 4600, "args": ["run", "--instance", "c7i.large"]}"#,
    );
    let o = plan(&[
        "c7i.large",
        "--out",
        "p",
        "--previous",
        m.to_str().unwrap(),
        "--force",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("1.00 h of run: the median duration of 1 earlier run"),
        "{}",
        stdout(&o)
    );
    assert_fails(
        &plan(&["c7i.large", "--out", "p"]),
        2,
        "already holds a plan",
    );
    assert_fails(&plan(&["c9z.huge", "--out", "q"]), 2, "c9z.huge");
    let outside = write(&d, "elsewhere.toml", "name = \"x\"\n");
    let o = tradeoff(
        &d,
        &[
            "fleet",
            "plan",
            "--suite",
            outside.to_str().unwrap(),
            "--workdir",
            workdir,
            "--instances",
            "c7i.large",
            "--out",
            "r",
        ],
    );
    assert_fails(&o, 2, "is not inside the checkout");
}

#[test]
fn a_fleet_merge_lists_every_member_and_how_its_run_ended() {
    let d = dir("fleet-merge");
    let run = |out: &str, instance: &str| {
        let mut args = vec![
            "run",
            "--dataset",
            "iris",
            "--candidates",
            "logistic",
            "--out",
            out,
            "--instance",
            instance,
        ];
        args.extend(QUICK);
        let o = tradeoff(&d, &args);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    };
    run("fleet/c7i.large", "c7i.large");
    run("fleet/g5.xlarge", "g5.xlarge");
    // A member that never wrote (its instance failed to start), and one stopped before its
    // recommendation.
    std::fs::create_dir_all(d.join("fleet/m7g.large")).unwrap();
    let stopped = d.join("fleet/c7i.xlarge");
    std::fs::create_dir_all(&stopped).unwrap();
    let full = std::fs::read_to_string(d.join("fleet/c7i.large/results.jsonl")).unwrap();
    let cells: String = full
        .lines()
        .filter(|l| l.contains("\"kind\":\"cell\""))
        .map(|l| {
            format!(
                "{}\n",
                l.replace("c7i.large", "c7i.xlarge")
                    .replace("\"run_id\":\"", "\"run_id\":\"x")
            )
        })
        .collect();
    std::fs::write(stopped.join("results.jsonl"), cells).unwrap();

    let o = tradeoff(
        &d,
        &[
            "merge",
            "fleet/c7i.large",
            "fleet/g5.xlarge",
            "fleet/m7g.large",
            "fleet/c7i.xlarge",
            "--out",
            "merged",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("not every run finished"),
        "{}",
        stderr(&o)
    );
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("merged/manifest.json")).unwrap())
            .unwrap();
    let fleet = m["fleet"].as_array().unwrap();
    let status: Vec<&str> = fleet
        .iter()
        .map(|f| f["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        status,
        ["complete", "complete", "no results", "incomplete"],
        "{fleet:?}"
    );
    assert!(
        fleet[0]["seconds"].is_u64() && fleet[1]["seconds"].is_u64(),
        "{fleet:?}"
    );
    assert_eq!(fleet[1]["usd_per_hour"], 1.006);
    assert!(fleet[1]["price"]
        .as_str()
        .unwrap()
        .contains("shipped catalog, recorded"));
    assert!(fleet[3]["seconds"].is_null());
    let out = stdout(&o);
    assert!(
        out.contains("no results") && out.contains("incomplete"),
        "{out}"
    );
    // Nothing at all to merge is an error.
    assert_fails(
        &tradeoff(&d, &["merge", "fleet/m7g.large", "--out", "none"]),
        3,
        "no results.jsonl in",
    );
}
