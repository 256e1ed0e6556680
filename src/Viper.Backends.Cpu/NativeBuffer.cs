using System.Runtime.InteropServices;

namespace Viper.Backends.Cpu;

/// <summary>64-byte aligned native memory released deterministically; large buffers on huge pages (<see cref="HugePages"/>).</summary>
internal sealed unsafe class NativeBuffer : SafeHandle
{
    /// <param name="usedBytes">
    /// The bytes its first user asked for (a pool's size class may be larger): only whole huge pages within them are
    /// advised, since a huge page that holds a byte in use is resident whole.
    /// </param>
    public NativeBuffer(long sizeInBytes, long usedBytes)
        : base(IntPtr.Zero, ownsHandle: true)
    {
        nuint size = (nuint)Math.Max(sizeInBytes, 1);
        try
        {
            bool huge = HugePages.Applies(sizeInBytes);
            SetHandle((IntPtr)NativeMemory.AlignedAlloc(size, huge ? (nuint)HugePages.PageBytes : 64));
            if (huge)
            {
                HugePages.Advise(Pointer, Math.Min(usedBytes, sizeInBytes));
            }
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
