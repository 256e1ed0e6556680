using Viper.Runtime;

namespace Viper.Backends.Cpu;

public sealed unsafe partial class CpuBackend
{
    public Tensor Linear(Tensor x, Tensor weight, Tensor? bias)
    {
        Shape outShape = OpChecks.Linear(x, weight, bias);
        int k = weight.Shape[1];
        int n = weight.Shape[0];
        int m = checked((int)x.Shape.Rows);
        using F32Input xs = Read(x);
        using F32Input ws = Read(weight);
        using F32Input bs = bias is null ? default : Read(bias);
        F32Output y = Write(outShape, x.DType);
        float beta = BroadcastBias(y.Pointer, m, n, bias is null ? null : bs.Pointer);
        OpenBlas.Sgemm(Threads, false, true, m, n, k, 1f, xs.Pointer, k, ws.Pointer, k, beta, y.Pointer, n);
        return y.Finish();
    }

    public Tensor MatMul(Tensor a, Tensor b, bool transposeB = false, float alpha = 1f, bool transposeA = false)
    {
        Shape outShape = OpChecks.MatMul(a, b, transposeB, transposeA);
        int batch = a.Shape[0], m = outShape[1], k = transposeA ? a.Shape[1] : a.Shape[2], n = outShape[2];
        using F32Input av = Read(a);
        using F32Input bv = Read(b);
        F32Output y = Write(outShape, a.DType);
        for (int i = 0; i < batch; i++)
        {
            OpenBlas.Sgemm(Threads, transposeA, transposeB, m, n, k, alpha,
                av.Pointer + ((long)i * m * k), transposeA ? m : k,
                bv.Pointer + ((long)i * k * n), transposeB ? k : n,
                0f, y.Pointer + ((long)i * m * n), n);
        }

        return y.Finish();
    }
}
