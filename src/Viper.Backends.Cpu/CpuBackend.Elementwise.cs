using System.Diagnostics;
using System.Numerics.Tensors;
using Viper.Runtime;

namespace Viper.Backends.Cpu;

public sealed unsafe partial class CpuBackend
{
    protected override Tensor ActivateCore(Tensor x, Activation activation) =>
        Blockwise(x, null, (xs, _, y) => Activate(activation, xs, y));

    protected override Tensor GegluCore(Tensor x, Shape output)
    {
        int n = output.Last;
        using F32Input xs = Read(x);
        F32Output y = Write(output, x.DType);
        float* xp = xs.Pointer, yp = y.Pointer;
        ParallelRowBlocks(x.Shape.Rows, n, (first, end) =>
        {
            for (long row = first; row < end; row++)
            {
                var gelu = new Span<float>(yp + (row * n), n);
                ActivationMath.Gelu(new ReadOnlySpan<float>(xp + (row * 2 * n) + n, n), gelu);
                TensorPrimitives.Multiply(new ReadOnlySpan<float>(xp + (row * 2 * n), n), gelu, gelu);
            }
        });
        return y.Finish();
    }

    protected override Tensor SwigluCore(Tensor gate, Tensor up) =>
        Blockwise(gate, up, (g, u, y) =>
        {
            ActivationMath.SigmoidWeighted(g, y, 1f);
            TensorPrimitives.Multiply(y, u, y);
        });

    /// <summary>One activation over a span (also the fused SiLU of group norm).</summary>
    internal static void Activate(Activation activation, ReadOnlySpan<float> x, Span<float> y)
    {
        switch (activation)
        {
            case Activation.Silu: ActivationMath.SigmoidWeighted(x, y, 1f); break;
            case Activation.QuickGelu: ActivationMath.SigmoidWeighted(x, y, 1.702f); break;
            case Activation.Gelu: ActivationMath.Gelu(x, y); break;
            case Activation.GeluTanh: ActivationMath.GeluTanh(x, y); break;
            default: throw new UnreachableException();
        }
    }

    protected override Tensor BinaryCore(BinaryOp op, Tensor a, Tensor b)
    {
        SpanOp spans = op switch
        {
            BinaryOp.Add => TensorPrimitives.Add,
            BinaryOp.Mul => TensorPrimitives.Multiply,
            _ => throw new UnreachableException(),
        };
        if (a.Shape.Equals(b.Shape))
        {
            return Blockwise(a, b, spans);
        }

        long[] bStrides = StridedIndexing.BroadcastStrides(a.Shape, b.Shape);
        long block = ContiguousBlock(a.Shape, bStrides);
        if (block >= 8)
        {
            return BroadcastBlocks(a, b, bStrides, block, spans);
        }

        return BroadcastElements(a, b, bStrides, op switch
        {
            BinaryOp.Add => (p, q) => p + q,
            BinaryOp.Mul => (p, q) => p * q,
            _ => throw new UnreachableException(),
        });
    }

    /// <summary>The length of the trailing block over which the broadcast operand is read contiguously (1 when its last axis broadcasts).</summary>
    private static long ContiguousBlock(Shape output, long[] strides)
    {
        long block = 1;
        for (int axis = output.Rank - 1; axis >= 0 && (output[axis] == 1 || strides[axis] == block); axis--)
        {
            block *= output[axis];
        }

        return block;
    }

    /// <summary>A broadcast whose operand repeats in contiguous blocks (a bias over channels): one span op per block, as exact as the element loop.</summary>
    private Tensor BroadcastBlocks(Tensor a, Tensor b, long[] bStrides, long block, SpanOp op)
    {
        int[] dims = a.Shape.ToArray();
        using F32Input av = Read(a);
        using F32Input bv = Read(b);
        F32Output y = Write(a.Shape, a.DType);
        float* ap = av.Pointer, bp = bv.Pointer, yp = y.Pointer;
        int length = (int)block;
        ParallelRows(av.Count / block, block, row =>
        {
            long at = row * block;
            op(new ReadOnlySpan<float>(ap + at, length), new ReadOnlySpan<float>(bp + StridedIndex(at, dims, bStrides), length),
                new Span<float>(yp + at, length));
        });
        return y.Finish();
    }

    protected override Tensor ClampCore(Tensor x, float min, float max)
    {
        using F32Input xs = Read(x);
        F32Output y = Write(x.Shape, x.DType);
        Span<float> values = y.Span;
        ReadOnlySpan<float> source = xs.Span;
        for (int i = 0; i < values.Length; i++)
        {
            float v = source[i];
            values[i] = v < min ? min : v > max ? max : v; // comparisons with NaN are false: NaN passes through, as in torch.clamp
        }

        return y.Finish();
    }

    protected override Tensor ScaleCore(Tensor x, float factor)
    {
        using F32Input xs = Read(x);
        F32Output y = Write(x.Shape, x.DType);
        TensorPrimitives.Multiply(xs.Span, factor, y.Span);
        return y.Finish();
    }

    protected override void GuidanceStepCore(Tensor epsUncond, Tensor epsCond, Tensor epsLiked, Tensor epsDisliked, Tensor latents,
        Tensor? noise, Runtime.Guidance.GuidanceStep step)
    {
        using F32Input u = Read(epsUncond), c = Read(epsCond), liked = Read(epsLiked), disliked = Read(epsDisliked);
        using F32Input z = noise is null ? default : Read(noise);
        float* up = u.Pointer, cp = c.Pointer, lp = liked.Pointer, dp = disliked.Pointer, zp = z.Pointer, xp = (float*)Ptr(latents);
        bool withNoise = noise is not null;
        ParallelChunks(u.Count, (start, end) =>
        {
            for (long i = start; i < end; i++)
            {
                float eps = step.Combine(up[i], cp[i], lp[i], dp[i]);
                xp[i] = step.Apply(xp[i], eps, withNoise ? zp[i] : null);
            }
        });
    }

    /// <summary>Max-subtracted softmax, so large logits do not overflow.</summary>
    internal static void SoftmaxInPlace(Span<float> row)
    {
        if (row.IsEmpty)
        {
            return;
        }

        float max = TensorPrimitives.Max(row);
        TensorPrimitives.Subtract(row, max, row);
        TensorPrimitives.Exp(row, row);
        float sum = TensorPrimitives.Sum(row);
        TensorPrimitives.Divide(row, sum, row);
    }

    private delegate void SpanOp(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> y);

    /// <summary>
    /// y = f(a, b) with NumPy broadcasting of b onto a, element by element: b's element for each output index through
    /// <paramref name="bStrides"/>, 0 on broadcast axes (where b is not read in contiguous blocks of 8 or more, see <see cref="BroadcastBlocks"/>).
    /// </summary>
    private Tensor BroadcastElements(Tensor a, Tensor b, long[] bStrides, Func<float, float, float> f)
    {
        int[] dims = a.Shape.ToArray();
        using F32Input av = Read(a);
        using F32Input bv = Read(b);
        F32Output y = Write(a.Shape, a.DType);
        float* ap = av.Pointer, bp = bv.Pointer, yp = y.Pointer;
        ParallelChunks(av.Count, (start, end) =>
        {
            for (long i = start; i < end; i++)
            {
                yp[i] = f(ap[i], bp[StridedIndex(i, dims, bStrides)]);
            }
        });
        return y.Finish();
    }

    /// <summary>The source offset of row-major output index <paramref name="index"/> over <paramref name="dims"/>, read through per-axis strides.</summary>
    private static long StridedIndex(long index, int[] dims, long[] strides)
    {
        long offset = 0;
        for (int axis = dims.Length - 1; axis >= 0; axis--)
        {
            offset += index % dims[axis] * strides[axis];
            index /= dims[axis];
        }

        return offset;
    }
}
