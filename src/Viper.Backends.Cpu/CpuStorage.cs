using Viper.Runtime;

namespace Viper.Backends.Cpu;

/// <summary>Tensor memory rented from the backend's <see cref="BufferPool"/>; disposing it returns the memory.</summary>
internal sealed unsafe class CpuStorage : TensorStorage
{
    private readonly BufferPool.Rental _memory;

    public CpuStorage(CpuBackend backend, BufferPool.Rental memory, long sizeInBytes)
        : base(backend, sizeInBytes)
    {
        _memory = memory;
    }

    public override bool IsDisposed => _memory.IsReturned;

    public byte* Pointer => _memory.Pointer;

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _memory.Dispose();
        }
    }
}
