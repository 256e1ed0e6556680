#!/usr/bin/env python3
"""Merges one run's BenchmarkDotNet JSON reports and PyTorch timings into the CPU table of RESULTS.md.

Usage: report.py BDN_RESULTS_DIR TORCH_JSON RESULTS_MD   (called by benchmarks/run-cpu.sh)
The table replaces what stands between the <!-- cpu-ops:begin --> and <!-- cpu-ops:end --> markers.
"""
import datetime
import glob
import json
import os
import platform
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def work(shapes):
    """FLOPs per case, counted as 2·MACs, the same for both columns."""
    flops = {}
    for g in shapes["cpu_gemm"]:
        flops[g["name"]] = 2.0 * g["m"] * g["n"] * g["k"]
    for c in shapes["cpu_conv"]:
        top, bottom, left, right = c["padding"]
        ho = (c["h"] + top + bottom - c["kernel"]) // c["stride"] + 1
        wo = (c["w"] + left + right - c["kernel"]) // c["stride"] + 1
        flops[c["name"]] = 2.0 * ho * wo * c["cout"] * c["cin"] * c["kernel"] ** 2
    for a in shapes["cpu_attention"]:
        flops[a["name"]] = 4.0 * a["batch"] * a["heads"] * a["tq"] * a["tk"] * a["head_dim"]
    return flops


def viper_medians(folder):
    medians = {}
    for path in glob.glob(os.path.join(folder, "*-report-full.json")):
        with open(path) as f:
            for b in json.load(f)["Benchmarks"]:
                case = b["Parameters"].split("=", 1)[1]
                medians[case] = b["Statistics"]["Median"] / 1e6  # ns → ms
    return medians


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main():
    bdn, torch_json, results_md = sys.argv[1:4]
    with open(os.path.join(HERE, "shapes.json")) as f:
        flops = work(json.load(f))
    with open(torch_json) as f:
        torch_results = json.load(f)
    ours = viper_medians(bdn)
    lines = [
        f"Measured {datetime.date.today().isoformat()} on {cpu_name()}, {torch_results['threads']} threads for both, "
        f"f32; PyTorch {torch_results['torch']} (Debian python3-torch). One run of benchmarks/run-cpu.sh; "
        "medians of 10 timed iterations after 3 warm-ups. Ratio > 1 means Viper is faster.",
        "",
        "| case | Viper CPU (ms) | PyTorch (ms) | PyTorch / Viper | Viper GFLOP/s | PyTorch GFLOP/s |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, f in flops.items():
        v, t = ours.get(name), torch_results["cases"].get(name)
        if v is None or t is None:
            lines.append(f"| {name} | {'—' if v is None else f'{v:.2f}'} | {'—' if t is None else f'{t:.2f}'} | — | — | — |")
            continue
        lines.append(f"| {name} | {v:.2f} | {t:.2f} | {t / v:.2f} | {f / v / 1e6:.1f} | {f / t / 1e6:.1f} |")
    with open(results_md) as f:
        text = f.read()
    begin, end = "<!-- cpu-ops:begin -->", "<!-- cpu-ops:end -->"
    head, rest = text.split(begin)
    _, tail = rest.split(end)
    with open(results_md, "w") as f:
        f.write(head + begin + "\n" + "\n".join(lines) + "\n" + end + tail)


if __name__ == "__main__":
    main()
