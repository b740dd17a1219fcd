"""Check a fleet plan on paper, with the engines' own parsers, no cloud account needed.

    python3 scripts/fleet_validate.py PLAN [--prices prices.toml]

PLAN is what `tradeoff fleet plan` writes: PLAN/skypilot/<instance>.yaml (SkyPilot tasks),
PLAN/k8s/<instance>.yaml (Kubernetes Jobs) and PLAN/launch.sh. Run it through
scripts/fleet-validate.sh, which makes the virtual environment with the pinned skypilot and
kubernetes packages this needs.

SkyPilot tasks are read with `sky.Task.from_yaml`, SkyPilot's own parser (the task schema:
an unknown or misspelt key is an error; the resources; the env vars), then checked as
`sky launch` checks them (task name, workdir, file mounts) and, where SkyPilot can download
its catalog of the `infra:` cloud, the instance type and its accelerators. Without network to
that catalog (as on the machines this project is tested on) the output says that check was
skipped; `sky launch --dryrun FILE` does it with your account.

Kubernetes Jobs are validated against the official Python client's `V1Job` model (pydantic,
`extra="forbid"`: unknown keys, wrong types and missing required fields are errors with
their path), then deserialized with `V1Job.from_dict`, then checked for what a fleet run
needs: a container with an image, restartPolicy Never or OnFailure, a nodeSelector, and a
GPU limit exactly when the instance has a GPU (prices.toml says which).

Exits 1 if any file fails, naming the file and the reason; 2 if PLAN has no plan files.
"""

import argparse
import contextlib
import io
import logging
import os
import re
import sys
import tomllib

import yaml

PLACEHOLDER = re.compile(r"\{\{\s*\w+\s*\}\}")
WGPU_TARGETS = {"burn-wgpu", "wgsl"}
DNS_1123 = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


class Invalid(Exception):
    pass


def catalog(path):
    with open(path, "rb") as f:
        return {e["name"]: e for e in tomllib.load(f).get("instance", [])}


def run_lines(script):
    """The first line of a run script that does something (not `set`, not a comment), and the
    line that starts `tradeoff run --suite` when it is another one."""
    lines = [l.strip().removesuffix("\\").strip() for l in (script or "").splitlines()]
    lines = [l for l in lines if l and not l.startswith("#") and not l.startswith("set ")]
    if not lines:
        return "(empty)"
    main = next((l for l in lines if "run --suite" in l), None)
    return lines[0] if main in (None, lines[0]) else f"{lines[0]} ... {main}"


def no_placeholders(path):
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if line.lstrip().startswith("#"):
                continue
            m = PLACEHOLDER.search(line)
            if m:
                raise Invalid(f"line {n}: placeholder {m.group(0)} was not filled")


def is_network_error(e):
    """True when e (or what caused it) is a failed download, not a bad task."""
    seen = set()
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        name = type(e).__name__
        if name in ("ConnectionError", "NameResolutionError", "MaxRetryError", "gaierror",
                    "Timeout", "ConnectTimeout", "ReadTimeout") or "Failed to fetch" in str(e):
            return True
        e = e.__cause__ or e.__context__
    return False


class Sky:
    def __init__(self):
        import sky  # imported here: it takes a second or two, and only SkyPilot files need it

        self.sky = sky
        self.offline = False  # set once a catalog download failed, so later files skip it

    def parse(self, path):
        """The task, whether its resources were checked against the cloud's catalog, a note."""
        try:
            with quiet():
                task = self.sky.Task.from_yaml(path)  # the task schema, envs, resources
                task.validate_name()
                task.validate_run()
                task.expand_and_validate_workdir()
                task.expand_and_validate_file_mounts()
        except Exception as e:  # SkyPilot raises ValueError, schema errors, its own
            raise Invalid(one_line(e)) from None
        if self.offline:
            return task, False, OFFLINE
        try:
            # What `sky launch` checks before it provisions: the instance type exists on the
            # cloud of `infra:`, the accelerators are those of the instance type. It reads
            # SkyPilot's catalog, which it downloads and caches under ~/.sky/catalogs.
            with quiet():
                for r in task.resources:
                    r.validate()
            return task, True, ""
        except Exception as e:
            if not is_network_error(e):
                raise Invalid(one_line(e)) from None
            self.offline = True
            return task, False, OFFLINE


OFFLINE = "cloud catalog not reachable: instance type and accelerators not checked against it"


@contextlib.contextmanager
def quiet():
    """SkyPilot's progress lines go to a buffer, and the traceback limit that its errors set
    (`print_exception_no_traceback`) is undone."""
    limit = getattr(sys, "tracebacklimit", None)
    logging.disable(logging.CRITICAL)  # its handlers hold the real stderr: the redirect misses them
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            yield
    finally:
        logging.disable(logging.NOTSET)
        if limit is None:
            sys.__dict__.pop("tracebacklimit", None)
        else:
            sys.tracebacklimit = limit


def one_line(e):
    text = " ".join(str(e).split())
    return f"{type(e).__name__}: {text}"[:600]


def check_sky(sky, path, prices):
    no_placeholders(path)
    task, validated, note = sky.parse(path)
    resources = list(task.resources)
    if len(resources) != 1:
        raise Invalid(f"expected one resources entry, found {len(resources)}")
    r = resources[0]
    envs = task.envs or {}
    stem = os.path.basename(path).removesuffix(".yaml")
    if not r.instance_type:
        raise Invalid("resources.instance_type is not set")
    if r.instance_type != stem:
        raise Invalid(f"resources.instance_type {r.instance_type} differs from the file name {stem}")
    if envs.get("INSTANCE") != r.instance_type:
        raise Invalid(f"envs.INSTANCE {envs.get('INSTANCE')!r} differs from instance_type {r.instance_type}")
    for key in ("SUITE", "RESULTS"):
        if not envs.get(key):
            raise Invalid(f"envs.{key} is empty")
    if not task.run or "tradeoff" not in task.run and "$bin" not in task.run:
        raise Invalid("run: does not run tradeoff")
    entry = prices.get(r.instance_type)
    if entry is None:
        raise Invalid(f"{r.instance_type} is not in the price catalog: its results would have no price")
    gpu = entry.get("gpus", 0) > 0
    # Validated resources know the instance type's accelerators from the catalog; otherwise
    # only what the file says (SkyPilot's parsed form of `accelerators:`).
    acc = (r.accelerators if validated else getattr(r, "_accelerators", None)) or {}
    if gpu:
        if not acc:
            raise Invalid(f"{r.instance_type} has a GPU ({entry['gpu']}) but no accelerators")
        if sum(acc.values()) != entry["gpus"]:
            raise Invalid(f"accelerators {acc} but the catalog says {entry['gpus']} GPU(s)")
        if envs.get("REQUIRE_GPU") != "true":
            raise Invalid("a GPU instance without REQUIRE_GPU=true: a software adapter would be measured")
        targets, source = set(filter(None, envs.get("TARGETS", "").split(","))), "TARGETS"
        suite = os.path.join(os.path.expanduser(task.workdir or "."), envs["SUITE"]) \
            if isinstance(task.workdir, str) else None
        if not targets and suite and os.path.isfile(suite):
            with open(suite, "rb") as f:  # no TARGETS: the suite's own targets run
                targets = set(tomllib.load(f).get("measure", {}).get("targets", []))
            source = f"the suite's [measure] targets ({envs['SUITE']})"
        if targets and not targets & WGPU_TARGETS:
            raise Invalid(f"{source} {','.join(sorted(targets))} has no wgpu target "
                          "(burn-wgpu, wgsl): --require-gpu exits 5")
    elif acc:
        raise Invalid(f"accelerators {acc} on {r.instance_type}, which the catalog lists without a GPU")
    results = envs["RESULTS"].rstrip("/")
    for dst, st in (task.storage_mounts or {}).items():
        if results == dst.rstrip("/") or results.startswith(dst.rstrip("/") + "/"):
            if st.mode.value == "MOUNT":
                raise Invalid(f"RESULTS={results} is on bucket {st.name} in MOUNT mode, which cannot "
                              "append to a file (goofys, rclone without cache): results.jsonl is "
                              "appended record by record; use mode: MOUNT_CACHED")
    accel = ",".join(f"{k}:{v}" for k, v in acc.items()) or "-"
    back = "; ".join(f"bucket {st.name} at {dst} ({st.mode.value})"
                     for dst, st in (task.storage_mounts or {}).items()) or "rsync"
    line = (f"instance_type={r.instance_type} accelerators={accel} results={envs['RESULTS']} "
            f"({back}) run: {run_lines(task.run)}")
    return line + (f"  [{note}]" if note else "")


def check_k8s(path, prices):
    from kubernetes.client import V1Job
    from kubernetes.utils import parse_quantity

    no_placeholders(path)
    with open(path, encoding="utf-8") as f:
        docs = [d for d in yaml.safe_load_all(f) if d is not None]
    if len(docs) != 1:
        raise Invalid(f"expected one YAML document, found {len(docs)}")
    doc = docs[0]
    if not isinstance(doc, dict):
        raise Invalid("not a YAML mapping")
    if doc.get("apiVersion") != "batch/v1" or doc.get("kind") != "Job":
        raise Invalid(f"apiVersion/kind {doc.get('apiVersion')}/{doc.get('kind')}, expected batch/v1/Job")
    try:
        V1Job.model_validate(doc)  # strict: unknown keys, types, required fields
        job = V1Job.from_dict(doc)  # the client's own deserialization
    except Exception as e:
        raise Invalid(one_line(e)) from None
    name = job.metadata.name if job.metadata else None
    if not name or not DNS_1123.match(name) or len(name) > 63:
        raise Invalid(f"metadata.name {name!r} is not a DNS-1123 label of at most 63 characters")
    pod = job.spec.template.spec if job.spec and job.spec.template else None
    if pod is None or not pod.containers:
        raise Invalid("spec.template.spec.containers is missing or empty")
    if pod.restart_policy not in ("Never", "OnFailure"):
        raise Invalid(f"restartPolicy {pod.restart_policy!r}: a Job needs Never or OnFailure")
    if not pod.node_selector:
        raise Invalid("no nodeSelector: the Job would run on any node type, not the one it prices")
    instance = pod.node_selector.get("node.kubernetes.io/instance-type")
    if not instance:
        raise Invalid("nodeSelector has no node.kubernetes.io/instance-type")
    entry = prices.get(instance)
    if entry is None:
        raise Invalid(f"{instance} is not in the price catalog: its results would have no price")
    gpus = 0
    for c in pod.containers:
        if not c.image:
            raise Invalid(f"container {c.name} has no image")
        res = c.resources
        for kind in ("requests", "limits"):
            for key, value in ((getattr(res, kind) or {}) if res else {}).items():
                try:
                    parse_quantity(value)
                except ValueError as e:
                    raise Invalid(f"container {c.name} {kind}.{key}={value!r}: {e}") from None
        gpus += int(((res.limits or {}) if res else {}).get("nvidia.com/gpu", 0))
        env = {e.name: e.value for e in (c.env or [])}
        if env.get("INSTANCE", instance) != instance:
            raise Invalid(f"env INSTANCE={env['INSTANCE']} but nodeSelector says {instance}")
    want = entry.get("gpus", 0)
    env = {e.name: e.value for e in (pod.containers[0].env or [])}
    if want and env.get("REQUIRE_GPU") != "true":
        raise Invalid(f"{instance} has a GPU but env REQUIRE_GPU is not true: a software adapter would be measured")
    targets = set(filter(None, (env.get("TARGETS") or "").split(",")))
    if want and targets and not targets & WGPU_TARGETS:
        raise Invalid(f"TARGETS={env['TARGETS']} has no wgpu target (burn-wgpu, wgsl): --require-gpu exits 5")
    if want and gpus != want:
        raise Invalid(f"{instance} has {want} GPU(s) ({entry['gpu']}) but the limits ask for nvidia.com/gpu={gpus}")
    if not want and gpus:
        raise Invalid(f"{instance} has no GPU in the catalog but the limits ask for nvidia.com/gpu={gpus}")
    volumes = {v.name for v in (pod.volumes or [])}
    for c in pod.containers:
        for m in c.volume_mounts or []:
            if m.name not in volumes:
                raise Invalid(f"container {c.name} mounts volume {m.name}, which the pod does not define")
    c = pod.containers[0]
    return (f"job={name} nodeSelector={instance} image={c.image} restartPolicy={pod.restart_policy} "
            f"gpu={gpus} backoffLimit={job.spec.backoff_limit} deadline={job.spec.active_deadline_seconds}s")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("plan")
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--prices", default=os.path.join(here, "..", "prices.toml"))
    args = ap.parse_args()
    prices = catalog(args.prices)

    def files(sub):
        d = os.path.join(args.plan, sub)
        return sorted(os.path.join(d, f) for f in os.listdir(d) if f.endswith((".yaml", ".yml"))) \
            if os.path.isdir(d) else []

    sky_files, k8s_files = files("skypilot"), files("k8s")
    if not sky_files and not k8s_files:
        print(f"fleet-validate: {args.plan} has no skypilot/*.yaml nor k8s/*.yaml", file=sys.stderr)
        return 2
    failed = 0
    sky = None
    for kind, paths in (("skypilot", sky_files), ("k8s", k8s_files)):
        for path in paths:
            rel = os.path.relpath(path, args.plan)
            try:
                if kind == "skypilot":
                    sky = sky or Sky()
                    line = check_sky(sky, path, prices)
                else:
                    line = check_k8s(path, prices)
                print(f"ok    {rel}: {line}")
            except (Invalid, yaml.YAMLError) as e:
                failed += 1
                print(f"FAIL  {rel}: {one_line(e) if isinstance(e, yaml.YAMLError) else e}")
    total = len(sky_files) + len(k8s_files)
    print(f"fleet-validate: {total - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
