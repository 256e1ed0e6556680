using System.Runtime.InteropServices;

namespace Viper.Cuda.Driver;

/// <summary>A driver object released exactly once, deterministically or by the finalizer.</summary>
internal abstract class CudaHandle : SafeHandle
{
    protected CudaHandle(IntPtr handle)
        : base(IntPtr.Zero, ownsHandle: true) => SetHandle(handle);

    public override bool IsInvalid => handle == IntPtr.Zero;

    public IntPtr Value
    {
        get
        {
            ObjectDisposedException.ThrowIf(IsClosed, this);
            return handle;
        }
    }
}

/// <summary>A retained primary context; release gives the retain back.</summary>
internal sealed class PrimaryContextHandle(IntPtr context, int device) : CudaHandle(context)
{
    protected override bool ReleaseHandle() => CudaDriver.cuDevicePrimaryCtxRelease(device) == CudaDriver.Success;
}

internal sealed class ModuleHandle(IntPtr module) : CudaHandle(module)
{
    protected override bool ReleaseHandle() => CudaDriver.cuModuleUnload(handle) == CudaDriver.Success;
}

internal sealed class StreamHandle(IntPtr stream) : CudaHandle(stream)
{
    protected override bool ReleaseHandle() => CudaDriver.cuStreamDestroy(handle) == CudaDriver.Success;
}

internal sealed class EventHandle(IntPtr ev) : CudaHandle(ev)
{
    protected override bool ReleaseHandle() => CudaDriver.cuEventDestroy(handle) == CudaDriver.Success;
}

internal sealed class GraphHandle(IntPtr graph) : CudaHandle(graph)
{
    protected override bool ReleaseHandle() => CudaDriver.cuGraphDestroy(handle) == CudaDriver.Success;
}

internal sealed class GraphExecHandle(IntPtr exec) : CudaHandle(exec)
{
    protected override bool ReleaseHandle() => CudaDriver.cuGraphExecDestroy(handle) == CudaDriver.Success;
}
