using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Viper.Benchmarks;

/// <summary>
/// A STREAM-like read: 1 GiB summed with 256-bit loads by as many threads as the CPU backend uses (each thread its own
/// contiguous slice), so bytes ÷ time is the read bandwidth a weight-streaming decode can reach on this machine. The
/// decode benchmarks time it beside each case (<see cref="DecodeFormatBenchmarks"/>): on a shared host the bandwidth
/// drifts by tens of percent within minutes, and only a read measured next to a decode step says what that step had.
/// The buffer is on huge pages as the CPU backend's weights are (<see cref="Backends.Cpu.HugePages"/>): a read on small
/// pages is slower (TLB misses), and a decode would be compared with less than the machine reads.
/// </summary>
internal sealed unsafe class ReadBandwidth : IDisposable
{
    public const long Bytes = 1L << 30;

    private readonly byte* _buffer;

    public ReadBandwidth()
    {
        _buffer = (byte*)NativeMemory.AlignedAlloc((nuint)Bytes, (nuint)Backends.Cpu.HugePages.PageBytes);
        Backends.Cpu.HugePages.Advise(_buffer, Bytes);
        new Span<byte>(_buffer, checked((int)Bytes)).Fill(1); // touch every page before timing
    }

    public float Read()
    {
        int threads = Environment.ProcessorCount;
        long slice = Bytes / threads;
        var sums = new float[threads];
        byte* buffer = _buffer;
        Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, t =>
        {
            var p = (Vector256<float>*)(buffer + (t * slice));
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

    public void Dispose() => NativeMemory.AlignedFree(_buffer);
}
