#!/usr/bin/env bash
# Times the CPU backend (BenchmarkDotNet) and PyTorch on the same shapes and thread count, in one run,
# and writes the table into benchmarks/RESULTS.md.   Usage: benchmarks/run-cpu.sh [threads]
set -euo pipefail
cd "$(dirname "$0")/.."
threads=${1:-$(nproc)}
./tools/setup.sh --reference

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
/usr/bin/python3 benchmarks/torch/bench_cpu_ops.py --threads "$threads" --out "$work/torch.json"
DOTNET_PROCESSOR_COUNT=$threads dotnet run -c Release --project benchmarks/Viper.Benchmarks -- \
  --filter 'Viper.Benchmarks.GemmBenchmarks*' 'Viper.Benchmarks.ConvBenchmarks*' 'Viper.Benchmarks.AttentionBenchmarks*' \
  'Viper.Benchmarks.ClipBenchmarks*' --artifacts "$work/bdn"
python3 benchmarks/report.py "$work/bdn/results" "$work/torch.json" benchmarks/RESULTS.md
