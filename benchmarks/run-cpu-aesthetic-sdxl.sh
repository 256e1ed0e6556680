#!/usr/bin/env bash
# Aesthetic gradients for SDXL at full size (issue 31): one personalization of both text towers (CLIP ViT-L/14, then
# OpenCLIP ViT-bigG/14 with projection; T = 10, lr 1e-4, batch 1, random weights) on the CPU backend
# (Viper.Benchmarks.SdxlAestheticBenchmarks) next to PyTorch autograd + torch.optim.Adam on the same weights, ids and
# embeddings (benchmarks/torch/bench_cpu_aesthetic.py --folder-g), f32, same threads, one run each; writes the table
# into benchmarks/RESULTS.md. Needs about 16 GB of memory (bigG's 694 M parameters with Adam's state in f32).
# Usage: benchmarks/run-cpu-aesthetic-sdxl.sh [threads]
set -euo pipefail
cd "$(dirname "$0")/.."
threads=${1:-$(nproc)}
./tools/setup.sh --reference

export VIPER_BENCH_PIPELINES=$PWD/artifacts/bench
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dotnet build -c Release benchmarks/Viper.Benchmarks -nologo -v quiet
bench=benchmarks/Viper.Benchmarks/bin/Release/net10.0/Viper.Benchmarks
"$bench" aesthetic-sdxl-inputs
/usr/bin/python3 benchmarks/torch/bench_cpu_aesthetic.py --folder "$VIPER_BENCH_PIPELINES/clip-l-aesthetic" --folder-g "$VIPER_BENCH_PIPELINES/clip-g-aesthetic" \
  --threads "$threads" --out "$work/torch.json"
DOTNET_PROCESSOR_COUNT=$threads "$bench" --filter 'Viper.Benchmarks.SdxlAestheticBenchmarks*' --artifacts "$work/bdn"
python3 benchmarks/report.py --aesthetic-sdxl "$work/bdn/results" "$work/torch.json" benchmarks/RESULTS.md
