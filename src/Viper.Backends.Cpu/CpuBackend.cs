using Viper.Runtime;

namespace Viper.Backends.Cpu;

/// <summary>
/// The CPU reference backend: correct first, reasonably fast. GEMMs go to OpenBLAS, vector loops to
/// TensorPrimitives, row loops to the backend's own spinning workers (<see cref="SpinningWorkers"/>). f16/bf16 tensors
/// are widened to f32, computed, and rounded once on the way out. Ops are split over partial files per family.
/// </summary>
public sealed unsafe partial class CpuBackend : Backend, ICachedMemory
{
    private const long MinParallelElements = 4096;
    private readonly ParallelOptions _parallel;
    private readonly SpinningWorkers _workers;
    private readonly BufferPool _pool;

    /// <param name="threads">Cores to use (default: all).</param>
    /// <param name="cacheBytes">Freed tensor memory kept for reuse (default 1 GiB).</param>
    public CpuBackend(int? threads = null, long cacheBytes = 1L << 30)
    {
        Threads = threads ?? Environment.ProcessorCount;
        if (Threads < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(threads), threads, "need at least one thread");
        }

        _parallel = new ParallelOptions { MaxDegreeOfParallelism = Threads };
        _workers = SpinningWorkers.For(Threads);
        _pool = new BufferPool(cacheBytes);
        OpenBlas.EnsureLoaded();
    }

    public override string Name => "cpu";

    public int Threads { get; }

    /// <summary>The backend's loops run on these (<see cref="Threads"/> at most).</summary>
    internal ParallelOptions LoopOptions => _parallel;

    /// <summary>Bytes of freed tensor memory held for reuse.</summary>
    public long CachedBytes => _pool.CachedBytes;

    /// <summary>Frees the scratch and tensor buffers kept for reuse (between models of different shapes).</summary>
    public void ReleaseCachedMemory() => _pool.ReleaseCached();

    public long AvailableBytes => HostMemory.AvailableBytes() + CachedBytes;

    public long InUseBytes => _pool.InUseBytes;

    public long PeakInUseBytes => _pool.PeakInUseBytes;

    public void ResetPeak() => _pool.ResetPeak();

    public string MemoryName => "RAM";

    /// <summary>A zero-filled tensor.</summary>
    public override Tensor Allocate(Shape shape, DType dtype) => Allocate(shape, dtype, zeroed: true);

    protected override Tensor FromHostCore(ReadOnlySpan<byte> data, Shape shape, DType dtype)
    {
        Tensor t = Allocate(shape, dtype, zeroed: false);
        data.CopyTo(new Span<byte>(Ptr(t), data.Length));
        return t;
    }

    protected override void CopyIntoCore(Tensor source, Tensor destination)
    {
        int bytes = checked((int)source.SizeInBytes);
        new ReadOnlySpan<byte>(Ptr(source), bytes).CopyTo(new Span<byte>(Ptr(destination), bytes)); // overlapping views: memmove
    }

    protected override void CopyToHostCore(Tensor tensor, Span<byte> destination) =>
        new ReadOnlySpan<byte>(Ptr(tensor), destination.Length).CopyTo(destination);

    /// <summary>Frees the cached memory; tensors still alive keep theirs until disposed.</summary>
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _pool.Dispose();
        }
    }

    /// <summary>Op outputs skip the zero fill: every op writes each element of its output.</summary>
    private Tensor Allocate(Shape shape, DType dtype, bool zeroed)
    {
        long bytes = dtype.BytesFor(shape);
        return new Tensor(new CpuStorage(this, _pool.Rent(bytes, zeroed), bytes), shape, dtype);
    }

    /// <summary>Scratch memory for an op, returned to the pool when disposed.</summary>
    private BufferPool.Rental Scratch(long bytes) => _pool.Rent(bytes, zeroed: false);

    internal static byte* Ptr(Tensor t) => ((CpuStorage)t.Storage).Pointer + t.ByteOffset;

    /// <summary>The tensor as f32: itself when it is f32, else a widened copy.</summary>
    private F32Input Read(Tensor t) => new(t, _pool);

    /// <summary>An output of the given dtype computed in f32; <see cref="F32Output.Finish"/> rounds it once.</summary>
    private F32Output Write(Shape shape, DType dtype) => new(Allocate(shape, dtype, zeroed: false), _pool);

    /// <summary>
    /// Runs body for each of <paramref name="rows"/> rows of about <paramref name="rowLength"/> elements of work: in
    /// parallel from two blocks' worth (8192 elements) up, inline below, where waking the pool costs more than the work.
    /// </summary>
    private void ParallelRows(long rows, long rowLength, Action<long> body)
    {
        if (rows == 1 || rows * rowLength < 2 * MinParallelElements)
        {
            for (long row = 0; row < rows; row++)
            {
                body(row);
            }

            return;
        }

        _workers.Run(checked((int)rows), row => body(row));
    }

    /// <summary>Runs body over [0, count) in contiguous chunks of at least 4096 items, up to four per thread.</summary>
    private void ParallelChunks(long count, Action<long, long> body) => ParallelRowBlocks(count, 1, body);

    /// <summary>
    /// Runs body over row ranges [first, end) of [0, rows): blocks of at least 4096 elements (rows of
    /// <paramref name="rowLength"/>), up to four per thread, so small tensors run inline without waking the pool.
    /// </summary>
    private void ParallelRowBlocks(long rows, long rowLength, Action<long, long> body)
    {
        long minRows = Math.Max(1, MinParallelElements / Math.Max(1, rowLength));
        long blocks = Math.Clamp(rows / minRows, 1, Threads * 4L);
        long size = (rows + blocks - 1) / blocks;
        ParallelRows(blocks, MinParallelElements * 2, block =>
        {
            long first = block * size;
            long end = Math.Min(rows, first + size);
            if (first < end)
            {
                body(first, end);
            }
        });
    }

    private readonly struct F32Input : IDisposable
    {
        private readonly BufferPool.Rental? _widened;

        public F32Input(Tensor t, BufferPool pool)
        {
            Count = checked((int)t.ElementCount);
            if (t.DType == DType.F32)
            {
                Pointer = (float*)CpuBackend.Ptr(t);
                return;
            }

            if (!t.DType.IsFloat())
            {
                throw new ArgumentException($"expected a float tensor, got {t.DType}");
            }

            _widened = pool.Rent(Count * 4L, zeroed: false);
            Pointer = (float*)_widened.Pointer;
            AsF32(CpuBackend.Ptr(t), t.DType, 0, Count, Pointer);
        }

        public float* Pointer { get; }

        public int Count { get; }

        public Span<float> Span => new(Pointer, Count);

        public void Dispose() => _widened?.Dispose();
    }

    private sealed class F32Output : IDisposable
    {
        private readonly BufferPool.Rental? _narrowSource;

        public F32Output(Tensor result, BufferPool pool)
        {
            Result = result;
            Count = checked((int)result.ElementCount);
            if (result.DType == DType.F32)
            {
                Pointer = (float*)CpuBackend.Ptr(result);
            }
            else
            {
                _narrowSource = pool.Rent(Count * 4L, zeroed: false);
                Pointer = (float*)_narrowSource.Pointer;
            }
        }

        public Tensor Result { get; }

        public float* Pointer { get; }

        public int Count { get; }

        public Span<float> Span => new(Pointer, Count);

        public Tensor Finish()
        {
            Narrow(Span, CpuBackend.Ptr(Result), Result.DType, 0);
            Dispose();
            return Result;
        }

        public void Dispose() => _narrowSource?.Dispose();
    }

    /// <summary>
    /// Writes the bias into every row of a GEMM output, so the GEMM adds onto it (beta = 1) instead of a
    /// second pass adding it afterwards; returns the beta to use (0 when there is no bias).
    /// </summary>
    private float BroadcastBias(float* y, long rows, int n, float* bias)
    {
        if (bias is null)
        {
            return 0f;
        }

        ParallelChunks(rows, (start, end) =>
        {
            var b = new ReadOnlySpan<float>(bias, n);
            for (long r = start; r < end; r++)
            {
                b.CopyTo(new Span<float>(y + (r * n), n));
            }
        });
        return 1f;
    }
}
