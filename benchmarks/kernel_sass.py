"""Static cost of the Triton kernels on Hopper (sm_90), from any machine: no GPU needed.

Each kernel is compiled for sm_90 with the ``ptxas`` that ships with triton, disassembled with
its ``nvdisasm``, and counted: instructions, registers, barriers, spills, and the body of every
loop (a backward branch). The loop bodies are what the Poisson kernels repeat per search step or
per rejection attempt, for every lane of a program until its slowest lane is done. ``weighted``
counts issue slots on Hopper's per-SM rates: float64 arithmetic (``D*``) and 32x32->64-bit
integer multiplies 2, float64 conversions and ``MUFU`` 4, a block barrier 8, anything else 1.

This is a count, not a measurement: latency, occupancy and memory are not in it. It serves to
compare two versions of a kernel where no GPU is lent; ``benchmarks/device_check.sh`` measures.
Run from the repository root:

    python -m benchmarks.kernel_sass --out benchmarks/results/kernel_sass_sm90.json
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

#: Kernel name -> (module in ``pmm_sde.kernels``, function, signature, constexprs, launch): ``BLOCK`` and
#: ``num_warps`` come from the launch the package uses (``triton_random.POISSON_LAUNCH`` or ``NORMAL_LAUNCH``).
_STEP = {"mu_ptr": "*fp32", "xhat_ptr": "*fp32", "out_ptr": "*fp32", "coef_ptr": "*fp32", "n": "i32", "seed": "i64",
         "counter": "i32", "offset": "i64"}
#: The element offset of a run's first sample is a multiple of 4 (the aligned draws; a run from sample 0).
_ALIGNED = {"ALIGNED": True}
KERNELS = {
    "poisson": ("triton_random", "_poisson_kernel",
                {"rate_ptr": "*fp32", "out_ptr": "*fp32", "n": "i32", "seed": "i64", "counter": "i32", "offset": "i64"},
                _ALIGNED, "POISSON"),
    "tau_leap_step": ("triton_steps", "_tau_leap_kernel", _STEP, _ALIGNED, "POISSON"),
    "gamma_oracle_tau_leap": ("triton_steps", "_gamma_oracle_tau_leap_kernel",
                              {"out_ptr": "*fp32", "grid_ptr": "*fp32", "coef_ptr": "*fp32", "n": "i32",
                               "seed": "i64"}, {"STEPS": 32}, "POISSON"),
    "gamma_oracle_tau_leap_events": ("triton_steps", "_gamma_oracle_events_kernel",
                                     {"out_ptr": "*fp32", "W_ptr": "*fp64", "w_ptr": "*fp64", "a_star_ptr": "*fp64",
                                      "terminal_ptr": "*fp32", "n": "i32", "seed": "i64"},
                                     {"STEPS": 4096, "SEARCH_PASSES": 13, "PER_LANE": 8}, "POISSON"),
    "normal": ("triton_random", "_normal_kernel",
               {"out_ptr": "*fp32", "n": "i32", "seed": "i64", "counter": "i32", "offset": "i64"},
               {"BITS": 23} | _ALIGNED, "NORMAL"),
    "pmm_chain_step": ("triton_steps", "_pmm_chain_kernel", _STEP, {"BITS": 23} | _ALIGNED, "NORMAL"),
    "gaussian_oracle_pmm_chain": ("triton_steps", "_gaussian_pmm_chain_kernel",
                                  {"out_ptr": "*fp32", "table_ptr": "*fp32", "coef_ptr": "*fp32", "n": "i32",
                                   "seed": "i64"}, {"STEPS": 32, "BITS": 23}, "NORMAL"),
}
_WEIGHT_2 = ("DFMA", "DMUL", "DADD", "DSETP", "DMNMX", "IMAD.WIDE", "IMAD.HI")
_WEIGHT_4 = ("MUFU", "I2F.F64", "F2F.F64", "F2I.F64", "I2F.F64", "F2F.F32.F64")
_INSTRUCTION = re.compile(r"^\s+/\*([0-9a-f]+)\*/\s+(.*?)\s*;")
_LABEL = re.compile(r"^\s*(\.L_x_\d+):")


def issue_slots(opcode: str) -> int:
    """Hopper issue slots of one instruction (see the module docstring)."""
    if opcode.startswith("BAR"):
        return 8
    if opcode.startswith(_WEIGHT_4):
        return 4
    return 2 if opcode.startswith(_WEIGHT_2) else 1


def parse_sass(text: str) -> tuple[list[str], dict[str, int], list[str]]:
    """``(opcodes, labels, lines)`` of an nvdisasm listing; ``labels`` maps a label to its instruction index."""
    opcodes, lines, labels = [], [], {}
    for line in text.splitlines():
        label = _LABEL.match(line)
        if label:
            labels[label.group(1)] = len(opcodes)
            continue
        match = _INSTRUCTION.match(line)
        if match:
            body = re.sub(r"^@!?U?P\w+\s+", "", match.group(2))
            opcodes.append(body.split()[0])
            lines.append(match.group(2))
    return opcodes, labels, lines


def loops(opcodes: list[str], labels: dict[str, int], lines: list[str]) -> list[dict]:
    """Every loop: a branch back to an earlier label; its body's instructions and issue slots."""
    found = []
    for end, (opcode, line) in enumerate(zip(opcodes, lines)):
        target = re.search(r"\(\s*(\.L_x_\d+)\s*\)", line)
        if opcode.startswith("BRA") and target and labels.get(target.group(1), end + 1) <= end:
            body = opcodes[labels[target.group(1)]:end + 1]
            found.append({"instructions": len(body), "issue_slots": sum(map(issue_slots, body)),
                          "fp64": sum(op.startswith("D") for op in body)})
    return found


def compile_for_sm90(name: str, block: int, num_warps: int) -> dict:
    """Compile kernel ``name`` of ``KERNELS`` for sm_90 at ``block`` elements and ``num_warps`` warps; its counts."""
    import triton
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    from pmm_sde.kernels import triton_steps
    from pmm_sde.streams import triton_draws as triton_random

    module_name, function, signature, constexprs, _ = KERNELS[name]
    module = {"triton_random": triton_random, "triton_steps": triton_steps}[module_name]
    constexprs = constexprs | {"BLOCK": block}
    source = ASTSource(fn=getattr(module, function), signature=signature | {k: "constexpr" for k in constexprs},
                       constexprs=constexprs)
    compiled = triton.compile(source, target=GPUTarget("cuda", 90, 32),
                              options={"num_warps": num_warps, "enable_fp_fusion": False})
    tools = Path(triton.__file__).parent / "backends" / "nvidia" / "bin"
    with tempfile.TemporaryDirectory() as directory:
        cubin = os.path.join(directory, "kernel.cubin")
        Path(cubin).write_bytes(compiled.asm["cubin"])
        sass = subprocess.run([str(tools / "nvdisasm"), "-c", cubin], check=True, capture_output=True,
                              text=True).stdout
        usage = subprocess.run([str(tools / "cuobjdump"), "--dump-resource-usage", cubin], check=True,
                               capture_output=True, text=True).stdout
    opcodes, labels, lines = parse_sass(sass)
    counts = Counter(op.split(".")[0] for op in opcodes)
    registers = re.search(r"REG:(\d+)", usage)
    return {"kernel": name, "block": block, "num_warps": num_warps,
            "elements_per_thread": block // (32 * num_warps),
            "registers": int(registers.group(1)) if registers else None,
            "instructions": len(opcodes), "issue_slots": sum(map(issue_slots, opcodes)),
            "barriers": counts["BAR"], "local_memory_ops": counts["STL"] + counts["LDL"],
            "subroutine_calls": sum(op.startswith("CALL") for op in opcodes),
            "loops": loops(opcodes, labels, lines)}


def main(argv: list[str] | None = None) -> list[dict]:
    """Compile every kernel of ``KERNELS`` at the package's launch shapes; print and return the records."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, help="write the records to this JSON file")
    parser.add_argument("--kernels", default=",".join(KERNELS), help="comma-separated names of KERNELS")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.kernels.split(",")) - set(KERNELS))
    if unknown:
        parser.error(f"--kernels: unknown {unknown}; choose from {sorted(KERNELS)}")
    from pmm_sde.streams import triton_draws as triton_random

    records = []
    for name in args.kernels.split(","):
        launch = getattr(triton_random, KERNELS[name][4] + "_LAUNCH")
        records.append(compile_for_sm90(name, launch.block, launch.num_warps))
        print(json.dumps(records[-1]), flush=True)
    if args.out is not None:
        args.out.write_text(json.dumps(records, indent=2))
    return records


if __name__ == "__main__":
    main()
