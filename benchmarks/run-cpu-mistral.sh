#!/usr/bin/env bash
# A Mistral-7B-shaped bf16 decoder on the CPU backend next to the same stack in plain PyTorch (issue 13 §5):
#  - memory: the whole 32-layer stack (13.5 GiB of bf16 weights) built in a process of its own, one 512-token prefill
#    and one decode step, peak resident set (VmHWM) against the weight bytes;
#  - time: prefill of 512 tokens and one decode step on a stack of LAYERS layers (default 1), BenchmarkDotNet against
#    benchmarks/torch/bench_cpu_mistral.py, same threads. PyTorch 1.13's CPU bf16 GEMM is slow without AVX-512 BF16
#    (~1 GFLOP/s on an AVX2 machine), so its prefill is timed once, cold.
# Writes the table into benchmarks/RESULTS.md. Usage: benchmarks/run-cpu-mistral.sh [threads] [layers] [memory-layers]
set -euo pipefail
cd "$(dirname "$0")/.."
threads=${1:-$(nproc)}
layers=${2:-1}
memory_layers=${3:-32}
./tools/setup.sh --reference

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dotnet build -c Release benchmarks/Viper.Benchmarks -nologo -v quiet
bench=benchmarks/Viper.Benchmarks/bin/Release/net10.0/Viper.Benchmarks
DOTNET_PROCESSOR_COUNT=$threads "$bench" mistral-memory "$memory_layers" "$work/memory.json"
/usr/bin/python3 benchmarks/torch/bench_cpu_mistral.py --layers "$layers" --threads "$threads" --prefill-runs 1 --out "$work/torch.json"
DOTNET_PROCESSOR_COUNT=$threads VIPER_BENCH_MISTRAL_LAYERS=$layers "$bench" \
  --filter 'Viper.Benchmarks.MistralBenchmarks*' --artifacts "$work/bdn"
python3 benchmarks/report.py --mistral "$work/bdn/results" "$work/torch.json" "$work/memory.json" benchmarks/RESULTS.md
