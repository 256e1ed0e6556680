namespace Viper.Runtime;

/// <summary>
/// A backend that keeps freed memory for reuse (the CUDA pool, the CPU buffer cache): a caller that unloads one model
/// before loading another of a different shape gives that memory back first.
/// </summary>
public interface ICachedMemory
{
    void ReleaseCachedMemory();

    /// <summary>
    /// Bytes new tensors can still take: what the memory they live in (RAM for the CPU backend, the GPU's memory for CUDA)
    /// has free, plus what this backend's cache would hand back. For saying a model will not fit before reading it.
    /// </summary>
    long AvailableBytes { get; }

    /// <summary>What that memory is, for messages: "RAM", "GPU memory".</summary>
    string MemoryName { get; }

    /// <summary>Bytes lent to live tensors now (what the cache rounds them to: weights, activations, op temporaries).</summary>
    long InUseBytes { get; }

    /// <summary>The most <see cref="InUseBytes"/> has been since the last <see cref="ResetPeak"/> (or since the start).</summary>
    long PeakInUseBytes { get; }

    /// <summary>Starts a new peak at the current <see cref="InUseBytes"/>: what one run of a model needs on top of what is held.</summary>
    void ResetPeak();
}
