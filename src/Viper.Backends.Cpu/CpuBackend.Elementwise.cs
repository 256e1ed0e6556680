using System.Diagnostics;
using System.Numerics.Tensors;
using Viper.Runtime;

namespace Viper.Backends.Cpu;

public sealed unsafe partial class CpuBackend
{
    private static readonly double SqrtHalf = Math.Sqrt(0.5);
    private static readonly float SqrtTwoOverPi = MathF.Sqrt(2f / MathF.PI);

    protected override Tensor ActivateCore(Tensor x, Activation activation)
    {
        Func<float, float> f = activation switch
        {
            Activation.Silu => Silu,
            Activation.Gelu => Gelu,
            Activation.GeluTanh => GeluTanh,
            Activation.QuickGelu => v => v / (1f + MathF.Exp(-1.702f * v)),
            _ => throw new UnreachableException(),
        };
        using F32Input xs = Read(x);
        F32Output y = Write(x.Shape, x.DType);
        float* xp = xs.Pointer, yp = y.Pointer;
        ParallelChunks(xs.Count, (start, end) =>
        {
            for (long i = start; i < end; i++)
            {
                yp[i] = f(xp[i]);
            }
        });
        return y.Finish();
    }

    protected override Tensor GegluCore(Tensor x, Shape output)
    {
        int n = output.Last;
        using F32Input xs = Read(x);
        F32Output y = Write(output, x.DType);
        float* xp = xs.Pointer, yp = y.Pointer;
        ParallelRows(x.Shape.Rows, row =>
        {
            float* hidden = xp + (row * 2 * n);
            float* o = yp + (row * n);
            for (int j = 0; j < n; j++)
            {
                o[j] = hidden[j] * Gelu(hidden[n + j]);
            }
        });
        return y.Finish();
    }

    protected override Tensor SwigluCore(Tensor gate, Tensor up) => Binary(gate, up, (g, u) => Silu(g) * u);

    protected override Tensor BinaryCore(BinaryOp op, Tensor a, Tensor b)
    {
        if (a.Shape.Equals(b.Shape))
        {
            return SameShape(a, b, op switch
            {
                BinaryOp.Add => TensorPrimitives.Add,
                BinaryOp.Mul => TensorPrimitives.Multiply,
                BinaryOp.Subtract => TensorPrimitives.Subtract,
                BinaryOp.Divide => TensorPrimitives.Divide,
                _ => throw new UnreachableException(),
            });
        }

        return Binary(a, b, op switch
        {
            BinaryOp.Add => (p, q) => p + q,
            BinaryOp.Mul => (p, q) => p * q,
            BinaryOp.Subtract => (p, q) => p - q,
            BinaryOp.Divide => (p, q) => p / q,
            _ => throw new UnreachableException(),
        });
    }

    protected override Tensor UnaryCore(UnaryOp op, Tensor x)
    {
        using F32Input xs = Read(x);
        F32Output y = Write(x.Shape, x.DType);
        TensorPrimitives.Sqrt(xs.Span, y.Span);
        if (op == UnaryOp.Rsqrt)
        {
            TensorPrimitives.Divide(1f, y.Span, y.Span); // as torch.rsqrt: the f32 square root, then its reciprocal
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

    protected override Tensor SoftmaxCore(Tensor x)
    {
        int c = x.Shape.Last;
        using F32Input xs = Read(x);
        F32Output y = Write(x.Shape, x.DType);
        xs.Span.CopyTo(y.Span);
        float* yp = y.Pointer;
        ParallelRows(x.Shape.Rows, row => SoftmaxInPlace(new Span<float>(yp + (row * c), c)));
        return y.Finish();
    }

    internal static float Silu(float v) => v / (1f + MathF.Exp(-v));

    internal static float Gelu(float v) => (float)(0.5 * v * (1.0 + SpecialFunctions.Erf(v * SqrtHalf)));

    internal static float GeluTanh(float v) => 0.5f * v * (1f + MathF.Tanh(SqrtTwoOverPi * (v + (0.044715f * v * v * v))));

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

    private Tensor SameShape(Tensor a, Tensor b, SpanOp op)
    {
        using F32Input av = Read(a);
        using F32Input bv = Read(b);
        F32Output y = Write(a.Shape, a.DType);
        float* ap = av.Pointer, bp = bv.Pointer, yp = y.Pointer;
        ParallelChunks(av.Count, (start, end) =>
        {
            int len = (int)(end - start);
            op(new ReadOnlySpan<float>(ap + start, len), new ReadOnlySpan<float>(bp + start, len), new Span<float>(yp + start, len));
        });
        return y.Finish();
    }

    /// <summary>
    /// y = f(a, b) with NumPy broadcasting of b onto a: b's element for each output index through strides
    /// that are 0 on broadcast axes (or the same index when the shapes agree).
    /// </summary>
    private Tensor Binary(Tensor a, Tensor b, Func<float, float, float> f)
    {
        int[] dims = a.Shape.ToArray();
        long[]? bStrides = a.Shape.Equals(b.Shape) ? null : StridedIndexing.BroadcastStrides(a.Shape, b.Shape);
        using F32Input av = Read(a);
        using F32Input bv = Read(b);
        F32Output y = Write(a.Shape, a.DType);
        float* ap = av.Pointer, bp = bv.Pointer, yp = y.Pointer;
        ParallelChunks(av.Count, (start, end) =>
        {
            for (long i = start; i < end; i++)
            {
                yp[i] = f(ap[i], bp[bStrides is null ? i : StridedIndex(i, dims, bStrides)]);
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
