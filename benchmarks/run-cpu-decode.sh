#!/usr/bin/env bash
# Decode per weight format on the Mistral-7B-shaped stack at a 512-token context, with llama.cpp beside it (issue 29):
#  - one BenchmarkDotNet run times the engine's decode step per format (DecodeFormatBenchmarks: bf16, int8, q8_0, q4_0,
#    fp8) and llama.cpp's on the same weights written as GGUF (LlamaCppDecodeBenchmarks: bf16, q8_0, q4_0), each followed
#    at once by a 1 GiB STREAM-like read with the same threads, so each % of bandwidth is against the bandwidth of its moment;
#  - memory: the whole MEMORY_LAYERS-layer stack per format in a process of its own (peak RSS against the weight bytes);
#  - accuracy: format-accuracy against f32 weights (after the timed parts, so it does not share their cores).
# Writes the table into benchmarks/RESULTS.md. Usage: benchmarks/run-cpu-decode.sh [threads] [layers] [memory-layers]
set -euo pipefail
cd "$(dirname "$0")/.."
threads=${1:-$(nproc)}
layers=${2:-4}
memory_layers=${3:-32}
./tools/setup.sh

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
dotnet build -c Release benchmarks/Viper.Benchmarks -nologo -v quiet
bench=benchmarks/Viper.Benchmarks/bin/Release/net10.0/Viper.Benchmarks
for format in bf16 int8 q8_0 q4_0 fp8; do
  DOTNET_PROCESSOR_COUNT=$threads "$bench" mistral-memory "$memory_layers" "$work/memory-$format.json" "$format"
done
DOTNET_PROCESSOR_COUNT=$threads VIPER_BENCH_DECODE_LAYERS=$layers "$bench" \
  --filter 'Viper.Benchmarks.DecodeFormatBenchmarks*' 'Viper.Benchmarks.LlamaCppDecodeBenchmarks*' \
  --artifacts "$work/bdn"
DOTNET_PROCESSOR_COUNT=$threads VIPER_BENCH_DECODE_LAYERS=$layers "$bench" decode-paired "$work/paired.json"
python3 benchmarks/report.py --decode "$work/bdn/results" "$layers" "$threads" "$work" "$work/paired.json" benchmarks/RESULTS.md
# What each format changes: the tiny reference IDEFICS2, the medium random one, the SD1.5-shaped random pipeline.
sd15=${VIPER_BENCH_PIPELINES:-artifacts/bench}/sd15-random
[[ -f "$sd15/model_index.json" ]] || dotnet run -c Release --project src/Viper.Cli -- make-tiny sd15-random --out "$sd15"
"$bench" format-accuracy ../shared/refs/idefics2 "$sd15" "$work/accuracy.json"
python3 benchmarks/report.py --format-accuracy "$work/accuracy.json" benchmarks/RESULTS.md
