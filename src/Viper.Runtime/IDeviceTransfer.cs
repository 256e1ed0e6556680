namespace Viper.Runtime;

/// <summary>
/// A backend that can copy another backend's tensor without a trip through host memory: another backend on the same
/// GPU (a device-to-device copy on its stream), or a device it has peer access to (every emulated device has).
/// </summary>
public interface IDeviceTransfer
{
    /// <summary>A copy of <paramref name="source"/> on this backend, or null when only the host can carry it.</summary>
    Tensor? TryCopyFrom(Tensor source);
}
