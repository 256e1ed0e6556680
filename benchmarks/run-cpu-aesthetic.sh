#!/usr/bin/env bash
# Aesthetic gradients at full size (issue 16): one personalization (T = 10, lr 1e-4, batch 1) of a random CLIP ViT-L/14
# text tower with projection on the CPU backend (Viper.Benchmarks.AestheticBenchmarks), next to PyTorch autograd +
# torch.optim.Adam on the same weights, ids and embedding (benchmarks/torch/bench_cpu_aesthetic.py, which first checks
# itself against ../shared/refs/aesthetic), f32, same threads, one run; writes the table into benchmarks/RESULTS.md.
# Usage: benchmarks/run-cpu-aesthetic.sh [threads]
set -euo pipefail
cd "$(dirname "$0")/.."
threads=${1:-$(nproc)}
./tools/setup.sh --reference

export VIPER_BENCH_PIPELINES=$PWD/artifacts/bench
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dotnet build -c Release benchmarks/Viper.Benchmarks -nologo -v quiet
bench=benchmarks/Viper.Benchmarks/bin/Release/net10.0/Viper.Benchmarks
"$bench" aesthetic-inputs
/usr/bin/python3 benchmarks/torch/bench_cpu_aesthetic.py --folder "$VIPER_BENCH_PIPELINES/clip-l-aesthetic" --threads "$threads" --out "$work/torch.json"
DOTNET_PROCESSOR_COUNT=$threads "$bench" --filter 'Viper.Benchmarks.AestheticBenchmarks*' --artifacts "$work/bdn"
python3 benchmarks/report.py --aesthetic "$work/bdn/results" "$work/torch.json" benchmarks/RESULTS.md
