using System.Runtime.InteropServices;

namespace Viper.Backends.Cpu;

/// <summary>64-byte aligned native memory released deterministically.</summary>
internal sealed unsafe class NativeBuffer : SafeHandle
{
    public NativeBuffer(long sizeInBytes)
        : base(IntPtr.Zero, ownsHandle: true)
    {
        nuint size = (nuint)Math.Max(sizeInBytes, 1);
        try
        {
            SetHandle((IntPtr)NativeMemory.AlignedAlloc(size, 64));
        }
        catch (OutOfMemoryException e)
        {
            throw new OutOfMemoryException($"CPU backend: cannot allocate {sizeInBytes} bytes", e);
        }

        SizeInBytes = sizeInBytes;
    }

    public long SizeInBytes { get; }

    public override bool IsInvalid => handle == IntPtr.Zero;

    public byte* Pointer => (byte*)handle;

    public void Clear() => NativeMemory.Clear(Pointer, (nuint)SizeInBytes);

    protected override bool ReleaseHandle()
    {
        NativeMemory.AlignedFree((void*)handle);
        return true;
    }
}
