using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Viper.Cuda.Device;

/// <summary>
/// Kernel parameters packed as cuLaunchKernel takes them: one 8-byte-aligned slot per parameter holding its
/// value, and an array of pointers to the slots. Device buffers travel as their addresses.
/// </summary>
public sealed class KernelArgs
{
    private readonly List<byte[]> _values = [];
    private readonly List<object> _owners = [];

    public int Count => _values.Count;

    public KernelArgs Add(DeviceBuffer buffer) => Add(buffer.Address, buffer);

    /// <summary>
    /// A device address inside memory that <paramref name="owner"/> keeps alive: held until the launch returns, so the
    /// garbage collector cannot finalize (and free) an operand the caller no longer references while a kernel reads it.
    /// </summary>
    public KernelArgs Add(IntPtr address, object? owner)
    {
        if (owner is not null)
        {
            _owners.Add(owner);
        }

        return Add(address);
    }

    /// <summary>A null device pointer, for optional tensor parameters.</summary>
    public KernelArgs AddNull() => Add(IntPtr.Zero);

    public KernelArgs Add<T>(T value)
        where T : unmanaged
    {
        byte[] slot = new byte[Math.Max(8, Unsafe.SizeOf<T>())];
        MemoryMarshal.Write(slot, in value);
        _values.Add(slot);
        return this;
    }

    /// <summary>Pins every slot and calls <paramref name="launch"/> with the void** array.</summary>
    public unsafe void WithPointers(Action<IntPtr> launch)
    {
        var handles = new GCHandle[_values.Count];
        IntPtr* pointers = stackalloc IntPtr[Math.Max(1, _values.Count)];
        try
        {
            for (int i = 0; i < _values.Count; i++)
            {
                handles[i] = GCHandle.Alloc(_values[i], GCHandleType.Pinned);
                pointers[i] = handles[i].AddrOfPinnedObject();
            }

            launch((IntPtr)pointers);
            GC.KeepAlive(_owners);
        }
        finally
        {
            foreach (GCHandle h in handles)
            {
                if (h.IsAllocated)
                {
                    h.Free();
                }
            }
        }
    }
}
