using System.Runtime.InteropServices;

namespace Viper.Backends.Cpu;

/// <summary>64-byte aligned, zero-initialised native memory released deterministically.</summary>
internal sealed unsafe class NativeBuffer : SafeHandle
{
    public NativeBuffer(long sizeInBytes)
        : base(IntPtr.Zero, ownsHandle: true)
    {
        nuint size = (nuint)Math.Max(sizeInBytes, 1);
        void* p;
        try
        {
            p = NativeMemory.AlignedAlloc(size, 64);
        }
        catch (OutOfMemoryException e)
        {
            throw new OutOfMemoryException($"CPU backend: cannot allocate {sizeInBytes} bytes", e);
        }

        NativeMemory.Clear(p, size);
        SetHandle((IntPtr)p);
    }

    public override bool IsInvalid => handle == IntPtr.Zero;

    public byte* Pointer => (byte*)handle;

    protected override bool ReleaseHandle()
    {
        NativeMemory.AlignedFree((void*)handle);
        return true;
    }
}
