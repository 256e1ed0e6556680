#!/usr/bin/env bash
# Times the ViPer stages (text encoder, one UNet step, VAE decode, whole image) on the CPU backend (BenchmarkDotNet)
# and in plain PyTorch, on the same pipeline folders, in one run, and writes the table into benchmarks/RESULTS.md.
# The folders are written once by `viper make-tiny` under artifacts/bench (sd15-random: 4.3 GB, ~2 min, ~13 GB RAM).
# Usage: benchmarks/run-cpu-pipeline.sh [threads]
set -euo pipefail
cd "$(dirname "$0")/.."
threads=${1:-$(nproc)}
./tools/setup.sh --reference

export VIPER_BENCH_PIPELINES=$PWD/artifacts/bench
for pipeline in tiny-sd sd15-random; do
  if [[ ! -f "$VIPER_BENCH_PIPELINES/$pipeline/model_index.json" ]]; then
    dotnet run -c Release --project src/Viper.Cli -- make-tiny "$pipeline" --out "$VIPER_BENCH_PIPELINES/$pipeline"
  fi
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
/usr/bin/python3 benchmarks/torch/bench_cpu_pipeline.py --pipelines "$VIPER_BENCH_PIPELINES" --threads "$threads" --out "$work/torch.json"
DOTNET_PROCESSOR_COUNT=$threads dotnet run -c Release --project benchmarks/Viper.Benchmarks -- \
  --filter 'Viper.Benchmarks.PipelineBenchmarks*' 'Viper.Benchmarks.LargePipelineBenchmarks*' --artifacts "$work/bdn"
python3 benchmarks/report.py --pipeline "$work/bdn/results" "$work/torch.json" benchmarks/RESULTS.md
