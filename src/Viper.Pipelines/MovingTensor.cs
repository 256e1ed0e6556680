using Viper.Runtime;

namespace Viper.Pipelines;

/// <summary>
/// A tensor that follows the work across placed components (the latents: base UNet → refiner → VAE): <see cref="MoveTo"/>
/// copies it to the next backend and disposes the copy left behind; disposing this disposes the current one.
/// </summary>
internal sealed class MovingTensor(Tensor initial) : IDisposable
{
    public Tensor Current { get; private set; } = initial;

    public void MoveTo(IBackend backend) => Current = Current.MoveTo(backend);

    public void Dispose() => Current.Dispose();
}
