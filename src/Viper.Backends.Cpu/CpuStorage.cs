using Viper.Runtime;

namespace Viper.Backends.Cpu;

internal sealed unsafe class CpuStorage : TensorStorage
{
    private readonly NativeBuffer _buffer;

    public CpuStorage(CpuBackend backend, long sizeInBytes)
        : base(backend, sizeInBytes)
    {
        _buffer = new NativeBuffer(sizeInBytes);
    }

    public override bool IsDisposed => _buffer.IsClosed;

    public byte* Pointer
    {
        get
        {
            ObjectDisposedException.ThrowIf(_buffer.IsClosed, this);
            return _buffer.Pointer;
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _buffer.Dispose();
        }
    }
}
