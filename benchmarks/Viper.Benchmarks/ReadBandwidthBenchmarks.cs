using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using BenchmarkDotNet.Attributes;

namespace Viper.Benchmarks;

/// <summary>
/// A STREAM-like read: 1 GiB summed with 256-bit loads by as many threads as the CPU backend uses (each thread its own
/// contiguous slice), so bytes ÷ time is the read bandwidth a weight-streaming decode can reach on this machine in this run.
/// </summary>
[Config(typeof(DecodeFormatBenchmarks.DecodeConfig))]
public unsafe class ReadBandwidthBenchmarks
{
    public const long Bytes = 1L << 30;

    private byte* _buffer;

    [GlobalSetup]
    public void Setup()
    {
        _buffer = (byte*)NativeMemory.AlignedAlloc((nuint)Bytes, 64);
        new Span<byte>(_buffer, checked((int)Bytes)).Fill(1); // touch every page before timing
    }

    [Benchmark]
    public float Read()
    {
        int threads = Environment.ProcessorCount;
        long slice = Bytes / threads;
        var sums = new float[threads];
        Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, t =>
        {
            var p = (Vector256<float>*)(_buffer + (t * slice));
            long count = slice / 32;
            Vector256<float> a = default, b = default, c = default, d = default;
            for (long i = 0; i < count; i += 4)
            {
                a += p[i];
                b += p[i + 1];
                c += p[i + 2];
                d += p[i + 3];
            }

            sums[t] = Vector256.Sum((a + b) + (c + d));
        });
        return sums.Sum();
    }

    [GlobalCleanup]
    public void Cleanup() => NativeMemory.AlignedFree(_buffer);
}
