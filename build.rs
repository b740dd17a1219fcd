//! Records the git commit and the versions of the libraries that train and measure, so
//! every manifest says exactly what produced it.

fn main() {
    println!("cargo:rerun-if-changed=Cargo.lock");
    println!("cargo:rerun-if-changed=.git/HEAD");
    println!("cargo:rerun-if-env-changed=TRADEOFF_GIT_COMMIT");
    // Without git (a Docker build context has no .git) the builder may say the commit.
    let commit = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .or_else(|| std::env::var("TRADEOFF_GIT_COMMIT").ok())
        .unwrap_or_default();
    println!("cargo:rustc-env=TRADEOFF_GIT_COMMIT={commit}");

    let wanted = ["linfa", "ndarray", "burn", "candle-core", "wgpu"];
    let lock = std::fs::read_to_string("Cargo.lock").unwrap_or_default();
    let mut deps = Vec::new();
    let mut name = None;
    for line in lock.lines() {
        if let Some(n) = line.strip_prefix("name = ") {
            name = Some(n.trim_matches('"').to_string());
        } else if let Some(v) = line.strip_prefix("version = ") {
            if let Some(n) = name.take() {
                if wanted.contains(&n.as_str()) {
                    deps.push(format!("{n}={}", v.trim_matches('"')));
                }
            }
        }
    }
    println!("cargo:rustc-env=TRADEOFF_DEPS={}", deps.join(";"));
}
