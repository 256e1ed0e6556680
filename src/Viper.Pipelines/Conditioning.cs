using Viper.Models.Unet;
using Viper.Runtime;

namespace Viper.Pipelines;

/// <summary>
/// The UNet batch for one stage: contexts stacked as [uncond, cond] (CFG) or [uncond, cond, VP+, VP−] (ViPer), each
/// group repeated for the images of a batch, with the matching SDXL added conditions; plus the guidance weights.
/// </summary>
public sealed class Conditioning(Tensor context, AddedConditions? added, int groups, float w, float betaPositive, float betaNegative)
    : IDisposable
{
    public Tensor Context { get; } = context;

    public AddedConditions? Added { get; } = added;

    /// <summary>2 for plain classifier-free guidance, 4 with the visual preference terms.</summary>
    public int Groups { get; } = groups;

    public float W { get; } = w;

    public float BetaPositive { get; } = betaPositive;

    public float BetaNegative { get; } = betaNegative;

    /// <summary>This conditioning on <paramref name="backend"/> (itself when already there; else moved, and this one disposed).</summary>
    public Conditioning MoveTo(IBackend backend)
    {
        if (ReferenceEquals(Context.Backend, backend))
        {
            return this;
        }

        AddedConditions? added = Added is { } a ? new AddedConditions(a.TextEmbeds.CopyTo(backend), a.TimeIds.CopyTo(backend)) : null;
        var moved = new Conditioning(Context.CopyTo(backend), added, Groups, W, BetaPositive, BetaNegative);
        Dispose();
        return moved;
    }

    public void Dispose()
    {
        Context.Dispose();
        Added?.TextEmbeds.Dispose();
        Added?.TimeIds.Dispose();
    }
}
