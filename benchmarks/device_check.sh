#!/usr/bin/env bash
# The device check of the Triton kernels, for one lent CUDA machine (H200; Triton 3.6, torch 2.11),
# run from the repository root. Results go to $OUT (default ./device_check_out). About 5 minutes:
#   1. tests/test_kernel_steps.py with compiled Triton on CUDA tensors (TRITON_INTERPRET=0), the
#      families' draws included (they go through the Triton kernels on CUDA); then
#      tests/test_device_parity.py: every solver pmm.solvers.available lists (adaptive, Cox and
#      torchsde ones included) and the three families' chains on CUDA against the CPU run
#      (float64 within 1e-12 relative, counts bitwise, adaptive step counts equal);
#   2. python -m benchmarks.kernels --sweep (Poisson draws, fused steps, whole trajectories, the
#      event-to-event Gamma trajectory on grids of EVENT_STEPS, and the Poisson kernels at each
#      launch shape of SWEEP_LAUNCHES) -> kernels.json;
#   3. python -m benchmarks.run --quick on CUDA (throughput against torchsde, Cox on Triton) -> run_cuda_quick.json;
#   4. a short summary.
# The interpreted Triton tests (tests/test_kernels.py, whose Triton cases use CPU tensors) are left
# to CI, which runs them.
#
# On a lent H200 (the device tool's `run`; its image has torch, Triton, scipy, pytest, but not
# torchsde and its dependency trampoline), once in the checkout here:
#   echo /.whl/ >> .git/info/exclude
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#     --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 -d .whl torchsde==0.2.6 trampoline==0.1.2
# then one call, carry [".whl"], timeout_s 540:
#   python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl
#   && export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 && OUT=$OUT bash benchmarks/device_check.sh
# and copy $OUT/kernels.json to benchmarks/results/kernels_h200.json, $OUT/run_cuda_quick.json beside it.
set -u
OUT="${OUT:-device_check_out}"
mkdir -p "$OUT"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-4}"
status=0

echo "== 1. compiled Triton on CUDA"
TRITON_INTERPRET=0 timeout 150 \
  python -m pytest tests/test_kernel_steps.py -q -rs -p no:cacheprovider --durations=5 \
  > "$OUT/pytest_cuda.log" 2>&1 || status=1
tail -n 12 "$OUT/pytest_cuda.log"
TRITON_INTERPRET=0 timeout 90 \
  python -m pytest tests/test_device_parity.py -q -rs -p no:cacheprovider --durations=5 \
  > "$OUT/pytest_parity_cuda.log" 2>&1 || status=1
tail -n 8 "$OUT/pytest_parity_cuda.log"

echo "== 2. benchmarks"
TRITON_INTERPRET=0 timeout 280 python -m benchmarks.kernels --sweep --out "$OUT/kernels.json" \
  > "$OUT/kernels.log" 2>&1 || status=1
tail -n 2 "$OUT/kernels.log" | cut -c1-300

echo "== 3. benchmarks/run.py on CUDA (throughput and Cox sections, quick; needs torchsde)"
timeout 130 python -m benchmarks.run --quick --device cuda --sections throughput,cox --out "$OUT" \
  > "$OUT/run_cuda.log" 2>&1 || status=1
tail -n 12 "$OUT/run_cuda.log" | cut -c1-200

echo "== 4. summary"
python - "$OUT/kernels.json" <<'PY' || status=1
import json, sys
report = json.load(open(sys.argv[1]))
print(report["device"], "torch", report["torch"], "triton", report["triton"],
      "copy GB/s %.0f" % ((report["copy_bandwidth_bytes_per_s"] or 0) / 1e9))
for r in report.get("results", []):
    m = r["methods"]
    print("poisson %-9s n=%.0e" % (r["regime"], r["n"]), " ".join(
        "%s %.2e/s (x%.2f, roof %.2f)" % (k, v["elements_per_s"], v["speedup_vs_torch.poisson"],
                                          v.get("roofline_fraction", float("nan"))) for k, v in m.items()))
for r in report.get("steps", []):
    base = "eager" if "eager" in r["methods"] else "eager_loop"
    print("%-21s n=%.0e" % (r["kernel"], r["n"]), " ".join(
        "%s %.2e el-steps/s (x%.2f, roof %.3f%s)" % (
            k, v["per_s"], v["speedup_vs_" + base], v.get("roofline_fraction", float("nan")),
            ", vs step roof %.2f" % v["vs_step_roofline"] if "vs_step_roofline" in v else "")
        for k, v in r["methods"].items()), r.get("agreement", ""))
for r in report.get("events", []):
    print("gamma events %4d steps n=%.0e N_T %.0f:" % (r["steps"], r["n"], r["mean_count_per_element"]), " ".join(
        "%s %.2e el-steps/s (x%.2f)" % (k, v["per_s"], v["speedup_vs_eager_loop"]) for k, v in r["methods"].items()),
        r.get("agreement", ""))
# Issue 4's goals: the fused tau-leap step at >= 60% of the copy roofline and >= 5x eager torch
# (largest n); a whole-trajectory oracle kernel at >= 50x its eager loop.
step = max((r for r in report.get("steps", []) if r["kernel"] == "tau_leap_step"), key=lambda r: r["n"], default=None)
if step and "triton" in step["methods"]:
    m = step["methods"]["triton"]
    print("GOAL tau_leap_step n=%.0e: roofline %.2f (>= 0.60: %s), x%.2f eager (>= 5: %s)" % (
        step["n"], m.get("roofline_fraction", float("nan")), m.get("roofline_fraction", 0) >= 0.6,
        m["speedup_vs_eager"], m["speedup_vs_eager"] >= 5))
trajectories = [("%s n=%.0e steps=%d" % (r["kernel"], r["n"], r["steps"]), name, v["speedup_vs_eager_loop"])
                for r in report.get("steps", []) + report.get("events", []) if "steps" in r
                for name, v in r["methods"].items() if name.startswith("triton")]
if trajectories:
    best = max(trajectories, key=lambda t: t[2])
    print("GOAL trajectory: best %s %s x%.2f eager loop (>= 50: %s)" % (best[0], best[1], best[2], best[2] >= 50))
for r in report.get("events_sweep", []):
    print("events kernel %2d elements per lane (%d steps): x%.2f eager loop" % (
        r["events_per_lane"], r["steps"], r["triton_events_vs_eager_loop"]))
for r in report.get("launch_sweep", []):
    print("launch block=%d warps=%d: poisson x%.2f, tau_leap_step x%.2f, gamma trajectory x%.2f" % (
        r["block"], r["num_warps"], r["poisson_vs_torch.poisson"], r["tau_leap_step_vs_eager"],
        r["gamma_oracle_tau_leap_vs_eager_loop"]))
PY
echo "device_check status: $status"
exit $status
