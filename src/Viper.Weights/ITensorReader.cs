namespace Viper.Weights;

/// <summary>
/// Named tensors in one checkpoint, whatever its container: safetensors (<see cref="WeightStore"/>, memory-mapped) or a
/// <c>torch.save</c> state dict (<see cref="Torch.TorchStateDict"/>, read a tensor at a time). Name mapping layers read
/// through this, so a single-file checkpoint loads the same way from either.
/// </summary>
public interface ITensorReader : IDisposable
{
    /// <summary>The file (or index) the tensors come from, for messages.</summary>
    string Source { get; }

    IReadOnlyCollection<string> Names { get; }

    bool Contains(string name);

    /// <summary>The tensor's dtype and shape (byte offsets are the container's own); a missing name is a <see cref="WeightsException"/>.</summary>
    TensorEntry Entry(string name);

    /// <summary>The tensor's little-endian bytes, contiguous and row-major.</summary>
    ReadOnlySpan<byte> Bytes(string name);
}
