#!/usr/bin/env bash
# IDEFICS2 at a medium random size with the ViPer workloads (extractor prefill over 8 images, 32 greedy tokens, the
# metric's 10 queries against 8 pairs with and without the reused context) on the CPU backend, next to the same work in
# plain PyTorch (benchmarks/torch/bench_cpu_idefics2.py, which first checks itself against ../shared/refs/idefics2),
# f32, same threads, one run; writes the table into benchmarks/RESULTS.md. Usage: benchmarks/run-cpu-idefics2.sh [threads]
set -euo pipefail
cd "$(dirname "$0")/.."
threads=${1:-$(nproc)}
./tools/setup.sh --reference

export VIPER_BENCH_PIPELINES=$PWD/artifacts/bench
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dotnet build -c Release benchmarks/Viper.Benchmarks -nologo -v quiet
bench=benchmarks/Viper.Benchmarks/bin/Release/net10.0/Viper.Benchmarks
DOTNET_PROCESSOR_COUNT=$threads "$bench" idefics2-inputs "$work/inputs.safetensors"
/usr/bin/python3 benchmarks/torch/bench_cpu_idefics2.py --folder "$VIPER_BENCH_PIPELINES/idefics2-medium" --inputs "$work/inputs.safetensors" \
  --threads "$threads" --out "$work/torch.json"
DOTNET_PROCESSOR_COUNT=$threads "$bench" --filter 'Viper.Benchmarks.Idefics2Benchmarks*' --artifacts "$work/bdn"
python3 benchmarks/report.py --idefics2 "$work/bdn/results" "$work/torch.json" benchmarks/RESULTS.md
