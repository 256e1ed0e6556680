using System.Runtime.CompilerServices;
using Viper.Runtime;

namespace Viper.Backends.Cpu;

public sealed unsafe partial class CpuBackend
{
    /// <summary>Elements per block of <see cref="Blockwise"/>: its three f32 blocks (24 KiB) stay in L1 together.</summary>
    private const int ElementBlock = 2048;

    /// <summary>
    /// y = op(a, b) element by element over same-shape contiguous tensors of one float dtype (b null for a unary op; the
    /// shared layer checked the dtypes: <see cref="OpChecks.Float"/>, <see cref="OpChecks.SameDType"/>), a block of <see cref="ElementBlock"/> elements at a time: half-precision operands are widened and the result
    /// narrowed block by block in stack buffers, not as whole f32 copies. Through <see cref="F32Input"/> and
    /// <see cref="F32Output"/>, a 512-token Mistral SwiGLU rented four 29 MB f32 copies beside its three 15 MB bf16
    /// tensors, the prefill's peak; a decode step's adds rented three buffers each. The same f32 values meet the same op
    /// and each output is rounded once, so results are unchanged.
    /// </summary>
    private Tensor Blockwise(Tensor a, Tensor? b, SpanOp op)
    {
        Tensor y = Allocate(a.Shape, a.DType, zeroed: false);
        try
        {
            byte* ap = Ptr(a), bp = b is null ? null : Ptr(b), yp = Ptr(y);
            DType dtype = a.DType;
            ParallelChunks(y.ElementCount, (start, end) => BlockwiseRange(ap, bp, yp, dtype, op, start, end));
            return y;
        }
        catch
        {
            y.Dispose();
            throw;
        }
    }

    /// <summary>Elements [start, end) of <see cref="Blockwise"/>; the stack blocks are not cleared (each is written before it is read).</summary>
    [SkipLocalsInit]
    private static void BlockwiseRange(byte* a, byte* b, byte* y, DType dtype, SpanOp op, long start, long end)
    {
        float* aBlock = stackalloc float[ElementBlock];
        float* bBlock = stackalloc float[ElementBlock];
        float* yBlock = stackalloc float[ElementBlock];
        for (long i = start; i < end; i += ElementBlock)
        {
            int n = (int)Math.Min(ElementBlock, end - i);
            Span<float> o = dtype == DType.F32 ? new Span<float>((float*)y + i, n) : new Span<float>(yBlock, n);
            op(AsF32(a, dtype, i, n, aBlock), b is null ? default : AsF32(b, dtype, i, n, bBlock), o);
            Narrow(o, y, dtype, i);
        }
    }

    /// <summary>Elements [start, start + n) of a float tensor's data as f32: in place for f32, else widened into <paramref name="block"/>.</summary>
    private static ReadOnlySpan<float> AsF32(byte* data, DType dtype, long start, int n, float* block)
    {
        if (dtype == DType.F32)
        {
            return new ReadOnlySpan<float>((float*)data + start, n);
        }

        var source = new ReadOnlySpan<ushort>((ushort*)data + start, n);
        var widened = new Span<float>(block, n);
        if (dtype == DType.F16)
        {
            FloatBits.F16ToF32(source, widened);
        }
        else
        {
            FloatBits.BF16ToF32(source, widened);
        }

        return widened;
    }

    /// <summary>Rounds computed f32 values into elements [start, …) of a half-precision output (f32 outputs were written in place).</summary>
    private static void Narrow(ReadOnlySpan<float> values, byte* data, DType dtype, long start)
    {
        if (dtype == DType.F32)
        {
            return;
        }

        var destination = new Span<ushort>((ushort*)data + start, values.Length);
        switch (dtype)
        {
            case DType.F16:
                FloatBits.F32ToF16(values, destination);
                break;
            case DType.BF16:
                FloatBits.F32ToBF16(values, destination);
                break;
        }
    }
}
