using Viper.Cuda.Device;

namespace Viper.Cuda.Backend;

/// <summary>
/// The device memory of one graph capture. Everything allocated while recording belongs to the graph and is freed with
/// it. A buffer given back during the recording (an intermediate the model disposes) is handed to a later allocation of
/// the same size in the same recording: the captured nodes replay in recording order on one stream, so the later node
/// runs after the last reader of the earlier tensor — the graph needs about the memory the eager step peaks at,
/// not the sum of all its intermediates.
/// </summary>
internal sealed class CaptureArena : IDisposable
{
    private readonly List<DeviceBuffer> _all = [];
    private readonly Dictionary<long, Stack<DeviceBuffer>> _free = [];
    private bool _recording = true;

    public DeviceBuffer Rent(long bytes, Func<long, DeviceBuffer> allocate)
    {
        if (_free.TryGetValue(bytes, out Stack<DeviceBuffer>? stack) && stack.TryPop(out DeviceBuffer? reused))
        {
            return reused;
        }

        DeviceBuffer buffer = allocate(bytes);
        _all.Add(buffer);
        return buffer;
    }

    /// <summary>A tensor of the recording was disposed: reusable while recording; after it, kept until the graph goes.</summary>
    public void Return(DeviceBuffer buffer)
    {
        if (_recording)
        {
            (_free.TryGetValue(buffer.SizeInBytes, out Stack<DeviceBuffer>? stack) ? stack : _free[buffer.SizeInBytes] = new()).Push(buffer);
        }
    }

    public void EndRecording()
    {
        _recording = false;
        _free.Clear();
    }

    public void Dispose()
    {
        _all.ForEach(b => b.Dispose());
        _all.Clear();
        _free.Clear();
    }
}
