using Viper.Runtime;
using Viper.Weights;

namespace Viper.Models.Loading;

/// <summary>
/// Says a model will not fit before any of it is read: the bytes its checkpoint will take on the backend — matrices
/// named <c>….weight</c> (not embeddings) in the linear-weight format, everything else in the compute dtype, tensors a
/// checkpoint stores in a format as stored, and the largest weight quantized at load once more (it is read whole in the
/// compute dtype first) — against what the backend reports available (<see cref="ICachedMemory"/>).
/// An estimate (a tensor the model leaves unread still counts), so it only refuses what cannot fit.
/// </summary>
public static class MemoryFit
{
    public static long EstimateBytes(WeightStore store, DType dtype, DType? linearWeights)
    {
        long total = 0, largestConverted = 0; // a weight quantized at load is first read whole in the compute dtype
        foreach (TensorEntry e in store.Entries)
        {
            if (e.Name.EndsWith("_scale", StringComparison.Ordinal) || QuantizedCheckpoint.StoredFormat(store, e.Name) is not null)
            {
                total += e.ByteLength;
            }
            else if (linearWeights is { } format && IsLinearWeight(e) && (format.BlockSize() == 1 || e.Shape[1] % format.BlockSize() == 0))
            {
                total += format.BytesFor(e.Shape) + (format.NeedsScale() ? 4L * e.Shape[0] : 0);
                largestConverted = Math.Max(largestConverted, e.Shape.ElementCount * dtype.SizeInBytes());
            }
            else
            {
                total += e.DType.IsFloat() ? e.Shape.ElementCount * dtype.SizeInBytes() : e.ByteLength;
            }
        }

        return total + largestConverted;
    }

    /// <summary>Throws before loading when the estimate exceeds what the backend has available (a backend that cannot tell is not checked).</summary>
    public static void Check(WeightStore store, IBackend backend, DType dtype, DType? linearWeights)
    {
        if (backend is not ICachedMemory memory)
        {
            return;
        }

        long needed = EstimateBytes(store, dtype, linearWeights), available = memory.AvailableBytes;
        if (needed <= available)
        {
            return;
        }

        string weights = linearWeights?.Label() ?? dtype.Label();
        long q4 = EstimateBytes(store, dtype, DType.Q4_0);
        string hint = linearWeights == DType.Q4_0 || q4 > available
            ? "free memory or use a machine with more"
            : $"--weights q4_0 would need about {Gib(q4)}";
        throw new WeightsException($"{store.Source}: loading it with {weights} weights needs about {Gib(needed)} of {memory.MemoryName}; " +
            $"{Gib(available)} is available ({hint})") { MemoryShortage = true };
    }

    private static bool IsLinearWeight(TensorEntry e) =>
        e.Shape.Rank == 2 && e.DType.IsFloat() && e.Name.EndsWith(".weight", StringComparison.Ordinal) && !e.Name.Contains("embed", StringComparison.Ordinal);

    private static string Gib(long bytes) => FormattableString.Invariant($"{bytes / (double)(1L << 30):F2} GiB");
}
