#!/usr/bin/env bash
# Times the CUDA backend (BenchmarkDotNet, graph replay) and PyTorch (CUDA graphs, events) on the same shapes
# (benchmarks/shapes.json gpu_*) in one run on one GPU, and writes the GPU table into benchmarks/RESULTS.md.
# Needs the .NET 10 SDK, an NVIDIA driver, NVRTC and cuBLASLt on the loader path, and PyTorch with CUDA.
# Usage: benchmarks/run-gpu.sh [python]
set -euo pipefail
cd "$(dirname "$0")/.."
python=${1:-python3}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$python" benchmarks/torch/bench_gpu_ops.py --out "$work/torch.json"
dotnet run -c Release --project benchmarks/Viper.Benchmarks -- --filter 'Viper.Benchmarks.Gpu*' --artifacts "$work/bdn"
python3 benchmarks/report.py --gpu "$work/bdn/results" "$work/torch.json" benchmarks/RESULTS.md
