namespace Viper.Runtime;

/// <summary>Recorded device work (a CUDA graph) that replays without re-recording, reading its inputs' current contents.</summary>
public interface ICapturedWork : IDisposable
{
    /// <summary>The operations recorded (kernels, copies, memsets).</summary>
    int NodeCount { get; }

    void Replay();
}

/// <summary>
/// A backend that can record the ops an action runs and replay them (the CUDA backend's graphs). Tensors allocated while
/// recording belong to the recording; inputs that change between replays are overwritten in place with
/// <see cref="CopyFromHost"/>, since host copies cannot be recorded.
/// </summary>
public interface IGraphCapture
{
    ICapturedWork Capture(Action record);

    /// <summary>Overwrites an existing tensor with host bytes of its size and dtype.</summary>
    void CopyFromHost(Tensor destination, ReadOnlySpan<byte> data);
}
