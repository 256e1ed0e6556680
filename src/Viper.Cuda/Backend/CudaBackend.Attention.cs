using Viper.Cuda.Device;
using Viper.Cuda.Kernels;
using Viper.Runtime;

namespace Viper.Cuda.Backend;

public sealed partial class CudaBackend
{
    private const int MaxAttentionHeadDim = 256;

    protected override Tensor AttentionCore(Tensor q, Tensor k, Tensor v, AttentionOptions options)
    {
        if (options.HeadDim > MaxAttentionHeadDim)
        {
            throw new ArgumentException($"attention: head dim {options.HeadDim} exceeds the kernel's {MaxAttentionHeadDim}");
        }

        int batch = q.Shape[0], tq = q.Shape[1], tk = k.Shape[1];
        Tensor y = AllocateUninitialized(q.Shape, q.DType);
        if (batch * tq == 0)
        {
            return y;
        }

        (int splits, int chunk) = Launchers.SplitKv(batch, tq, options.QueryHeads, tk, Device.MultiprocessorCount);
        if (splits > 1)
        {
            SplitKvAttention(q, k, v, y, options, splits, chunk);
            return y;
        }

        var args = new KernelArgs()
            .Add(this, q).Add(this, k).Add(this, v).Add(this, y).Add(this, options.KeyLengths).Add(BadValues).Add(Masks(options))
            .Add(tq).Add(tk).Add(options.QueryHeads).Add(options.KeyValueHeads).Add(options.HeadDim)
            .Add(options.Causal ? 1 : 0).Add(options.EffectiveScale);
        (Dim3 grid, Dim3 block, int shared) = Launchers.FlashAttention(batch, tq, options.QueryHeads, options.HeadDim);
        if (q.DType != DType.F32 && options.HeadDim % 8 == 0 && shared <= Device.MaxSharedBytesPerBlock)
        {
            // Tensor cores: f16/bf16 with head dims in whole 8-column n-tiles (every model's: 40, 64, 72, 80, 96, 128, 160),
            // when the device has the shared memory for the Q, K and V tiles; otherwise the row kernel.
            Device.Launch(KernelTable.Entry("flash_attention", q.DType), grid, block, shared, args);
        }
        else
        {
            Device.Launch(KernelTable.Entry("attention_rows", q.DType), new Dim3((uint)tq, (uint)options.QueryHeads, (uint)batch),
                new Dim3(Launchers.AttentionRowsBlock), 0, args);
        }

        GC.KeepAlive(options); // the masks' raw addresses are in the launch: keep them from being finalized before it is issued
        return y;
    }

    // The mask tensors travel as raw addresses inside a by-value struct: the caller's options keep them alive for the launch.
    private AttentionMasks Masks(AttentionOptions options) => new()
    {
        KeyMask = AddressOrNull(options.KeyMask), Bias = AddressOrNull(options.Bias), BiasHeads = options.Bias?.Shape[1] ?? 1,
    };

    /// <summary>Decode against a long cache: a partial softmax state per key chunk, then one merge per row.</summary>
    private void SplitKvAttention(Tensor q, Tensor k, Tensor v, Tensor y, AttentionOptions options, int splits, int chunk)
    {
        int batch = q.Shape[0], tq = q.Shape[1], heads = options.QueryHeads, d = options.HeadDim;
        Tensor partialO = AllocateUninitialized(new Shape(batch, tq, heads, splits, d), DType.F32);
        Tensor partialMl = AllocateUninitialized(new Shape(batch, tq, heads, splits, 2), DType.F32);
        var block = new Dim3(Launchers.AttentionRowsBlock);
        Device.Launch(KernelTable.Entry("attention_split_partial", q.DType), new Dim3((uint)(tq * splits), (uint)heads, (uint)batch), block, 0,
            new KernelArgs()
                .Add(this, q).Add(this, k).Add(this, v).Add(this, options.KeyLengths).Add(BadValues).Add(Masks(options))
                .Add(this, partialO).Add(this, partialMl)
                .Add(tq).Add(k.Shape[1]).Add(heads).Add(options.KeyValueHeads).Add(d)
                .Add(options.Causal ? 1 : 0).Add(options.EffectiveScale).Add(splits).Add(chunk));
        Device.Launch(KernelTable.Entry("attention_split_combine", q.DType), new Dim3((uint)tq, (uint)heads, (uint)batch), block, 0,
            new KernelArgs().Add(this, partialO).Add(this, partialMl).Add(this, y).Add(tq).Add(heads).Add(d).Add(splits));
        partialO.Dispose();
        partialMl.Dispose();
        GC.KeepAlive(options);
    }

    protected override void KvCacheWriteCore(Tensor cache, Tensor values, Tensor positions)
    {
        long rowBytes = (long)cache.Shape[2] * cache.DType.SizeInBytes();
        LaunchElementwise("kv_cache_write_rows", values.SizeInBytes, new KernelArgs()
            .Add(this, values).Add(this, positions).Add(this, cache).Add((long)values.Shape[1]).Add((long)cache.Shape[1]).Add(rowBytes)
            .Add(values.SizeInBytes).Add(BadValues));
    }
}
